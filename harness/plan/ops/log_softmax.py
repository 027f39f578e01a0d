"""LOG_SOFTMAX over the last dimension, int8 (TFLM's fixed-point kernel) or float32 (its reference order).

TFLM's Prepare (log_softmax.cc) for int8 requires the output's scale to be 16/256 and its zero point 127
(the converter gives it that) and computes, with beta 1 and 5 integer bits for the scaled differences
(PreprocessLogSoftmaxScalingExp), the same input multiplier and diff_min as SOFTMAX (softmax_scaling) plus
the reverse scaling: QuantizeMultiplier of 2^(31 - left_shift) / multiplier, in double, which must be at
most one. The kernel's arithmetic is in firmware/kernels/log_softmax_s8.c and the fixed-point log in
tm_quant.h."""
import numpy as np

from harness.plan.kernel import Arena, KernelCall
from harness.plan.model import Graph, ModelError, Op
from harness.plan.ops.softmax import softmax_scaling
from harness.plan.quant import quantize_multiplier

OUTPUT_SCALE, OUTPUT_ZERO_POINT = np.float32(16.0 / 256), 127


def log_softmax_scaling(input_scale: float) -> tuple[int, int, int, int, int]:
    """(input multiplier, left shift, reverse multiplier, reverse shift, diff_min), as TFLM's Prepare."""
    mult, shift, diff_min = softmax_scaling(1.0, input_scale)
    reverse, reverse_shift = quantize_multiplier(float(1 << (31 - shift)) / float(mult))
    if reverse_shift > 0:
        raise ModelError(f"input scale {input_scale!r}: reverse scaling above one (TFLM refuses it)")
    return mult, shift, reverse, reverse_shift, diff_min


def lower(g: Graph, op: Op) -> KernelCall:
    if len(op.inputs) != 1 or len(op.outputs) != 1:
        raise ModelError(f"op {op.index} {op.name}: needs one input and one output")
    inp, out = g.tensor(op.inputs[0]), g.tensor(op.outputs[0])
    where = f"op {op.index} LOG_SOFTMAX (output {out.name!r})"
    if inp.dtype != out.dtype or inp.dtype not in (np.int8, np.float32):
        raise ModelError(f"{where}: only int8 and float32 are supported, got {inp.dtype} -> {out.dtype}")
    if len(inp.shape) < 1 or inp.shape != out.shape:
        raise ModelError(f"{where}: input shape {list(inp.shape)} and output shape {list(out.shape)} must match")
    depth = inp.shape[-1]
    rows = int(np.prod(inp.shape[:-1], dtype=np.int64))
    fields = {"in_offset": Arena(op.inputs[0]), "out_offset": Arena(op.outputs[0]), "rows": rows, "depth": depth}
    if inp.dtype == np.float32:
        return KernelCall("tm_log_softmax_f32", "log_softmax.h", "tm_log_softmax_f32_params_t", op, fields,
                          macs=rows * depth)
    if inp.scales.size != 1 or out.scales.size != 1:
        raise ModelError(f"{where}: input and output must be quantized per tensor")
    if np.float32(out.scale) != OUTPUT_SCALE or out.zero_point != OUTPUT_ZERO_POINT:
        raise ModelError(f"{where}: int8 output must have scale 16/256 and zero point 127 (TFLM), got "
                         f"{out.scale!r}, {out.zero_point}")
    try:
        mult, shift, reverse, reverse_shift, diff_min = log_softmax_scaling(inp.scale)
    except ModelError as e:
        raise ModelError(f"{where}: {e}") from None
    fields.update({"input_multiplier": mult, "input_left_shift": shift, "reverse_multiplier": reverse,
                   "reverse_shift": reverse_shift, "diff_min": diff_min})
    return KernelCall("tm_log_softmax_s8", "log_softmax.h", "tm_log_softmax_params_t", op, fields, macs=rows * depth)
