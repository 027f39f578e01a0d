"""PAD and PADV2, int8 or float32, constant padding of up to 5-D tensors.

TFLM's semantics (pad.cc): the paddings are a constant int32 [rank, 2] tensor of non-negative
(before, after) counts; the input's values are copied unchanged (no requantization) and the border is
filled with the output's zero point (PAD: the real value 0) or, for PADV2, with the raw int8 constant,
which TFLM requires to have the output's scale and zero point. float32: the border is 0.0f or PADV2's float
constant."""
import numpy as np

from harness.plan.kernel import Arena, KernelCall
from harness.plan.model import Graph, ModelError, Op

MAX_DIMS = 5


def lower(g: Graph, op: Op) -> KernelCall:
    if len(op.inputs) not in (2, 3) or len(op.outputs) != 1:
        raise ModelError(f"op {op.index} {op.name}: needs 2 or 3 inputs and one output")
    inp, pads, out = g.tensor(op.inputs[0]), g.tensor(op.inputs[1]), g.tensor(op.outputs[0])
    where = f"op {op.index} {op.name} (output {out.name!r})"
    if inp.dtype != out.dtype or inp.dtype not in (np.int8, np.float32):
        raise ModelError(f"{where}: only int8 and float32 are supported, got {inp.dtype} -> {out.dtype}")
    is_float = inp.dtype == np.float32
    if inp.is_constant:
        raise ModelError(f"{where}: padding a constant (not folded by the converter) is not supported")
    rank = len(inp.shape)
    if not pads.is_constant or pads.dtype != np.int32 or pads.shape != (rank, 2):
        raise ModelError(f"{where}: paddings must be a constant int32 [{rank}, 2] tensor, got "
                         f"{'constant' if pads.is_constant else 'non-constant'} {pads.dtype} {list(pads.shape)}")
    if rank > MAX_DIMS or rank == 0:
        raise ModelError(f"{where}: {rank}-D input; 1-D to {MAX_DIMS}-D are supported")
    before, after = pads.data[:, 0].astype(np.int64), pads.data[:, 1].astype(np.int64)   # copies
    if np.any(before < 0) or np.any(after < 0):
        raise ModelError(f"{where}: negative paddings {pads.data.tolist()} are not supported")
    if op.pads is not None:      # a tile of a patch-based plan: its own rows/columns of padding, if any
        if rank != 4:
            raise ModelError(f"{where}: a tile's padding needs a 4-D tensor")
        before[1:3] = op.pads
        after[1:3] = np.asarray(out.shape[1:3]) - np.asarray(inp.shape[1:3]) - before[1:3]
    expected = tuple(int(d) for d in np.asarray(inp.shape) + before + after)
    if np.any(after < 0) or expected != tuple(out.shape):
        raise ModelError(f"{where}: output {list(out.shape)}, but input {list(inp.shape)} padded by "
                         f"{pads.data.tolist()} is {list(expected)}")
    if is_float:
        value = 0.0
        if len(op.inputs) == 3 and op.inputs[2] >= 0:
            cv = g.tensor(op.inputs[2])
            if not cv.is_constant or cv.dtype != np.float32 or cv.data.size != 1 or not np.isfinite(cv.data).all():
                raise ModelError(f"{where}: the constant value must be a finite constant float32 scalar")
            value = float(cv.data.reshape(-1)[0])
    elif len(op.inputs) == 3 and op.inputs[2] >= 0:
        cv = g.tensor(op.inputs[2])
        if not cv.is_constant or cv.dtype != np.int8 or cv.data.size != 1:
            raise ModelError(f"{where}: the constant value must be a constant int8 scalar")
        if cv.scales.size and out.scales.size and (cv.zero_point != out.zero_point or
                                                   float(cv.scale) != float(out.scale)):
            raise ModelError(f"{where}: the constant value's quantization (scale {cv.scale}, zero point "
                             f"{cv.zero_point}) must be the output's, as TFLM requires")
        value = int(cv.data.reshape(-1)[0])
    else:
        if out.zero_point < -128 or out.zero_point > 127:
            raise ModelError(f"{where}: output zero point {out.zero_point} is outside int8")
        value = out.zero_point
    # Leading dimensions of 1 without padding make every case 5-D.
    lead = MAX_DIMS - rank
    in_dims = (1,) * lead + tuple(inp.shape)
    out_dims = (1,) * lead + tuple(out.shape)
    pad_before = (0,) * lead + tuple(int(x) for x in before)
    fields: dict = {"in_offset": Arena(op.inputs[0]), "out_offset": Arena(op.outputs[0])}
    for d in range(MAX_DIMS):
        fields[f"in_dims[{d}]"] = in_dims[d]
    for d in range(MAX_DIMS):
        fields[f"out_dims[{d}]"] = out_dims[d]
    for d in range(MAX_DIMS):
        fields[f"before[{d}]"] = pad_before[d]
    fields["pad_value"] = value
    if is_float:
        return KernelCall("tm_pad_f32", "pad.h", "tm_pad_f32_params_t", op, fields)
    return KernelCall("tm_pad_s8", "pad.h", "tm_pad_params_t", op, fields)
