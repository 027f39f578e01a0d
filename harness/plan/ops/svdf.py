"""SVDF, integer: int8 input/output/feature weights, int32 bias, and an int16 (or int8) activation state
with time weights of the same type, as TFLM's integer SVDF. The state is a variable tensor: lower.py gives
it a persistent arena region (plus one init-flag byte) that the planner never reuses.

TFLM's Prepare (mirrored): the two effective scales, in double, left to right,
    input_scale * feature_scale / state_scale   and   state_scale * time_scale / output_scale
(the reference interpreter we compare against does this in double; newer TFLM sources compute the
products in float first, which changes the multipliers' low bits and, now and then, a state value);
the bias scale must be state_scale * time_scale (float product, within 1e-5).
The integer path applies no fused activation (TFLM ignores it), and the bias is required."""
import numpy as np

from harness.plan.kernel import Arena, Const, KernelCall
from harness.plan.model import Graph, ModelError, Op
from harness.plan.quant import quantize_multiplier


def lower(g: Graph, op: Op) -> KernelCall:
    out = g.tensor(op.outputs[0])
    where = f"op {op.index} SVDF (output {out.name!r})"
    if len(op.inputs) != 5:
        raise ModelError(f"{where}: expected 5 inputs (input, feature weights, time weights, bias, state)")
    if op.inputs[3] < 0:
        raise ModelError(f"{where}: a bias is required (TFLM's integer SVDF reads its scale)")
    inp, wf, wt, bias, state = (g.tensor(t) for t in op.inputs)
    if inp.dtype != np.int8 or wf.dtype != np.int8 or out.dtype != np.int8 or bias.dtype != np.int32:
        raise ModelError(f"{where}: only int8 input/feature weights/output with an int32 bias are supported, got "
                         f"{np.dtype(inp.dtype)}/{np.dtype(wf.dtype)}/{np.dtype(out.dtype)}/{np.dtype(bias.dtype)}")
    if state.dtype not in (np.int16, np.int8) or wt.dtype != state.dtype:
        raise ModelError(f"{where}: the state and time weights must both be int16 or both int8, got "
                         f"{np.dtype(state.dtype)} and {np.dtype(wt.dtype)}")
    if not (wf.is_constant and wt.is_constant and bias.is_constant):
        raise ModelError(f"{where}: the weights and bias must be constant")
    if not state.is_variable or state.is_constant:
        raise ModelError(f"{where}: the state {state.name!r} must be a variable tensor without initial data")
    for t in (inp, wf, wt, bias, state, out):
        if t.scales.size != 1:
            raise ModelError(f"{where}: tensor {t.name!r} must be quantized per tensor")
    if len(inp.shape) != 2 or len(wf.shape) != 2 or len(wt.shape) != 2 or len(out.shape) != 2:
        raise ModelError(f"{where}: input, weights and output must be 2-D")
    rank = op.options.Rank() if op.options is not None else 0
    batches, input_size = inp.shape
    filters, memory = wt.shape
    if rank <= 0 or filters % rank:
        raise ModelError(f"{where}: rank {rank} does not divide the {filters} filters")
    units = filters // rank
    if (wf.shape != (filters, input_size) or bias.shape != (units,) or out.shape != (batches, units)
            or state.shape != (batches, memory * filters)):
        raise ModelError(f"{where}: inconsistent shapes input {list(inp.shape)}, feature weights "
                         f"{list(wf.shape)}, time weights {list(wt.shape)}, bias {list(bias.shape)}, state "
                         f"{list(state.shape)}, output {list(out.shape)}")
    f32 = np.float32
    s_in, s_wf, s_wt, s_state, s_out = (f32(t.scale) for t in (inp, wf, wt, state, out))
    scale_1 = float(s_in) * float(s_wf) / float(s_state)
    scale_2 = float(s_state) * float(s_wt) / float(s_out)
    if not abs(float(bias.scale) - float(s_state * s_wt)) < 1e-5:
        raise ModelError(f"{where}: bias scale {bias.scale!r} is not state scale * time weights scale")
    m1, sh1 = quantize_multiplier(scale_1)
    m2, sh2 = quantize_multiplier(scale_2)
    wide = state.dtype == np.int16
    return KernelCall("tm_svdf_s8_s16" if wide else "tm_svdf_s8_s8", "svdf.h", "tm_svdf_params_t", op, {
        "in_offset": Arena(op.inputs[0]), "out_offset": Arena(op.outputs[0]), "state_offset": Arena(op.inputs[4]),
        "batches": batches, "input_size": input_size, "filters": filters, "units": units, "rank": rank,
        "memory": memory, "in_zero_point": inp.zero_point, "state_zero_point": state.zero_point,
        "out_zero_point": out.zero_point,
        "feature_multiplier": m1, "feature_shift": sh1, "time_multiplier": m2, "time_shift": sh2,
        "weights_feature": Const("int8_t", wf.data, op.inputs[1]),
        "weights_time": Const("int16_t" if wide else "int8_t", wt.data, op.inputs[2]),
        "bias": Const("int32_t", bias.data, op.inputs[3]),
    }, macs=batches * filters * (input_size + memory))
