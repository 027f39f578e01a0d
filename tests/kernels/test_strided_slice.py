"""STRIDED_SLICE of a tensor computed at run time (a Dense or Conv branch, so the slice is not folded):
seeded Keras slices t[a:b:s, i, ...] (positive strides, shrunk axes, masked bounds, negative indices),
int8 and float32, our host runtime vs TFLM byte for byte, and a few on the emulated M4 and M7 (all with
HARNESS_SWEEP=large). A slice that is one run of the input's bytes is a view (no kernel); any other runs
TRANSPOSE's strided copy. A reversal (negative stride) is refused by name."""
import os

import numpy as np
import pytest

from harness.plan.lower import lower
from harness.plan.model import ModelError, load_model
from harness.sweep import run_case
from harness.tfgen import convert
from on_board import BOARDS, board_mismatches

LARGE = os.environ.get("HARNESS_SWEEP") == "large"


def _slicer(spec):
    """A tuple of slices and ints (None: the whole axis) for the axes after the batch."""
    return tuple(slice(*s) if isinstance(s, tuple) else (slice(None) if s is None else s) for s in spec)


def _model(shape, spec):
    def build(tf):
        x = tf.keras.Input(shape=shape, batch_size=1)
        y = tf.keras.layers.Reshape(shape)(tf.keras.layers.Dense(int(np.prod(shape)))(tf.keras.layers.Flatten()(x)))
        index = (slice(None), *_slicer(spec))
        return tf.keras.Model(x, tf.keras.layers.Lambda(lambda t: t[index])(y))
    return build


def _cases(n: int, seed: int):
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < n:
        shape = tuple(int(v) for v in rng.integers(1, 7, int(rng.integers(1, 4))))
        spec = []
        for size in shape:
            kind = rng.random()
            if kind < 0.2:
                spec.append(int(rng.integers(-size, size)))                       # shrink: one index
            elif kind < 0.35:
                spec.append(None)
            else:
                begin = int(rng.integers(-size, size))
                end = int(rng.integers(-size, size + 1)) if rng.random() < 0.7 else None
                spec.append((begin, end, int(rng.integers(1, 4))))
        picked = [len(range(size)[s]) if isinstance(s, slice) else 1 for s, size in
                  zip(_slicer(spec), shape) if not isinstance(s, int)]
        if all(isinstance(s, int) for s in spec) or 0 in picked:
            continue                                                              # a scalar or empty result
        cases.append((shape, tuple(spec), "f32" if rng.random() < 0.3 else "i8"))
    return cases


EDGES = [
    ((6, 4), (-1, None), "i8"),                 # a Keras LSTM's last step: one run of bytes, a view
    ((6, 4), ((1, 5, 2), (0, 3)), "i8"),        # rows and columns: a strided copy
    ((3, 5, 2), (None, (None, None, 2), 1), "i8"),
    ((4, 6), ((1, 3), None), "f32"),            # whole rows: a view
    ((4, 3, 2), ((None, None, 3), -1, None), "f32"),
]
CASES = EDGES + _cases(40 if LARGE else 16, seed=31)
BOARD_CASES = CASES if LARGE else [EDGES[1], EDGES[4]]


def _key(case) -> str:
    return "strided_slice/v1/" + "-".join(str(v).replace(" ", "") for v in case)


@pytest.mark.parametrize("case", CASES, ids=_key)
def test_strided_slice_matches_tflm(case):
    r = run_case(_model(*case[:2]), _key(case), float32=case[2] == "f32")
    assert "STRIDED_SLICE" in r.ops, r.ops
    assert r.mismatches == 0 and r.bit_exact, r.first_diff


@pytest.mark.emulated
@pytest.mark.parametrize("board", BOARDS)
@pytest.mark.parametrize("case", BOARD_CASES, ids=_key)
def test_strided_slice_bit_exact_on_the_emulated_board(case, board):
    path = convert(_model(*case[:2]), _key(case), folder="sweep", float32=case[2] == "f32")
    assert board_mismatches(path, board, "strided_slice") == (0, 0)


def test_one_run_of_bytes_is_a_view_and_others_a_copy():
    views = {}
    for case in EDGES:
        low = lower(load_model(convert(_model(*case[:2]), _key(case), folder="sweep", float32=case[2] == "f32")))
        views[case] = "tm_transpose" not in [c.kernel for c in low.calls]
    assert views == {EDGES[0]: True, EDGES[1]: False, EDGES[2]: False, EDGES[3]: True, EDGES[4]: False}


def test_a_reversal_is_refused_by_name():
    path = convert(_model((5, 3), ((None, None, -1), None)), "strided_slice/v1/reverse", folder="sweep")
    g = load_model(path)
    assert "STRIDED_SLICE" in g.op_names, g.op_names
    with pytest.raises(ModelError, match="STRIDED_SLICE .*negative stride"):
        lower(g)
