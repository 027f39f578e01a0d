"""SOFTMAX over the last dimension, any beta, as TFLM's reference kernels:
- int8 input, int8 output (scale 1/256, zero point -128) or int16 output (scale 1/65536, zero point
  -32768): fixed point. TFLM's Prepare (CalculateSoftmaxParams) is mirrored here: beta * input_scale as a
  Q5.26 multiplier greater than one, and diff_min from the input radius.
- int16 input and output (scale 1/32768, zero point 0): two 513-entry lookup tables (exp on [-10, 0] and
  1 / (1 + x) on [0, 1]) that TFLM's Prepare fills with single-precision float math (gen_lut); we build the
  same tables here, calling the C library's expf as TFLM does, and store them in flash.
- float32: TFLM's reference order (row maximum, expf((x - max) * beta) summed in order, each divided by the
  sum); expf is the C library's on each side (board: newlib; host: the C library the TFLM wheel uses)."""
import ctypes
import ctypes.util
import functools
import math

import numpy as np

from harness.plan.kernel import Arena, Const, KernelCall
from harness.plan.model import Graph, ModelError, Op
from harness.plan.quant import calculate_input_radius, quantize_multiplier, tfl_round

SCALED_DIFF_INTEGER_BITS = 5


def softmax_scaling(beta: float, input_scale: float) -> tuple[int, int, int]:
    """PreprocessSoftmaxScaling + CalculateInputRadius: (multiplier, left_shift, diff_min), in double as TFLM."""
    real = min(float(beta) * float(input_scale) * float(1 << (31 - SCALED_DIFF_INTEGER_BITS)), float((1 << 31) - 1))
    if not real > 1.0:
        raise ModelError(f"beta * input_scale * 2^26 = {real!r} is not greater than one (TFLM refuses it)")
    mult, shift = quantize_multiplier(real)
    return mult, shift, -calculate_input_radius(SCALED_DIFF_INTEGER_BITS, shift)


@functools.lru_cache(maxsize=None)
def _expf():
    """The C library's expf, which TFLM's float LUT generation calls; correctly rounded exp otherwise
    (the two rarely differ, and a one-ulp difference rarely moves a table entry)."""
    name = ctypes.util.find_library("m")
    try:
        libm = ctypes.CDLL(name or "libm.so.6")
        f = libm.expf
    except (OSError, AttributeError):
        return lambda x: np.float32(math.exp(float(x)))
    f.restype, f.argtypes = ctypes.c_float, [ctypes.c_float]
    return lambda x: np.float32(f(float(x)))


def _roundf(x: np.float32) -> np.float32:
    """TfLiteRound on a float (exact via double), kept a float for the LUT arithmetic."""
    return np.float32(tfl_round(float(x)))


def gen_lut_int16(func, input_min: float, input_max: float, output_min: float, output_max: float) -> np.ndarray:
    """TFLM's gen_lut<float, int16_t, int16_t>: 512 samples, each biased by half the error of linear
    interpolation at the midpoint, plus a 513th for the last slope. All in single precision."""
    f32 = np.float32
    lo, hi, omin, omax = f32(input_min), f32(input_max), f32(output_min), f32(output_max)
    steps = 512
    step = (hi - lo) / f32(steps)
    half = step / f32(2)
    inv = f32(65536) / (omax - omin)
    lut = np.zeros(steps + 1, np.int16)
    for i in range(steps):
        val = func(lo + f32(i) * step)
        mid = func(lo + f32(i) * step + half)
        nxt = func(lo + f32(i + 1) * step)
        sample = _roundf(val * inv)
        interp = _roundf((nxt * inv + _roundf(val * inv)) / f32(2))
        bias = _roundf((interp - _roundf(mid * inv)) / f32(2))
        lut[i] = int(min(max(sample - bias, f32(-32768)), f32(32767)))
    lut[steps] = int(min(max(_roundf(func(hi) * inv), f32(-32768)), f32(32767)))
    return lut


@functools.lru_cache(maxsize=None)
def int16_luts() -> tuple[np.ndarray, np.ndarray]:
    """(exp on [-10, 0], 1 / (1 + x) on [0, 1]), both to [-1, 1] in Q0.15, as TFLM's SoftmaxPrepare."""
    expf = _expf()
    exp_lut = gen_lut_int16(expf, -10.0, 0.0, -1.0, 1.0)
    recip_lut = gen_lut_int16(lambda x: np.float32(1.0) / (np.float32(1.0) + x), 0.0, 1.0, -1.0, 1.0)
    return exp_lut, recip_lut


def _lower_int16(g: Graph, op: Op, where: str) -> KernelCall:
    inp, out = g.tensor(op.inputs[0]), g.tensor(op.outputs[0])
    one = np.float32(1.0) / np.float32(32768)
    if out.zero_point != 0 or abs(np.float32(out.scale) - one) > np.float32(0.001) * one:
        raise ModelError(f"{where}: int16 output must have scale 1/32768 and zero point 0 (TFLM), got "
                         f"{out.scale!r}, {out.zero_point}")
    beta = op.options.Beta() if op.options is not None else 1.0
    # scale the input difference so that [-65535, 0] covers [-10, 0], the exp table's range
    mult, shift = quantize_multiplier(float(inp.scale) * float(beta) / (10.0 / 65535.0))
    exp_lut, recip_lut = int16_luts()
    depth = inp.shape[-1]
    rows = int(np.prod(inp.shape[:-1], dtype=np.int64))
    return KernelCall("tm_softmax_s16", "softmax.h", "tm_softmax_s16_params_t", op, {
        "in_offset": Arena(op.inputs[0]), "out_offset": Arena(op.outputs[0]),
        "rows": rows, "depth": depth, "input_multiplier": mult, "input_shift": shift,
        "exp_lut": Const("int16_t", exp_lut), "one_over_one_plus_x_lut": Const("int16_t", recip_lut),
    }, macs=rows * depth)


def lower(g: Graph, op: Op) -> KernelCall:
    inp, out = g.tensor(op.inputs[0]), g.tensor(op.outputs[0])
    where = f"op {op.index} SOFTMAX (output {out.name!r})"
    if inp.dtype == np.float32 or out.dtype == np.float32:
        return _lower_float(op, inp, out, where)
    if not ((inp.dtype == np.int8 and out.dtype in (np.int8, np.int16))
            or (inp.dtype == np.int16 and out.dtype == np.int16)):
        raise ModelError(f"{where}: only int8 -> int8, int8 -> int16 and int16 -> int16 are supported, got "
                         f"{np.dtype(inp.dtype)} -> {np.dtype(out.dtype)}")
    if inp.scales.size != 1 or out.scales.size != 1:
        raise ModelError(f"{where}: input and output must be quantized per tensor")
    if len(inp.shape) < 1 or inp.shape != out.shape:
        raise ModelError(f"{where}: input shape {list(inp.shape)} and output shape {list(out.shape)} must match")
    if inp.dtype == np.int16:
        return _lower_int16(g, op, where)
    if out.dtype == np.int8:
        if out.zero_point != -128 or np.float32(out.scale) != np.float32(1.0) / np.float32(256):
            raise ModelError(f"{where}: int8 output must have scale 1/256 and zero point -128 (TFLM), got "
                             f"{out.scale!r}, {out.zero_point}")
        kernel = "tm_softmax_s8"
    else:
        one = np.float32(1.0) / np.float32(65536)
        if out.zero_point != -32768 or abs(np.float32(out.scale) - one) > np.float32(0.001) * one:
            raise ModelError(f"{where}: int16 output must have scale 1/65536 and zero point -32768 (TFLM), got "
                             f"{out.scale!r}, {out.zero_point}")
        kernel = "tm_softmax_s8_s16"
    beta = op.options.Beta() if op.options is not None else 1.0
    try:
        mult, shift, diff_min = softmax_scaling(beta, inp.scale)
    except ModelError as e:
        raise ModelError(f"{where}: {e}") from None
    depth = inp.shape[-1]
    rows = int(np.prod(inp.shape[:-1], dtype=np.int64))
    return KernelCall(kernel, "softmax.h", "tm_softmax_params_t", op, {
        "in_offset": Arena(op.inputs[0]), "out_offset": Arena(op.outputs[0]),
        "rows": rows, "depth": depth,
        "input_multiplier": mult, "input_left_shift": shift, "diff_min": diff_min,
    }, macs=rows * depth)


def _lower_float(op: Op, inp, out, where: str) -> KernelCall:
    if inp.dtype != np.float32 or out.dtype != np.float32:
        raise ModelError(f"{where}: float SOFTMAX needs float32 input and output, got "
                         f"{np.dtype(inp.dtype)} -> {np.dtype(out.dtype)}")
    if len(inp.shape) < 1 or inp.shape != out.shape:
        raise ModelError(f"{where}: input shape {list(inp.shape)} and output shape {list(out.shape)} must match")
    beta = op.options.Beta() if op.options is not None else 1.0
    depth = inp.shape[-1]
    rows = int(np.prod(inp.shape[:-1], dtype=np.int64))
    return KernelCall("tm_softmax_f32", "softmax.h", "tm_softmax_f32_params_t", op, {
        "in_offset": Arena(op.inputs[0]), "out_offset": Arena(op.outputs[0]),
        "rows": rows, "depth": depth, "beta": float(np.float32(beta)),
    }, macs=rows * depth)
