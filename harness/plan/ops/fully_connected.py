"""FULLY_CONNECTED in three dtype schemes:
- int8: int8 activations and weights (per-tensor or per-channel), int32 bias;
- int16x8: int16 activations (zero point 0), int8 weights, int64 bias or none (TFLM's int16 kernel reads
  the bias as int64 and accumulates in 64 bits, requantizing with its 64-bit MultiplyByQuantizedMultiplier);
- float32: float activations, weights and optional bias, in TFLM's reference operation order.
Hybrid models (float activations, int8 weights) are refused, as TFLM refuses them."""
import numpy as np

from harness.plan.kernel import Arena, Const, KernelCall
from harness.plan.model import Graph, ModelError, Op
from harness.plan.ops.conv2d import check_wide_shifts
from harness.plan.ops.dtypes import check_int16_symmetric, float_activation_range, float_const
from harness.plan.quant import activation_range, conv_multipliers

_KINDS = {(np.int8, np.int8, np.int8): "s8", (np.int16, np.int8, np.int16): "s16",
          (np.float32, np.float32, np.float32): "f32"}
_BIAS = {"s8": np.int32, "s16": np.int64, "f32": np.float32}


def lower(g: Graph, op: Op) -> KernelCall:
    inp, w = g.tensor(op.inputs[0]), g.tensor(op.inputs[1])
    bias = g.tensor(op.inputs[2]) if len(op.inputs) > 2 and op.inputs[2] >= 0 else None
    out = g.tensor(op.outputs[0])
    where = f"op {op.index} FULLY_CONNECTED (output {out.name!r})"
    kind = _KINDS.get((np.dtype(inp.dtype).type, np.dtype(w.dtype).type, np.dtype(out.dtype).type))
    if kind is None:
        hybrid = inp.dtype == np.float32 and w.dtype == np.int8
        raise ModelError(f"{where}: input/weights/output {np.dtype(inp.dtype)}/{np.dtype(w.dtype)}/"
                         f"{np.dtype(out.dtype)} "
                         + ("is a hybrid model (float activations, int8 weights), which TFLM refuses too"
                            if hybrid else "are not supported (only int8/int8/int8, int16/int8/int16 and "
                                           "float32/float32/float32)"))
    if not w.is_constant or len(w.shape) != 2:
        raise ModelError(f"{where}: weights must be a constant 2-D tensor")
    if bias is not None and (bias.dtype != _BIAS[kind] or not bias.is_constant):
        raise ModelError(f"{where}: bias must be a constant {np.dtype(_BIAS[kind])} tensor, got a "
                         f"{'constant' if bias.is_constant else 'variable'} {np.dtype(bias.dtype)} tensor")
    opts = op.options
    if opts is not None and opts.WeightsFormat() != 0:
        raise ModelError(f"{where}: shuffled weights format is not supported")
    out_f, in_f = w.shape
    n_in = int(np.prod(inp.shape))
    if n_in % in_f:
        raise ModelError(f"{where}: input of {n_in} elements is not a multiple of {in_f} features")
    batches = n_in // in_f
    if bias is not None and bias.data.size != out_f:
        raise ModelError(f"{where}: bias has {bias.data.size} values for {out_f} output features")
    activation = opts.FusedActivationFunction() if opts else 0
    io = {"in_offset": Arena(op.inputs[0]), "out_offset": Arena(op.outputs[0]),
          "batches": batches, "in_features": in_f, "out_features": out_f}
    if kind == "f32":
        act_min, act_max = float_activation_range(where, activation)
        return KernelCall("tm_fully_connected_f32", "fully_connected.h", "tm_fc_f32_params_t", op, {
            **io, "act_min": act_min, "act_max": act_max, "weights": float_const(where, w),
            "bias": float_const(where, bias) if bias is not None else None,
        }, macs=batches * in_f * out_f)
    if max(batches, in_f, out_f) > 0xFFFF:
        raise ModelError(f"{where}: a dimension exceeds 65535")
    if np.any(w.zero_points != 0):
        raise ModelError(f"{where}: int8 weights must be symmetric (zero point 0)")
    mults, shifts = conv_multipliers(inp, w, out)
    act_min, act_max = activation_range(activation, out)
    quant = {"act_min": act_min, "act_max": act_max, "per_channel": int(len(mults) > 1),
             "weights": Const("int8_t", w.data, op.inputs[1])}
    tables = {"multiplier": Const("int32_t", np.array(mults, np.int32)),
              "shift": Const("int8_t", np.array(shifts, np.int8))}
    if kind == "s16":
        check_int16_symmetric(where, inp, out)
        check_wide_shifts(where, shifts)
        return KernelCall("tm_fully_connected_s16", "fully_connected.h", "tm_fc_s16_params_t", op, {
            **io, **quant, "bias": Const("int64_t", bias.data, op.inputs[2]) if bias is not None else None,
            **tables,
        }, macs=batches * in_f * out_f)
    return KernelCall("tm_fully_connected_s8", "fully_connected.h", "tm_fc_params_t", op, {
        **io, "in_zero_point": -inp.zero_point, "out_zero_point": out.zero_point, **quant,
        "bias": Const("int32_t", bias.data, op.inputs[2]) if bias is not None else None,
        **tables,
    }, macs=batches * in_f * out_f)
