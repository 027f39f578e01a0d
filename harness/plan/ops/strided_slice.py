"""STRIDED_SLICE of a tensor computed at run time (a slice of constants never gets here: the folding pass
evaluated it), with TFLite's indices computed once for both (fold.strided_slice_picks). TFLite copies the
picked values unchanged (no requantization). Keras writes the last step of a sequence layer (an LSTM with
return_sequences=False) this way: [B, T, units] -> [:, -1, :].
- A slice that is one contiguous run of the input's bytes (B = 1 above) is an alias at an offset into the
  input (a view, harness/plan/memory.py): no kernel runs.
- Any other slice with positive strides, of 1- or 4-byte elements, runs TRANSPOSE's strided copy
  (tm_transpose: the output in order, each element read at its index times the planner's strides) from
  the slice's first element.
Negative strides (a reversal) and other element sizes are refused."""
import numpy as np

from harness.plan.fold import NotFoldable, strided_slice_picks
from harness.plan.kernel import Arena, KernelCall
from harness.plan.memory import Alias
from harness.plan.model import Graph, ModelError, Op
from harness.plan.ops.transpose import MAX_DIMS, merge_loops


def lower(g: Graph, op: Op) -> Alias | KernelCall:
    if len(op.inputs) not in (3, 4) or len(op.outputs) != 1 or min(op.inputs) < 0:
        raise ModelError(f"op {op.index} {op.name}: needs an input, begin, end, strides and one output")
    inp, out = g.tensor(op.inputs[0]), g.tensor(op.outputs[0])
    where = f"op {op.index} {op.name} (output {out.name!r})"
    bounds = [g.tensor(t) for t in op.inputs[1:]]
    if not all(t.is_constant and t.dtype == np.int32 for t in bounds):
        raise ModelError(f"{where}: begin, end and strides must be constant int32 tensors")
    if inp.dtype != out.dtype:
        raise ModelError(f"{where}: input is {np.dtype(inp.dtype)}, output {np.dtype(out.dtype)}")
    if out.index in g.inputs:
        raise ModelError(f"{where}: writes the graph's input")
    values = [[int(v) for v in t.data.reshape(-1)] for t in bounds]
    try:
        index, _ = strided_slice_picks(op, inp.shape, values[0], values[1], values[2] if len(values) > 2 else None)
    except NotFoldable as e:
        raise ModelError(f"{where}: {e}") from None
    if any(ix.size == 0 for ix in index):
        raise ModelError(f"{where}: the slice is empty")
    item = np.dtype(inp.dtype).itemsize
    flat = np.ravel_multi_index(np.ix_(*index), inp.shape).reshape(-1) if index else np.zeros(1, np.int64)
    if flat.size * item != out.nbytes:
        raise ModelError(f"{where}: the slice has {flat.size} elements, the output shape {list(out.shape)}")
    if np.array_equal(flat, np.arange(flat[0], flat[0] + flat.size)):
        return Alias(source=inp.index, target=out.index, offset=int(flat[0]) * item)
    if item not in (1, 4):
        raise ModelError(f"{where}: only 1- and 4-byte elements are copied, got {np.dtype(inp.dtype)}")
    # each axis's picks are an arithmetic progression (range); the loop steps by its stride in the input
    steps = [int(ix[1] - ix[0]) if ix.size > 1 else 1 for ix in index]
    if min(steps) < 0:
        raise ModelError(f"{where}: a negative stride (a reversal) is not supported")
    elem = [int(np.prod(inp.shape[a + 1:], dtype=np.int64)) for a in range(len(inp.shape))]
    pairs = merge_loops([(ix.size, step * e) for ix, step, e in zip(index, steps, elem)])
    if len(pairs) > MAX_DIMS:
        raise ModelError(f"{where}: the slice needs {len(pairs)} loops; up to {MAX_DIMS} are supported")
    pairs = [(1, 0)] * (MAX_DIMS - len(pairs)) + pairs
    fields: dict = {"in_offset": Arena(op.inputs[0], at=int(flat[0]) * item), "out_offset": Arena(op.outputs[0]),
                    "elem_bytes": item}
    fields |= {f"dims[{i}]": size for i, (size, _) in enumerate(pairs)}
    fields |= {f"in_stride[{i}]": stride for i, (_, stride) in enumerate(pairs)}
    return KernelCall("tm_transpose", "transpose.h", "tm_transpose_params_t", op, fields)
