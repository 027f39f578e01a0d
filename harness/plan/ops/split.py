"""SPLIT and SPLIT_V, int8 or float32, along any axis of up to 6-D tensors, up to 16 outputs: the one op
kind with several output tensors, each planned in the arena like any tensor (lower.py's lifetimes go over
every output of every op).

TFLM's semantics (split.cc, split_v.cc): SPLIT takes the axis (a constant int32 scalar; TFLM refuses a
computed one) first, then the input, and cuts it into num_splits equal parts; SPLIT_V takes the input,
the constant sizes along the axis (one of them may be -1: the rest) and the axis. Each output's bytes are
the input's, unchanged (int8: no requantization; the converter gives every output the input's
quantization). The sizes are checked against the outputs' shapes."""
import numpy as np

from harness.plan.kernel import Arena, KernelCall
from harness.plan.model import Graph, ModelError, Op

MAX_OUTPUTS = 16
MAX_DIMS = 6


def lower(g: Graph, op: Op) -> KernelCall:
    where = f"op {op.index} {op.name}"
    n_in = 2 if op.name == "SPLIT" else 3
    if len(op.inputs) != n_in or not 1 <= len(op.outputs) <= MAX_OUTPUTS:
        raise ModelError(f"{where}: {len(op.inputs)} inputs and {len(op.outputs)} outputs; {n_in} inputs and 1 to "
                         f"{MAX_OUTPUTS} outputs are supported")
    inp_i, axis_i = (op.inputs[1], op.inputs[0]) if op.name == "SPLIT" else (op.inputs[0], op.inputs[2])
    inp, axis_t = g.tensor(inp_i), g.tensor(axis_i)
    outs = [g.tensor(t) for t in op.outputs]
    if inp.dtype not in (np.int8, np.float32) or any(t.dtype != inp.dtype for t in outs):
        raise ModelError(f"{where}: only int8 and float32 are supported, got {np.dtype(inp.dtype)} -> "
                         f"{[str(np.dtype(t.dtype)) for t in outs]}")
    if inp.is_constant:
        raise ModelError(f"{where}: splitting a constant (not folded by the converter) is not supported")
    rank = len(inp.shape)
    if not 1 <= rank <= MAX_DIMS:
        raise ModelError(f"{where}: {rank}-D input; 1-D to {MAX_DIMS}-D are supported")
    if not axis_t.is_constant or axis_t.dtype != np.int32 or axis_t.data.size != 1:
        raise ModelError(f"{where}: the axis must be a constant int32 scalar (TFLM refuses a computed one)")
    axis = int(axis_t.data.reshape(-1)[0])
    axis += rank if axis < 0 else 0
    if not 0 <= axis < rank:
        raise ModelError(f"{where}: axis {axis} is out of range for a {rank}-D input")
    if op.name == "SPLIT":
        if inp.shape[axis] % len(outs):
            raise ModelError(f"{where}: {inp.shape[axis]} is not divisible into {len(outs)} equal parts")
        sizes = [inp.shape[axis] // len(outs)] * len(outs)
    else:
        sizes_t = g.tensor(op.inputs[1])
        if not sizes_t.is_constant or sizes_t.dtype != np.int32 or sizes_t.data.size != len(outs):
            raise ModelError(f"{where}: the sizes must be a constant int32 vector of {len(outs)} entries")
        sizes = [int(v) for v in sizes_t.data.reshape(-1)]
        if sizes.count(-1) == 1:
            sizes[sizes.index(-1)] = inp.shape[axis] - (sum(sizes) + 1)
        if any(s < 0 for s in sizes) or sum(sizes) != inp.shape[axis]:
            raise ModelError(f"{where}: sizes {sizes_t.data.tolist()} do not split {inp.shape[axis]}")
    for t, size in zip(outs, sizes):
        want = (*inp.shape[:axis], size, *inp.shape[axis + 1:])
        if tuple(t.shape) != want:
            raise ModelError(f"{where}: output {t.name!r} is {list(t.shape)}, the split gives {list(want)}")
    outer = int(np.prod(inp.shape[:axis], dtype=np.int64))
    inner = int(np.prod(inp.shape[axis + 1:], dtype=np.int64)) * np.dtype(inp.dtype).itemsize
    fields: dict = {"in_offset": Arena(inp_i), "n_outputs": len(outs), "outer": outer}
    for i, size in enumerate(sizes):
        fields[f"out_bytes[{i}]"] = size * inner
    for i, t in enumerate(op.outputs):
        fields[f"out_offset[{i}]"] = Arena(t)
    return KernelCall("tm_split", "split.h", "tm_split_params_t", op, fields)
