"""TRANSPOSE, int8 or float32 (any element size: the kernel moves elements), up to 5-D as TFLM.

TFLM's semantics (transpose.cc): the permutation is an int32 vector with one entry per input dimension,
each in [0, rank) (a negative one is refused, as TFLM refuses it); output dimension i is input dimension
perm[i] and the elements are moved unchanged (int8: no requantization, whatever the tensors' quantization
says; the converter gives both the same). The permutation must be constant here: it is turned offline into
the kernel's loops. Output dimensions whose input strides continue each other (a run the permutation keeps
in order) are merged and size-1 dimensions dropped, so e.g. NHWC -> NCHW of a 1xHxWxC tensor is a 2-D
transpose."""
import numpy as np

from harness.plan.kernel import Arena, KernelCall
from harness.plan.model import Graph, ModelError, Op
from harness.plan.ops.dtypes import same_type_with_param

MAX_DIMS = 5                 # TFLM's Prepare refuses more ("only supports 1D-5D input arrays")


def loops(shape: tuple[int, ...], perm: list[int]) -> list[tuple[int, int]]:
    """The output's dimensions as (size, input element stride) pairs, outermost first, merged where the
    input strides allow and without size-1 dimensions (at least one pair)."""
    strides = [int(np.prod(shape[d + 1:], dtype=np.int64)) for d in range(len(shape))]
    return merge_loops([(shape[d], strides[d]) for d in perm])


def merge_loops(pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """(size, input element stride) loops, outermost first, as tm_transpose runs them: size-1 loops dropped,
    a loop merged into the one outside it where it continues it in the input (at least one pair)."""
    out: list[list[int]] = []
    for size, stride in pairs:
        if size == 1:
            continue
        if out and out[-1][1] == stride * size:              # continues the previous dimension in the input
            out[-1] = [out[-1][0] * size, stride]
        else:
            out.append([size, stride])
    return [tuple(x) for x in out] or [(1, 1)]


def lower(g: Graph, op: Op) -> KernelCall:
    inp, perm_t, out, where = same_type_with_param(g, op, "a permutation")
    if inp.is_constant:
        raise ModelError(f"{where}: transposing a constant (not folded by the converter) is not supported")
    rank = len(inp.shape)
    if not 1 <= rank <= MAX_DIMS:
        raise ModelError(f"{where}: {rank}-D input; 1-D to {MAX_DIMS}-D are supported")
    if not perm_t.is_constant or perm_t.dtype != np.int32 or perm_t.data.size != rank:
        raise ModelError(f"{where}: the permutation must be a constant int32 tensor of {rank} entries")
    perm = [int(v) for v in perm_t.data.reshape(-1)]
    if sorted(perm) != list(range(rank)):
        raise ModelError(f"{where}: {perm} is not a permutation of the {rank} dimensions (TFLM takes 0 .. rank-1)")
    if tuple(out.shape) != tuple(inp.shape[d] for d in perm):
        raise ModelError(f"{where}: output {list(out.shape)} is not input {list(inp.shape)} permuted by {perm}")
    pairs = loops(inp.shape, perm)
    pairs = [(1, 0)] * (MAX_DIMS - len(pairs)) + pairs
    fields: dict = {"in_offset": Arena(op.inputs[0]), "out_offset": Arena(op.outputs[0]),
                    "elem_bytes": np.dtype(inp.dtype).itemsize}
    for i, (size, _) in enumerate(pairs):
        fields[f"dims[{i}]"] = size
    for i, (_, stride) in enumerate(pairs):
        fields[f"in_stride[{i}]"] = stride
    return KernelCall("tm_transpose", "transpose.h", "tm_transpose_params_t", op, fields)
