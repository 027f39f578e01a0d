"""PRELU, int8 and float32: the input and its slope alpha (input 2, usually a constant per channel, shape
[1, 1, C] from Keras' PReLU with shared axes), broadcasting as ADD does up to 4-D (TFLM's PRELU kernels
are 4-D).

TFLM's semantics (prelu.cc, reference Prelu): int8 has two multipliers, in double, from QuantizeMultiplier
(either may be above 1): in_scale / out_scale for a non-negative x - zp_in, and in_scale * alpha_scale /
out_scale for the product (x - zp_in) * (alpha - zp_alpha) of a negative one; the output zero point is
added and the result clamped to int8 (no fused activation). float32: x >= 0 ? x : x * alpha."""
import numpy as np

from harness.plan.kernel import Arena, KernelCall
from harness.plan.model import Graph, ModelError, Op
from harness.plan.ops.elementwise import broadcast_geometry, operand_fields
from harness.plan.quant import quantize_multiplier

MAX_RANK = 4


def lower(g: Graph, op: Op) -> KernelCall:
    if len(op.inputs) != 2 or len(op.outputs) != 1 or min(op.inputs) < 0:
        raise ModelError(f"op {op.index} {op.name}: needs an input, an alpha and one output")
    x, alpha, out = g.tensor(op.inputs[0]), g.tensor(op.inputs[1]), g.tensor(op.outputs[0])
    where = f"op {op.index} {op.name} (output {out.name!r})"
    if not (x.dtype == alpha.dtype == out.dtype) or np.dtype(out.dtype) not in (np.int8, np.float32):
        raise ModelError(f"{where}: only int8 and float32 are supported (all three tensors alike), got "
                         f"{x.dtype}, {alpha.dtype} -> {out.dtype}")
    if max(len(x.shape), len(alpha.shape), len(out.shape)) > MAX_RANK:
        raise ModelError(f"{where}: {len(out.shape)}-D; PRELU is supported up to {MAX_RANK}-D (as TFLM's)")
    if x.is_constant:
        raise ModelError(f"{where}: a constant input (not folded by the converter) is not supported")
    fields = {**operand_fields(op, 0, x), **operand_fields(op, 1, alpha), "out_offset": Arena(op.outputs[0]),
              **broadcast_geometry(where, x.shape, alpha.shape, out.shape)}
    macs = int(np.prod(out.shape))
    if out.dtype == np.float32:
        return KernelCall("tm_prelu_f32", "elementwise.h", "tm_binary_raw_params_t", op, fields, macs=macs)
    for t in (x, alpha, out):
        if t.scales.size != 1 or not t.scale > 0:
            raise ModelError(f"{where}: tensor {t.name!r} must be quantized per tensor with a positive scale")
    m1, s1 = quantize_multiplier(float(x.scale) / float(out.scale))
    m2, s2 = quantize_multiplier(float(x.scale) * float(alpha.scale) / float(out.scale))
    return KernelCall("tm_prelu_s8", "elementwise.h", "tm_prelu_params_t", op, {
        **fields, "in1_zero_offset": -x.zero_point, "in2_zero_offset": -alpha.zero_point,
        "out_zero_point": out.zero_point, "multiplier1": m1, "shift1": s1, "multiplier2": m2, "shift2": s2,
    }, macs=macs)
