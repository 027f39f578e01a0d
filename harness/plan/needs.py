"""What a model needs from the runtime, said at plan time (nothing built): every op with its dtype case,
and whether the runtime runs it (the kernel it would call), folds it at plan time, aliases it, or lacks
it (and why), plus what the runtime lacks for the model as a whole (three subgraphs, a float16
tensor, a constant output).

The op list is read straight from the flatbuffer, apart from our loader, so a model the loader refuses
(any model TFLite itself can load) still has its ops listed; each op is then checked by the lowering
that would plan it, alone, so one missing op does not hide the others."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import tflite
from tflite.BuiltinOperator import BuiltinOperator

from harness.plan.fold import EVALUATORS, fold, is_folded
from harness.plan.kernel import KernelCall
from harness.plan.memory import Alias
from harness.plan.model import OP_NAMES, TYPE_NAMES, Graph, ModelError, NotAModel, load_model
from harness.plan.ops import LOWERINGS
from harness.plan.optimize import choose

RUNS, FOLDED, ALIASED, MISSING, UNCHECKED = "runs", "folded", "aliased", "missing", "not checked"


@dataclass
class Need:
    op: str                 # builtin name (CUSTOM:<name> for a custom op, OP<code> for one we cannot name)
    case: str               # its dtype case, e.g. "int8, const int8, const int32 -> int8"
    status: str             # RUNS, FOLDED, ALIASED, MISSING or UNCHECKED
    detail: str = ""        # the kernel it calls, or why it is missing
    count: int = 1          # ops of the model with this op, case, status and detail


@dataclass
class Needs:
    path: Path
    needs: list[Need] = field(default_factory=list)
    blockers: list[str] = field(default_factory=list)    # what the runtime lacks for the model as a whole

    @property
    def missing(self) -> list[Need]:
        return [n for n in self.needs if n.status == MISSING]

    @property
    def runnable(self) -> bool:
        return not self.blockers and not self.missing and all(n.status != UNCHECKED for n in self.needs)

    def summary(self) -> str:
        """One line: what the model lacks, or that the runtime has everything it needs."""
        if self.runnable:
            return f"the runtime has all {sum(n.count for n in self.needs)} ops it needs"
        # an op the runtime has no kernel for at all by its name; one it lacks a dtype case of with the case
        lacks = list(dict.fromkeys(n.op if n.detail.startswith(("no kernel", "a custom op")) else f"{n.op} ({n.case})"
                                   for n in self.missing))
        return "lacks " + "; ".join(([", ".join(lacks)] if lacks else []) + self.blockers)


def _inventory(path: Path) -> list[tuple[int, str, str]]:
    """(subgraph, op name, dtype case) for every op of every subgraph, read from the flatbuffer alone."""
    buf = path.read_bytes()
    try:
        model = tflite.Model.GetRootAsModel(buf, 0)
        codes = []
        for i in range(model.OperatorCodesLength()):
            oc = model.OperatorCodes(i)
            code = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
            codes.append(f"CUSTOM:{(oc.CustomCode() or b'').decode(errors='replace')}"
                         if code == BuiltinOperator.CUSTOM else OP_NAMES.get(code, f"OP{code}"))
        ops = []
        for s in range(model.SubgraphsLength()):
            g = model.Subgraphs(s)

            def kind(t: int, const_mark: bool) -> str:
                tensor = g.Tensors(t)
                name = TYPE_NAMES.get(tensor.Type(), f"type{tensor.Type()}").lower()
                b = model.Buffers(tensor.Buffer()) if tensor.Buffer() < model.BuffersLength() else None
                return ("const " if const_mark and b is not None and b.DataLength() else "") + name

            for i in range(g.OperatorsLength()):
                op = g.Operators(i)
                ins = [kind(int(t), True) for t in (op.InputsAsNumpy() if op.InputsLength() else []) if t >= 0]
                outs = [kind(int(t), False) for t in (op.OutputsAsNumpy() if op.OutputsLength() else [])]
                ops.append((s, codes[op.OpcodeIndex()], f"{', '.join(ins) or '-'} -> {', '.join(outs) or '-'}"))
        return ops
    except Exception as e:   # the flatbuffer reader raises bare struct/index errors on corrupt files
        raise NotAModel(f"{path}: corrupt or truncated flatbuffer ({type(e).__name__}: {e})") from None


_WHERE = re.compile(r"^op \d+ \S+(?: \(output '.*?'\))?: ")


def _reason(e: Exception, path: Path) -> str:
    """A lowering's message without its op prefix or the model's path (the table says which op it is)."""
    text = str(e).splitlines()[0] if str(e) else type(e).__name__
    text = text.replace(f"{path}: ", "").replace(f"{path.name}: ", "")
    return _WHERE.sub("", text)


def _check_op(g: Graph, op, tried: dict[int, str | None]) -> tuple[str, str]:
    """(status, detail) for one op of a loaded graph, after folding."""
    if is_folded(g, op):
        return FOLDED, "evaluated at plan time"
    if op.name not in LOWERINGS:
        if tried.get(op.index):
            return MISSING, f"does not fold: {tried[op.index]}"
        if op.name in EVALUATORS:
            return MISSING, "folds only when its inputs are known at plan time; here they are computed"
        return MISSING, f"no kernel for {op.name}"
    try:
        result = LOWERINGS[op.name](g, op)
    except ModelError as e:
        return MISSING, _reason(e, g.path)
    except Exception as e:       # noqa: BLE001 -- a flatbuffer our lowering did not foresee: said, not raised
        return MISSING, f"cannot be planned ({type(e).__name__}: {_reason(e, g.path)})"
    if isinstance(result, Alias):
        return ALIASED, "no kernel: shares its input's bytes"
    if isinstance(result, KernelCall):
        return RUNS, choose(result, "optimized").kernel
    return FOLDED, "evaluated at plan time"


def assess(path: str | Path) -> Needs:
    """The model's needs against the runtime (NotAModel for a file that is no TFLite model)."""
    path = Path(path)
    inventory = _inventory(path)
    out = Needs(path)
    statuses: list[tuple[str, str]]
    try:
        g = load_model(path)
    except NotAModel:
        raise
    except ModelError as e:
        out.blockers.append(_reason(e, path))
        statuses = [(UNCHECKED, "the model is refused before its ops are checked")
                    if name in LOWERINGS or name in EVALUATORS
                    else (MISSING, "a custom op" if name.startswith("CUSTOM:") else f"no kernel for {name}")
                    for _, name, _ in inventory]
    else:
        tried = fold(g)
        statuses = [_check_op(g, op, tried) for op in g.ops]
        if not g.inputs or not g.outputs:
            out.blockers.append(f"{len(g.inputs)} input(s) and {len(g.outputs)} output(s): nothing to run")
        elif any(g.tensor(t).is_constant for t in g.outputs):
            out.blockers.append("an output is a constant: nothing to run")
    multi = len({s for s, _, _ in inventory}) > 1
    groups: dict[tuple, Need] = {}
    for (s, name, case), (status, detail) in zip(inventory, statuses):
        op = f"{name} (subgraph {s})" if multi else name
        key = (op, case, status, detail)
        if key in groups:
            groups[key].count += 1
        else:
            groups[key] = Need(op, case, status, detail)
    out.needs = list(groups.values())
    return out


def runtime_ops() -> tuple[list[str], list[str]]:
    """(ops the runtime has a kernel or an alias for, ops it only folds at plan time)."""
    runs = sorted(n for n in LOWERINGS if not n.startswith("_"))
    return runs, sorted(set(EVALUATORS) - set(runs))
