"""HARD_SWISH (int8, float32): seeded Keras models (x * relu6(x + 3) / 6, which the converter fuses into
one op), our runtime vs TFLM byte for byte on the host build and on the emulated M4 and M7. The op is
applied to the model's input, its scale and zero point drawn through the calibration data (unary_cases.py),
from inputs well inside [-3, 3] to far outside it; the int8 cases also get every int8 input value.

The int8 arithmetic (firmware/kernels/hard_swish.c) is derived from TFLM's reference semantics and checked
here on hand-built models at its edges: each branch of the relu multiplier's exponent, the largest and the
smallest output multiplier TFLM takes, a model where a single-precision multiplier would give another byte
than TFLM's double-precision one, and the scales TFLM (or its 16-bit shifts) cannot take, refused.
HARNESS_SWEEP=large widens the sweep and runs all of it on the boards."""
import os

import numpy as np
import pytest

from broadcast_cases import BOARDS, every_value
from harness.host_runtime import HostModel
from harness.plan.lower import lower
from harness.plan.model import ModelError, load_model
from harness.plan.quant import quantize_multiplier_int16
from harness.reference import TflmReference
from harness.sweep import compare_on_board, compare_on_host
from tflite_synth import Synth, compare
from unary_cases import convert_case, draw_input

LARGE = os.environ.get("HARNESS_SWEEP") == "large"
EVERY = np.arange(-128, 128, dtype=np.int8).reshape(1, 256)


def _model(shape):
    def build(tf):
        x = tf.keras.Input(shape=shape, batch_size=1)
        return tf.keras.Model(x, tf.keras.layers.Lambda(lambda t: t * tf.nn.relu6(t + 3.0) / 6.0)(x))
    return build


def _cases(n: int, seed: int):
    rng = np.random.default_rng(seed)
    return [("f32" if rng.random() < 0.25 else "i8", *draw_input(rng)) for _ in range(n)]


EDGES = [
    ("i8", (4, 5, 3), 0.0, 1.0),          # the curve's bend inside the input's range
    ("i8", (64,), 0.0, 20.0),             # far beyond [-3, 3]: a large input scale, relu exponent > 0
    ("i8", (2, 3, 8), 0.0, 0.05),         # a small input scale: relu exponent < 0
    ("i8", (3, 7), -4.0, 0.5),            # mostly below -3
    ("i8", (5, 6), 3.0, 1.0),             # mostly positive
    ("f32", (4, 5, 3), 0.0, 2.0),
]
CASES = EDGES + _cases(100 if LARGE else 24, seed=21)


def _key(case) -> str:
    return "hard_swish/v1/" + "-".join(str(v).replace(" ", "") for v in case)


def _path(case):
    dtype, shape, mu, sigma = case
    return convert_case(_model(shape), _key(case), dtype, mu, sigma)


@pytest.mark.parametrize("case", CASES, ids=_key)
def test_hard_swish_matches_tflm(case):
    path = _path(case)
    r = compare_on_host(path, key=_key(case), extra=[[x] for x in every_value(path)])
    assert r.ops == ["HARD_SWISH"], r.ops
    assert r.mismatches == 0 and r.bit_exact, r.first_diff


def _synth(in_scale, in_zp, out_scale, out_zp, dtype=np.int8):
    s = Synth()
    q = dtype == np.int8
    x = s.tensor((1, 256), dtype, in_scale if q else None, in_zp, name="x")
    y = s.tensor((1, 256), dtype, out_scale if q else None, out_zp, name="y")
    s.op("HARD_SWISH", [x], [y])
    return s.save([x], [y])


# Hand-built int8 models at the arithmetic's edges: (input scale, zero point, output scale, zero point) and
# the (output, relu) exponents the planner must derive for them.
EXTREMES = {
    "relu-exponent-7": ((1.0, 3, 0.05, -20), (-2, 7)),             # saturating shifts around the multiply
    "relu-exponent-0": ((0.01, -30, 0.01, 10), (-6, 0)),
    "relu-exponent-neg": ((1e-4, -7, 1e-4, 5), (-6, -6)),          # a rounding right shift
    "output-exponent-0": ((0.05, -128, 0.05 / 128 / 0.6, 120), (0, 3)),   # the largest output multiplier
    "output-exponent-neg15": ((0.01, 0, 3.0, 0), (-15, 0)),        # the smallest TFLM's shifts define
}


@pytest.mark.parametrize("name", list(EXTREMES))
def test_arithmetic_edges_match_tflm(name):
    (s_in, zp_in, s_out, zp_out), exponents = EXTREMES[name]
    path = _synth(s_in, zp_in, s_out, zp_out)
    fields = lower(load_model(path)).calls[0].fields
    assert (fields["out_exponent"], fields["relu_exponent"]) == exponents
    n_bad, first = compare(path, [EVERY])
    assert n_bad == 0, first


def test_output_multiplier_is_formed_in_double_precision():
    """(input scale / 128) / output scale, formed in single precision on these scales (found by search),
    rounds to Q15 multiplier 24390 where double gives 24389, and input 14 then gives 10 where TFLM gives 9:
    TFLM's multiplier is the double one, and so is ours. (The relu multiplier, input scale * 256 / 3, came
    out the same in both precisions on 2 million random scales.)"""
    s_in, s_out = 0.007205713540315628, 0.01936217024922371
    path = _synth(s_in, -125, s_out, -25)
    n_bad, first = compare(path, [EVERY])
    assert n_bad == 0, first
    low = lower(load_model(path))
    single = quantize_multiplier_int16(float(np.float32(1 / 128) * np.float32(s_in) / np.float32(s_out)))
    assert (low.calls[0].fields["out_multiplier"], single[0]) == (24389, 24390)
    low.calls[0].fields["out_multiplier"] = single[0]
    ours_single = np.frombuffer(HostModel(low).run([EVERY])[0], np.int8)
    theirs = np.frombuffer(TflmReference(path).run([EVERY])[0], np.int8)
    assert np.flatnonzero(ours_single != theirs).tolist() == [14 + 128]


def test_output_scale_below_input_scale_over_128_is_refused():
    """An output multiplier above 1: TFLM refuses the model in Prepare, and we refuse it by name."""
    path = _synth(0.05, 0, 0.05 / 128 / 1.5, 0)
    with pytest.raises(ModelError, match=r"op 0 HARD_SWISH .*refuses it too"):
        lower(load_model(path))
    with pytest.raises(RuntimeError):
        TflmReference(path)


def test_rounding_shift_past_15_bits_is_refused():
    """An output multiplier below 2^-16 needs TFLM's 16-bit rounding divide by more than 15 bits, which its
    arithmetic does not define (its int16 mask wraps: every output, real 0 included, comes out 1, not the
    zero point 0); we refuse the model rather than copy that."""
    path = _synth(0.01, 0, 6.0, 0)
    assert np.frombuffer(TflmReference(path).run([EVERY])[0], np.int8)[128] == 1
    with pytest.raises(ModelError, match=r"op 0 HARD_SWISH .*does not define"):
        lower(load_model(path))


def test_float_specials_are_tflms():
    """(x * min(max(x + 3, 0), 6)) / 6 in TFLM's order: signed zeros, the bends at -3 and 3, NaN, infinities."""
    path = _synth(None, 0, None, 0, np.float32)
    x = np.linspace(-5, 5, 256, dtype=np.float32).reshape(1, 256)
    x[0, :8] = [-0.0, 0.0, -3.0, 3.0, np.nan, np.inf, -np.inf, -1e-45]
    n_bad, first = compare(path, [x])
    assert n_bad == 0, first


BOARD_CASES = CASES if LARGE else [EDGES[i] for i in (0, 1, 2, 5)]


@pytest.mark.emulated
@pytest.mark.parametrize("board", BOARDS)
@pytest.mark.parametrize("case", BOARD_CASES, ids=_key)
def test_hard_swish_on_emulated_board(case, board):
    path = _path(case)
    r = compare_on_board(path, board, key=_key(case), extra=[[x] for x in every_value(path)])
    assert r.ops == ["HARD_SWISH"], r.ops
    assert r.mismatches == 0 and r.bit_exact, r.first_diff


@pytest.mark.emulated
@pytest.mark.parametrize("board", BOARDS)
@pytest.mark.parametrize("name", ["relu-exponent-7", "relu-exponent-neg", "output-exponent-0"])
def test_arithmetic_edges_on_emulated_board(name, board):
    (s_in, zp_in, s_out, zp_out), _ = EXTREMES[name]
    r = compare_on_board(_synth(s_in, zp_in, s_out, zp_out), board, key=name, extra=[[EVERY]])
    assert r.mismatches == 0, r.first_diff
