"""Patch-based inference (MCUNetV2, Lin et al., NeurIPS 2021): run the first stage of a CNN tile by tile.

The stage is the ops from the model's input up to a split op S. For each tile of S's output, the region of
every tensor the tile depends on is found by walking the stage backwards (kernel, stride, dilation and the
whole image's padding of each window op), and the stage's ops run again on tile-sized tensors: the same ops,
the same kernels, with padding only where a tile touches the image's border (Op.pads). Window copies
(harness/plan/ops/window_copy.py) cut each tile's input out of the model input, crop a tile for a consumer
that needs less of it than another, and paste S's tile into S's whole output; everything after S runs layer
by layer. The result is an ordinary graph, so the arena planner, the emitter, the host build and the
firmware take it as they take any model: peak SRAM is the planned arena, and exactness is checked like any
model's. Tiles overlap by their receptive fields' halos, which are computed again (the MAC overhead).

`candidates` tries every split and an n x n grid of tiles; `choose` takes the smallest arena within a MAC
overhead budget. docs/patch.md has the arithmetic."""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from harness.plan.lower import Lowered, lower
from harness.plan.model import Graph, ModelError, Op, Tensor
from harness.plan.ops.conv2d import same_valid_pads
from harness.plan.ops.window_copy import NAME as WINDOW_COPY, Region, WindowCopy

WINDOW_OPS = {"CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "MAX_POOL_2D", "PAD", "PADV2"}
PATCHABLE = WINDOW_OPS | {"ADD"}
GRIDS = range(2, 9)            # n x n tiles, as MCUNetV2's search (uneven last tiles allowed)
MAX_OVERHEAD = 0.15            # the default MAC overhead budget of the search (issue 17: --patch-overhead 15 %)


@dataclass(frozen=True)
class Split:
    op: int                    # index of the split op S in the model's graph
    grid: tuple[int, int]      # tiles down, tiles across S's output

    def __str__(self) -> str:
        return f"op{self.op}:{self.grid[0]}x{self.grid[1]}"

    @property
    def tag(self) -> str:
        """The split in a file name (firmware builds): no ':'."""
        return f"patch-{self.op}-{self.grid[0]}x{self.grid[1]}"

    @classmethod
    def parse(cls, text: str) -> "Split":
        """`op7:3x3` (the form __str__ writes)."""
        try:
            op, grid = text.split(":")
            gy, gx = grid.lower().split("x")
            if not op.startswith("op"):
                raise ValueError
            return cls(int(op[2:]), (int(gy), int(gx)))
        except ValueError:
            raise ModelError(f"patch split {text!r}: expected op<N>:<rows>x<cols>, e.g. op7:3x3") from None


@dataclass(frozen=True)
class _Window:
    kernel: tuple[int, int]
    stride: tuple[int, int]
    dilation: tuple[int, int]
    pads: tuple[int, int]       # the whole image's top / left padding


def _window(g: Graph, op: Op) -> _Window:
    inp, out = g.tensor(op.inputs[0]), g.tensor(op.outputs[0])
    o = op.options
    if op.name in ("PAD", "PADV2"):       # a 1x1 window whose padding is the op's own (the batch: none)
        paddings = g.tensor(op.inputs[1]).data
        if paddings is None or paddings.shape != (4, 2) or paddings[0].any():
            raise ModelError(f"op {op.index} {op.name}: not a constant spatial/channel padding of a 4-D tensor")
        return _Window((1, 1), (1, 1), (1, 1), (int(paddings[1, 0]), int(paddings[2, 0])))
    if op.name == "CONV_2D":
        kernel, dilation = g.tensor(op.inputs[1]).shape[1:3], (o.DilationHFactor(), o.DilationWFactor())
    elif op.name == "DEPTHWISE_CONV_2D":
        kernel, dilation = g.tensor(op.inputs[1]).shape[1:3], (o.DilationHFactor(), o.DilationWFactor())
    else:
        kernel, dilation = (o.FilterHeight(), o.FilterWidth()), (1, 1)
    stride = (o.StrideH(), o.StrideW())
    pads = same_valid_pads(f"op {op.index} {op.name}", o.Padding(), inp.shape[1:3], out.shape[1:3],
                           tuple(kernel), stride, dilation)
    return _Window(tuple(kernel), stride, dilation, pads)


def _need(win: _Window, size: tuple[int, int], out: Region) -> tuple[Region, tuple[int, int]]:
    """The input region a window op reads to compute `out`, and the padding the tile then has on top/left
    (what of the image's padding lies before the region; none at an inner tile border)."""
    spans, pads = [], []
    for axis, (o0, o1) in enumerate(((out.top, out.bottom), (out.left, out.right))):
        eff = (win.kernel[axis] - 1) * win.dilation[axis] + 1
        lo = o0 * win.stride[axis] - win.pads[axis]
        hi = (o1 - 1) * win.stride[axis] - win.pads[axis] + eff
        start, stop = max(lo, 0), min(hi, size[axis])
        spans.append((start, stop))
        pads.append(start - lo)
    return Region(*spans[0], *spans[1]), (pads[0], pads[1])


def _spans(n: int, parts: int) -> list[tuple[int, int]]:
    """`parts` near-equal spans of range(n), the larger ones first."""
    edges = np.cumsum([0] + [n // parts + (1 if i < n % parts else 0) for i in range(parts)])
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]


def _spatial(t: Tensor) -> bool:
    return len(t.shape) == 4 and t.shape[0] == 1 and not t.is_constant


def stage_ends(g: Graph) -> list[int]:
    """Every op index S for which ops 0..S form a stage that can run tile by tile: window ops and
    same-shape ADDs on batch-1 NHWC tensors, fed only by the model input and each other, with only S's
    output read after S."""
    ends: list[int] = []
    produced = {g.inputs[0]}
    if not _spatial(g.tensor(g.inputs[0])):
        return ends
    for s, op in enumerate(g.ops):
        if op.name not in PATCHABLE or len(op.outputs) != 1 or not _spatial(g.tensor(op.outputs[0])):
            break
        data = op.inputs[:2] if op.name == "ADD" else op.inputs[:1]
        if any(t not in produced for t in data) or (op.name == "ADD" and any(
                g.tensor(t).shape != g.tensor(op.outputs[0]).shape for t in data)):
            break
        try:
            if op.name in WINDOW_OPS:
                _window(g, op)
        except (ModelError, AttributeError):     # an op the lowering will refuse (AttributeError: no options)
            break
        produced.add(op.outputs[0])
        later = {t for o in g.ops[s + 1:] for t in o.inputs} | set(g.outputs)
        if not (produced - {op.outputs[0]}) & later:
            ends.append(s)
    return ends


def patch_graph(g: Graph, split: Split) -> Graph:
    """The graph with ops 0..split.op run tile by tile (module docstring)."""
    if split.op not in stage_ends(g):
        raise ModelError(f"patch split {split}: ops 0..{split.op} are not a stage that can run in tiles "
                         f"(splits possible: {', '.join(f'op{s}' for s in stage_ends(g)) or 'none'})")
    stage, rest = g.ops[:split.op + 1], g.ops[split.op + 1:]
    s_out = stage[-1].outputs[0]
    _, height, width, _ = g.tensor(s_out).shape
    if not (1 <= split.grid[0] <= height and 1 <= split.grid[1] <= width):
        raise ModelError(f"patch split {split}: S's output is {height}x{width}, too small for that grid")
    tensors, ops = list(g.tensors), []

    def tile_tensor(t: int, region: Region, tag: str) -> int:
        orig = g.tensor(t)
        tensors.append(replace(orig, index=len(tensors), name=f"{orig.name}@{tag}{region}",
                               shape=(1, region.height, region.width, orig.shape[3]), data=None))
        return len(tensors) - 1

    def copy(src: int, src_region: Region, dst: int, dst_region: Region, window: Region) -> None:
        ops.append(Op(len(ops), WINDOW_COPY, [src], [dst], WindowCopy(src_region, dst_region, window)))

    def whole(t: int) -> Region:
        return Region(0, g.tensor(t).shape[1], 0, g.tensor(t).shape[2])

    windows = {op.index: _window(g, op) for op in stage if op.name in WINDOW_OPS}
    for k, (rows, cols) in enumerate((r, c) for r in _spans(height, split.grid[0]) for c in _spans(width, split.grid[1])):
        regions: dict[int, Region] = {s_out: Region(*rows, *cols)}
        needs: dict[tuple[int, int], Region] = {}
        pads: dict[int, tuple[int, int]] = {}
        for op in reversed(stage):
            out = regions[op.outputs[0]]
            if op.name in WINDOW_OPS:
                need, pads[op.index] = _need(windows[op.index], g.tensor(op.inputs[0]).shape[1:3], out)
                inputs = [(0, need)]
            else:                                           # ADD: both operands over the same region
                inputs = [(0, out), (1, out)]
            for pos, need in inputs:
                t = op.inputs[pos]
                needs[(op.index, pos)] = need
                regions[t] = need.union(regions.get(t))
        tile = {t: tile_tensor(t, r, f"t{k}") for t, r in regions.items()}
        copy(g.inputs[0], whole(g.inputs[0]), tile[g.inputs[0]], regions[g.inputs[0]], regions[g.inputs[0]])
        for op in stage:
            inputs = list(op.inputs)
            for pos in ((0, 1) if op.name == "ADD" else (0,)):
                t, need = op.inputs[pos], needs[(op.index, pos)]
                inputs[pos] = tile[t]
                if need != regions[t]:                      # another consumer needs more of t: crop
                    inputs[pos] = tile_tensor(t, need, f"t{k}crop")
                    copy(tile[t], regions[t], inputs[pos], need, need)
            ops.append(Op(len(ops), op.name, inputs, [tile[op.outputs[0]]], op.options, pads.get(op.index)))
        copy(tile[s_out], regions[s_out], s_out, whole(s_out), regions[s_out])
    ops += [replace(op, index=len(ops) + i) for i, op in enumerate(rest)]
    return Graph(g.path, tensors, ops, g.inputs, g.outputs, g.size_bytes, g.description, [o.name for o in ops])


@dataclass(frozen=True)
class Candidate:
    split: Split | None        # None: layer by layer
    arena: int                 # planned arena bytes, the model input in it and kept whole (plan())
    macs: int
    overhead: float            # MACs over layer by layer's, minus one

    def __str__(self) -> str:
        return str(self.split) if self.split else "layer by layer"


def plan(g: Graph, split: Split | None, kernels: str = "optimized") -> Lowered:
    """The plan of a split (None: layer by layer), keeping the input whole: the firmware then downloads
    straight into the input tensor, with no buffer of its own (emit.py), so the arena is the data's whole
    peak SRAM. A patched stage reads the input until its last tile anyway."""
    return lower(patch_graph(g, split) if split else g, kernels, keep_input=True)


def candidates(g: Graph, grids=GRIDS, max_overhead: float | None = None) -> list[Candidate]:
    """Layer by layer first, then every split with every n x n grid its output allows. With `max_overhead`,
    a split's finer grids are not tried once one exceeds it (finer grids only recompute more halo)."""
    base = plan(g, None)
    out = [Candidate(None, base.plan.arena_bytes, base.macs, 0.0)]
    for s in stage_ends(g):
        _, h, w, _ = g.tensor(g.ops[s].outputs[0]).shape
        for n in (n for n in grids if n <= min(h, w)):
            low = plan(g, Split(s, (n, n)))
            out.append(Candidate(Split(s, (n, n)), low.plan.arena_bytes, low.macs, low.macs / base.macs - 1))
            if max_overhead is not None and out[-1].overhead > max_overhead:
                break
    return out


def pareto(cands: list[Candidate]) -> list[Candidate]:
    """The candidates no other beats on both arena and MACs, by arena; of equals, the first (layer by layer
    before any split that changes nothing)."""
    front: list[Candidate] = []
    for c in cands:
        if not any(o.arena <= c.arena and o.macs <= c.macs and (o.arena, o.macs) != (c.arena, c.macs)
                   for o in cands) and all((o.arena, o.macs) != (c.arena, c.macs) for o in front):
            front.append(c)
    return sorted(front, key=lambda c: (c.arena, c.macs))


def choose(cands: list[Candidate], max_overhead: float = MAX_OVERHEAD) -> Candidate:
    """The smallest arena within the MAC overhead budget (layer by layer is always within it)."""
    return min((c for c in cands if c.overhead <= max_overhead), key=lambda c: (c.arena, c.macs))


def select(g: Graph, patch: str, max_overhead: float = MAX_OVERHEAD) -> Split | None:
    """What `--patch` names: `auto`, the search's choice (None when no split beats layer by layer), or a
    split as written (op7:3x3). Raises ModelError for a malformed split."""
    if patch == "auto":
        return choose(candidates(g, max_overhead=max_overhead), max_overhead).split
    return Split.parse(patch)
