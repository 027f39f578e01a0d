"""LOGISTIC and TANH, int8: TFLM's fixed-point kernels. The input is rescaled to Q4.27 by a multiplier
derived from the input scale alone (TFLM's Prepare, mirrored here); inputs beyond the input radius
saturate. The output quantization is fixed by the algorithm: LOGISTIC writes q/256 - 128 (TFLM requires
zero point -128), TANH writes q/128 (zero point 0); TFLM ignores the output scale, and so do we.
float32: TFLM's reference kernels, element-wise: LOGISTIC 1 above 16.619047..., expf(x) below -9, else
1 / (1 + expf(-x)); TANH tanhf(x) (the C library's, newlib's on the board)."""
import numpy as np

from harness.plan.kernel import Arena, KernelCall
from harness.plan.model import Graph, ModelError, Op
from harness.plan.quant import input_rescaling

def lower(g: Graph, op: Op) -> KernelCall:
    inp, out = g.tensor(op.inputs[0]), g.tensor(op.outputs[0])
    where = f"op {op.index} {op.name} (output {out.name!r})"
    if inp.dtype == np.float32 and out.dtype == np.float32:
        if inp.shape != out.shape:
            raise ModelError(f"{where}: input and output shapes differ")
        n = int(np.prod(inp.shape, dtype=np.int64))
        return KernelCall("tm_logistic_f32" if op.name == "LOGISTIC" else "tm_tanh_f32", "logistic.h",
                          "tm_unary_f32_params_t", op, {"in_offset": Arena(op.inputs[0]),
                                                        "out_offset": Arena(op.outputs[0]), "count": n}, macs=n)
    if inp.dtype != np.int8 or out.dtype != np.int8:
        raise ModelError(f"{where}: only int8 or float32 input and output are supported, got "
                         f"{np.dtype(inp.dtype)} -> {np.dtype(out.dtype)}")
    if inp.scales.size != 1 or out.scales.size != 1:
        raise ModelError(f"{where}: input and output must be quantized per tensor")
    if inp.nbytes != out.nbytes:
        raise ModelError(f"{where}: input and output sizes differ")
    if op.name == "LOGISTIC" and out.zero_point != -128:
        raise ModelError(f"{where}: int8 output zero point must be -128 (TFLM), got {out.zero_point}")
    if op.name == "TANH" and out.zero_point != 0:
        raise ModelError(f"{where}: int8 output zero point must be 0 (the kernel writes tanh * 128), "
                         f"got {out.zero_point}")
    try:
        mult, shift, radius = input_rescaling(inp.scale)
    except ModelError as e:
        raise ModelError(f"{where}: {e}") from None
    kernel = "tm_logistic_s8" if op.name == "LOGISTIC" else "tm_tanh_s8"
    n = int(np.prod(inp.shape, dtype=np.int64))
    return KernelCall(kernel, "logistic.h", "tm_logistic_params_t", op, {
        "in_offset": Arena(op.inputs[0]), "out_offset": Arena(op.outputs[0]), "count": n,
        "in_zero_point": inp.zero_point, "input_radius": min(radius, (1 << 31) - 1),
        "input_multiplier": mult, "input_left_shift": shift,
    }, macs=n)
