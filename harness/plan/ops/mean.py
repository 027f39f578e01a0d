"""MEAN, int8 or float32, over one or two axes of an up to 5-D input (keep_dims true or false), e.g.
global average pooling (axes 1 and 2 of NHWC).

TFLM's semantics (reduce_common.cc -> reference_ops::QuantizedMeanOrSum, used for every int8 MEAN
whatever the scales): sum the raw int8 values of each output's N reduced elements, subtract
input_zero_point * N, multiply by a multiplier folding input_scale / output_scale and 1 / N together,
add the output zero point and saturate to int8 (MEAN has no fused activation). The 1 / N is folded into
the QuantizeMultiplier result offline (mean_multiplier below); the kernel applies one MultiplyByQuantized-
Multiplier. TFLM's kernel takes at most 5 input dimensions (its index scratch has 5 entries). Any set of
reduced axes is accepted as long as, with size-1 dimensions dropped and adjacent dimensions merged, it
forms at most 2 reduced and 3 kept groups (true of every reduction of a 4-D tensor).

float32 (TFLM's reference Mean, the 4-D axes-1-and-2 special case and the general one alike): each output's
reduced elements summed from 0.0f in input order, then divided by their count as a float."""
import numpy as np

from harness.plan.kernel import Arena, KernelCall
from harness.plan.model import Graph, ModelError, Op
from harness.plan.ops.dtypes import same_type_with_param
from harness.plan.ops.reduction import group_fields, loop_groups, resolve_axes
from harness.plan.quant import quantize_multiplier

MAX_DIMS = 5


def mean_multiplier(in_scale: float, out_scale: float, n: int) -> tuple[int, int]:
    """QuantizeMultiplier(input_scale / output_scale), then TFLM's 1/N folding: with
    s = min(floor(log2 N), 32, 31 + shift), multiplier = (multiplier << s) / N (integer division) and
    shift -= s."""
    mult, shift = quantize_multiplier(float(in_scale) / float(out_scale))
    s = min(n.bit_length() - 1, 32, 31 + shift)
    return int((mult << s) // n), shift - s


def lower(g: Graph, op: Op) -> KernelCall:
    inp, axis, out, where = same_type_with_param(g, op, "an axis tensor")
    is_float = inp.dtype == np.float32
    if inp.is_constant:
        raise ModelError(f"{where}: the mean of a constant (not folded by the converter) is not supported")
    for t in () if is_float else (inp, out):
        if t.scales.size != 1 or not t.scale > 0:
            raise ModelError(f"{where}: tensor {t.name!r} must be quantized per tensor with a positive scale")
    rank = len(inp.shape)
    if rank < 1 or rank > MAX_DIMS:
        raise ModelError(f"{where}: {rank}-D input; 1-D to {MAX_DIMS}-D are supported")
    outer, inner, n = loop_groups(inp.shape, resolve_axes(axis, rank, where), out, where)
    fields: dict = {"in_offset": Arena(op.inputs[0]), "out_offset": Arena(op.outputs[0]),
                    **group_fields(outer, inner)}
    if is_float:
        if n >= 1 << 24:
            raise ModelError(f"{where}: {n} reduced elements; a count above 2^24 is not exact in float")
        fields["count"] = float(n)
        return KernelCall("tm_mean_f32", "mean.h", "tm_mean_f32_params_t", op, fields,
                          macs=int(np.prod(inp.shape)))
    mult, shift = mean_multiplier(inp.scale, out.scale, n)
    fields.update({"sum_offset": -inp.zero_point * n, "out_zero_point": out.zero_point,
                   "multiplier": mult, "shift": shift})
    return KernelCall("tm_mean_s8", "mean.h", "tm_mean_params_t", op, fields, macs=int(np.prod(inp.shape)))
