"""HARD_SWISH, int8 and float32: x * relu6(x + 3) / 6.

int8 is TFLM's 16-bit fixed-point arithmetic (firmware/kernels/hard_swish.c describes it step by step),
with two Q15 multipliers computed here by harness/plan/quant.py's hard_swish_multipliers. TFLM refuses an
output multiplier above 1 (exponent > 0); we also refuse exponents whose int16 shifts TFLM's arithmetic
does not define (a rounding shift by more than 15 bits: output scale above 512x the input scale, or input
scale below ~2e-7; TFLM's int16 mask then wraps and its outputs are not the op's). float32: TFLM's order,
(x * min(max(x + 3, 0), 6)) / 6."""
import numpy as np

from harness.plan.kernel import Arena, KernelCall
from harness.plan.model import Graph, ModelError, Op
from harness.plan.ops.dtypes import same_type_unary
from harness.plan.quant import hard_swish_multipliers


def lower(g: Graph, op: Op) -> KernelCall:
    inp, out, where = same_type_unary(g, op)
    n = int(np.prod(inp.shape, dtype=np.int64))
    io = {"in_offset": Arena(op.inputs[0]), "out_offset": Arena(op.outputs[0]), "count": n}
    if out.dtype == np.float32:
        return KernelCall("tm_hard_swish_f32", "activation.h", "tm_hard_swish_f32_params_t", op, io, macs=n)
    for t in (inp, out):
        if t.scales.size != 1 or not t.scale > 0:
            raise ModelError(f"{where}: tensor {t.name!r} must be quantized per tensor with a positive scale")
    (m_out, e_out), (m_relu, e_relu) = hard_swish_multipliers(inp.scale, out.scale)
    if e_out > 0:
        raise ModelError(f"{where}: output scale {out.scale} is below input scale / 128 ({inp.scale}); "
                         "TFLM's HARD_SWISH refuses it too")
    if e_out < -15 or not -15 <= e_relu <= 30:
        raise ModelError(f"{where}: input scale {inp.scale} and output scale {out.scale} need a shift "
                         "TFLM's 16-bit HARD_SWISH arithmetic does not define")
    return KernelCall("tm_hard_swish_s8", "activation.h", "tm_hard_swish_params_t", op, {
        **io, "in_zero_point": inp.zero_point, "out_zero_point": out.zero_point,
        "out_multiplier": m_out, "relu_multiplier": m_relu, "out_exponent": e_out, "relu_exponent": e_relu,
    }, macs=n)
