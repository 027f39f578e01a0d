"""Lower a graph to kernel calls: check every op is one we run, compute its parameters offline."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.plan.memory import GreedyPlanner, Plan
from harness.plan.model import Graph, ModelError, Op
from harness.plan.quant import activation_range, conv_multipliers

SUPPORTED_OPS = ("FULLY_CONNECTED",)


@dataclass(frozen=True)
class Arena:
    """A params field holding the arena offset of a tensor."""
    tensor: int


@dataclass(frozen=True)
class Const:
    """A params field pointing at constant data; `tensor` lets ops sharing a constant share one array."""
    ctype: str
    data: np.ndarray
    tensor: int | None = None


@dataclass
class KernelCall:
    kernel: str                    # C opcode suffix, e.g. FULLY_CONNECTED_S8
    struct: str                    # C params struct type
    op: Op
    fields: dict                   # C struct field -> int | Arena | Const | None (a NULL pointer)
    macs: int = 0


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
    return sorted({op.name for op in graph.ops if op.name not in _LOWER})


def _fully_connected(g: Graph, op: Op) -> KernelCall:
    inp, w = g.tensor(op.inputs[0]), g.tensor(op.inputs[1])
    bias = g.tensor(op.inputs[2]) if len(op.inputs) > 2 and op.inputs[2] >= 0 else None
    out = g.tensor(op.outputs[0])
    where = f"op {op.index} FULLY_CONNECTED (output {out.name!r})"
    if not (inp.dtype == np.int8 and w.dtype == np.int8 and out.dtype == np.int8):
        raise ModelError(f"{where}: only int8 input/weights/output are supported, got "
                         f"{inp.dtype}/{w.dtype}/{out.dtype}")
    if not w.is_constant or len(w.shape) != 2:
        raise ModelError(f"{where}: weights must be a constant 2-D tensor")
    if bias is not None and (bias.dtype != np.int32 or not bias.is_constant):
        raise ModelError(f"{where}: bias must be a constant int32 tensor")
    if np.any(w.zero_points != 0):
        raise ModelError(f"{where}: int8 weights must be symmetric (zero point 0)")
    opts = op.options
    if opts is not None and opts.WeightsFormat() != 0:
        raise ModelError(f"{where}: shuffled weights format is not supported")
    out_f, in_f = w.shape
    n_in = int(np.prod(inp.shape))
    if n_in % in_f:
        raise ModelError(f"{where}: input of {n_in} elements is not a multiple of {in_f} features")
    batches = n_in // in_f
    mults, shifts = conv_multipliers(inp, w, out)
    act_min, act_max = activation_range(opts.FusedActivationFunction() if opts else 0, out)
    return KernelCall("FULLY_CONNECTED_S8", "tm_fc_params_t", op, {
        "in_offset": Arena(op.inputs[0]), "out_offset": Arena(op.outputs[0]),
        "batches": batches, "in_features": in_f, "out_features": out_f,
        "in_zero_point": -inp.zero_point, "out_zero_point": out.zero_point,
        "act_min": act_min, "act_max": act_max, "per_channel": int(len(mults) > 1),
        "weights": Const("int8_t", w.data, op.inputs[1]),
        "bias": Const("int32_t", bias.data, op.inputs[2]) if bias is not None else None,
        "multiplier": Const("int32_t", np.array(mults, np.int32)),
        "shift": Const("int8_t", np.array(shifts, np.int8)),
    }, macs=batches * in_f * out_f)


_LOWER = {"FULLY_CONNECTED": _fully_connected}


def lower(graph: Graph) -> Lowered:
    missing = unsupported_ops(graph)
    if missing:
        raise ModelError(f"{graph.path.name}: unsupported op(s): {', '.join(missing)} (we run: {', '.join(SUPPORTED_OPS)})")
    if len(graph.inputs) != 1 or len(graph.outputs) != 1:
        raise ModelError(f"{graph.path.name}: {len(graph.inputs)} inputs / {len(graph.outputs)} outputs; "
                         "only one of each is supported")
    calls = [_LOWER[op.name](graph, op) for op in graph.ops]
    n = len(graph.ops)
    # The input stays intact for the whole graph: the firmware loads it once and runs W + N inferences.
    first: dict[int, int] = {graph.inputs[0]: 0}
    last: dict[int, int] = {graph.inputs[0]: n - 1, graph.outputs[0]: n - 1}
    for step, op in enumerate(graph.ops):
        for t in op.outputs:
            first.setdefault(t, step)
            last[t] = max(last.get(t, step), step)
        for t in op.inputs:
            if t >= 0 and not graph.tensor(t).is_constant:
                first.setdefault(t, step)
                last[t] = max(last.get(t, step), step)
    planner = GreedyPlanner()
    for t, f in first.items():
        planner.add_buffer(t, graph.tensor(t).nbytes, f, last[t])
    return Lowered(graph, calls, planner.plan(), graph.inputs[0], graph.outputs[0])
