"""RESIZE_NEAREST_NEIGHBOR (int8, float32: elements moved unchanged) and RESIZE_BILINEAR (int8 in 10-bit
fixed point, float32), NHWC, align_corners / half_pixel_centers as the options say.

TFLM's semantics (resize_nearest_neighbor.cc, resize_bilinear.cc and the reference kernels they call): a
4-D input, a constant int32 size [out_h, out_w] (TFLM refuses a computed one), both options never true
together. Which input rows and columns an output row or column reads, and with which weights, depends only
on the sizes and the options, so the planner computes them here once, with TFLM's arithmetic, into tables
the kernels read:
- nearest: scale = in / out, or (in - 1) / (out - 1) with align_corners (out > 1), in single precision;
  the source index is (i + offset) * scale in single precision (offset 0.5 with half_pixel_centers),
  rounded half away from zero with align_corners and floored otherwise, then clamped to in - 1 (and to 0
  with half_pixel_centers).
- bilinear int8 (TFLM's ResizeBilinearInteger, no float): scale_10 = (1024 in + out / 2) / out, or
  (1024 (in - 1) + (out - 1) / 2) / (out - 1) with align_corners, in integers; the source position in
  1/1024ths is i scale_10 (+ scale_10 / 2 - 512 with half_pixel_centers); its lower index is the position
  / 1024 truncated toward zero and at least 0, its upper index the position rounded up, at most in - 1,
  and the weights 1024 - w and w with w = position - 1024 lower (negative only in the first row or column
  of a half-pixel upscale, where both indices are 0). The kernel sums the four products in1 w_y w_x, each
  with the weight of its row and column, and divides by 2^20 rounding half away from zero; |sum| <= 128 *
  2048^2 = 2^29, so int32 holds it.
- bilinear float32 (TFLM's ResizeBilinear): the position i scale or (i + 0.5) scale - 0.5 in single
  precision, its floor (at least 0) and ceiling (at most in - 1), d = position - lower and 1 - d as floats;
  the kernel computes in00 (1-dy) (1-dx) + in10 dy (1-dx) + in01 (1-dy) dx + in11 dy dx + 0.0f in that
  order (the + 0.0f, TFLM's rounding offset for float, turns a -0.0 into +0.0).
int8 resizes do not requantize (TFLM copies or interpolates the raw values); the converter gives the input
and output the same scale and zero point."""
import math

import numpy as np

from harness.plan.kernel import Arena, Const, KernelCall
from harness.plan.model import Graph, ModelError, Op
from harness.plan.ops.dtypes import same_type_with_param
from harness.plan.quant import tfl_round

F32 = np.float32


def nearest_indices(in_size: int, out_size: int, align: bool, half: bool) -> list[int]:
    """TFLM's GetNearestNeighbor for every output index."""
    if align and out_size > 1:
        scale = F32(in_size - 1) / F32(out_size - 1)
    else:
        scale = F32(in_size) / F32(out_size)
    offset = F32(0.5) if half else F32(0.0)
    out = []
    for i in range(out_size):
        v = (F32(i) + offset) * scale
        j = min(tfl_round(float(v)) if align else math.floor(float(v)), in_size - 1)
        out.append(max(0, j) if half else j)
    return out


def bilinear_axis_int(in_size: int, out_size: int, align: bool, half: bool) -> list[tuple[int, int, int]]:
    """(lower, upper, w) per output index for the int8 kernel, in TFLM's integer arithmetic (C division
    truncates toward zero: int(a / b) on exact integers, never Python's floor //)."""
    def cdiv(a: int, b: int) -> int:
        q = abs(a) // abs(b)
        return q if (a >= 0) == (b > 0) else -q
    if align and out_size > 1:
        scale = cdiv(1024 * (in_size - 1) + cdiv(out_size - 1, 2), out_size - 1)
    else:
        scale = cdiv(1024 * in_size + cdiv(out_size, 2), out_size)
    rows = []
    for i in range(out_size):
        pos = i * scale + cdiv(scale, 2) - 512 if half else i * scale
        lo = max(cdiv(pos, 1024), 0)
        hi = min(cdiv(pos + 1023, 1024), in_size - 1)
        rows.append((lo, hi, pos - 1024 * lo))
    return rows


def bilinear_axis_float(in_size: int, out_size: int, align: bool, half: bool) -> list[tuple[int, int, F32]]:
    """(lower, upper, d) per output index for the float32 kernel, in single precision as TFLM."""
    if align and out_size > 1:
        scale = F32(in_size - 1) / F32(out_size - 1)
    else:
        scale = F32(in_size) / F32(out_size)
    rows = []
    for i in range(out_size):
        pos = (F32(i) + F32(0.5)) * scale - F32(0.5) if half else F32(i) * scale
        lo = max(int(math.floor(float(pos))), 0)
        hi = min(int(math.ceil(float(pos))), in_size - 1)
        rows.append((lo, hi, F32(pos - F32(lo))))
    return rows


def _check(g: Graph, op: Op) -> tuple:
    inp, size, out, where = same_type_with_param(g, op, "a size")
    if inp.is_constant:
        raise ModelError(f"{where}: resizing a constant (not folded by the converter) is not supported")
    if len(inp.shape) != 4:
        raise ModelError(f"{where}: a {len(inp.shape)}-D input; TFLM resizes 4-D NHWC tensors only")
    if not size.is_constant or size.dtype != np.int32 or size.data.size != 2:
        raise ModelError(f"{where}: the size must be a constant int32 [2] tensor (TFLM refuses a computed one)")
    out_h, out_w = (int(v) for v in size.data.reshape(-1))
    b, in_h, in_w, c = inp.shape
    if tuple(out.shape) != (b, out_h, out_w, c) or out_h < 1 or out_w < 1:
        raise ModelError(f"{where}: output {list(out.shape)} is not {list(inp.shape)} resized to {[out_h, out_w]}")
    align = bool(op.options.AlignCorners()) if op.options is not None else False
    half = bool(op.options.HalfPixelCenters()) if op.options is not None else False
    if align and half:
        raise ModelError(f"{where}: align_corners and half_pixel_centers together (TFLM refuses them)")
    return inp, out, where, align, half


def lower_nearest(g: Graph, op: Op) -> KernelCall:
    inp, out, where, align, half = _check(g, op)
    b, in_h, in_w, c = inp.shape
    _, out_h, out_w, _ = out.shape
    pixel = c * np.dtype(inp.dtype).itemsize
    rows = np.array([i * in_w * pixel for i in nearest_indices(in_h, out_h, align, half)], np.int32)
    cols = np.array([i * pixel for i in nearest_indices(in_w, out_w, align, half)], np.int32)
    return KernelCall("tm_resize_nearest", "resize.h", "tm_resize_nearest_params_t", op, {
        "in_offset": Arena(op.inputs[0]), "out_offset": Arena(op.outputs[0]),
        "batches": b, "in_batch_bytes": in_h * in_w * pixel, "out_h": out_h, "out_w": out_w,
        "pixel_bytes": pixel, "row_offset": Const("int32_t", rows), "col_offset": Const("int32_t", cols)})


def lower_bilinear(g: Graph, op: Op) -> KernelCall:
    inp, out, where, align, half = _check(g, op)
    b, in_h, in_w, c = inp.shape
    _, out_h, out_w, _ = out.shape
    fields: dict = {"in_offset": Arena(op.inputs[0]), "out_offset": Arena(op.outputs[0]),
                    "batches": b, "in_batch": in_h * in_w * c, "out_h": out_h, "out_w": out_w, "depth": c}
    if inp.dtype == np.float32:
        ys, xs = bilinear_axis_float(in_h, out_h, align, half), bilinear_axis_float(in_w, out_w, align, half)
        wtype, weights = "float", lambda d: (F32(1) - d, d)
        kernel, struct = "tm_resize_bilinear_f32", "tm_resize_bilinear_f32_params_t"
    else:
        ys, xs = bilinear_axis_int(in_h, out_h, align, half), bilinear_axis_int(in_w, out_w, align, half)
        wtype, weights = "int32_t", lambda w: (1024 - w, w)
        kernel, struct = "tm_resize_bilinear_s8", "tm_resize_bilinear_s8_params_t"
    for axis, size in ((ys, in_h), (xs, in_w)):
        # TFLM reads outside the input where a (pathological) upscale by more than ~2000 rounds the
        # fixed-point scale up past it: refused. Within the input, the int8 weights are in [-512, 1536].
        if not all(0 <= lo <= hi < size for lo, hi, _ in axis):
            raise ModelError(f"{where}: resizing {in_h}x{in_w} to {out_h}x{out_w} puts a source index outside "
                             "the input (TFLM's scale arithmetic); not supported")
    row_w = np.array([v for _, _, d in ys for v in weights(d)], np.float32 if wtype == "float" else np.int32)
    col_w = np.array([v for _, _, d in xs for v in weights(d)], np.float32 if wtype == "float" else np.int32)
    fields.update({
        "row_offset": Const("int32_t", np.array([v * in_w * c for lo, hi, _ in ys for v in (lo, hi)], np.int32)),
        "col_offset": Const("int32_t", np.array([v * c for lo, hi, _ in xs for v in (lo, hi)], np.int32)),
        "row_weight": Const(wtype, row_w), "col_weight": Const(wtype, col_w)})
    return KernelCall(kernel, "resize.h", struct, op, fields, macs=4 * int(np.prod(out.shape)))
