"""QUANTIZE and DEQUANTIZE, per-tensor, as TFLM's reference kernels:
- QUANTIZE float32 -> int8/int16: round(x / scale) in single precision, half away from zero, + zero point;
- QUANTIZE between integer types (TFLM's pairs: int8 -> int8/int16/int32/uint8, int16 -> int8/int16/int32,
  int32 -> int8/int16, uint8 -> int8): requantization by input_scale / output_scale (double, TFLM's
  QuantizeMultiplier), clamp(zp_out + requantize(q - zp_in)). uint8 <-> int8 is what a model with uint8
  input / output has at its ends; TFLM's XOR 0x80 shortcut (same scale, zero points 128 apart) gives the
  same bytes as the general formula (its multiplier is then exactly 1);
- DEQUANTIZE int8/int16/uint8 -> float32: scale * (q - zero point) in single precision."""
import numpy as np

from harness.plan.kernel import Arena, KernelCall
from harness.plan.model import Graph, ModelError, Op
from harness.plan.quant import quantize_multiplier

# tm_dtype_t (firmware/runtime/tm_runtime.h)
_TM_DTYPE = {np.dtype(np.int8): 0, np.dtype(np.int16): 1, np.dtype(np.float32): 2, np.dtype(np.int32): 3,
             np.dtype(np.uint8): 4}
_INT_PAIRS = {(np.int8, np.int8), (np.int8, np.int16), (np.int8, np.int32), (np.int16, np.int8),
              (np.int16, np.int16), (np.int16, np.int32), (np.int32, np.int8), (np.int32, np.int16),
              (np.uint8, np.int8), (np.int8, np.uint8)}


def _per_tensor(t, where: str, role: str) -> None:
    if t.scales.size != 1 or t.zero_points.size > 1:
        raise ModelError(f"{where}: {role} must be quantized per tensor (one scale), got {t.scales.size} scales")


def lower_quantize(g: Graph, op: Op) -> KernelCall:
    inp, out = g.tensor(op.inputs[0]), g.tensor(op.outputs[0])
    where = f"op {op.index} QUANTIZE (output {out.name!r})"
    pair = (np.dtype(inp.dtype), np.dtype(out.dtype))
    if inp.nbytes // np.dtype(inp.dtype).itemsize != out.nbytes // np.dtype(out.dtype).itemsize:
        raise ModelError(f"{where}: input and output element counts differ")
    n = out.nbytes // np.dtype(out.dtype).itemsize
    from_float = pair[0] == np.float32 and pair[1] in (np.int8, np.int16)
    if not from_float and not any(pair == (np.dtype(a), np.dtype(b)) for a, b in _INT_PAIRS):
        raise ModelError(f"{where}: {pair[0]} -> {pair[1]} is not supported")
    _per_tensor(out, where, "the output")
    fields = {"in_offset": Arena(op.inputs[0]), "out_offset": Arena(op.outputs[0]), "count": n,
              "in_type": _TM_DTYPE[pair[0]], "out_type": _TM_DTYPE[pair[1]],
              "out_zero_point": out.zero_point}
    if from_float:
        fields.update(in_zero_point=0, multiplier=0, shift=0, scale=float(np.float32(out.scale)))
        return KernelCall("tm_quantize_f32", "quantize.h", "tm_quantize_params_t", op, fields, macs=n)
    _per_tensor(inp, where, "the input")
    mult, shift = quantize_multiplier(float(inp.scale) / float(out.scale))
    fields.update(in_zero_point=inp.zero_point, multiplier=mult, shift=shift, scale=0.0)
    return KernelCall("tm_requantize_int", "quantize.h", "tm_quantize_params_t", op, fields, macs=n)


def lower_dequantize(g: Graph, op: Op) -> KernelCall:
    inp, out = g.tensor(op.inputs[0]), g.tensor(op.outputs[0])
    where = f"op {op.index} DEQUANTIZE (output {out.name!r})"
    if inp.dtype not in (np.int8, np.int16, np.uint8) or out.dtype != np.float32:
        raise ModelError(f"{where}: only int8/int16/uint8 -> float32 is supported, got "
                         f"{np.dtype(inp.dtype)} -> {np.dtype(out.dtype)}")
    _per_tensor(inp, where, "the input")
    n = out.nbytes // 4
    if inp.nbytes // np.dtype(inp.dtype).itemsize != n:
        raise ModelError(f"{where}: input and output element counts differ")
    return KernelCall("tm_dequantize_f32", "quantize.h", "tm_quantize_params_t", op, {
        "in_offset": Arena(op.inputs[0]), "out_offset": Arena(op.outputs[0]), "count": n,
        "in_type": _TM_DTYPE[np.dtype(inp.dtype)], "out_type": _TM_DTYPE[np.dtype(out.dtype)],
        "out_zero_point": 0, "in_zero_point": inp.zero_point, "multiplier": 0, "shift": 0,
        "scale": float(np.float32(inp.scale)),
    }, macs=n)
