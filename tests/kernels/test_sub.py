"""SUB (int8, int16x8, float32): seeded Keras models, our runtime vs TFLM byte for byte on the host build
and on the emulated M4 and M7. Operands as in the ADD / MUL sweep (test_elementwise.py): two Dense branches
with their own scales and every broadcasting pattern up to 6-D, a constant on either side (c - x reads the
constant as the first input); fused activations NONE, RELU, RELU6. (No x - x: its output is 0, whose
calibrated scale leaves TFLM's rescaling undefined, as test_output_scale_too_small_is_refused shows.)
HARNESS_SWEEP=large widens the sweep and runs all of it on the boards."""
import os

import numpy as np
import pytest

from broadcast_cases import BOARDS, SCHEMES, broadcast_pair, dense_nd
from harness.plan.lower import lower
from harness.plan.model import ModelError, load_model
from harness.sweep import compare_on_board, compare_on_host
from harness.tfgen import convert
from tflite_edit import tensor_index, with_quantization

LARGE = os.environ.get("HARNESS_SWEEP") == "large"
ACTS = ("none", "relu", "relu6")


def _activate(tf, y, act):
    return y if act == "none" else tf.keras.layers.ReLU(6.0 if act == "relu6" else None)(y)


def _branch(out, sa, sb, ka, kb, act):
    def build(tf):
        x = tf.keras.Input(shape=out, batch_size=1)
        a, b = dense_nd(tf, x, sa, ka), dense_nd(tf, x, sb, kb)
        return tf.keras.Model(x, _activate(tf, tf.keras.layers.Lambda(lambda ts: ts[0] - ts[1])([a, b]), act))
    return build


def _const(shape, cshape, seed, first, act):
    def build(tf):
        c = np.random.default_rng(seed).uniform(-3, 3, size=cshape).astype(np.float32)
        x = tf.keras.Input(shape=shape, batch_size=1)
        y = tf.keras.layers.Lambda(lambda t: c - t if first else t - c)(x)
        return tf.keras.Model(x, _activate(tf, y, act))
    return build


def _cases(n: int, seed: int):
    rng = np.random.default_rng(seed)
    cases = []
    for _ in range(n):
        dtype = str(rng.choice(["i8", "i16", "f32"], p=[0.6, 0.2, 0.2]))
        act = ACTS[int(rng.integers(3))]
        kind = rng.random()
        if kind < 0.7:
            out, sa, sb = broadcast_pair(rng, int(rng.integers(1, 6)))
            ka, kb = (round(float(k), 4) for k in np.exp(rng.uniform(np.log(0.02), np.log(50), 2)))
            cases.append(("branch", dtype, out, sa, sb, ka, kb, act))
        else:
            out, _, cshape = broadcast_pair(rng, int(rng.integers(1, 4)))
            cases.append(("const", dtype, out, cshape, int(rng.integers(1 << 16)), bool(rng.random() < 0.5), act))
    return cases


EDGES = [
    ("branch", "i8", (16,), (16,), (16,), 1.0, 3.0, "none"),
    ("branch", "i8", (4, 5, 3), (4, 5, 3), (3,), 1.0, 0.05, "relu"),
    ("branch", "i8", (2, 3, 2, 2, 3), (2, 1, 2, 1, 3), (1, 3, 1, 2, 1), 1.0, 7.0, "none"),   # 6-D, both ways
    ("branch", "i8", (3, 4), (3, 1), (1, 4), 0.01, 100.0, "relu6"),        # far scales
    ("const", "i8", (4, 5, 3), (), 7, True, "none"),                        # scalar constant first: c - x
    ("const", "i8", (4, 5, 3), (5, 3), 8, False, "relu"),
    ("branch", "i16", (4, 3), (4, 3), (4, 3), 1.0, 2.0, "none"),
    ("branch", "i16", (5,), (8,), (8,), 1.0, 0.001, "relu"),                # very different scales
    ("const", "i16", (3, 4), (4,), 9, True, "none"),
    ("branch", "f32", (6,), (2, 1, 4, 3), (5, 1, 3), 4.0, 0.25, "relu6"),
    ("const", "f32", (2, 3, 4), (3, 1), 10, True, "none"),
]
CASES = EDGES + _cases(100 if LARGE else 24, seed=19)
# Each kernel (dtype) and operand kind on the boards; the whole sweep with HARNESS_SWEEP=large.
BOARD_CASES = CASES if LARGE else [EDGES[i] for i in (2, 4, 7, 8, 9, 10)]


def _key(case) -> str:
    return "sub/v1/" + "-".join(str(v).replace(" ", "") for v in case)


def _path(case):
    kind, dtype, *rest = case
    build = {"branch": _branch, "const": _const}[kind](*rest)
    return convert(build, _key(case), folder="sweep", **SCHEMES[dtype])


@pytest.mark.parametrize("case", CASES, ids=_key)
def test_sub_matches_tflm(case):
    r = compare_on_host(_path(case), key=_key(case))
    assert "SUB" in r.ops, r.ops
    assert r.mismatches == 0 and r.bit_exact, r.first_diff


@pytest.mark.emulated
@pytest.mark.parametrize("board", BOARDS)
@pytest.mark.parametrize("case", BOARD_CASES, ids=_key)
def test_sub_on_emulated_board(case, board):
    r = compare_on_board(_path(case), board, key=_key(case))
    assert "SUB" in r.ops, r.ops
    assert r.mismatches == 0 and r.bit_exact, r.first_diff


def test_output_scale_too_small_is_refused(tmp_path):
    """ADD's rule: 2 * max input scale / (2^20 * output scale) must be below 1 (TFLM's
    QuantizeMultiplierSmallerThanOneExp); named by op."""
    src = _path(EDGES[0])
    y = tensor_index(src, op="SUB", which="outputs")
    g = load_model(src)
    small = max(g.tensor(t).scale for t in next(o for o in g.ops if o.name == "SUB").inputs) / 2**20
    bad = with_quantization(src, tmp_path / "sub.tflite", y, scale=small)
    with pytest.raises(ModelError, match=r"op \d+ SUB .*too small"):
        lower(load_model(bad))
