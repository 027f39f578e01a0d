"""The axes of a reduction (MEAN, REDUCE_MAX) resolved as TFLM resolves them, and the input's dimensions
collapsed into the loop nests the reduction kernels run: up to 3 kept groups (the output, in order) and up
to 2 reduced groups, each a (size, element stride) pair.

TFLM's reduce kernels take a constant int32 axis tensor whose entries may be negative (counted from the
end) and may repeat (a repeat reduces nothing more); keep_dims only changes the output's shape, not its
elements or their order, so the kernels ignore it and the output is checked by its element count."""
from __future__ import annotations

import numpy as np

from harness.plan.model import ModelError, Tensor

OUTER, INNER = 3, 2          # kernel loop nests: kept (output) groups, reduced groups


def resolve_axes(axis: Tensor, rank: int, where: str) -> list[int]:
    """The distinct reduced dimensions, non-negative, in the order given."""
    if not axis.is_constant or axis.dtype != np.int32:
        raise ModelError(f"{where}: the axes must be a constant int32 tensor")
    axes: list[int] = []
    for a in axis.data.reshape(-1).tolist():
        r = a + rank if a < 0 else a
        if not 0 <= r < rank:
            raise ModelError(f"{where}: axis {a} is out of range for a {rank}-D input")
        if r not in axes:
            axes.append(r)
    return axes


def loop_groups(shape: tuple[int, ...], axes: list[int], out: Tensor, where: str) -> tuple[list, list, int]:
    """(outer, inner, n): the kept and reduced groups as [size, element stride] pairs, padded at the front
    with [1, 0] to OUTER and INNER entries, and n, the number of elements reduced into each output. Size-1
    dimensions are dropped and adjacent dimensions of the same kind merged, so any reduction of a 4-D
    tensor fits; others are refused by name."""
    rank = len(shape)
    kept = [d for d in range(rank) if d not in axes]
    n = int(np.prod([shape[d] for d in axes], dtype=np.int64)) if axes else 1
    n_out = int(np.prod([shape[d] for d in kept], dtype=np.int64)) if kept else 1
    if n_out != int(np.prod(out.shape, dtype=np.int64)) or n < 1:
        raise ModelError(f"{where}: output {list(out.shape)} does not match the reduction of {list(shape)} "
                         f"over axes {axes}")
    strides = [int(np.prod(shape[d + 1:], dtype=np.int64)) for d in range(rank)]
    outer: list[list[int]] = []
    inner: list[list[int]] = []
    prev = None
    for d in range(rank):
        if shape[d] == 1:
            continue
        group = inner if d in axes else outer
        if prev is group:
            group[-1][0] *= shape[d]
            group[-1][1] = strides[d]
        else:
            group.append([shape[d], strides[d]])
        prev = group
    if len(outer) > OUTER or len(inner) > INNER:
        raise ModelError(f"{where}: reduction pattern of {list(shape)} over {axes} is not supported")
    outer = [[1, 0]] * (OUTER - len(outer)) + outer
    inner = [[1, 0]] * (INNER - len(inner)) + inner
    return outer, inner, n


def group_fields(outer: list, inner: list) -> dict:
    """The groups as the kernels' params fields (outer_dims, outer_stride, inner_dims, inner_stride)."""
    fields: dict = {}
    for i, (size, _) in enumerate(outer):
        fields[f"outer_dims[{i}]"] = size
    for i, (_, stride) in enumerate(outer):
        fields[f"outer_stride[{i}]"] = stride
    for i, (size, _) in enumerate(inner):
        fields[f"inner_dims[{i}]"] = size
    for i, (_, stride) in enumerate(inner):
        fields[f"inner_stride[{i}]"] = stride
    return fields
