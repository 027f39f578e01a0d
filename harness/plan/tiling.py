"""The tiles of a patch-based plan (harness/plan/patch.py): which region of every tensor of the stage each
tile holds and computes, and the graph that runs them.

Recompute (MCUNetV2): every tile computes all it needs of every tensor, the halo it shares with its
neighbours included. Halo cache (StreamNet, msf-CNN), rows only: tiles run down each column of the grid, and
the rows of a tensor the tile above already computed are kept in a small cache tensor instead of computed
again; the tile computes only the rows below them, written by the same kernel straight under the restored
rows in the tile's buffer (a view, harness/plan/ops/window_copy.py). The columns' halos are still computed
again. Either way every op runs on tile-sized tensors with the same kernels; only shapes, padding at the
image's border (Op.pads) and the copies differ. docs/patch.md has the arithmetic."""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from harness.plan.model import Graph, ModelError, Op, Tensor
from harness.plan.ops.conv2d import same_valid_pads
from harness.plan.ops.window_copy import NAME as WINDOW_COPY, VIEW, Region, View, WindowCopy

WINDOW_OPS = {"CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "MAX_POOL_2D", "PAD", "PADV2"}


@dataclass(frozen=True)
class Window:
    kernel: tuple[int, int]
    stride: tuple[int, int]
    dilation: tuple[int, int]
    pads: tuple[int, int]       # the whole image's top / left padding


def window(g: Graph, op: Op) -> Window:
    inp, out = g.tensor(op.inputs[0]), g.tensor(op.outputs[0])
    o = op.options
    if op.name in ("PAD", "PADV2"):       # a 1x1 window whose padding is the op's own (the batch: none)
        paddings = g.tensor(op.inputs[1]).data
        if paddings is None or paddings.shape != (4, 2) or paddings[0].any():
            raise ModelError(f"op {op.index} {op.name}: not a constant spatial/channel padding of a 4-D tensor")
        return Window((1, 1), (1, 1), (1, 1), (int(paddings[1, 0]), int(paddings[2, 0])))
    if op.name in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        kernel, dilation = g.tensor(op.inputs[1]).shape[1:3], (o.DilationHFactor(), o.DilationWFactor())
    else:
        kernel, dilation = (o.FilterHeight(), o.FilterWidth()), (1, 1)
    stride = (o.StrideH(), o.StrideW())
    pads = same_valid_pads(f"op {op.index} {op.name}", o.Padding(), inp.shape[1:3], out.shape[1:3],
                           tuple(kernel), stride, dilation)
    return Window(tuple(kernel), stride, dilation, pads)


def need(win: Window, size: tuple[int, int], out: Region) -> tuple[Region, tuple[int, int]]:
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


def spans(n: int, parts: int) -> list[tuple[int, int]]:
    """`parts` near-equal spans of range(n), the larger ones first."""
    edges = np.cumsum([0] + [n // parts + (1 if i < n % parts else 0) for i in range(parts)])
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]


@dataclass
class _Tile:
    """One tile's walk: the region of each tensor its buffer holds, of each op's output it computes (ops
    whose output rows are all cached do not run), what each op input reads, each op's padding."""
    out: Region
    hold: dict[int, Region] = field(default_factory=dict)
    comp: dict[int, Region] = field(default_factory=dict)
    needs: dict[tuple[int, int], Region] = field(default_factory=dict)
    pads: dict[int, tuple[int, int]] = field(default_factory=dict)


def _touch_input(win: Window, size: tuple[int, int], out: Region) -> Region:
    """A PAD's output region, grown toward the image until it holds at least one row and column of the input:
    a region of padding alone would read an input of no rows, which no tensor can be. The extra rows are
    the same values computed again."""
    (top, bottom), (left, right) = [
        (min(o0, p + n - 1), max(o1, p + 1)) for (o0, o1), p, n in
        (((out.top, out.bottom), win.pads[0], size[0]), ((out.left, out.right), win.pads[1], size[1]))]
    return Region(top, bottom, left, right)


def _reads(op: Op) -> tuple[int, ...]:
    return (0, 1) if op.name == "ADD" else (0,)


def _walk(g: Graph, stage: list[Op], windows: dict[int, Window], out: Region,
          columns: dict[int, Region] | None, done: dict[int, int] | None) -> _Tile:
    """Backwards from S's tile. `done`: for the halo cache, the rows [0, done[t]) of each tensor the tiles
    above in this column computed (None: recompute everything); `columns`: each tensor's columns in this
    column of tiles (the recompute walk's), so that every tile of a column holds the same columns."""
    tile = _Tile(out)
    s_out = stage[-1].outputs[0]
    for op in reversed(stage):
        t = op.outputs[0]
        if t == s_out:
            comp = out
        elif t not in tile.hold:
            continue                                # no consumer ran in this tile: nor does this op
        else:
            hold = tile.hold[t]
            if columns is not None:
                hold = Region(hold.top, hold.bottom, columns[t].left, columns[t].right)
            if done is not None and hold.top < done.get(t, 0):
                # the buffer reaches down to the last row computed so far, so that the cache it leaves
                # for the next tile has every row from the next tile's top on
                hold = Region(hold.top, max(hold.bottom, done[t]), hold.left, hold.right)
            tile.hold[t] = hold
            top = max(hold.top, done.get(t, 0)) if done is not None else hold.top
            if top >= hold.bottom:
                continue                            # every row it needs is in the cache
            comp = Region(top, hold.bottom, hold.left, hold.right)
        if op.name in ("PAD", "PADV2"):
            comp = _touch_input(windows[op.index], g.tensor(op.inputs[0]).shape[1:3], comp)
            if t in tile.hold or not comp.inside(out):
                tile.hold[t] = comp.union(tile.hold.get(t))
        tile.comp[t] = comp
        if op.name in WINDOW_OPS:
            region, tile.pads[op.index] = need(windows[op.index], g.tensor(op.inputs[0]).shape[1:3], comp)
            if region.empty:
                raise ModelError(f"op {op.index} {op.name}: tile {comp} of its output reads no input")
            reads = [(0, region)]
        else:                                       # ADD: both operands over the same region
            reads = [(0, comp), (1, comp)]
        for pos, region in reads:
            u = op.inputs[pos]
            tile.needs[(op.index, pos)] = region
            tile.hold[u] = region.union(tile.hold.get(u))
    u = g.inputs[0]
    if columns is not None and u in tile.hold:      # (not held: every row this tile needs is cached)
        tile.hold[u] = Region(tile.hold[u].top, tile.hold[u].bottom, columns[u].left, columns[u].right)
    return tile


def tile_graph(g: Graph, s: int, grid: tuple[int, int], cache: bool) -> Graph:
    """The graph with ops 0..s run tile by tile on a grid of tiles of s's output (rows x columns), with the
    rows' halo cached (`cache`) or computed again."""
    stage, rest = g.ops[:s + 1], g.ops[s + 1:]
    s_out = stage[-1].outputs[0]
    _, height, width, _ = g.tensor(s_out).shape
    windows = {op.index: window(g, op) for op in stage if op.name in WINDOW_OPS}
    rows, cols = spans(height, grid[0]), spans(width, grid[1])
    # Recompute: row by row of tiles. Cache: down each column, so one cache per tensor is live at a time.
    order = [(c, r) for c in cols for r in rows] if cache else [(c, r) for r in rows for c in cols]
    tiles: list[_Tile] = []
    done: dict[int, int] = {}
    for c, r in order:
        out = Region(*r, *c)
        if not cache:
            tiles.append(_walk(g, stage, windows, out, None, None))
            continue
        if r == rows[0]:
            done = {}
        full = _walk(g, stage, windows, out, None, None).hold
        tiles.append(_walk(g, stage, windows, out, full, done))
        done.update({t: region.bottom for t, region in tiles[-1].comp.items()})
    b = _Builder(g)
    caches: dict[int, tuple[int, Region]] = {}     # tensor -> its cache tensor and the region it holds
    for k, tile in enumerate(tiles):
        if cache and tile.out.top == 0:
            caches = {}
        nxt = _next_holds(tiles, k) if cache else {}
        b.run_tile(stage, tile, k, caches, nxt)
        b.copy(b.tile[s_out], tile.hold.get(s_out, tile.out), s_out, b.whole(s_out), tile.out)
    ops = b.ops + [replace(op, index=len(b.ops) + i) for i, op in enumerate(rest)]
    return Graph(g.path, b.tensors, ops, g.inputs, g.outputs, g.size_bytes, g.description, [o.name for o in ops])


def _next_holds(tiles: list[_Tile], k: int) -> dict[int, Region]:
    """For each tensor, what the next tile of the same column that holds it holds (its cache's target)."""
    out: dict[int, Region] = {}
    for later in tiles[k + 1:]:
        if later.out.top == 0 or later.out.left != tiles[k].out.left:
            break
        for t, region in later.hold.items():
            out.setdefault(t, region)
    return out


class _Builder:
    """The patched graph's tensors and ops, appended tile by tile."""

    def __init__(self, g: Graph):
        self.g, self.tensors, self.ops = g, list(g.tensors), []
        self.tile: dict[int, int] = {}

    def whole(self, t: int) -> Region:
        return Region(0, self.g.tensor(t).shape[1], 0, self.g.tensor(t).shape[2])

    def tensor(self, t: int, region: Region, tag: str) -> int:
        orig: Tensor = self.g.tensor(t)
        self.tensors.append(replace(orig, index=len(self.tensors), name=f"{orig.name}@{tag}{region}",
                                    shape=(1, region.height, region.width, orig.shape[3]), data=None))
        return len(self.tensors) - 1

    def copy(self, src: int, src_region: Region, dst: int, dst_region: Region, win: Region) -> None:
        self.ops.append(Op(len(self.ops), WINDOW_COPY, [src], [dst], WindowCopy(src_region, dst_region, win)))

    def view(self, t: int, held: Region, rows: Region, tag: str) -> int:
        """Whole rows `rows` of the tile buffer of t, which holds `held`: the same bytes, no copy."""
        v = self.tensor(t, rows, tag)
        self.ops.append(Op(len(self.ops), VIEW, [self.tile[t]], [v], View(held, rows)))
        return v

    def read(self, t: int, held: Region, region: Region, tag: str) -> int:
        """A tensor holding `region` of t for a kernel to read: the tile buffer itself, whole rows of it
        (a view), or a crop (a copy: a consumer that needs fewer columns than another)."""
        if region == held:
            return self.tile[t]
        if (region.left, region.right) == (held.left, held.right):
            return self.view(t, held, region, tag)
        crop = self.tensor(t, region, tag)
        self.copy(self.tile[t], held, crop, region, region)
        return crop

    def run_tile(self, stage: list[Op], tile: _Tile, k: int, caches: dict[int, tuple[int, Region]],
                 nxt: dict[int, Region]) -> None:
        x = self.g.inputs[0]
        self.tile = {t: self.tensor(t, region, f"t{k}") for t, region in tile.hold.items()}
        s_out = stage[-1].outputs[0]
        if s_out not in tile.hold:
            self.tile[s_out] = self.tensor(s_out, tile.out, f"t{k}")
        if x in tile.hold:
            self.copy(x, self.whole(x), self.tile[x], tile.hold[x], tile.hold[x])
        last = {}                                   # tensor -> the last op of the stage reading it here
        for op in stage:
            if op.outputs[0] in tile.comp:
                last.update({op.inputs[p]: op.index for p in _reads(op)})
        for op in stage:
            t = op.outputs[0]
            held = tile.hold.get(t, tile.out)
            if t in caches and t in tile.hold:      # the rows the tiles above computed, restored
                cached, region = caches.pop(t)
                self.copy(cached, region, self.tile[t], held, region.intersect(held))
            if t in tile.comp:
                inputs = list(op.inputs)
                for p in _reads(op):
                    u = op.inputs[p]
                    inputs[p] = self.read(u, tile.hold[u], tile.needs[(op.index, p)], f"t{k}in{op.index}.")
                comp = tile.comp[t]
                out = self.tile[t] if comp == held else self.view(t, held, comp, f"t{k}new")
                self.ops.append(Op(len(self.ops), op.name, inputs, [out], op.options, tile.pads.get(op.index)))
            for u in [u for u, i in last.items() if i == op.index]:
                self._save(u, tile, k, caches, nxt)

    def _save(self, t: int, tile: _Tile, k: int, caches: dict[int, tuple[int, Region]],
              nxt: dict[int, Region]) -> None:
        """Keep the rows of t the next tile of this column holds that this one has (after its last reader
        here, so the tile buffer is free from then on)."""
        if t == self.g.inputs[0] or t not in nxt:
            return
        held, later = tile.hold[t], nxt[t]
        if later.top >= held.bottom:
            return                                  # no overlap: nothing to keep
        if later.top < held.top:
            raise ModelError(f"internal: halo cache of {self.g.tensor(t).name!r} needs rows above the tile's")
        region = Region(later.top, held.bottom, held.left, held.right)
        cached = self.tensor(t, region, f"t{k}cache")
        self.copy(self.tile[t], held, cached, region, region)
        caches[t] = (cached, region)
