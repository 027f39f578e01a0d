"""REDUCE_MAX: seeded Keras models (tf.reduce_max over any axes of 2-D to 5-D tensors, keep_dims both ways,
GlobalMaxPooling2D; on the input or on a differently quantized Dense branch), int8 and float32, our host
runtime vs TFLM byte for byte, and a few cases on the emulated M4 and M7 (all of them with
HARNESS_SWEEP=large, which also widens the sweep)."""
import os
from pathlib import Path

import numpy as np
import pytest

from harness.plan.lower import lower
from harness.plan.model import ModelError, load_model
from harness.reference import TflmReference
from harness.sweep import run_case
from harness.tfgen import convert
from on_board import BOARDS, board_mismatches
from tflite_edit import tensor_index, with_quantization

LARGE = os.environ.get("HARNESS_SWEEP") == "large"


def _source(tf, x, shape, branch):
    if not branch:
        return x
    y = tf.keras.layers.Dense(int(np.prod(shape)))(tf.keras.layers.Flatten()(x))
    return tf.keras.layers.Reshape(shape)(y)


def _reduce_max(shape, axes, keepdims, branch):
    def build(tf):
        x = tf.keras.Input(shape=shape, batch_size=1)
        y = _source(tf, x, shape, branch)
        return tf.keras.Model(x, tf.keras.layers.Lambda(lambda t: tf.reduce_max(t, axis=list(axes), keepdims=keepdims))(y))
    return build


def _cases(n: int, seed: int):
    """As test_mean.py's sweep draws them (a rank, a shape, 1 to 3 distinct axes, some negative), each
    case int8 or (about a third) float32."""
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < n:
        branch = bool(rng.random() < 0.5)
        dtype = "f32" if rng.random() < 0.3 else "i8"
        rank = int(rng.integers(1, 5))                          # without the batch dimension
        shape = tuple(int(v) for v in rng.integers(1, 7, rank))
        if np.prod(shape) > 400:
            continue
        n_axes = int(rng.integers(1, min(rank, 3) + 1))
        axes = sorted(int(a) for a in rng.choice(np.arange(1, rank + 1), n_axes, replace=False))
        if all(shape[a - 1] == 1 for a in axes):
            continue                                            # a no-op reduction: the converter drops it
        axes = tuple(a - (rank + 1) if rng.random() < 0.25 else a for a in axes)   # some negative
        cases.append((shape, axes, bool(rng.random() < 0.5), branch, dtype))
    return cases


EDGES = [
    ((6, 5, 3), (1, 2), False, False, "i8"),                  # global max pooling
    ((7, 7, 16), (1, 2), True, True, "i8"),
    ((4, 5, 3), (1,), True, True, "i8"),                      # rows
    ((4, 5, 3), (-1,), False, True, "i8"),                    # channels
    ((4, 5, 3), (1, 3), False, True, "i8"),                   # two non-adjacent axes
    ((3, 4, 5), (1, 2, 3), False, False, "i8"),               # all axes (3 of them)
    ((12,), (1,), True, True, "i8"),                          # 2-D
    ((3, 4, 5, 2), (1, 3, 4), False, True, "i8"),             # 5-D, three axes
    ((16, 16, 8), (1, 2), True, False, "i8"),                 # 256 elements per output
    ((6, 5, 3), (1, 2), False, False, "f32"),
    ((4, 5, 3), (1, 3), True, True, "f32"),
    ((3, 4, 5, 2), (2, -1), False, True, "f32"),
]
CASES = EDGES + _cases(70 if LARGE else 24, seed=27)
BOARD_CASES = CASES if LARGE else [EDGES[4], EDGES[7], EDGES[10]]


def _key(case) -> str:
    return "reduce_max/v1/" + "-".join(str(v).replace(" ", "") for v in case)


@pytest.mark.parametrize("case", CASES, ids=_key)
def test_reduce_max_matches_tflm(case):
    r = run_case(_reduce_max(*case[:4]), _key(case), float32=case[4] == "f32")
    assert "REDUCE_MAX" in r.ops, r.ops
    assert r.mismatches == 0 and r.bit_exact, r.first_diff


@pytest.mark.emulated
@pytest.mark.parametrize("board", BOARDS)
@pytest.mark.parametrize("case", BOARD_CASES, ids=_key)
def test_reduce_max_bit_exact_on_the_emulated_board(case, board):
    path = convert(_reduce_max(*case[:4]), _key(case), folder="sweep", float32=case[4] == "f32")
    assert board_mismatches(path, board, "reduce_max") == (0, 0)


def test_output_with_its_own_quantization_is_refused(tmp_path: Path):
    """TFLM's int8 REDUCE_MAX fails unless the output's scale and zero point are the input's; we refuse
    such a model by name before any firmware is built."""
    src = convert(_reduce_max(*EDGES[1][:4]), _key(EDGES[1]), folder="sweep")
    out = tensor_index(src, op="REDUCE_MAX", which="outputs")
    bad = with_quantization(src, tmp_path / "rmax.tflite", out, scale=2 * float(load_model(src).tensor(out).scale))
    with pytest.raises(ModelError, match=r"REDUCE_MAX .*must be the input's"):
        lower(load_model(bad))
    with pytest.raises(RuntimeError):
        TflmReference(bad).run([np.zeros((1, 7, 7, 16), np.int8)])
