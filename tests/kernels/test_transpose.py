"""TRANSPOSE: seeded Keras models (tf.transpose of 2-D to 5-D tensors, keras Permute; on the input or on a
differently quantized Dense branch), int8 and float32, our host runtime vs TFLM byte for byte, and a few
cases on the emulated M4 and M7 (all of them with HARNESS_SWEEP=large, which also widens the sweep)."""
import os

import numpy as np
import pytest

from harness.plan.lower import lower
from harness.plan.model import ModelError, load_model
from harness.reference import TflmReference
from harness.sweep import run_case
from harness.tfgen import convert
from on_board import BOARDS, board_mismatches

LARGE = os.environ.get("HARNESS_SWEEP") == "large"


def _source(tf, x, shape, branch):
    """The input itself, or a Dense branch of it reshaped back (its own scale and zero point)."""
    if not branch:
        return x
    y = tf.keras.layers.Dense(int(np.prod(shape)))(tf.keras.layers.Flatten()(x))
    return tf.keras.layers.Reshape(shape)(y)


def _transpose(shape, perm, branch):
    """tf.transpose of the whole tensor, the batch dimension (1) included in `perm`."""
    def build(tf):
        x = tf.keras.Input(shape=shape, batch_size=1)
        y = _source(tf, x, shape, branch)
        return tf.keras.Model(x, tf.keras.layers.Lambda(lambda t: tf.transpose(t, list(perm)))(y))
    return build


def _matrix(shape, perm, branch):
    """A 2-D tensor (the input reshaped without its batch dimension) transposed."""
    def build(tf):
        x = tf.keras.Input(shape=shape, batch_size=1)
        y = tf.keras.layers.Lambda(lambda t: tf.transpose(tf.reshape(t, shape), list(perm)))(_source(tf, x, shape, branch))
        return tf.keras.Model(x, y)
    return build


def _permute(shape, dims, branch):
    def build(tf):
        x = tf.keras.Input(shape=shape, batch_size=1)
        return tf.keras.Model(x, tf.keras.layers.Permute(dims)(_source(tf, x, shape, branch)))
    return build


def _moves_data(shape, perm) -> bool:
    """Whether the permutation reorders dimensions of size > 1 (else the converter makes it a RESHAPE)."""
    full = (1, *shape)
    kept = [d for d in perm if full[d] > 1]
    return kept != sorted(kept)


def _cases(n: int, seed: int):
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < n:
        rank = int(rng.integers(1, 5))                       # without the batch dimension
        shape = tuple(int(v) for v in rng.integers(1, 7, rank))
        if np.prod(shape) > 500:
            continue
        branch = bool(rng.random() < 0.5)
        dtype = "f32" if rng.random() < 0.3 else "i8"
        if len(cases) % 4 == 0 and rank >= 2:                # Keras Permute: the batch dimension stays
            dims = tuple(int(v) + 1 for v in rng.permutation(rank))
            if _moves_data(shape, (0, *dims)):
                cases.append(("permute", shape, dims, branch, dtype))
            continue
        perm = tuple(int(v) for v in rng.permutation(rank + 1))
        if _moves_data(shape, perm):
            cases.append(("transpose", shape, perm, branch, dtype))
    return cases


EDGES = [
    ("transpose", (5, 4, 3), (0, 3, 1, 2), False, "i8"),         # NHWC -> NCHW
    ("transpose", (3, 5, 4), (0, 2, 3, 1), True, "i8"),          # NCHW -> NHWC
    ("matrix", (7, 3), (1, 0), False, "i8"),                     # 2-D
    ("transpose", (2, 3, 4, 5), (0, 4, 2, 3, 1), True, "i8"),    # 5-D
    ("transpose", (16, 16, 8), (0, 3, 2, 1), False, "i8"),       # 2 KB
    ("permute", (4, 6, 2), (3, 1, 2), True, "i8"),
    ("transpose", (5, 4, 3), (0, 3, 1, 2), False, "f32"),
    ("transpose", (2, 3, 4, 5), (0, 4, 2, 3, 1), True, "f32"),
    ("permute", (4, 6, 2), (2, 3, 1), False, "f32"),
]
CASES = EDGES + _cases(70 if LARGE else 24, seed=18)
BOARD_CASES = CASES if LARGE else [EDGES[0], EDGES[3], EDGES[7]]


def _key(case) -> str:
    return "transpose/v1/" + "-".join(str(v).replace(" ", "") for v in case)


def _build(case):
    return {"transpose": _transpose, "matrix": _matrix, "permute": _permute}[case[0]](*case[1:4])


@pytest.mark.parametrize("case", CASES, ids=_key)
def test_transpose_matches_tflm(case):
    r = run_case(_build(case), _key(case), float32=case[4] == "f32")
    assert "TRANSPOSE" in r.ops, r.ops
    assert r.kernels.count("tm_transpose") == r.ops.count("TRANSPOSE")
    assert r.mismatches == 0 and r.bit_exact, r.first_diff


@pytest.mark.emulated
@pytest.mark.parametrize("board", BOARDS)
@pytest.mark.parametrize("case", BOARD_CASES, ids=_key)
def test_transpose_bit_exact_on_the_emulated_board(case, board):
    path = convert(_build(case), _key(case), folder="sweep", float32=case[4] == "f32")
    assert board_mismatches(path, board, "transpose") == (0, 0)


def test_transpose_by_hand():
    """The planner's loops for a 1x2x3x4 NHWC -> NCHW: the size-1 batch dropped, H and W merged (they stay
    in order), so a 2-D transpose of a 6 x 4 matrix; an identity keeps one contiguous run."""
    from harness.plan.ops.transpose import loops
    assert loops((1, 2, 3, 4), [0, 3, 1, 2]) == [(4, 1), (6, 4)]
    assert loops((2, 3, 4), [0, 1, 2]) == [(24, 1)]
    assert loops((2, 3, 4), [2, 1, 0]) == [(4, 1), (3, 4), (2, 12)]
    assert loops((1, 1), [1, 0]) == [(1, 1)]


def test_six_d_transpose_is_refused():
    """TFLM's Prepare refuses a 6-D TRANSPOSE; so do we, naming the op, before any firmware is built."""
    path = convert(_transpose((2, 3, 2, 2, 3), (0, 5, 1, 4, 3, 2), False), "transpose/v1/6d", folder="sweep")
    with pytest.raises(ModelError, match=r"op 0 TRANSPOSE .*6-D input"):
        lower(load_model(path))
    with pytest.raises(RuntimeError):
        TflmReference(path)
