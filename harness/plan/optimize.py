"""Kernel choice: replace a reference kernel call by an optimized one (firmware/kernels/dsp, for the
Cortex-M DSP extension) where the op's shape is one the optimized kernel handles, and lay out its
constants offline the way that kernel reads them. The reference kernel stays the fallback for every other
shape. Both compute the same bytes (the same int32 sums, the one requantization of tm_quant.h); the
per-op sweeps (tests/kernels) and tests/test_kernels_dsp.py check both paths against TFLM.

Each rule names the reference kernel it replaces; `choose` returns the call unchanged when none applies."""
from __future__ import annotations

import numpy as np

from harness.plan.kernel import Const, KernelCall
from harness.plan.requant import RQ_FIELDS, rq_records, sum_bound

KERNEL_SETS = ("optimized", "reference")

# tm_conv2d_s8_dsp keeps a pixel pair's im2col buffer (4 * depth bytes) on the stack: above this depth
# (a 4 KB buffer) the reference kernel, which needs none, is used.
CONV_DSP_MAX_DEPTH = 1024
# tm_depthwise_conv2d_s8_dsp's 3x3 path (up to DW_WINDOW_MAX_CH channels) copies the windows the border
# cuts, DW_SLOTS at a time, to the stack (9 x ch bytes each). Mirrors of depthwise_conv2d_s8_dsp.c's
# #defines (tests/test_predict.py reads them there).
DW_SLOTS, DW_WINDOW_MAX_CH = 2, 256


def stack_array_bytes(call: KernelCall) -> int:
    """The bytes of the variable-length array a kernel call puts on the stack (the host-side companion of
    the kernel, as CMSIS-NN's *_get_buffer_size are: the stack figures can then count them): the conv's
    `uint32_t words[p->depth]` (a pixel pair's im2col), the depthwise 3x3 path's `uint32_t
    words[(DW_SLOTS * 9 * ch + 3) / 4]`; 0 for every other kernel."""
    f = call.fields
    if call.kernel == "tm_conv2d_s8_dsp":
        return 4 * int(f["depth"])
    if call.kernel == "tm_depthwise_conv2d_s8_dsp" and (f["kernel_h"], f["kernel_w"]) == (3, 3) \
            and f["in_c"] <= DW_WINDOW_MAX_CH:
        return 4 * ((DW_SLOTS * 9 * int(f["in_c"]) + 3) // 4)
    return 0


def _even(a: np.ndarray) -> np.ndarray:
    """An array over output channels padded to an even length (the kernels work on channel pairs)."""
    return np.concatenate([a, a[-1:] * 0]) if len(a) % 2 else a


def conv_weights_dsp(w: np.ndarray) -> np.ndarray:
    """[out_c][K] int8 (K = taps in [ky][kx][c] order) -> the layout tm_conv2d_s8_dsp reads: K zero-padded
    to a multiple of 4, out_c to even; per channel pair and group of 4 taps, channel 2j's 4 bytes then
    2j+1's (the kernel's im2col stores its taps in the order SXTB16 / SXTB16 ROR 8 unpack these words)."""
    out_c, k = w.shape
    depth = -(-k // 4) * 4
    padded = np.zeros((out_c + out_c % 2, depth), np.int8)
    padded[:out_c, :k] = w
    g = padded.reshape(-1, 2, depth // 4, 4)                          # [pair][channel][group][4]
    return np.ascontiguousarray(g.transpose(0, 2, 1, 3)).reshape(-1)  # [pair][group][channel][4]


def sums_bounded(w: np.ndarray, bias: np.ndarray | None, in_offset: int, mult, shift) -> bool:
    """Whether every output's int32 sum meets tm_requantize_bounded's precondition (tm_quant.h), so the
    kernel may use that cheaper, equal form: multiplier >= 0 and |sum| * 2^max(shift, 0) < 2^30 for every
    output channel. w is [out_c][K] int8; each tap's input is x + in_offset with x in [-128, 127] (or 0,
    padding), so |sum| <= |bias| + max|x + in_offset| * sum|w| bounds every sum the op can produce."""
    left = np.maximum(np.asarray(shift, np.int64), 0)
    bound = sum_bound(w, bias, in_offset) << left
    return bool((np.asarray(mult, np.int64) >= 0).all() and (bound < 2**30).all())


def _requant_fields(w2: np.ndarray, bias: np.ndarray | None, in_zero_point: int, mult, shift,
                    out_zero_point: int) -> dict:
    """The conv DSP kernel's requantization fields (conv2d_dsp.h): `bounded` 2 with per-channel records
    (harness/plan/requant.py; the kernel then reads no bias/multiplier/shift arrays) where their
    precondition holds, else the arrays with `bounded` 1 (tm_requantize_bounded) or 0 (tm_requantize)."""
    out_c = len(w2)
    rec = rq_records(w2, bias, in_zero_point, mult, shift, out_zero_point)
    if rec is not None:
        assert rec.shape == (out_c, len(RQ_FIELDS))
        return {"bounded": 2, "bias": None, "multiplier": None, "shift": None, "rq": Const("int32_t", rec)}
    return {
        "bounded": int(sums_bounded(w2, bias, in_zero_point, mult, shift)),
        "bias": Const("int32_t", _even(bias if bias is not None else np.zeros(out_c, np.int32))),
        "multiplier": Const("int32_t", _even(np.asarray(mult, np.int32))),
        "shift": Const("int8_t", _even(np.asarray(shift, np.int8))),
        "rq": None,
    }


def _conv2d(call: KernelCall) -> KernelCall | None:
    f = call.fields
    depth = -(-(f["kernel_h"] * f["kernel_w"] * f["in_c"]) // 4) * 4
    if f["groups"] != 1 or depth > CONV_DSP_MAX_DEPTH:
        return None
    w = f["weights"].data
    out_c = f["out_c"]
    keep = ("in_offset", "out_offset", "batches", "in_h", "in_w", "in_c", "out_h", "out_w", "out_c",
            "kernel_h", "kernel_w", "stride_h", "stride_w", "dilation_h", "dilation_w", "pad_h", "pad_w",
            "in_zero_point", "out_zero_point", "act_min", "act_max")
    fields = {k: f[k] for k in keep}
    w2 = np.asarray(w, np.int8).reshape(out_c, -1)
    bias = np.asarray(f["bias"].data, np.int32) if f["bias"] is not None else None
    fields.update({"depth": depth, "weights": Const("int8_t", conv_weights_dsp(w2))})
    fields.update(_requant_fields(w2, bias, f["in_zero_point"], f["multiplier"].data, f["shift"].data,
                                  f["out_zero_point"]))
    return KernelCall("tm_conv2d_s8_dsp", "dsp/conv2d_dsp.h", "tm_conv2d_dsp_params_t", call.op, fields,
                      macs=call.macs)


def _fully_connected(call: KernelCall) -> KernelCall | None:
    """FULLY_CONNECTED int8 is a 1x1 convolution over `batches` pixels: the conv DSP kernel, with a per-tensor
    multiplier/shift broadcast to every output channel (the reference applies the one pair to all)."""
    f = call.fields
    out_f, in_f = f["out_features"], f["in_features"]
    depth = -(-in_f // 4) * 4
    if depth > CONV_DSP_MAX_DEPTH:
        return None
    mult, shift = np.asarray(f["multiplier"].data, np.int32), np.asarray(f["shift"].data, np.int8)
    if not f["per_channel"]:
        mult, shift = np.repeat(mult[:1], out_f), np.repeat(shift[:1], out_f)
    w2 = np.asarray(f["weights"].data, np.int8).reshape(out_f, in_f)
    bias = np.asarray(f["bias"].data, np.int32) if f["bias"] is not None else None
    fields = {
        "in_offset": f["in_offset"], "out_offset": f["out_offset"], "batches": 1,
        "in_h": f["batches"], "in_w": 1, "in_c": in_f, "out_h": f["batches"], "out_w": 1, "out_c": out_f,
        "kernel_h": 1, "kernel_w": 1, "stride_h": 1, "stride_w": 1, "dilation_h": 1, "dilation_w": 1,
        "pad_h": 0, "pad_w": 0, "in_zero_point": f["in_zero_point"], "out_zero_point": f["out_zero_point"],
        "act_min": f["act_min"], "act_max": f["act_max"], "depth": depth,
        "weights": Const("int8_t", conv_weights_dsp(w2)),
        **_requant_fields(w2, bias, f["in_zero_point"], mult, shift, f["out_zero_point"]),
    }
    return KernelCall("tm_conv2d_s8_dsp", "dsp/conv2d_dsp.h", "tm_conv2d_dsp_params_t", call.op, fields,
                      macs=call.macs)


def depthwise_weights_dsp(w: np.ndarray) -> np.ndarray:
    """[taps][c] int8 (taps in [ky][kx] order) -> the int16 layout tm_depthwise_conv2d_s8_dsp reads: c
    zero-padded to a multiple of 4; per group of 4 channels and tap, channels c, c+2, c+1, c+3 (the halves
    SXTB16 and SXTB16 ROR 8 unpack from an input word of channels c..c+3)."""
    taps, c = w.shape
    padded = np.zeros((taps, -(-c // 4) * 4), np.int16)
    padded[:, :c] = w
    g = padded.reshape(taps, -1, 4)[:, :, [0, 2, 1, 3]]               # [tap][group][4]
    return np.ascontiguousarray(g.transpose(1, 0, 2)).reshape(-1)     # [group][tap][4]


def _depthwise(call: KernelCall) -> KernelCall | None:
    """Depth multiplier 1 (every depthwise layer of the zoo's DS-CNNs and MicroNets). Per channel, the
    weights widened to int16, the bias (zeros if none) and the bias with the input offset folded in for
    windows wholly inside the image; `bounded` and the records as for conv (each channel is a conv with taps
    inputs), the records' bias 2 * bias_inside (the 3x3 path's sums leave the input offset out)."""
    f = call.fields
    if f["depth_multiplier"] != 1:
        return None
    c = f["in_c"]
    w = np.asarray(f["weights"].data, np.int8).reshape(-1, c)         # [kh * kw][c]
    bias = np.asarray(f["bias"].data, np.int64) if f["bias"] is not None else np.zeros(c, np.int64)
    # bias + offset * sum w, wrapped to int32 like the kernel's sums (only its value modulo 2^32 matters)
    inside = (bias + int(f["in_zero_point"]) * w.astype(np.int64).sum(axis=0)).astype(np.uint64)
    keep = ("in_offset", "out_offset", "batches", "in_h", "in_w", "in_c", "out_h", "out_w", "kernel_h",
            "kernel_w", "stride_h", "stride_w", "dilation_h", "dilation_w", "pad_h", "pad_w", "in_zero_point",
            "out_zero_point", "act_min", "act_max", "multiplier", "shift")
    fields = {k: f[k] for k in keep}
    bias_arg = bias if f["bias"] is not None else None
    inside32 = (inside & 0xFFFFFFFF).astype(np.uint32).view(np.int32)
    rec = rq_records(w.T, bias_arg, f["in_zero_point"], f["multiplier"].data, f["shift"].data, f["out_zero_point"])
    if rec is not None:
        # the same value 2 * (sum + bias) from the inside sums: 2 * bias_inside, wrapped as the kernel wraps
        rec[:, RQ_FIELDS.index("bias2")] = (inside32.astype(np.uint32) << np.uint32(1)).view(np.int32)
    fields.update({
        "bounded": 2 if rec is not None else int(sums_bounded(w.T, bias_arg, f["in_zero_point"],
                                                              f["multiplier"].data, f["shift"].data)),
        "weights": Const("int16_t", depthwise_weights_dsp(w)),
        "bias": Const("int32_t", bias.astype(np.int32)),
        "bias_inside": Const("int32_t", inside32),
        "rq": Const("int32_t", rec) if rec is not None else None,
    })
    return KernelCall("tm_depthwise_conv2d_s8_dsp", "dsp/depthwise_conv2d_dsp.h",
                      "tm_depthwise_conv2d_dsp_params_t", call.op, fields, macs=call.macs)


def _average_pool(call: KernelCall) -> KernelCall | None:
    """Windows of at most 256 taps: the int16 halfword sums cannot overflow (|sum| <= 256 * 128)."""
    if call.fields["filter_h"] * call.fields["filter_w"] > 256:
        return None
    return KernelCall("tm_average_pool_2d_s8_dsp", "dsp/pooling_dsp.h", call.struct, call.op, call.fields,
                      macs=call.macs)


_RULES = {"tm_conv2d_s8": _conv2d, "tm_depthwise_conv2d_s8": _depthwise, "tm_fully_connected_s8": _fully_connected,
          "tm_average_pool_2d_s8": _average_pool}


def choose(call: KernelCall, kernels: str = "optimized") -> KernelCall:
    """The call to emit for this op: an optimized kernel where a rule takes the shape, else `call`."""
    if kernels not in KERNEL_SETS:
        raise ValueError(f"kernel set {kernels!r}: expected one of {', '.join(KERNEL_SETS)}")
    rule = _RULES.get(call.kernel) if kernels == "optimized" else None
    return (rule(call) if rule else None) or call
