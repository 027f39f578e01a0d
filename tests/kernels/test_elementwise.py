"""ADD / MUL: seeded Keras models, our host runtime vs TFLM byte for byte. The two operands come from
different branches of the input (Dense layers on the flattened input, reshaped and scaled) so they carry
different scales, with every broadcasting pattern up to 6-D; plus a constant operand and x op x.
HARNESS_SWEEP=large widens the sweep."""
import os

import numpy as np
import pytest

from harness.plan.ops import LOWERINGS
from harness.plan.model import ModelError, load_model
from harness.sweep import run_case
from harness.tfgen import convert
from broadcast_cases import broadcast_pair, dense_nd

LARGE = os.environ.get("HARNESS_SWEEP") == "large"
ACTS = ("none", "relu", "relu6")


def _combine(tf, op, a, b):
    return tf.keras.layers.Lambda(lambda ts: ts[0] + ts[1] if op == "add" else ts[0] * ts[1])([a, b])


def _activate(tf, y, act):
    return y if act == "none" else tf.keras.layers.ReLU(6.0 if act == "relu6" else None)(y)


def _two_branch(op, in_shape, sa, sb, ka, kb, act):
    def build(tf):
        x = tf.keras.Input(shape=in_shape, batch_size=1)
        return tf.keras.Model(x, _activate(tf, _combine(tf, op, dense_nd(tf, x, sa, ka), dense_nd(tf, x, sb, kb)), act))
    return build


def _with_const(op, shape, cshape, seed, act):
    def build(tf):
        c = np.random.default_rng(seed).uniform(-3, 3, size=cshape).astype(np.float32)
        x = tf.keras.Input(shape=shape, batch_size=1)
        y = tf.keras.layers.Lambda(lambda t: t + c if op == "add" else t * c)(x)
        return tf.keras.Model(x, _activate(tf, y, act))
    return build


def _self(op, shape, act):
    def build(tf):
        x = tf.keras.Input(shape=shape, batch_size=1)
        return tf.keras.Model(x, _activate(tf, _combine(tf, op, x, x), act))
    return build


def _cases(n: int, seed: int):
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(n):
        op = ("add", "mul")[i % 2]
        act = ACTS[int(rng.integers(3))]
        kind = rng.random()
        if kind < 0.7:
            rank = int(rng.integers(1, 6))
            out, sa, sb = broadcast_pair(rng, rank)
            ka, kb = (float(np.exp(v)) for v in rng.uniform(np.log(0.02), np.log(50), 2))
            cases.append(("branch", op, out, sa, sb, round(ka, 4), round(kb, 4), act))
        elif kind < 0.9:
            rank = int(rng.integers(1, 4))
            out, _, cshape = broadcast_pair(rng, rank)
            cases.append(("const", op, out, cshape, int(rng.integers(1 << 16)), act))
        else:
            cases.append(("self", op, tuple(int(v) for v in rng.integers(1, 6, 3)), act))
    return cases


EDGES = [
    ("branch", "add", (16,), (16,), (16,), 1.0, 3.0, "none"),
    ("branch", "add", (4, 5, 3), (4, 5, 3), (3,), 1.0, 0.05, "relu"),           # per-channel bias-like
    ("branch", "mul", (4, 5, 3), (4, 1, 3), (4, 5, 3), 20.0, 1.0, "relu6"),
    ("branch", "add", (2, 3, 2, 2, 3), (2, 3, 2, 2, 3), (1, 3, 1, 2, 1), 1.0, 7.0, "none"),   # 6-D
    ("branch", "mul", (2, 3, 2, 2, 3), (2, 1, 2, 1, 3), (1, 3, 1, 2, 1), 1.0, 1.0, "none"),   # 6-D, both ways
    ("branch", "add", (3, 4), (3, 1), (1, 4), 0.01, 100.0, "none"),             # outer sum, far scales
    ("const", "add", (4, 5, 3), (), 7, "none"),                                  # scalar constant
    ("const", "mul", (4, 5, 3), (5, 3), 8, "relu"),
    ("self", "mul", (3, 4, 2), "none"),                                          # x * x
    ("self", "add", (3, 4, 2), "relu6"),
]
CASES = EDGES + _cases(100 if LARGE else 30, seed=5)


def _key(case) -> str:
    return "elementwise/v1/" + "-".join(str(v).replace(" ", "") for v in case)


def _build(case):
    kind = case[0]
    if kind == "branch":
        _, op, out, sa, sb, ka, kb, act = case
        return _two_branch(op, out, sa, sb, ka, kb, act)
    if kind == "const":
        _, op, out, cshape, seed, act = case
        return _with_const(op, out, cshape, seed, act)
    _, op, shape, act = case
    return _self(op, shape, act)


@pytest.mark.parametrize("case", CASES, ids=_key)
def test_elementwise_matches_tflm(case):
    r = run_case(_build(case), _key(case))
    wanted = "ADD" if case[1] == "add" else "MUL"
    assert wanted in r.ops, r.ops
    assert r.mismatches == 0, r.first_diff


def test_int32_add_is_refused():
    """int8, int16 (tests/kernels/test_int16.py) and float32 (test_float.py) are supported; int32 is not."""
    from tflite_synth import Synth
    s = Synth()
    a, b, y = (s.tensor((1, 4), np.int32, name=n) for n in "aby")
    s.op("ADD", [a, b], [y], s.options("AddOptions", fusedActivationFunction=0))
    g = load_model(s.save([a, b], [y]))
    with pytest.raises(ModelError, match=r"op 0 ADD .*only int8, int16, float32"):
        LOWERINGS["ADD"](g, g.ops[0])


def test_int16_mul_lowers():
    path = convert(_two_branch("mul", (4, 3), (4, 3), (4, 3), 1.0, 2.0, "none"), "elementwise/v1/int16-mul",
                   int16x8=True, folder="sweep")
    g = load_model(path)
    mul = next(op for op in g.ops if op.name == "MUL")
    assert LOWERINGS["MUL"](g, mul).kernel == "tm_mul_s16"
