"""REDUCE_MAX, int8 or float32, over any axes of an up to 5-D input (keep_dims true or false), with MEAN's
axes handling (harness/plan/ops/reduction.py).

TFLM's semantics (reduce_common.cc, EvalMaxHelper -> reference_ops::ReduceGeneric): each output is the
running maximum of its reduced elements, started from the type's lowest value (-128; -FLT_MAX for float32,
so a NaN, never greater, is skipped) and replaced only by a strictly greater element. int8 does not
requantize: TFLM's Eval requires the output's scale and zero point to be the input's (the converter gives
them that), and so do we, refusing by name what TFLM would fail at run time."""
import numpy as np

from harness.plan.kernel import Arena, KernelCall
from harness.plan.model import Graph, ModelError, Op
from harness.plan.ops.dtypes import same_type_with_param
from harness.plan.ops.reduction import group_fields, loop_groups, resolve_axes

MAX_DIMS = 5


def lower(g: Graph, op: Op) -> KernelCall:
    inp, axis, out, where = same_type_with_param(g, op, "an axis tensor")
    if inp.is_constant:
        raise ModelError(f"{where}: the maximum of a constant (not folded by the converter) is not supported")
    if inp.dtype == np.int8 and (inp.scales.size != 1 or out.scales.size != 1 or float(inp.scale) != float(out.scale)
                                 or inp.zero_point != out.zero_point):
        raise ModelError(f"{where}: the output's quantization (scale {out.scales.tolist()}, zero point "
                         f"{out.zero_points.tolist()}) must be the input's (scale {inp.scales.tolist()}, zero "
                         f"point {inp.zero_points.tolist()}): TFLM's int8 REDUCE_MAX does not rescale")
    rank = len(inp.shape)
    if rank < 1 or rank > MAX_DIMS:
        raise ModelError(f"{where}: {rank}-D input; 1-D to {MAX_DIMS}-D are supported")
    outer, inner, _ = loop_groups(inp.shape, resolve_axes(axis, rank, where), out, where)
    fields = {"in_offset": Arena(op.inputs[0]), "out_offset": Arena(op.outputs[0]), **group_fields(outer, inner)}
    kernel = "tm_reduce_max_f32" if inp.dtype == np.float32 else "tm_reduce_max_s8"
    return KernelCall(kernel, "reduce_max.h", "tm_reduce_max_params_t", op, fields, macs=int(np.prod(inp.shape)))
