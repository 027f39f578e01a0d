"""The window copy of patch-based plans (harness/plan/patch.py): a rectangle of pixels (all channels) moved
between two arena tensors, each of which holds a region of one whole NHWC tensor. No .tflite names this op;
only patched graphs contain it. The kernel (firmware/kernels/window_copy.c) copies rows; the offsets and
strides are worked out here.

The view of patched graphs: a tensor holding some whole-width rows of another tile tensor, which are
contiguous bytes inside it, so it is an alias at an offset (no kernel, no bytes of its own): a kernel writes
a tile's newly computed rows below the rows a halo cache restored, or reads the rows it needs of a tile
another consumer needs more of."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.plan.kernel import Arena, KernelCall
from harness.plan.memory import Alias
from harness.plan.model import Graph, ModelError, Op

NAME = "_WINDOW_COPY"
VIEW = "_VIEW"


@dataclass(frozen=True)
class Region:
    """Rows [top, bottom) and columns [left, right) of a whole tensor's image."""
    top: int
    bottom: int
    left: int
    right: int

    @property
    def height(self) -> int:
        return self.bottom - self.top

    @property
    def width(self) -> int:
        return self.right - self.left

    def union(self, other: "Region | None") -> "Region":
        if other is None:
            return self
        return Region(min(self.top, other.top), max(self.bottom, other.bottom),
                      min(self.left, other.left), max(self.right, other.right))

    def intersect(self, other: "Region") -> "Region | None":
        r = Region(max(self.top, other.top), min(self.bottom, other.bottom),
                   max(self.left, other.left), min(self.right, other.right))
        return r if r.height > 0 and r.width > 0 else None

    @property
    def empty(self) -> bool:
        return self.height <= 0 or self.width <= 0

    def inside(self, other: "Region") -> bool:
        return (other.top <= self.top and self.bottom <= other.bottom
                and other.left <= self.left and self.right <= other.right)

    def __str__(self) -> str:
        return f"[{self.top}:{self.bottom}, {self.left}:{self.right}]"


@dataclass(frozen=True)
class WindowCopy:
    """The options of a window copy: which region of the whole tensor the source and the destination hold,
    and the window (inside both) to copy."""
    src: Region
    dst: Region
    window: Region


def lower(g: Graph, op: Op) -> KernelCall:
    src, dst = g.tensor(op.inputs[0]), g.tensor(op.outputs[0])
    wc: WindowCopy = op.options
    where = f"op {op.index} window copy {src.name!r} -> {dst.name!r}"
    if not (wc.window.inside(wc.src) and wc.window.inside(wc.dst)):
        raise ModelError(f"{where}: window {wc.window} is not inside {wc.src} and {wc.dst}")
    if src.dtype != dst.dtype or src.shape[3] != dst.shape[3] or (src.shape[1:3], dst.shape[1:3]) != (
            (wc.src.height, wc.src.width), (wc.dst.height, wc.dst.width)):
        raise ModelError(f"{where}: tensors {list(src.shape)} / {list(dst.shape)} do not hold {wc.src} / {wc.dst}")
    pixel = src.shape[3] * np.dtype(src.dtype).itemsize
    rows, row_bytes = wc.window.height, wc.window.width * pixel
    src_stride, dst_stride = wc.src.width * pixel, wc.dst.width * pixel
    if row_bytes == src_stride == dst_stride:      # whole rows on both sides: one contiguous block
        rows, row_bytes = 1, rows * row_bytes
    at = lambda held: ((wc.window.top - held.top) * held.width + wc.window.left - held.left) * pixel  # noqa: E731
    return KernelCall("tm_window_copy", "window_copy.h", "tm_window_copy_params_t", op, {
        "src_offset": Arena(op.inputs[0], at(wc.src)), "dst_offset": Arena(op.outputs[0], at(wc.dst)),
        "src_stride": src_stride, "dst_stride": dst_stride, "rows": rows, "row_bytes": row_bytes})


@dataclass(frozen=True)
class View:
    """The options of a view: the regions the whole tensor's source (the tile buffer) and target hold; the
    target is whole-width rows of the source."""
    src: Region
    dst: Region


def lower_view(g: Graph, op: Op) -> Alias:
    src, dst = g.tensor(op.inputs[0]), g.tensor(op.outputs[0])
    v: View = op.options
    where = f"op {op.index} view {src.name!r} -> {dst.name!r}"
    if (v.dst.left, v.dst.right) != (v.src.left, v.src.right) or not v.dst.inside(v.src):
        raise ModelError(f"{where}: {v.dst} is not whole rows of {v.src}")
    if src.dtype != dst.dtype or src.shape[3] != dst.shape[3] or (src.shape[1:3], dst.shape[1:3]) != (
            (v.src.height, v.src.width), (v.dst.height, v.dst.width)):
        raise ModelError(f"{where}: tensors {list(src.shape)} / {list(dst.shape)} do not hold {v.src} / {v.dst}")
    row = v.src.width * src.shape[3] * np.dtype(src.dtype).itemsize
    return Alias(source=op.inputs[0], target=op.outputs[0], offset=(v.dst.top - v.src.top) * row)
