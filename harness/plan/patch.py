"""Patch-based inference (MCUNetV2, Lin et al., NeurIPS 2021): run the first stage of a CNN tile by tile.

The stage is the ops from the model's input up to a split op S. For each tile of S's output, the region of
every tensor the tile depends on is found by walking the stage backwards (kernel, stride, dilation and the
whole image's padding of each window op), and the stage's ops run again on tile-sized tensors: the same ops,
the same kernels, with padding only where a tile touches the image's border (Op.pads). Window copies
(harness/plan/ops/window_copy.py) cut each tile's input out of the model input, crop a tile for a consumer
that needs less of it than another, and paste S's tile into S's whole output; everything after S runs layer
by layer. The result is an ordinary graph, so the arena planner, the emitter, the host build and the
firmware take it as they take any model: peak SRAM is the planned arena, and exactness is checked like any
model's. Tiles overlap by their receptive fields' halos, which are computed again (the MAC overhead), or,
for the rows, kept in a small cache (Split.cache; harness/plan/tiling.py builds the tiles).

`candidates` tries every split with R x C grids of tiles in both modes; `choose` takes the smallest arena
within a MAC overhead budget. docs/patch.md has the arithmetic."""
from __future__ import annotations

from dataclasses import dataclass

from harness.plan.lower import Lowered, arena_without_input, live_bytes, lower
from harness.plan.model import Graph, ModelError, Tensor
from harness.plan.tiling import WINDOW_OPS, tile_graph, window as _window
PATCHABLE = WINDOW_OPS | {"ADD"}
GRIDS = range(2, 9)            # n x n tiles, as MCUNetV2's search (uneven last tiles allowed)
CACHE_ROWS = (2, 4, 8, 16, 32) # rows of tiles with the halo cache (thin tiles cost no MACs there)...
CACHE_COLS = (1, 2, 3, 4)      # ... and columns (their halo is computed again)
MAX_OVERHEAD = 0.15            # the default MAC overhead budget of the search (issue 17: --patch-overhead 15 %)


@dataclass(frozen=True)
class Split:
    op: int                    # index of the split op S in the model's graph
    grid: tuple[int, int]      # tiles down, tiles across S's output
    cache: bool = False        # the rows' halo kept in a cache instead of computed again (tiling.py)

    def __str__(self) -> str:
        return f"op{self.op}:{self.grid[0]}x{self.grid[1]}{':cache' if self.cache else ''}"

    @property
    def tag(self) -> str:
        """The split in a file name (firmware builds): no ':'."""
        return f"patch-{self.op}-{self.grid[0]}x{self.grid[1]}{'-cache' if self.cache else ''}"

    @classmethod
    def parse(cls, text: str) -> "Split":
        """`op7:3x3`, or `op7:8x2:cache` for the halo cache (the forms __str__ writes)."""
        try:
            op, grid, *mode = text.split(":")
            gy, gx = grid.lower().split("x")
            if not op.startswith("op") or mode not in ([], ["cache"]):
                raise ValueError
            return cls(int(op[2:]), (int(gy), int(gx)), bool(mode))
        except ValueError:
            raise ModelError(f"patch split {text!r}: expected op<N>:<rows>x<cols>[:cache], e.g. op7:3x3") from None


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
    """The graph with ops 0..split.op run tile by tile (module docstring; harness/plan/tiling.py)."""
    if split.op not in stage_ends(g):
        raise ModelError(f"patch split {split}: ops 0..{split.op} are not a stage that can run in tiles "
                         f"(splits possible: {', '.join(f'op{s}' for s in stage_ends(g)) or 'none'})")
    _, height, width, _ = g.tensor(g.ops[split.op].outputs[0]).shape
    if not (1 <= split.grid[0] <= height and 1 <= split.grid[1] <= width):
        raise ModelError(f"patch split {split}: S's output is {height}x{width}, too small for that grid")
    return tile_graph(g, split.op, split.grid, split.cache)


@dataclass(frozen=True)
class Candidate:
    split: Split | None        # None: layer by layer
    arena: int                 # planned arena bytes, the model input in it and kept whole (plan())
    macs: int
    overhead: float            # MACs over layer by layer's, minus one
    streamed: int | None = None   # the arena with the model input streamed from outside it (MCUNetV2's)

    def __str__(self) -> str:
        return str(self.split) if self.split else "layer by layer"

    @property
    def tiles(self) -> int:
        return self.split.grid[0] * self.split.grid[1] if self.split else 1


def plan(g: Graph, split: Split | None, kernels: str = "optimized") -> Lowered:
    """The plan of a split (None: layer by layer), keeping the input whole: the firmware then downloads
    straight into the input tensor, with no buffer of its own (emit.py), so the arena is the data's whole
    peak SRAM. A patched stage reads the input until its last tile anyway."""
    return lower(patch_graph(g, split) if split else g, kernels, keep_input=True)


def _candidate(g: Graph, split: Split | None, base_macs: int | None = None) -> Candidate:
    low = plan(g, split)
    return Candidate(split, low.plan.arena_bytes, low.macs, low.macs / (base_macs or low.macs) - 1,
                     arena_without_input(low))


def _grids(g: Graph, s: int, grids, cache_rows, cache_cols):
    """The grids tried for split s, in families of the same mode, each in the order of its MACs: with the
    rows' halo cached, each number of columns (its MACs: rows are never computed twice; one column computes
    nothing twice) with every number of rows (fewer bytes per tile, more tiles); then n x n with the halo
    computed again."""
    _, h, w, _ = g.tensor(g.ops[s].outputs[0]).shape
    for c in (c for c in cache_cols if c <= w):
        yield [Split(s, (r, c), cache=True) for r in sorted({min(r, h) for r in cache_rows}) if r * c > 1]
    yield [Split(s, (n, n)) for n in grids if n <= min(h, w)]


def candidates(g: Graph, grids=GRIDS, max_overhead: float | None = None, cache_rows=CACHE_ROWS,
               cache_cols=CACHE_COLS) -> list[Candidate]:
    """Layer by layer first, then every split with every grid of both modes its output allows (_grids).
    With `max_overhead`, what cannot win is not planned: a split none of whose plans can be smaller than
    one already found within the budget (its bound: the most bytes live at one step after it, layer by
    layer, which every plan of that split has too; splits are tried from the lowest bound), finer grids of
    a mode once one exceeds the budget (they only recompute more halo), and a split's other grids once one
    reaches its bound."""
    base = plan(g, None)
    out = [Candidate(None, base.plan.arena_bytes, base.macs, 0.0, arena_without_input(base))]
    live = live_bytes(base)
    bound = {s: max(live[s + 1:], default=0) for s in stage_ends(g)}
    best = out[0].arena
    pruning = max_overhead is not None
    for s in sorted(bound, key=lambda s: (bound[s], s)) if pruning else bound:
        if pruning and bound[s] >= best:
            continue
        cache_over = False                  # a cache family exceeded the budget: more columns would too
        for family in _grids(g, s, grids, cache_rows, cache_cols):
            if cache_over and family and family[0].cache:
                continue
            for split in family:
                c = _candidate(g, split, base.macs)
                out.append(c)
                if pruning and c.overhead <= max_overhead:
                    best = min(best, c.arena)
                if pruning and (c.overhead > max_overhead or c.arena <= bound[s]):
                    break
            if not pruning or not family:
                continue
            if out[-1].arena <= bound[s] and out[-1].overhead <= max_overhead:
                break                       # nothing of this split is smaller (cache families come first)
            cache_over = out[-1].split.cache and out[-1].overhead > max_overhead
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
    """The smallest arena within the MAC overhead budget (layer by layer is always within it); of equals,
    the fewest MACs, then the fewest tiles (fewer kernel calls and copies: fewer cycles, less flash)."""
    return min((c for c in cands if c.overhead <= max_overhead), key=lambda c: (c.arena, c.macs, c.tiles))


def select(g: Graph, patch: str, max_overhead: float = MAX_OVERHEAD) -> Split | None:
    """What `--patch` names: `auto`, the search's choice (None when no split beats layer by layer), or a
    split as written (op7:3x3). Raises ModelError for a malformed split."""
    if patch == "auto":
        return choose(candidates(g, max_overhead=max_overhead), max_overhead).split
    return Split.parse(patch)
