"""SPLIT and SPLIT_V, the ops with several output tensors: seeded Keras models (tf.split into equal parts or
given sizes, one of them -1 for the rest, along any axis of 2-D to 5-D tensors; on the input or on a
differently quantized Dense branch) whose parts are concatenated back in another order (some left out), so
every output's bytes and place in the arena show in the model's one output; int8 and float32, our host
runtime vs TFLM byte for byte, and a few cases on the emulated M4 and M7 (all of them with
HARNESS_SWEEP=large, which also widens the sweep)."""
import os

import numpy as np
import pytest

from harness.plan.lower import lower
from harness.plan.model import load_model
from harness.sweep import run_case
from harness.tfgen import convert
from on_board import BOARDS, board_mismatches

LARGE = os.environ.get("HARNESS_SWEEP") == "large"


def _split(shape, axis, parts, order, branch):
    """`parts`: a count (equal parts: SPLIT) or a tuple of sizes (SPLIT_V); `order`: which parts the
    concatenation takes, in its order. `axis` counts the batch dimension (1)."""
    def build(tf):
        x = tf.keras.Input(shape=shape, batch_size=1)
        y = x
        if branch:
            y = tf.keras.layers.Reshape(shape)(tf.keras.layers.Dense(int(np.prod(shape)))(tf.keras.layers.Flatten()(x)))
        split = parts if isinstance(parts, int) else list(parts)
        return tf.keras.Model(x, tf.keras.layers.Lambda(
            lambda t: tf.concat([tf.split(t, split, axis=axis)[i] for i in order], axis=axis))(y))
    return build


def _cases(n: int, seed: int):
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < n:
        rank = int(rng.integers(1, 5))                       # without the batch dimension
        shape = [int(v) for v in rng.integers(1, 6, rank)]
        a = int(rng.integers(1, rank + 1))
        if rng.random() < 0.5:                               # SPLIT: the axis' size a multiple of the count
            k = int(rng.integers(2, 5))
            shape[a - 1] = k * int(rng.integers(1, 3))
            parts = k
        else:                                                # SPLIT_V: sizes, sometimes a -1
            sizes = [int(v) for v in rng.integers(1, 4, int(rng.integers(2, 5)))]
            shape[a - 1] = sum(sizes)
            if rng.random() < 0.3:
                sizes[int(rng.integers(len(sizes)))] = -1
            parts, k = tuple(sizes), len(sizes)
        if np.prod(shape) > 500:
            continue
        order = [int(v) for v in rng.permutation(k)][:max(2, k - int(rng.integers(0, 2)))]
        if order == sorted(order) and len(order) == k:
            continue                                         # the identity: the converter drops the pair
        axis = a if rng.random() < 0.75 else a - (rank + 1)  # some negative
        cases.append((tuple(shape), axis, parts, tuple(order), bool(rng.random() < 0.5),
                      "f32" if rng.random() < 0.3 else "i8"))
    return cases


EDGES = [
    ((6, 4), 1, 3, (2, 1, 0), False, "i8"),                    # rows into thirds, reversed
    ((4, 5, 6), 3, 2, (1, 0), True, "i8"),                     # channels into halves
    ((4, 5, 6), -1, (1, 3, 2), (2, 0), True, "i8"),            # SPLIT_V, a part left out
    ((2, 3, 4, 5), 2, (2, -1), (1, 0), False, "i8"),           # 5-D, -1 for the rest
    ((8,), 1, 4, (3, 0, 2), True, "i8"),                       # 2-D
    ((6, 4), 1, 3, (2, 1, 0), True, "f32"),
    ((4, 5, 6), 3, (1, 3, 2), (2, 1, 0), False, "f32"),
]
CASES = EDGES + _cases(60 if LARGE else 20, seed=52)
BOARD_CASES = CASES if LARGE else [EDGES[0], EDGES[2], EDGES[6]]


def _key(case) -> str:
    return "split/v1/" + "-".join(str(v).replace(" ", "") for v in case)


def _op(case) -> str:
    return "SPLIT" if isinstance(case[2], int) else "SPLIT_V"


@pytest.mark.parametrize("case", CASES, ids=_key)
def test_split_matches_tflm(case):
    r = run_case(_split(*case[:5]), _key(case), float32=case[5] == "f32")
    assert _op(case) in r.ops, r.ops
    assert r.mismatches == 0 and r.bit_exact, r.first_diff


@pytest.mark.emulated
@pytest.mark.parametrize("board", BOARDS)
@pytest.mark.parametrize("case", BOARD_CASES, ids=_key)
def test_split_bit_exact_on_the_emulated_board(case, board):
    path = convert(_split(*case[:5]), _key(case), folder="sweep", float32=case[5] == "f32")
    assert board_mismatches(path, board, "split") == (0, 0)


def test_split_outputs_are_planned_apart():
    """Every output of the split gets its own bytes in the arena: the parts the concatenation reads are
    live together, so the plan (checked by lower.verify_plan) must not overlap them."""
    path = convert(_split(*EDGES[0][:5]), _key(EDGES[0]), folder="sweep")
    low = lower(load_model(path))
    split = next(c for c in low.calls if c.kernel == "tm_split")
    outs = split.op.outputs
    spans = sorted((low.plan.offsets[t], low.plan.offsets[t] + low.graph.tensor(t).nbytes) for t in outs)
    assert len(outs) == 3 and all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))
