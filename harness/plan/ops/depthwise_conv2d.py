"""DEPTHWISE_CONV_2D, NHWC (any batch), SAME/VALID padding, strides, dilation, depth multiplier, any fused
activation, in the dtype schemes of CONV_2D (harness/plan/ops/conv2d.py): int8 (weights per-channel along
dimension 3 or per-tensor, optional int32 bias), int16x8 (optional int64 bias: TFLM's int16 depthwise kernel
always reads the bias as int64 and accumulates in 64 bits, so an int32 bias is refused) and float32.
Padding and requantization as CONV_2D.

TFLM takes the depth multiplier from the op's options (only a debug check ties it to the shapes), so a
model whose options disagree with out_channels / in_channels is refused rather than guessed at."""
from harness.plan.kernel import Arena, KernelCall
from harness.plan.model import Graph, ModelError, Op
from harness.plan.ops.conv2d import activation_fields, bias_fields, check_conv, weights_const, window

_KERNEL = {"s8": ("tm_depthwise_conv2d_s8", "tm_depthwise_conv2d_params_t"),
           "s16": ("tm_depthwise_conv2d_s16", "tm_depthwise_conv2d_s16_params_t"),
           "f32": ("tm_depthwise_conv2d_f32", "tm_depthwise_conv2d_f32_params_t")}


def lower(g: Graph, op: Op) -> KernelCall:
    out = g.tensor(op.outputs[0])
    where = f"op {op.index} DEPTHWISE_CONV_2D (output {out.name!r})"
    if len(op.inputs) < 2 or len(op.outputs) != 1:
        raise ModelError(f"{where}: expected input, weights[, bias] and one output")
    inp, w = g.tensor(op.inputs[0]), g.tensor(op.inputs[1])
    bias = g.tensor(op.inputs[2]) if len(op.inputs) > 2 and op.inputs[2] >= 0 else None
    if op.options is None:
        raise ModelError(f"{where}: missing DepthwiseConv2DOptions")
    n_out = w.shape[3] if len(w.shape) == 4 else 0
    kind = check_conv(where, inp, w, bias, out, n_out, 3)
    _, in_h, in_w, in_c = inp.shape
    _, out_h, out_w, out_c = out.shape
    one, kh, kw, _ = w.shape
    if one != 1:
        raise ModelError(f"{where}: weights must have shape [1, H, W, C], got {list(w.shape)}")
    mult = op.options.DepthMultiplier()
    if mult < 1 or in_c * mult != out_c:
        raise ModelError(f"{where}: depth multiplier {mult} with {in_c} input channels does not give the "
                         f"{out_c} output channels")
    fields = {
        "in_offset": Arena(op.inputs[0]), "out_offset": Arena(op.outputs[0]), "batches": inp.shape[0],
        "in_h": in_h, "in_w": in_w, "in_c": in_c, "out_h": out_h, "out_w": out_w, "out_c": out_c,
        "kernel_h": kh, "kernel_w": kw, "depth_multiplier": mult,
        **window(where, op, inp, out, kh, kw),
        **activation_fields(kind, where, inp, w, out, out_c, op.options.FusedActivationFunction()),
        "weights": weights_const(kind, where, w, op.inputs[1]),
        **bias_fields(kind, where, op, bias, int32_bias_ok=False),
    }
    kernel, struct = _KERNEL[kind]
    return KernelCall(kernel, "depthwise_conv2d.h", struct, op, fields,
                      macs=inp.shape[0] * out_h * out_w * out_c * kh * kw)
