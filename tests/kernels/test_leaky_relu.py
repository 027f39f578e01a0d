"""LEAKY_RELU (int8, float32): seeded Keras models, our runtime vs TFLM byte for byte on the host build and
on the emulated M4 and M7. The op is applied to the model's input (its scale and zero point drawn through
the calibration data, unary_cases.py) with slopes below 1, above 1 and negative; the int8 cases also get
every int8 input value. Plus hand-built models on which a multiplier formed in single precision would give
another byte than TFLM's double-precision one. HARNESS_SWEEP=large widens the sweep and runs all of it
on the boards."""
import os

import numpy as np
import pytest

from broadcast_cases import BOARDS, every_value
from harness.host_runtime import HostModel
from harness.plan.lower import lower
from harness.plan.model import load_model
from harness.plan.quant import quantize_multiplier
from harness.reference import TflmReference
from harness.sweep import compare_on_board, compare_on_host
from tflite_synth import Synth, compare
from unary_cases import convert_case, draw_input

LARGE = os.environ.get("HARNESS_SWEEP") == "large"


def _model(shape, alpha):
    def build(tf):
        x = tf.keras.Input(shape=shape, batch_size=1)
        return tf.keras.Model(x, tf.keras.layers.Lambda(lambda t: tf.nn.leaky_relu(t, alpha))(x))
    return build


def _cases(n: int, seed: int):
    rng = np.random.default_rng(seed)
    cases = []
    for _ in range(n):
        dtype = "f32" if rng.random() < 0.25 else "i8"
        kind = rng.random()                     # slopes below 1 mostly; above 1; negative
        lo, hi = (0.01, 0.5) if kind < 0.7 else (1.2, 4.0) if kind < 0.85 else (-0.6, -0.05)
        alpha = rng.uniform(lo, hi)
        cases.append((dtype, *draw_input(rng), round(float(alpha), 4)))
    return cases


EDGES = [
    ("i8", (4, 5, 3), 0.0, 1.0, 0.2),          # Keras' default slope, a symmetric input
    ("i8", (64,), 2.0, 1.5, 0.01),             # mostly positive input, a tiny slope
    ("i8", (2, 3, 8), -3.0, 0.5, 0.3),         # mostly negative input
    ("i8", (3, 7), 0.0, 1.0, 2.5),             # slope above 1
    ("i8", (5, 6), 0.5, 2.0, -0.3),            # negative slope
    ("i8", (1, 2, 3, 4), 0.0, 0.05, 0.1),      # a small input scale
    ("f32", (4, 5, 3), 0.0, 1.0, 0.2),
    ("f32", (3, 7), 0.0, 1.0, -1.5),
]
CASES = EDGES + _cases(100 if LARGE else 24, seed=20)
BOARD_CASES = CASES if LARGE else [EDGES[i] for i in (0, 3, 4, 7)]


def _key(case) -> str:
    return "leaky_relu/v1/" + "-".join(str(v).replace(" ", "") for v in case)


def _path(case):
    dtype, shape, mu, sigma, alpha = case
    return convert_case(_model(shape, alpha), _key(case), dtype, mu, sigma)


@pytest.mark.parametrize("case", CASES, ids=_key)
def test_leaky_relu_matches_tflm(case):
    path = _path(case)
    r = compare_on_host(path, key=_key(case), extra=[[x] for x in every_value(path)])
    assert r.ops == ["LEAKY_RELU"], r.ops
    assert r.mismatches == 0 and r.bit_exact, r.first_diff


@pytest.mark.emulated
@pytest.mark.parametrize("board", BOARDS)
@pytest.mark.parametrize("case", BOARD_CASES, ids=_key)
def test_leaky_relu_on_emulated_board(case, board):
    path = _path(case)
    r = compare_on_board(path, board, key=_key(case), extra=[[x] for x in every_value(path)])
    assert r.ops == ["LEAKY_RELU"], r.ops
    assert r.mismatches == 0 and r.bit_exact, r.first_diff


def _synth(in_scale, in_zp, out_scale, out_zp, alpha, dtype=np.int8):
    s = Synth()
    q = dtype == np.int8
    x = s.tensor((1, 256), dtype, in_scale if q else None, in_zp, name="x")
    y = s.tensor((1, 256), dtype, out_scale if q else None, out_zp, name="y")
    s.op("LEAKY_RELU", [x], [y], s.options("LeakyReluOptions", alpha=alpha))
    return s.save([x], [y])


# Found by search: scales (and a slope) on which a multiplier formed in single precision differs from the
# double-precision one in its q31 value, and the difference reaches one output byte.
PRECISION_CASES = {
    "identity": ((0.014679774641990662, -116, 0.010598675347864628, -115, 0.2), -29),
    "alpha": ((0.17975792288780212, 16, 0.01747969165444374, 67, 0.1394311636686325), -105),
}


@pytest.mark.parametrize("which", list(PRECISION_CASES))
def test_multipliers_are_formed_in_double_precision(which):
    """TFLM forms in_scale / out_scale and in_scale * alpha / out_scale in double from its float32 values.
    Formed in single precision, the `which` multiplier on these scales changes the byte of one input value:
    TFLM's byte is the double-precision one, and so is ours, for every int8 input."""
    (s_in, zp_in, s_out, zp_out, alpha), q = PRECISION_CASES[which]
    path = _synth(s_in, zp_in, s_out, zp_out, alpha)
    every = np.arange(-128, 128, dtype=np.int8).reshape(1, 256)
    n_bad, first = compare(path, [every])
    assert n_bad == 0, first
    low = lower(load_model(path))
    f32 = np.float32
    single = quantize_multiplier(float(f32(s_in) / f32(s_out)) if which == "identity"
                                 else float(f32(s_in) * f32(alpha) / f32(s_out)))
    fields = low.calls[0].fields
    assert (fields[f"multiplier_{which}"], fields[f"shift_{which}"]) != single
    fields.update({f"multiplier_{which}": single[0], f"shift_{which}": single[1]})
    ours_single = np.frombuffer(HostModel(low).run([every])[0], np.int8)
    theirs = np.frombuffer(TflmReference(path).run([every])[0], np.int8)
    assert np.flatnonzero(ours_single != theirs).tolist() == [q + 128]


def test_float_signed_zero_and_nan_are_tflms():
    """x > 0 ? x : x * alpha: -0.0 takes the slope (+0.0 with a negative one), NaN stays NaN."""
    path = _synth(None, 0, None, 0, -0.5, np.float32)
    x = np.zeros((1, 256), np.float32)
    x[0, :6] = [-0.0, 0.0, np.nan, np.inf, -np.inf, -1e-45]
    n_bad, first = compare(path, [x])
    assert n_bad == 0, first
