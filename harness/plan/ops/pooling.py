"""AVERAGE_POOL_2D and MAX_POOL_2D, int8, int16 (int16x8) or float32, NHWC: filter size, strides, SAME/VALID
padding, fused activation.

TFLM's semantics: the (integer) input and output share one quantization (TFLM refuses scales more than 1e-6 apart or
different zero points), so pooling works on the raw int8 values. The window is clipped to the image (taps in
the padding are skipped, not counted); the top/left padding is ComputePaddingWithOffset's `total // 2`.
Average pooling sums the raw values and divides by the number of taps, rounding half away from zero
((acc +- count/2) / count with C's truncating division); max pooling starts from the type's minimum. Both
then clamp to the fused activation's range. int16 works the same on int16 values (zero points 0). float32:
the taps summed in order from 0.0f and divided by their count, or the maximum from -FLT_MAX; then the
float clamp."""
import numpy as np
from tflite.Padding import Padding

from harness.plan.kernel import Arena, KernelCall
from harness.plan.model import Graph, ModelError, Op
from harness.plan.ops.conv2d import same_valid_pads
from harness.plan.ops.dtypes import check_int16_symmetric, float_activation_range
from harness.plan.quant import activation_range

_KERNELS = {"AVERAGE_POOL_2D": "tm_average_pool_2d", "MAX_POOL_2D": "tm_max_pool_2d"}
_SUFFIX = {np.dtype(np.int8): "s8", np.dtype(np.int16): "s16", np.dtype(np.float32): "f32"}


def lower(g: Graph, op: Op) -> KernelCall:
    inp, out = g.tensor(op.inputs[0]), g.tensor(op.outputs[0])
    where = f"op {op.index} {op.name} (output {out.name!r})"
    suffix = _SUFFIX.get(np.dtype(inp.dtype))
    if suffix is None or inp.dtype != out.dtype:
        raise ModelError(f"{where}: only int8, int16 and float32 are supported, got {inp.dtype} -> {out.dtype}")
    if len(inp.shape) != 4 or len(out.shape) != 4:
        raise ModelError(f"{where}: input and output must be 4-D NHWC, got {list(inp.shape)} -> {list(out.shape)}")
    if suffix != "f32":
        if inp.scales.size == 0 or out.scales.size == 0:
            raise ModelError(f"{where}: input and output must be quantized")
        if abs(float(inp.scale) - float(out.scale)) > 1e-6 or inp.zero_point != out.zero_point:
            raise ModelError(f"{where}: input (scale {inp.scale}, zero point {inp.zero_point}) and output (scale "
                             f"{out.scale}, zero point {out.zero_point}) must share quantization, as TFLM requires")
        if suffix == "s16":
            check_int16_symmetric(where, inp, out)
    opts = op.options
    if opts is None:
        raise ModelError(f"{where}: missing Pool2DOptions")
    padding = opts.Padding()
    if padding not in (Padding.SAME, Padding.VALID):
        raise ModelError(f"{where}: padding type {padding} is not supported (only SAME and VALID)")
    fh, fw, sh, sw = opts.FilterHeight(), opts.FilterWidth(), opts.StrideH(), opts.StrideW()
    if min(fh, fw, sh, sw) < 1:
        raise ModelError(f"{where}: filter {fh}x{fw} and strides ({sh}, {sw}) must be >= 1")
    n, in_h, in_w, c = inp.shape
    on, out_h, out_w, oc = out.shape
    if (on, oc) != (n, c) or min(out_h, out_w) < 1:
        raise ModelError(f"{where}: output {list(out.shape)} does not match a {fh}x{fw}/({sh}, {sw}) "
                         f"{'SAME' if padding == Padding.SAME else 'VALID'} pool of {list(inp.shape)}")
    pads = op.pads or same_valid_pads(where, padding, (in_h, in_w), (out_h, out_w), (fh, fw), (sh, sw), (1, 1))
    fields = {"batches": n, "in_h": in_h, "in_w": in_w, "channels": c, "out_h": out_h, "out_w": out_w,
              "filter_h": fh, "filter_w": fw, "stride_h": sh, "stride_w": sw, "pad_h": pads[0], "pad_w": pads[1]}
    if max(fields.values()) > 0xFFFF:
        raise ModelError(f"{where}: shape or window parameters {fields} do not fit 16 bits")
    if suffix == "f32":
        act_min, act_max = float_activation_range(where, opts.FusedActivationFunction())
    else:
        act_min, act_max = activation_range(opts.FusedActivationFunction(), out)
    struct = "tm_pool_f32_params_t" if suffix == "f32" else "tm_pool_params_t"
    return KernelCall(f"{_KERNELS[op.name]}_{suffix}", "pooling.h", struct, op, {
        "in_offset": Arena(op.inputs[0]), "out_offset": Arena(op.outputs[0]), **fields,
        "act_min": act_min, "act_max": act_max,
    }, macs=n * out_h * out_w * c * fh * fw)
