"""MAXIMUM / MINIMUM (int8, int16, float32): seeded Keras models, our runtime vs TFLM byte for byte on the
host build and on the emulated M4 and M7. Operands as in the ADD / MUL sweep (test_elementwise.py): two
Dense branches with every broadcasting pattern up to 5-D, a constant on either side, x op x, and the
clip (ReLU-N) form tf.clip_by_value converts to (MINIMUM then MAXIMUM with scalar constants). Plus what
the converter never emits: operands with another quantization (TFLM compares the stored values as they
are) and float ties and NaNs. HARNESS_SWEEP=large widens the sweep and runs all of it on the boards."""
import os

import numpy as np
import pytest

from broadcast_cases import BOARDS, SCHEMES, broadcast_pair, dense_nd
from harness.plan.lower import lower
from harness.plan.model import ModelError, load_model
from harness.reference import TflmReference, random_inputs
from harness.sweep import compare_on_board, compare_on_host
from harness.tfgen import convert
from tflite_edit import tensor_index, with_quantization
from tflite_synth import Synth, compare

LARGE = os.environ.get("HARNESS_SWEEP") == "large"
OPS = {"max": "MAXIMUM", "min": "MINIMUM"}
# Operand rank without the batch: above 5-D the converter broadcasts with a BROADCAST_TO op of its own.
MAX_RANK = 4


def _apply(tf, op, a, b):
    return tf.maximum(a, b) if op == "max" else tf.minimum(a, b)


def _branch(op, out, sa, sb, ka, kb):
    def build(tf):
        x = tf.keras.Input(shape=out, batch_size=1)
        a, b = dense_nd(tf, x, sa, ka), dense_nd(tf, x, sb, kb)
        return tf.keras.Model(x, tf.keras.layers.Lambda(lambda ts: _apply(tf, op, *ts))([a, b]))
    return build


def _const(op, shape, cshape, seed, first):
    """x op c, or c op x (`first`): the constant read from flash as the first or the second input."""
    def build(tf):
        c = np.random.default_rng(seed).uniform(-3, 3, size=cshape).astype(np.float32)
        x = tf.keras.Input(shape=shape, batch_size=1)
        return tf.keras.Model(x, tf.keras.layers.Lambda(lambda t: _apply(tf, op, c, t) if first
                                                        else _apply(tf, op, t, c))(x))
    return build


def _self(op, shape):
    def build(tf):
        x = tf.keras.Input(shape=shape, batch_size=1)
        return tf.keras.Model(x, tf.keras.layers.Lambda(lambda t: _apply(tf, op, t, t))(x))
    return build


def _clip(shape, lo, hi):
    def build(tf):
        x = tf.keras.Input(shape=shape, batch_size=1)
        return tf.keras.Model(x, tf.keras.layers.Lambda(lambda t: tf.clip_by_value(t, lo, hi))(x))
    return build


def _cases(n: int, seed: int):
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(n):
        op = ("max", "min")[i % 2]
        dtype = str(rng.choice(["i8", "i16", "f32"], p=[0.6, 0.15, 0.25]))
        kind = rng.random()
        if kind < 0.6:
            out, sa, sb = broadcast_pair(rng, int(rng.integers(1, MAX_RANK + 1)))
            ka, kb = (round(float(k), 4) for k in np.exp(rng.uniform(np.log(0.02), np.log(50), 2)))
            cases.append(("branch", dtype, op, out, sa, sb, ka, kb))
        elif kind < 0.8:
            out, _, cshape = broadcast_pair(rng, int(rng.integers(1, 4)))
            cases.append(("const", dtype, op, out, cshape, int(rng.integers(1 << 16)), bool(rng.random() < 0.5)))
        elif kind < 0.9:
            cases.append(("self", dtype, op, tuple(int(v) for v in rng.integers(1, 6, 3))))
        else:
            lo = round(float(rng.uniform(-3, 0.5)), 3)
            cases.append(("clip", dtype, tuple(int(v) for v in rng.integers(1, 6, 3)), lo,
                          round(lo + float(rng.uniform(0.2, 6)), 3)))
    return cases


EDGES = [
    ("branch", "i8", "max", (16,), (16,), (16,), 1.0, 3.0),
    ("branch", "i8", "min", (4, 5, 3), (4, 5, 3), (3,), 1.0, 0.05),
    ("branch", "i8", "max", (2, 3, 2, 3), (2, 1, 2, 3), (1, 3, 1, 1), 1.0, 7.0),   # 5-D, both ways
    ("const", "i8", "max", (4, 5, 3), (), 7, False),                  # scalar constant second
    ("const", "i8", "min", (4, 5, 3), (5, 3), 8, True),               # constant first
    ("self", "i8", "max", (3, 4, 2)),
    ("clip", "i8", (4, 5, 3), -0.7, 1.3),                               # ReLU-N written as ops
    ("branch", "i16", "max", (4, 3), (4, 3), (4, 3), 1.0, 5.0),
    ("const", "i16", "min", (3, 4), (4,), 9, False),
    ("branch", "f32", "min", (3, 4), (3, 1), (1, 4), 0.01, 100.0),
    ("const", "f32", "max", (2, 3, 4), (3, 1), 10, True),
    ("clip", "f32", (6,), -2.0, 4.0),
]
CASES = EDGES + _cases(100 if LARGE else 24, seed=18)
# Each kernel (op x dtype) and operand kind on the boards; the whole sweep with HARNESS_SWEEP=large.
BOARD_CASES = CASES if LARGE else [EDGES[i] for i in (2, 4, 6, 7, 8, 9, 10)]


def _key(case) -> str:
    return "minmax/v1/" + "-".join(str(v).replace(" ", "") for v in case)


def _build(case):
    kind, dtype, *rest = case
    return {"branch": _branch, "const": _const, "self": _self, "clip": _clip}[kind](*rest)


def _path(case):
    return convert(_build(case), _key(case), folder="sweep", **SCHEMES[case[1]])


def _wanted(case) -> set:
    return {"MAXIMUM", "MINIMUM"} if case[0] == "clip" else {OPS[case[2]]}


@pytest.mark.parametrize("case", CASES, ids=_key)
def test_minmax_matches_tflm(case):
    r = compare_on_host(_path(case), key=_key(case))
    assert _wanted(case) <= set(r.ops), r.ops
    assert r.mismatches == 0 and r.bit_exact, r.first_diff


@pytest.mark.emulated
@pytest.mark.parametrize("board", BOARDS)
@pytest.mark.parametrize("case", BOARD_CASES, ids=_key)
def test_minmax_on_emulated_board(case, board):
    r = compare_on_board(_path(case), board, key=_key(case))
    assert _wanted(case) <= set(r.ops), r.ops
    assert r.mismatches == 0 and r.bit_exact, r.first_diff


def test_raw_values_compared_whatever_the_quantization(tmp_path):
    """A constant with another scale and zero point than x (the converter never emits it): TFLM compares
    the stored bytes without requantizing, i.e. its output is np.maximum of the raw values; so is ours."""
    src = _path(EDGES[3])
    c = tensor_index(src, op="MAXIMUM", which="inputs", k=1)
    g = load_model(src)
    bad = with_quantization(src, tmp_path / "max.tflite", c, scale=float(g.tensor(c).scale) * 3.7, zero_point=40)
    const = load_model(bad).tensor(c).data
    xs = [x for [x] in random_inputs([g.tensor(g.inputs[0])], 4, seed=2)]
    ref = TflmReference(bad)
    for x in xs:
        assert np.frombuffer(ref.run([x])[0], np.int8).tolist() == np.maximum(x, const).reshape(-1).tolist()
    n_bad, first = compare(bad, xs)
    assert n_bad == 0, first


def _float_edges(op, const):
    s = Synth()
    x = s.tensor((1, 8), np.float32, name="x")
    c = s.tensor((1, 8), np.float32, data=np.asarray(const, np.float32), name="c")
    y = s.tensor((1, 8), np.float32, name="y")
    s.op(op, [x, c], [y])
    return s.save([x], [y])


@pytest.mark.parametrize("op", ["MAXIMUM", "MINIMUM"])
def test_float_ties_and_nan_are_tflms(op):
    """TFLM's float comparison keeps the second operand on a tie of 0.0 and -0.0 and when either is a NaN
    (x > c ? x : c): the bytes of each pairing, against the interpreter."""
    path = _float_edges(op, [0.0, -0.0, 0.0, -0.0, 1.0, -1.0, 0.0, 2.0])
    xs = [np.array([[-0.0, 0.0, 0.0, -0.0, np.nan, np.nan, np.inf, -np.inf]], np.float32),
          np.array([[0.0, -0.0, -0.0, 0.0, 1.0, -1.0, -np.inf, np.inf]], np.float32)]
    n_bad, first = compare(path, xs)
    assert n_bad == 0, first


def test_mixed_types_refused():
    s = Synth()
    a = s.tensor((1, 4), np.int8, 0.1, 0, name="a")
    b = s.tensor((1, 4), np.int16, 0.1, 0, data=np.arange(4), name="b")
    y = s.tensor((1, 4), np.int8, 0.1, 0, name="y")
    s.op("MAXIMUM", [a, b], [y])
    with pytest.raises(ModelError, match=r"op 0 MAXIMUM .*all three tensors alike"):
        lower(load_model(s.save([a], [y])))
