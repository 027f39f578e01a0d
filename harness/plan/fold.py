"""Plan-time constant folding: every op whose inputs are all constants (or, for SHAPE and RANK, whose
input's shape is static, as every shape we plan is) is evaluated here, in numpy, with TFLite's semantics,
and its outputs become constants. No kernel runs for it and it takes no arena.

Why: Keras writes a reshape of a batch of unknown size as SHAPE -> STRIDED_SLICE -> PACK -> RESHAPE, and
similar chains of small int32 arithmetic on shapes. On a board the batch is 1 and every shape is known, so
the chain is a constant, and the RESHAPE that reads it is the usual alias (harness/plan/ops/reshape.py).

What folds (tests/kernels/test_fold.py checks each op against the TFLite interpreter):
- SHAPE, RANK of any tensor;
- data movement of constants, any dtype: RESHAPE, SQUEEZE, EXPAND_DIMS, STRIDED_SLICE (no ellipsis or
  new-axis mask, no offset), SLICE, PACK, UNPACK, CONCATENATION, GATHER (batch_dims 0). TFLite copies the
  stored values unchanged for these (no requantization), so folding them copies values too; PACK and
  CONCATENATION fold only where every input has the output's quantization (else TFLite requantizes or
  refuses the model);
- CAST between integer, float32 and bool types;
- int32 / int64 arithmetic without quantization: ADD, SUB, MUL (with their fused activation), FLOOR_DIV
  (int32 only, as TFLite's kernel), FLOOR_MOD, MAXIMUM, MINIMUM.

Anything else (an unsupported mask, arithmetic on quantized or float values, a division by zero, an
overflow) is not folded: the op then needs a kernel like any other, and the reason says why it did not
fold. The values stored are shaped as the model's output tensor says (TFLM allocates outputs by the
shapes in the flatbuffer); a result whose element count differs from that shape is not folded."""
from __future__ import annotations

from typing import Callable

import numpy as np
from tflite.ActivationFunctionType import ActivationFunctionType as A

from harness.plan.model import Graph, Op, Tensor

SHAPE_OPS = {"SHAPE", "RANK"}            # fold from the input's (static) shape, whatever its value


class NotFoldable(Exception):
    """Why an op with constant inputs is not evaluated here (a sentence, no op name: the caller adds it)."""


def foldable_inputs(g: Graph, op: Op) -> bool:
    """Whether the op's outputs are known at plan time: every present input constant (SHAPE, RANK: any).
    A variable tensor (SVDF state) may hold its initial value in the file, but changes at run time."""
    if op.name in SHAPE_OPS:
        return True
    return all(g.tensor(t).is_constant and not g.tensor(t).is_variable for t in op.inputs if t >= 0)


def is_folded(g: Graph, op: Op) -> bool:
    """An op whose every output is a constant runs nothing (folded here, or constant in the file)."""
    return bool(op.outputs) and all(g.tensor(t).is_constant for t in op.outputs)


def fold(g: Graph) -> dict[int, str | None]:
    """Folds, in graph order (so a chain folds link by link), every op EVALUATORS knows whose inputs are
    known at plan time: sets its outputs' data. Returns, per op tried, None when it folded or the reason
    it did not."""
    tried: dict[int, str | None] = {}
    for op in g.ops:
        if op.name not in EVALUATORS or not foldable_inputs(g, op):
            continue
        try:
            values = evaluate(g, op)
            outs = [g.tensor(t) for t in op.outputs]
            for v, t in zip(values, outs):
                if v.dtype != t.dtype:        # TFLite refuses the model; nothing to convert silently
                    raise NotFoldable(f"it computes {v.dtype}, but the model's output {t.name!r} is "
                                      f"{np.dtype(t.dtype)}")
                if v.size != int(np.prod(t.shape, dtype=np.int64)):
                    raise NotFoldable(f"it computes shape {list(v.shape)}, but the model gives its output "
                                      f"{t.name!r} shape {list(t.shape)}")
            for v, t in zip(values, outs):
                t.data = np.ascontiguousarray(v).reshape(t.shape)
            tried[op.index] = None
        except NotFoldable as e:
            tried[op.index] = str(e)
    return tried


def evaluate(g: Graph, op: Op) -> list[np.ndarray]:
    """The op's outputs (one array per output, in TFLite's shapes), from its constant inputs."""
    ins = [g.tensor(t) if t >= 0 else None for t in op.inputs]
    outs = [g.tensor(t) for t in op.outputs]
    if not ins or not outs:
        raise NotFoldable("it has no input or no output")
    try:
        values = EVALUATORS[op.name](op, ins, outs)
    except (IndexError, ValueError, TypeError) as e:
        # a malformed op (an input missing, shapes numpy cannot combine): refused with its reason, as
        # the op's kernel would refuse it, rather than a traceback from the planner
        raise NotFoldable(f"malformed ({type(e).__name__}: {e})") from None
    if len(values) != len(outs):
        raise NotFoldable(f"it computes {len(values)} outputs, the model gives it {len(outs)}")
    return values


# --- helpers ---------------------------------------------------------------------------------------------

def _values(t: Tensor | None, what: str) -> np.ndarray:
    if t is None:
        raise NotFoldable(f"its {what} input is absent")
    return np.asarray(t.data)


def _ints(t: Tensor | None, what: str) -> list[int]:
    """An int32/int64 index or shape input as Python ints."""
    v = _values(t, what)
    if v.dtype not in (np.int32, np.int64):
        raise NotFoldable(f"its {what} input is {v.dtype}, not int32 or int64")
    return [int(x) for x in v.reshape(-1)]


def _same_quantization(tensors: list[Tensor]) -> bool:
    first = tensors[0]
    return all(np.array_equal(t.scales, first.scales) and np.array_equal(t.zero_points, first.zero_points)
               for t in tensors[1:])


def _axis(axis: int, rank: int, what: str) -> int:
    """A possibly negative axis into `rank` dimensions (TFLite: axis + rank when negative)."""
    if not -rank <= axis < rank:
        raise NotFoldable(f"{what} {axis} is outside a rank-{rank} tensor")
    return axis % rank


# --- shapes ----------------------------------------------------------------------------------------------

def _shape(op, ins, outs):
    # SHAPE's out_type option and its output tensor agree in a valid model; the tensor is what TFLM writes
    return [np.array(ins[0].shape, dtype=outs[0].dtype)]


def _rank(op, ins, outs):
    return [np.array(len(ins[0].shape), dtype=outs[0].dtype)]


# --- data movement ---------------------------------------------------------------------------------------

def _reshape(op, ins, outs):
    """RESHAPE, SQUEEZE, EXPAND_DIMS: the same values; TFLM takes the output's shape from the model."""
    v = _values(ins[0], "data")
    if v.dtype != outs[0].dtype:
        raise NotFoldable(f"input is {v.dtype}, output {np.dtype(outs[0].dtype)}; a reshape keeps the type")
    if v.size != int(np.prod(outs[0].shape, dtype=np.int64)):
        raise NotFoldable(f"input shape {list(v.shape)} and output shape {list(outs[0].shape)} differ in "
                          "element count")
    return [v.reshape(outs[0].shape)]


def _slice_bounds(size: int, begin: int, end: int, stride: int, begin_masked: bool, end_masked: bool,
                  shrink: bool) -> range:
    """One axis of TFLite's STRIDED_SLICE: a masked begin (end) is the first (past the last) element in
    the stride's direction; a negative index counts from the end; both are then clamped into the axis
    ([0, size] going forward, [-1, size - 1] going backward); a shrunk axis takes one element at begin."""
    if size == 0:
        return range(0)
    lo, hi = (0, size) if stride > 0 else (-1, size - 1)
    if begin_masked:
        begin = lo if stride > 0 else hi
    elif begin < 0:
        begin += size
    begin = min(max(begin, lo), hi)
    if shrink:
        return range(begin, begin + 1)
    if end_masked:
        end = hi if stride > 0 else lo
    elif end < 0:
        end += size
    end = min(max(end, lo), hi)
    return range(begin, end, stride)


def _strided_slice(op, ins, outs):
    v = _values(ins[0], "data")
    strides = _ints(ins[3], "strides") if len(ins) > 3 and ins[3] is not None else None
    index, keep = strided_slice_picks(op, v.shape, _ints(ins[1], "begin"), _ints(ins[2], "end"), strides)
    picked = v[np.ix_(*index)] if v.ndim else v
    return [picked.reshape([len(ix) for ix, k in zip(index, keep) if k])]


def strided_slice_picks(op, shape: tuple[int, ...], begin: list[int], end: list[int],
                        strides: list[int] | None) -> tuple[list[np.ndarray], list[bool]]:
    """TFLite's STRIDED_SLICE of a tensor of `shape` (folded here, or run as a view of a computed tensor:
    harness/plan/ops/strided_slice.py): per axis, the indices it picks and whether the axis is kept (not
    shrunk). NotFoldable for what neither handles: an ellipsis or new-axis mask, the offset option."""
    o = op.options
    masks = (o.BeginMask(), o.EndMask(), o.EllipsisMask(), o.NewAxisMask(), o.ShrinkAxisMask()) if o else (0,) * 5
    begin_mask, end_mask, ellipsis_mask, new_axis_mask, shrink_mask = masks
    if ellipsis_mask or new_axis_mask:
        raise NotFoldable("an ellipsis or new-axis mask is not folded")
    if o is not None and o.Offset():
        raise NotFoldable("the offset option is not folded")
    strides = [1] * len(begin) if strides is None else strides
    if not len(begin) == len(end) == len(strides) == len(shape):
        raise NotFoldable(f"begin, end and strides have {len(begin)}, {len(end)}, {len(strides)} values "
                          f"for a rank-{len(shape)} input")
    if 0 in strides:
        raise NotFoldable("a stride is 0")
    if any(shrink_mask >> a & 1 and strides[a] < 0 for a in range(len(shape))):
        # TensorFlow allows no such slice; TFLite's kernel would leave the output unwritten
        raise NotFoldable("a shrunk axis has a negative stride")
    index, keep = [], []
    for axis in range(len(shape)):
        bit = 1 << axis
        r = _slice_bounds(shape[axis], begin[axis], end[axis], strides[axis], bool(begin_mask & bit),
                          bool(end_mask & bit), bool(shrink_mask & bit))
        if shrink_mask & bit and not 0 <= r.start < shape[axis]:
            raise NotFoldable(f"axis {axis} is shrunk at index {r.start}, outside its {shape[axis]} elements")
        index.append(np.array(r, dtype=np.int64))
        keep.append(not shrink_mask & bit)
    return index, keep


def _slice(op, ins, outs):
    v = _values(ins[0], "data")
    begin, size = _ints(ins[1], "begin"), _ints(ins[2], "size")
    if not len(begin) == len(size) == v.ndim:
        raise NotFoldable(f"begin and size have {len(begin)}, {len(size)} values for a rank-{v.ndim} input")
    index = []
    for axis, (b, n) in enumerate(zip(begin, size)):
        n = v.shape[axis] - b if n == -1 else n      # TFLite: size -1 takes the rest of the axis
        if b < 0 or n < 0 or b + n > v.shape[axis]:
            raise NotFoldable(f"axis {axis}: begin {b}, size {n} is outside its {v.shape[axis]} elements")
        index.append(slice(b, b + n))
    return [v[tuple(index)]]


def _pack(op, ins, outs):
    vs = [_values(t, "value") for t in ins]
    if len({v.shape for v in vs}) != 1 or len({v.dtype for v in vs}) != 1:
        raise NotFoldable("its inputs differ in shape or type")
    if not _same_quantization([*ins, outs[0]]):
        raise NotFoldable("its inputs and output differ in quantization")
    axis = _axis(op.options.Axis() if op.options else 0, vs[0].ndim + 1, "axis")
    return [np.stack(vs, axis=axis)]


def _unpack(op, ins, outs):
    v = _values(ins[0], "data")
    if v.ndim == 0:
        raise NotFoldable("its input is a scalar")
    axis = _axis(op.options.Axis() if op.options else 0, v.ndim, "axis")
    if v.shape[axis] != len(outs):
        raise NotFoldable(f"axis {axis} has {v.shape[axis]} elements for {len(outs)} outputs")
    return [np.take(v, i, axis=axis) for i in range(v.shape[axis])]


def _concatenation(op, ins, outs):
    vs = [_values(t, "value") for t in ins]
    activation = op.options.FusedActivationFunction() if op.options else A.NONE
    if activation != A.NONE:
        raise NotFoldable("a fused activation is not folded")
    if not _same_quantization([*ins, outs[0]]):
        raise NotFoldable("its inputs and output differ in quantization (TFLite requantizes)")
    if len({v.ndim for v in vs}) != 1 or len({v.dtype for v in vs}) != 1:
        raise NotFoldable("its inputs differ in rank or type")
    axis = _axis(op.options.Axis() if op.options else 0, vs[0].ndim, "axis")
    if len({v.shape[:axis] + v.shape[axis + 1:] for v in vs}) != 1:
        raise NotFoldable("its inputs differ in shape off the axis")
    return [np.concatenate(vs, axis=axis)]


def _gather(op, ins, outs):
    params, indices = _values(ins[0], "params"), _ints(ins[1], "indices")
    o = op.options
    if o is not None and o.BatchDims() != 0:
        raise NotFoldable("batch_dims is not folded")
    axis = _axis(o.Axis() if o else 0, params.ndim, "axis")
    if any(not 0 <= i < params.shape[axis] for i in indices):
        raise NotFoldable(f"an index is outside axis {axis}'s {params.shape[axis]} elements")
    idx = np.array(indices, np.int64).reshape(np.shape(ins[1].data))
    return [np.take(params, idx, axis=axis)]


# --- CAST ------------------------------------------------------------------------------------------------

def _cast(op, ins, outs):
    """TFLite's CAST is C++'s static_cast per element, bool as value != 0. A float outside the target
    integer range (or NaN) has no defined result there, so it is not folded."""
    v, to = _values(ins[0], "data"), np.dtype(outs[0].dtype)
    if to == np.bool_:
        return [v != 0]
    if v.dtype.kind == "f" and to.kind in "iu":
        info = np.iinfo(to)
        if not np.all(np.isfinite(v)) or np.any(np.trunc(v) < info.min) or np.any(np.trunc(v) > info.max):
            raise NotFoldable(f"a {v.dtype} value is outside {to}'s range")
        return [np.trunc(v).astype(to)]
    # integer to a narrower integer: numpy, like static_cast, keeps the low bits (two's complement);
    # integer or bool to float32: rounded to nearest, as C converts
    return [v.astype(to)]


# --- int32 / int64 arithmetic ----------------------------------------------------------------------------

_ACTIVATION = {A.NONE: (None, None), A.RELU: (0, None), A.RELU_N1_TO_1: (-1, 1), A.RELU6: (0, 6)}


def _binary(fn: Callable[[np.ndarray, np.ndarray], np.ndarray], divides: bool = False,
            types: tuple = (np.int32, np.int64)) -> Callable:
    """An element-wise op on two integer inputs of the output's type (`types`: those TFLite's kernel
    takes), broadcast as numpy (and TFLite) broadcast, computed exactly in Python integers: a result
    outside the type (where C would overflow) or a division by zero is not folded."""
    def evaluate(op, ins, outs):
        a, b = _values(ins[0], "first"), _values(ins[1], "second")
        t = np.dtype(outs[0].dtype)
        if t not in types or a.dtype != t or b.dtype != t:
            raise NotFoldable(f"{a.dtype}, {b.dtype} -> {t}: only "
                              f"{' or '.join(np.dtype(x).name for x in types)} arithmetic is folded")
        if any(x.scales.size for x in (*ins, outs[0])):
            raise NotFoldable("quantized arithmetic is not folded")
        if divides and np.any(b == 0):
            raise NotFoldable("it divides by zero")
        exact = np.asarray(fn(a.astype(object), b.astype(object)), dtype=object)
        activation = getattr(op.options, "FusedActivationFunction", lambda: A.NONE)() if op.options else A.NONE
        if activation not in _ACTIVATION:
            raise NotFoldable(f"fused activation {activation} is not folded")
        lo, hi = _ACTIVATION[activation]
        if lo is not None:
            exact = np.maximum(exact, lo)
        if hi is not None:
            exact = np.minimum(exact, hi)
        exact = np.asarray(exact, dtype=object)       # numpy gives 0-d object results back as Python ints
        info = np.iinfo(t)
        if exact.size and (np.min(exact) < info.min or np.max(exact) > info.max):
            raise NotFoldable(f"the result overflows {t}")
        return [np.asarray(exact.astype(np.int64), dtype=t).reshape(np.broadcast_shapes(a.shape, b.shape))]
    return evaluate


EVALUATORS: dict[str, Callable] = {
    "SHAPE": _shape,
    "RANK": _rank,
    "RESHAPE": _reshape,
    "SQUEEZE": _reshape,
    "EXPAND_DIMS": _reshape,
    "STRIDED_SLICE": _strided_slice,
    "SLICE": _slice,
    "PACK": _pack,
    "UNPACK": _unpack,
    "CONCATENATION": _concatenation,
    "GATHER": _gather,
    "CAST": _cast,
    "ADD": _binary(lambda a, b: a + b),
    "SUB": _binary(lambda a, b: a - b),
    "MUL": _binary(lambda a, b: a * b),
    "FLOOR_DIV": _binary(lambda a, b: a // b, divides=True, types=(np.int32,)),   # // floors, as TFLite's
    "FLOOR_MOD": _binary(lambda a, b: a % b, divides=True),       # the result takes the divisor's sign
    "MAXIMUM": _binary(np.maximum),
    "MINIMUM": _binary(np.minimum),
}
