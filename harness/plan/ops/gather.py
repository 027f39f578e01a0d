"""GATHER, int8 or float32 data (from the arena or a constant: an embedding table), int32 positions
(constant, or a tensor computed at run time, e.g. the model's input), any axis, batch_dims.

TFLM's semantics (gather.cc): with the input's dimensions split as [batch | outer | axis | inner]
(batch: the first batch_dims, outer: the rest before the axis), the output is, for each batch, outer index
and position p (the positions' dimensions after batch_dims, flattened), the input's `inner` elements at
[batch, outer, positions[batch, p]], copied unchanged (int8: no requantization; the converter gives the
output the input's quantization). A position outside [0, axis size) fails the inference in TFLM; constant
positions are checked here, and the kernel returns an error for a computed one, as TFLM does."""
import numpy as np

from harness.plan.kernel import Arena, Const, KernelCall
from harness.plan.ops.dtypes import same_type_with_param
from harness.plan.model import Graph, ModelError, Op


def lower(g: Graph, op: Op) -> KernelCall:
    inp, pos, out, where = same_type_with_param(g, op, "positions")
    if pos.dtype != np.int32:
        raise ModelError(f"{where}: positions of type {np.dtype(pos.dtype)}; TFLM takes int32 only")
    if inp.is_constant and pos.is_constant:
        raise ModelError(f"{where}: a gather of constants (not folded by the converter) is not supported")
    rank, pos_rank = len(inp.shape), len(pos.shape)
    axis = op.options.Axis() if op.options is not None else 0
    batch_dims = op.options.BatchDims() if op.options is not None else 0
    axis += rank if axis < 0 else 0
    batch_dims += pos_rank if batch_dims < 0 else 0
    if not (0 <= batch_dims <= axis < rank and batch_dims <= pos_rank) \
            or tuple(inp.shape[:batch_dims]) != tuple(pos.shape[:batch_dims]):
        raise ModelError(f"{where}: axis {axis} and batch_dims {batch_dims} do not fit input {list(inp.shape)} "
                         f"and positions {list(pos.shape)} (TFLM refuses them)")
    want = (*inp.shape[:axis], *pos.shape[batch_dims:], *inp.shape[axis + 1:])
    if tuple(out.shape) != want:
        raise ModelError(f"{where}: output {list(out.shape)}, but the gather's shape is {list(want)}")
    axis_size = inp.shape[axis]
    if pos.is_constant and (np.any(pos.data < 0) or np.any(pos.data >= axis_size)):
        raise ModelError(f"{where}: a position outside [0, {axis_size}) (TFLM fails such an inference)")
    size = lambda dims: int(np.prod(dims, dtype=np.int64))    # noqa: E731
    itemsize = np.dtype(inp.dtype).itemsize
    # constant data or positions go to flash; other types as their bytes, not shared by tensor index
    data = Const("int8_t", np.ascontiguousarray(inp.data).view(np.int8).reshape(-1),
                 op.inputs[0] if inp.dtype == np.int8 else None) if inp.is_constant else None
    return KernelCall("tm_gather", "gather.h", "tm_gather_params_t", op, {
        "in_offset": 0 if inp.is_constant else Arena(op.inputs[0]), "in_const": data,
        "pos_offset": 0 if pos.is_constant else Arena(op.inputs[1]),
        "pos_const": Const("int32_t", pos.data.reshape(-1), op.inputs[1]) if pos.is_constant else None,
        "out_offset": Arena(op.outputs[0]),
        "batches": size(inp.shape[:batch_dims]), "outer": size(inp.shape[batch_dims:axis]),
        "axis_size": axis_size, "coords": size(pos.shape[batch_dims:]),
        "inner_bytes": size(inp.shape[axis + 1:]) * itemsize})
