"""Lower a graph to kernel calls: fold what is known at plan time into constants (harness/plan/fold.py),
check every other op is one we run, compute its parameters offline, and plan the arena over the tensors'
lifetimes."""
from __future__ import annotations

from dataclasses import dataclass, field

from harness.errors import HarnessError
from harness.plan.fold import fold, is_folded
from harness.plan.kernel import KernelCall
from harness.plan.memory import Alias, GreedyPlanner, Plan
from harness.plan.model import Graph, ModelError, Tensor
from harness.plan.optimize import choose
from harness.plan.ops import LOWERINGS

SCRATCH = -1   # planner key base for kernel scratch buffers: -1 - call index (index into Lowered.calls)


@dataclass
class Lowered:
    graph: Graph
    calls: list[KernelCall]        # ops that need no kernel (aliases, folded constants) have no call
    plan: Plan
    inputs: list[int]              # the model's input and output tensors, in the graph's order: every
    outputs: list[int]             # caller loads all the inputs and reads (compares) all the outputs
    keep_input: bool = False       # the inputs live through the whole inference (the download lands in one)
    aliases: list[Alias] = field(default_factory=list)   # what the plan shares (arena_without_input re-plans)

    @property
    def macs(self) -> int:
        return sum(c.macs for c in self.calls)

    @property
    def input_tensors(self) -> list[Tensor]:
        return [self.graph.tensor(t) for t in self.inputs]

    @property
    def output_tensors(self) -> list[Tensor]:
        return [self.graph.tensor(t) for t in self.outputs]


def unsupported_ops(graph: Graph) -> list[str]:
    """Ops with no kernel that did not fold (call after fold(graph), or every such op counts)."""
    return sorted({op.name for op in graph.ops if op.name not in LOWERINGS and not is_folded(graph, op)})


def lower(graph: Graph, kernels: str = "optimized", keep_input: bool = False) -> Lowered:
    """`kernels`: "optimized" (the DSP kernels where the shape allows, harness/plan/optimize.py) or
    "reference" (the reference kernel for every op). `keep_input`: no tensor reuses the inputs' bytes, so
    the firmware can download straight into the input tensor instead of a buffer of its own.
    Folding sets constant values on `graph`'s tensors (the same on every call)."""
    tried = fold(graph)
    missing = unsupported_ops(graph)
    if missing:
        # an op we only fold, with a constant input that would not fold, says why
        why = "; ".join(f"op {op.index} {op.name} does not fold: {tried[op.index]}" for op in graph.ops
                        if tried.get(op.index) and op.name not in LOWERINGS)
        raise ModelError(f"{graph.path.name}: unsupported op(s): {', '.join(missing)} "
                         f"(we run: {', '.join(sorted(n for n in LOWERINGS if not n.startswith('_')))}"
                         f"{'; ' + why if why else ''})")
    if not graph.inputs or not graph.outputs:
        raise ModelError(f"{graph.path.name}: {len(graph.inputs)} inputs / {len(graph.outputs)} outputs; "
                         "nothing to run")
    # A lowering gives a KernelCall; an Alias when the op's output is its input's bytes (no kernel runs,
    # e.g. RESHAPE); or None when it folded the op into a constant. Folded ops run nothing.
    calls: list[KernelCall] = []
    aliases: list[Alias] = []
    folded = {step for step, op in enumerate(graph.ops) if is_folded(graph, op)}
    for step, op in enumerate(graph.ops):
        if step in folded:
            continue
        result = LOWERINGS[op.name](graph, op)
        if isinstance(result, Alias):
            aliases.append(result)
        elif result is not None:
            calls.append(choose(result, kernels))
    for t in graph.outputs:
        if graph.tensor(t).is_constant:
            raise ModelError(f"{graph.path.name}: the graph's output {graph.tensor(t).name!r} "
                             "is a constant; nothing to run")
    planner = _planner(graph, calls, aliases, keep_input)
    low = Lowered(graph, calls, planner.plan(), list(graph.inputs), list(graph.outputs), keep_input, aliases)
    verify_plan(low)
    return low


def _planner(graph: Graph, calls: list[KernelCall], aliases: list[Alias], keep_input: bool,
             stream_input: bool = False) -> GreedyPlanner:
    """Every tensor's lifetime, its aliases and the kernels' scratch buffers, ready to plan. `stream_input`:
    the model inputs get no bytes in the arena (arena_without_input)."""
    folded = {step for step, op in enumerate(graph.ops) if is_folded(graph, op)}
    n = len(graph.ops)
    # Later tensors may reuse the inputs' bytes: the firmware copies the inputs in before every inference,
    # so every input is live from step 0 (a second input first read late must not be overwritten before).
    # Every output's group, alias or not, lives to the end so the outputs are still there to read.
    # A folded op reads no tensor at run time (SHAPE's input may be freed before it).
    first: dict[int, int] = {t: 0 for t in graph.inputs}
    last: dict[int, int] = {**{t: n - 1 for t in graph.outputs},
                            **({t: n - 1 for t in graph.inputs} if keep_input else {})}
    for step, op in enumerate(graph.ops):
        if step in folded:
            continue
        for t in op.inputs + op.outputs:
            if t >= 0 and not graph.tensor(t).is_constant:
                first.setdefault(t, step)
                last[t] = max(last.get(t, step), step)
    # Variable tensors (SVDF state) carry their value from one inference to the next: live for the whole
    # graph, so the planner never shares their bytes, plus one trailing byte for the kernel's "initialised"
    # flag (the arena starts zeroed; TFLM's initial value need not be zero: firmware/kernels/svdf.h).
    variables = {t for t in first if graph.tensor(t).is_variable}
    for t in variables:
        first[t], last[t] = 0, n - 1
    planner = GreedyPlanner()
    for t, f in first.items():
        if stream_input and t in graph.inputs:
            continue
        # an input no op reads still gets its bytes: the firmware loads it all the same
        planner.add_buffer(t, graph.tensor(t).nbytes + (1 if t in variables else 0), f, last.get(t, f))
    for a in aliases:
        planner.add_alias(a.target, a.source, a.offset)
    for i, call in enumerate(calls):
        if call.scratch:
            planner.add_buffer(SCRATCH - i, call.scratch, call.op.index, call.op.index)
    return planner


def replan(low: Lowered, keep_input: bool) -> Lowered:
    """The same calls with the inputs kept whole through the inference (`keep_input`) or not: only the
    arena plan differs."""
    if keep_input == low.keep_input:
        return low
    planner = _planner(low.graph, low.calls, low.aliases, keep_input)
    other = Lowered(low.graph, low.calls, planner.plan(), low.inputs, low.outputs, keep_input, low.aliases)
    verify_plan(other)
    return other


def arena_without_input(low: Lowered) -> int | None:
    """The arena with the model input streamed from outside it (MCUNetV2's accounting: a camera or a flash
    buffer feeds the first op, or a patched stage's tile cuts), for the same graph and kernels; None when the
    input shares its bytes with another tensor (a reshape of it), so it cannot be left out. A figure only:
    the firmware downloads into the arena."""
    if any(t in (a.source, a.target) for a in low.aliases for t in low.inputs):
        return None
    return _planner(low.graph, low.calls, low.aliases, low.keep_input, stream_input=True).plan().arena_bytes


def live_bytes(low: Lowered) -> list[int]:
    """Per op step, the bytes of the tensors (and scratch) live at it under `low`'s lifetimes."""
    return _planner(low.graph, low.calls, low.aliases, low.keep_input).live_bytes()


def verify_plan(low: Lowered) -> None:
    """Re-derive every tensor's lifetime from the graph and check the plan against it: no two tensors
    (alias groups) live at the same step share a byte; the output lives to the end; variables live
    throughout. Independent of the planner's own bookkeeping, and run on every lowering."""
    g, plan = low.graph, low.plan
    root = lambda t: plan.aliases.get(t, t)   # noqa: E731
    for t, r in plan.aliases.items():
        if plan.offsets[t] != plan.offsets[r] + plan.deltas.get(t, 0):
            raise HarnessError(f"internal: arena plan puts tensor {t} off its alias group's bytes")
    n = len(g.ops)
    spans: dict[int, tuple[int, int]] = {}
    size: dict[int, int] = {}
    for step, op in enumerate(g.ops):
        if is_folded(g, op):
            continue
        for t in op.inputs + op.outputs:
            if t >= 0 and not g.tensor(t).is_constant:
                r = root(t)
                a, b = spans.get(r, (step, step))
                spans[r] = (min(a, step), max(b, step))
                size[r] = max(size.get(r, 0), plan.deltas.get(t, 0) + g.tensor(t).nbytes)
    for t in low.inputs:      # loaded before the first op runs
        spans[root(t)] = (0, spans.get(root(t), (0, 0))[1])
        size.setdefault(root(t), g.tensor(t).nbytes)
    for t in low.outputs:
        spans[root(t)] = (spans.get(root(t), (0, 0))[0], n - 1)
    if low.keep_input:
        for t in low.inputs:
            spans[root(t)] = (0, n - 1)
    for t in list(spans):
        if g.tensor(t).is_variable:
            spans[t] = (0, n - 1)
    for i, call in enumerate(low.calls):
        if call.scratch:
            spans[SCRATCH - i] = (call.op.index, call.op.index)
            size[SCRATCH - i] = call.scratch
    items = sorted(spans.items(), key=lambda kv: plan.offsets[kv[0]])
    for i, (t, (a, b)) in enumerate(items):
        end_t = plan.offsets[t] + size[t]
        if end_t > plan.arena_bytes:
            raise HarnessError(f"internal: arena plan puts tensor {t} past the arena's end")
        for u, (c, d) in items[i + 1:]:
            if plan.offsets[u] >= end_t:
                break
            if a <= d and c <= b:
                raise HarnessError(f"internal: arena plan overlaps tensors {t} and {u}, live together")
