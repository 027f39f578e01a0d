"""Lower a graph to kernel calls: check every op is one we run, compute its parameters offline, and
plan the arena over the tensors' lifetimes."""
from __future__ import annotations

from dataclasses import dataclass

from harness.plan.kernel import KernelCall
from harness.plan.memory import GreedyPlanner, Plan
from harness.plan.model import Graph, ModelError
from harness.plan.ops import LOWERINGS

SCRATCH = -1   # planner key base for kernel scratch buffers: -1 - call index


@dataclass
class Lowered:
    graph: Graph
    calls: list[KernelCall]
    plan: Plan
    input: int
    output: int

    @property
    def macs(self) -> int:
        return sum(c.macs for c in self.calls)


def unsupported_ops(graph: Graph) -> list[str]:
    return sorted({op.name for op in graph.ops if op.name not in LOWERINGS})


def lower(graph: Graph) -> Lowered:
    missing = unsupported_ops(graph)
    if missing:
        raise ModelError(f"{graph.path.name}: unsupported op(s): {', '.join(missing)} "
                         f"(we run: {', '.join(sorted(LOWERINGS))})")
    if len(graph.inputs) != 1 or len(graph.outputs) != 1:
        raise ModelError(f"{graph.path.name}: {len(graph.inputs)} inputs / {len(graph.outputs)} outputs; "
                         "only one of each is supported")
    calls = [LOWERINGS[op.name](graph, op) for op in graph.ops]
    n = len(graph.ops)
    # The input stays intact for the whole graph: the firmware loads it once and runs W + N inferences.
    first: dict[int, int] = {graph.inputs[0]: 0}
    last: dict[int, int] = {graph.inputs[0]: n - 1, graph.outputs[0]: n - 1}
    for step, op in enumerate(graph.ops):
        for t in op.inputs + op.outputs:
            if t >= 0 and not graph.tensor(t).is_constant:
                first.setdefault(t, step)
                last[t] = max(last.get(t, step), step)
    planner = GreedyPlanner()
    for t, f in first.items():
        planner.add_buffer(t, graph.tensor(t).nbytes, f, last[t])
    for step, call in enumerate(calls):
        if call.scratch:
            planner.add_buffer(SCRATCH - step, call.scratch, step, step)
    return Lowered(graph, calls, planner.plan(), graph.inputs[0], graph.outputs[0])
