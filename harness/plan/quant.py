"""TFLM's quantization formulas, computed once on the host and stored in the model image.

The firmware only applies the results (firmware/runtime/tm_quant.h), so each formula has exactly one
definition, here. Rounding is TFLM's `TfLiteRound` (half away from zero) throughout.
"""
from __future__ import annotations

import functools
import math

import numpy as np

from harness.plan.model import ModelError, Tensor

_QRANGE = {np.dtype(np.int8): (-128, 127), np.dtype(np.int16): (-32768, 32767)}


def tfl_round(x: float) -> int:
    return int(math.copysign(math.floor(abs(x) + 0.5), x))


def affine_quantize(values: np.ndarray, scale: float, zero_point: int, dtype) -> np.ndarray:
    """Real values into an integer tensor as TFLM's QUANTIZE does (AffineQuantize): the division in single
    precision, TfLiteRound (half away from zero), plus the zero point, saturated to the type. A quotient
    outside int32 (or NaN) converts to INT32_MIN as the reference interpreter's x86 cast gives, and the zero
    point is added with int32 wraparound. firmware/kernels/quantize.c's quantize_one is the board's twin;
    this one serves the host (real inputs, the MLPerf Tiny ad01 windows)."""
    q = (np.asarray(values, np.float32) / np.float32(scale)).astype(np.float64)   # exact in double
    with np.errstate(invalid="ignore"):
        inside = (q >= -2.0**31) & (q < 2.0**31)
        r = np.where(inside, np.copysign(np.floor(np.abs(np.where(inside, q, 0)) + 0.5), q), -2.0**31)
    r = (r.astype(np.int64) + int(zero_point) + 2**31) % 2**32 - 2**31           # int32 wraparound
    info = np.iinfo(dtype)
    return np.clip(r, info.min, info.max).astype(dtype)


def quantize_multiplier(real: float) -> tuple[int, int]:
    """A real multiplier as (int32 q31 multiplier, shift) with real ≈ q * 2^(shift - 31)."""
    if real == 0.0:
        return 0, 0
    frac, shift = math.frexp(real)
    q = tfl_round(frac * (1 << 31))
    if q == 1 << 31:
        q //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    return q, shift


def quantize_multiplier_int16(real: float) -> tuple[int, int]:
    """A real multiplier as (Q15 multiplier, exponent), real ~ m * 2^(exponent - 15), as TFLM's int16
    kernels derive it: quantize_multiplier's q31, rounded to its top 16 bits ((q + 2^15) >> 16), 32767
    where that rounding would reach 2^15 (DownScaleInt32ToInt16Multiplier). real >= 0."""
    q, shift = quantize_multiplier(real)
    if q < 0:
        raise ModelError(f"multiplier {real!r}: a negative multiplier has no int16 form")
    return (32767 if q >= (1 << 31) - 1 - (1 << 15) else (q + (1 << 15)) >> 16), shift


def hard_swish_multipliers(input_scale: float, output_scale: float) -> tuple[tuple[int, int], tuple[int, int]]:
    """TFLM's int8 HARD_SWISH: ((output multiplier, exponent), (relu multiplier, exponent)), Q15. The input
    is read on the scale input_scale / 128 ("hires"); the output multiplier takes it to the output scale,
    the relu multiplier to the scale on which 3.0 is 2^15. Both reals are formed in double from the float32
    scales: tests/kernels/test_hard_swish.py has a model where the single-precision output multiplier
    gives another byte than TFLM's."""
    hires = float(np.float32(input_scale)) / 128.0
    return (quantize_multiplier_int16(hires / float(np.float32(output_scale))),
            quantize_multiplier_int16(hires / (3.0 / 32768.0)))


def conv_multipliers(inp: Tensor, weights: Tensor, out: Tensor) -> tuple[list[int], list[int]]:
    """Per output channel (or one, per tensor): input_scale * filter_scale / output_scale, in double."""
    mults, shifts = _multipliers(float(inp.scale), tuple(float(ws) for ws in weights.scales), float(out.scale))
    return list(mults), list(shifts)


@functools.lru_cache(maxsize=4096)
def _multipliers(in_scale: float, filter_scales: tuple[float, ...], out_scale: float):
    """(a patched plan lowers each op of its stage once per tile, with the same scales)"""
    pairs = [conv_multiplier(in_scale, ws, out_scale) for ws in filter_scales]
    return tuple(m for m, _ in pairs), tuple(s for _, s in pairs)


def conv_multiplier(in_scale: float, filter_scale: float, out_scale: float) -> tuple[int, int]:
    """A conv's or fully connected layer's requantization (TFLite's GetQuantizedConvolutionMultipler):
    input_scale * filter_scale / output_scale, in double from the float32 scales."""
    return quantize_multiplier(float(in_scale) * float(filter_scale) / float(out_scale))


def activation_range(activation: int, out: Tensor) -> tuple[int, int]:
    """CalculateActivationRangeQuantized: the fused activation as a clamp in the output's integer domain."""
    qmin, qmax = _QRANGE[np.dtype(out.dtype)]
    scale, zp = np.float32(out.scale), out.zero_point

    def quantize(f: float) -> int:
        return zp + tfl_round(float(np.float32(f) / scale))

    from tflite.ActivationFunctionType import ActivationFunctionType as A
    if activation == A.NONE:
        return qmin, qmax
    if activation == A.RELU:
        return max(qmin, quantize(0.0)), qmax
    if activation == A.RELU6:
        return max(qmin, quantize(0.0)), min(qmax, quantize(6.0))
    if activation == A.RELU_N1_TO_1:
        return max(qmin, quantize(-1.0)), min(qmax, quantize(1.0))
    raise ModelError(f"fused activation {activation} on tensor {out.name!r} is not supported")


def calculate_input_radius(integer_bits: int, left_shift: int, total_signed_bits: int = 31) -> int:
    """TFLM's CalculateInputRadius: floor((2^integer_bits - 1) * 2^(total - integer_bits) / 2^left_shift),
    the largest input magnitude whose rescaling by a left_shift multiplier cannot overflow (SOFTMAX's
    -diff_min, LOGISTIC/TANH's saturation threshold). Exact: every factor is a power of two or small."""
    if left_shift < 0:
        raise ModelError(f"input radius: negative left shift {left_shift}")
    return (((1 << integer_bits) - 1) << (total_signed_bits - integer_bits)) >> left_shift


def input_rescaling(input_scale: float, integer_bits: int = 4) -> tuple[int, int, int]:
    """(multiplier, left shift, input radius) as TFLM's int8 LOGISTIC/TANH Prepare computes them: frexp of
    input_scale * 2^(31 - integer_bits) (Q4.27 for 4 bits) in double, the significand rounded to Q31.
    Unlike quantize_multiplier, TFLM does not renormalise a significand that rounds up to 2^31 here; such a
    scale is refused rather than given a multiplier TFLM would not compute."""
    q, shift = math.frexp(float(input_scale) * float(1 << (31 - integer_bits)))
    mult = tfl_round(q * (1 << 31))
    if not 0 < mult < (1 << 31) or shift < 0:
        raise ModelError(f"input scale {input_scale!r} is outside what the int8 kernel handles")
    return mult, shift, calculate_input_radius(integer_bits, shift)


# TFLM's integer LSTM fixes the gates' scales: each gate's two fully connected layers write Q3.12 (scale
# 2^-12), its sigmoid or tanh writes Q0.15 (2^-15), and its Prepare forms the products' multipliers from
# these. Exactly 2^-15: some TFLM sources spell it 0.00003051757f, a float 7.3e-12 below 2^-15, whose
# multipliers (e.g. forget gate x cell: 2147483136 with shift -15 instead of 2^30 with -14) give cell
# states 1 off TFLM's in 9 of 11 sweep cases (tests/kernels/test_lstm.py); the exact power gives none.
LSTM_GATE_INPUT_SCALE = 2.0 ** -12
LSTM_GATE_OUTPUT_SCALE = 2.0 ** -15


def product_multiplier(scale_1: float, scale_2: float, out_scale: float) -> tuple[int, int]:
    """The requantization of a product of two quantized values: scale_1 * scale_2 / out_scale formed in
    double from the float32 scales (TFLM's MUL Prepare and its LSTM's CreateInterGateMulParams)."""
    return quantize_multiplier(float(np.float32(scale_1)) * float(np.float32(scale_2)) / float(np.float32(out_scale)))


def checked_log2(scale: float) -> tuple[int, bool]:
    """TFLite's CheckedLog2: (log2 of `scale` rounded to an integer, whether it is one within 1e-3), in
    single precision as TFLite computes it."""
    f32 = np.float32
    x = f32(np.log(f32(scale))) * (f32(1.0) / f32(np.log(f32(2.0))))
    rounded = f32(tfl_round(float(x)))                      # std::round: half away from zero
    return int(rounded), bool(abs(x - rounded) < 1e-3)


def lstm_tanh_rescale(cell_scale_power: int) -> tuple[int, int]:
    """(multiplier, right shift) taking an int16 tensor of scale 2^cell_scale_power to the input of TFLM's
    16-bit LUT tanh, which reads Q3.12 scaled by 3 (x * multiplier + rounding) >> right shift. TFLM's
    LSTM derives a left shift (15 + power) - 3; a non-negative one is folded into the multiplier 3 <<
    shift (its "power of two" case), a negative one becomes a rounding right shift of x * 3."""
    left = 15 + cell_scale_power - 3
    if left >= 0:
        if left > 14:
            raise ModelError(f"cell state scale 2^{cell_scale_power}: its tanh rescaling overflows 32 bits")
        return 3 << left, 0
    if -left > 30:
        raise ModelError(f"cell state scale 2^{cell_scale_power} is too small for the 16-bit tanh")
    return 3, -left
