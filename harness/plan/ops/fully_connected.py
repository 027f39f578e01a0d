"""FULLY_CONNECTED: int8 activations and weights (per-tensor or per-channel), int32 bias."""
import numpy as np

from harness.plan.kernel import Arena, Const, KernelCall
from harness.plan.model import Graph, ModelError, Op
from harness.plan.quant import activation_range, conv_multipliers


def lower(g: Graph, op: Op) -> KernelCall:
    inp, w = g.tensor(op.inputs[0]), g.tensor(op.inputs[1])
    bias = g.tensor(op.inputs[2]) if len(op.inputs) > 2 and op.inputs[2] >= 0 else None
    out = g.tensor(op.outputs[0])
    where = f"op {op.index} FULLY_CONNECTED (output {out.name!r})"
    if not (inp.dtype == np.int8 and w.dtype == np.int8 and out.dtype == np.int8):
        raise ModelError(f"{where}: only int8 input/weights/output are supported, got "
                         f"{inp.dtype}/{w.dtype}/{out.dtype}")
    if not w.is_constant or len(w.shape) != 2:
        raise ModelError(f"{where}: weights must be a constant 2-D tensor")
    if bias is not None and (bias.dtype != np.int32 or not bias.is_constant):
        raise ModelError(f"{where}: bias must be a constant int32 tensor")
    if np.any(w.zero_points != 0):
        raise ModelError(f"{where}: int8 weights must be symmetric (zero point 0)")
    opts = op.options
    if opts is not None and opts.WeightsFormat() != 0:
        raise ModelError(f"{where}: shuffled weights format is not supported")
    out_f, in_f = w.shape
    n_in = int(np.prod(inp.shape))
    if n_in % in_f:
        raise ModelError(f"{where}: input of {n_in} elements is not a multiple of {in_f} features")
    batches = n_in // in_f
    mults, shifts = conv_multipliers(inp, w, out)
    act_min, act_max = activation_range(opts.FusedActivationFunction() if opts else 0, out)
    return KernelCall("tm_fully_connected_s8", "fully_connected.h", "tm_fc_params_t", op, {
        "in_offset": Arena(op.inputs[0]), "out_offset": Arena(op.outputs[0]),
        "batches": batches, "in_features": in_f, "out_features": out_f,
        "in_zero_point": -inp.zero_point, "out_zero_point": out.zero_point,
        "act_min": act_min, "act_max": act_max, "per_channel": int(len(mults) > 1),
        "weights": Const("int8_t", w.data, op.inputs[1]),
        "bias": Const("int32_t", bias.data, op.inputs[2]) if bias is not None else None,
        "multiplier": Const("int32_t", np.array(mults, np.int32)),
        "shift": Const("int8_t", np.array(shifts, np.int8)),
    }, macs=batches * in_f * out_f)
