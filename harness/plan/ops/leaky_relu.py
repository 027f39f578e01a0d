"""LEAKY_RELU, int8 and float32: x for x > 0, alpha * x below (alpha from LeakyReluOptions; it may be above
1 or negative).

TFLM's semantics (leaky_relu.cc, reference QuantizeLeakyRelu): int8 rescales x - zp_in by one of two
multipliers, chosen by its sign, adds the output zero point and clamps to int8. The real multipliers,
in_scale / out_scale and in_scale * alpha / out_scale, are formed in double precision from the float32
scales and alpha before QuantizeMultiplier: in single precision either could differ in its last bits, and
tests/kernels/test_leaky_relu.py has a model for each where TFLM's byte shows it is the double one.
float32: x > 0 ? x : x * alpha."""
import numpy as np

from harness.plan.kernel import Arena, KernelCall
from harness.plan.model import Graph, ModelError, Op, Tensor
from harness.plan.ops.dtypes import same_type_unary
from harness.plan.quant import quantize_multiplier


def leaky_relu_multipliers(inp: Tensor, out: Tensor, alpha: float) -> tuple[tuple[int, int], tuple[int, int]]:
    """((identity multiplier, shift), (alpha multiplier, shift)), from double-precision reals."""
    s_in, s_out, a = float(np.float32(inp.scale)), float(np.float32(out.scale)), float(np.float32(alpha))
    return quantize_multiplier(s_in / s_out), quantize_multiplier(s_in * a / s_out)


def lower(g: Graph, op: Op) -> KernelCall:
    inp, out, where = same_type_unary(g, op)
    alpha = float(op.options.Alpha()) if op.options is not None else 0.0
    if not np.isfinite(alpha):
        raise ModelError(f"{where}: alpha {alpha} is not finite")
    n = int(np.prod(inp.shape, dtype=np.int64))
    io = {"in_offset": Arena(op.inputs[0]), "out_offset": Arena(op.outputs[0]), "count": n}
    if out.dtype == np.float32:
        return KernelCall("tm_leaky_relu_f32", "activation.h", "tm_leaky_relu_f32_params_t", op,
                          {**io, "alpha": alpha}, macs=n)
    for t in (inp, out):
        if t.scales.size != 1 or not t.scale > 0:
            raise ModelError(f"{where}: tensor {t.name!r} must be quantized per tensor with a positive scale")
    (m_id, s_id), (m_alpha, s_alpha) = leaky_relu_multipliers(inp, out, alpha)
    return KernelCall("tm_leaky_relu_s8", "activation.h", "tm_leaky_relu_params_t", op, {
        **io, "in_zero_point": inp.zero_point, "out_zero_point": out.zero_point,
        "multiplier_identity": m_id, "multiplier_alpha": m_alpha, "shift_identity": s_id, "shift_alpha": s_alpha,
    }, macs=n)
