"""RESHAPE, SQUEEZE, EXPAND_DIMS: the same bytes under another shape. No kernel runs: the output is an
alias of the input in the arena plan (harness/plan/memory.py), so these ops cost nothing at run time.

TFLM copies the input's bytes to the output unchanged (no requantization, whatever the two tensors'
quantization parameters say), which is exactly what sharing the bytes gives. A reshape of a constant
never gets here: the folding pass (harness/plan/fold.py) made its output a constant."""
from harness.plan.memory import Alias
from harness.plan.model import Graph, ModelError, Op


def lower(g: Graph, op: Op) -> Alias:
    if not op.inputs or not op.outputs or op.inputs[0] < 0:
        raise ModelError(f"op {op.index} {op.name}: needs one input and one output")
    inp, out = g.tensor(op.inputs[0]), g.tensor(op.outputs[0])
    where = f"op {op.index} {op.name} (output {out.name!r})"
    if len(op.outputs) != 1:
        raise ModelError(f"{where}: {len(op.outputs)} outputs, expected 1")
    if inp.dtype != out.dtype:
        raise ModelError(f"{where}: input is {inp.dtype}, output {out.dtype}; a reshape keeps the type")
    if inp.nbytes != out.nbytes:
        raise ModelError(f"{where}: input shape {list(inp.shape)} and output shape {list(out.shape)} "
                         "differ in element count")
    if out.index in g.inputs:
        raise ModelError(f"{where}: writes the graph's input")
    return Alias(source=inp.index, target=out.index)
