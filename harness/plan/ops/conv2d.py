"""CONV_2D, NHWC (any batch), SAME/VALID padding, strides, dilation, groups, any fused activation, in three
dtype schemes:
- int8: int8 activations and weights (per-channel along the output channel, or per-tensor), optional
  int32 bias;
- int16x8: int16 activations (zero point 0), int8 weights, an int64 bias or none (TFLM then accumulates
  in 64 bits and requantizes with its 64-bit MultiplyByQuantizedMultiplier) or an int32 bias (TFLM's
  32-bit, wrapping accumulator and 32-bit requantization: it picks the path by the bias type; the wheel
  takes the 64-bit one when there is no bias, checked by tests/kernels/test_int16.py);
- float32: float activations, weights and optional bias, in TFLM's reference operation order.
Hybrid models (float activations, int8 weights) are refused, as TFLM refuses them.

TFLM's semantics: the top/left padding is ComputePaddingWithOffset's `total // 2` (an odd total puts the
extra row/column at the bottom/right, which needs nothing here: taps outside the image are skipped, i.e.
they contribute as if the input there were its zero point). One multiplier/shift per output channel,
from input_scale * filter_scale[c] / output_scale in double (a per-tensor filter scale is broadcast)."""
import numpy as np
from tflite.Padding import Padding

from harness.plan.kernel import Arena, Const, KernelCall
from harness.plan.model import Graph, ModelError, Op, Tensor
from harness.plan.ops.dtypes import check_int16_symmetric, float_activation_range, float_const
from harness.plan.quant import activation_range, conv_multipliers

_KERNEL = {"s8": ("tm_conv2d_s8", "tm_conv2d_params_t"), "s16": ("tm_conv2d_s16", "tm_conv2d_s16_params_t"),
           "f32": ("tm_conv2d_f32", "tm_conv2d_f32_params_t")}

_U16 = 0xFFFF


def out_size(padding: int, size: int, kernel: int, stride: int, dilation: int) -> int:
    """TFLM's ComputeOutSize."""
    effective = (kernel - 1) * dilation + 1
    if padding == Padding.SAME:
        return (size + stride - 1) // stride
    return (size + stride - effective) // stride


def pad_before(stride: int, dilation: int, size: int, kernel: int, out: int) -> int:
    """TFLM's ComputePaddingWithOffset: the padding before the first row/column (the odd extra goes after)."""
    effective = (kernel - 1) * dilation + 1
    total = max((out - 1) * stride + effective - size, 0)
    return total // 2


def same_valid_pads(where: str, padding: int, size: tuple[int, int], out: tuple[int, int], kernel: tuple[int, int],
              stride: tuple[int, int], dilation: tuple[int, int]) -> tuple[int, int]:
    """The (top, left) padding of a whole-image window op, after checking its output size against SAME/VALID."""
    expected = tuple(out_size(padding, n, k, s, d) for n, k, s, d in zip(size, kernel, stride, dilation))
    if expected != tuple(out):
        raise ModelError(f"{where}: output is {out[0]}x{out[1]} but {'SAME' if padding == Padding.SAME else 'VALID'} "
                         f"padding of a {size[0]}x{size[1]} input gives {expected[0]}x{expected[1]}")
    return tuple(pad_before(s, d, n, k, o) for s, d, n, k, o in zip(stride, dilation, size, kernel, out))


def window(where: str, op: Op, inp: Tensor, out: Tensor, kh: int, kw: int) -> dict:
    """Strides, dilations and padding of a conv-like op, checked against the tensors' spatial sizes."""
    opts = op.options
    padding = opts.Padding()
    if padding not in (Padding.SAME, Padding.VALID):
        raise ModelError(f"{where}: padding type {padding} is not supported (only SAME and VALID)")
    sh, sw = opts.StrideH(), opts.StrideW()
    dh, dw = opts.DilationHFactor(), opts.DilationWFactor()
    if min(sh, sw, dh, dw) < 1:
        raise ModelError(f"{where}: strides ({sh}, {sw}) and dilations ({dh}, {dw}) must be >= 1")
    _, in_h, in_w, _ = inp.shape
    _, out_h, out_w, _ = out.shape
    pads = op.pads or same_valid_pads(where, padding, (in_h, in_w), (out_h, out_w), (kh, kw), (sh, sw), (dh, dw))
    fields = {"stride_h": sh, "stride_w": sw, "dilation_h": dh, "dilation_w": dw,
              "pad_h": pads[0], "pad_w": pads[1]}
    if max(fields.values()) > _U16:
        raise ModelError(f"{where}: window parameters {fields} do not fit 16 bits")
    return fields


def check_conv(where: str, inp: Tensor, w: Tensor, bias: Tensor | None, out: Tensor, n_channels: int,
               qdim: int) -> str:
    """The checks shared by CONV_2D and DEPTHWISE_CONV_2D; returns the dtype scheme: "s8", "s16" (int16x8)
    or "f32"."""
    kind = {(np.int8, np.int8, np.int8): "s8", (np.int16, np.int8, np.int16): "s16",
            (np.float32, np.float32, np.float32): "f32"}.get((np.dtype(inp.dtype).type, np.dtype(w.dtype).type,
                                                             np.dtype(out.dtype).type))
    if kind is None:
        hybrid = inp.dtype == np.float32 and w.dtype == np.int8
        raise ModelError(f"{where}: input/weights/output {np.dtype(inp.dtype)}/{np.dtype(w.dtype)}/"
                         f"{np.dtype(out.dtype)} "
                         + ("is a hybrid model (float activations, int8 weights), which TFLM refuses too"
                            if hybrid else "are not supported (only int8/int8/int8, int16/int8/int16 and "
                                           "float32/float32/float32)"))
    if len(inp.shape) != 4 or len(out.shape) != 4 or len(w.shape) != 4:
        raise ModelError(f"{where}: input, weights and output must be 4-D (NHWC), got shapes "
                         f"{list(inp.shape)}, {list(w.shape)}, {list(out.shape)}")
    if not w.is_constant:
        raise ModelError(f"{where}: weights must be a constant tensor")
    if inp.shape[0] != out.shape[0]:
        raise ModelError(f"{where}: input batch {inp.shape[0]} differs from output batch {out.shape[0]}")
    if out.shape[3] != n_channels:
        raise ModelError(f"{where}: output has {out.shape[3]} channels, the weights {n_channels}")
    if max(*inp.shape, *out.shape, *w.shape) > _U16:
        raise ModelError(f"{where}: a dimension exceeds 65535")
    if bias is not None:
        allowed = {"s8": (np.int32,), "s16": (np.int64, np.int32), "f32": (np.float32,)}[kind]
        if np.dtype(bias.dtype).type not in allowed or not bias.is_constant:
            raise ModelError(f"{where}: bias must be a constant {' or '.join(np.dtype(d).name for d in allowed)} "
                             f"tensor, got a {'constant' if bias.is_constant else 'variable'} "
                             f"{np.dtype(bias.dtype)} tensor")
        if bias.data.size != n_channels:
            raise ModelError(f"{where}: bias has {bias.data.size} values for {n_channels} output channels")
    if kind == "f32":
        return kind
    for t in (inp, w, out):
        if t.scales.size == 0:
            raise ModelError(f"{where}: tensor {t.name!r} is not quantized")
    if inp.scales.size != 1 or out.scales.size != 1:
        raise ModelError(f"{where}: input and output must be quantized per tensor")
    if np.any(w.zero_points != 0):
        raise ModelError(f"{where}: int8 weights must be symmetric (zero point 0)")
    if w.scales.size not in (1, n_channels) or (w.scales.size > 1 and w.quantized_dim != qdim):
        raise ModelError(f"{where}: weights must be quantized per tensor or per channel along dimension {qdim} "
                         f"({n_channels} channels), got {w.scales.size} scales along dimension {w.quantized_dim}")
    if kind == "s16":
        check_int16_symmetric(where, inp, out)
    return kind


def requant_fields(where: str, inp: Tensor, w: Tensor, out: Tensor, n_channels: int, activation: int) -> dict:
    """Zero points (int8 only), activation clamp and one multiplier/shift per output channel (a per-tensor
    scale is broadcast, as TFLM's PopulateConvolutionQuantizationParams does)."""
    mults, shifts = conv_multipliers(inp, w, out)
    if len(mults) == 1:
        mults, shifts = mults * n_channels, shifts * n_channels
    try:
        act_min, act_max = activation_range(activation, out)
    except ModelError as e:
        raise ModelError(f"{where}: {e}") from None
    fields = {"act_min": act_min, "act_max": act_max,
              "multiplier": Const("int32_t", np.array(mults, np.int32)),
              "shift": Const("int8_t", np.array(shifts, np.int8))}
    if inp.dtype == np.int16:
        check_wide_shifts(where, shifts)
        return fields
    return {"in_zero_point": -inp.zero_point, "out_zero_point": out.zero_point, **fields}


def check_wide_shifts(where: str, shifts: list[int]) -> None:
    """TFLM's 64-bit MultiplyByQuantizedMultiplier shifts right by 15 - shift: a shift above 14 (a scale
    ratio of 2^14 or more, never produced by the converter) would be a left shift it does not define."""
    if max(shifts) > 14:
        raise ModelError(f"{where}: requantization shift {max(shifts)} (a scale ratio above 2^14) is outside "
                         "TFLM's int16x8 range")


def bias_fields(kind: str, where: str, op: Op, bias: Tensor | None, *, int32_bias_ok: bool = True) -> dict:
    """The bias pointer(s) of each scheme. int16x8: an int64 bias or none selects TFLM's 64-bit accumulator;
    an int32 bias its 32-bit one (wide_acc = 0), where the op has such a path."""
    if kind == "s8":
        return {"bias": Const("int32_t", bias.data, op.inputs[2]) if bias is not None else None}
    if kind == "f32":
        return {"bias": float_const(where, bias) if bias is not None else None}
    if not int32_bias_ok:     # one (64-bit) path only
        if bias is not None and bias.dtype != np.int64:
            raise ModelError(f"{where}: int16 activations need an int64 bias here (TFLM reads it as int64)")
        return {"bias": Const("int64_t", bias.data, op.inputs[2]) if bias is not None else None}
    if bias is None or bias.dtype == np.int64:
        return {"wide_acc": 1, "bias": Const("int64_t", bias.data, op.inputs[2]) if bias is not None else None,
                "bias32": None}
    return {"wide_acc": 0, "bias": None, "bias32": Const("int32_t", bias.data, op.inputs[2])}


def lower(g: Graph, op: Op) -> KernelCall:
    out = g.tensor(op.outputs[0])
    where = f"op {op.index} CONV_2D (output {out.name!r})"
    if len(op.inputs) < 2 or len(op.outputs) != 1:
        raise ModelError(f"{where}: expected input, weights[, bias] and one output")
    inp, w = g.tensor(op.inputs[0]), g.tensor(op.inputs[1])
    bias = g.tensor(op.inputs[2]) if len(op.inputs) > 2 and op.inputs[2] >= 0 else None
    if op.options is None:
        raise ModelError(f"{where}: missing Conv2DOptions")
    n_out = w.shape[0] if len(w.shape) == 4 else 0
    kind = check_conv(where, inp, w, bias, out, n_out, 0)
    _, in_h, in_w, in_c = inp.shape
    _, out_h, out_w, out_c = out.shape
    _, kh, kw, filter_c = w.shape
    if filter_c == 0 or in_c % filter_c:
        raise ModelError(f"{where}: input has {in_c} channels, not a multiple of the filter's {filter_c}")
    groups = in_c // filter_c
    if out_c % groups:
        raise ModelError(f"{where}: {out_c} output channels do not split into {groups} groups")
    fields = {
        "in_offset": Arena(op.inputs[0]), "out_offset": Arena(op.outputs[0]), "batches": inp.shape[0],
        "in_h": in_h, "in_w": in_w, "in_c": in_c, "out_h": out_h, "out_w": out_w, "out_c": out_c,
        "kernel_h": kh, "kernel_w": kw, "filter_c": filter_c, "groups": groups,
        **window(where, op, inp, out, kh, kw),
        **activation_fields(kind, where, inp, w, out, out_c, op.options.FusedActivationFunction()),
        "weights": weights_const(kind, where, w, op.inputs[1]),
        **bias_fields(kind, where, op, bias),
    }
    kernel, struct = _KERNEL[kind]
    return KernelCall(kernel, "conv2d.h", struct, op, fields,
                      macs=inp.shape[0] * out_h * out_w * out_c * kh * kw * filter_c)


def activation_fields(kind: str, where: str, inp: Tensor, w: Tensor, out: Tensor, n_channels: int,
                      activation: int) -> dict:
    """The clamp (and for integer schemes the requantization) of a conv-like op."""
    if kind == "f32":
        act_min, act_max = float_activation_range(where, activation)
        return {"act_min": act_min, "act_max": act_max}
    return requant_fields(where, inp, w, out, n_channels, activation)


def weights_const(kind: str, where: str, w: Tensor, index: int) -> Const:
    return float_const(where, w) if kind == "f32" else Const("int8_t", w.data, index)
