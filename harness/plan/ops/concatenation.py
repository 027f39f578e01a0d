"""CONCATENATION, int8, int16 or float32, along any axis of up to 6-D tensors, up to 10 inputs (arena or
constant).

TFLM's semantics (concatenation.cc): int8 never requantizes. TFLM's Prepare requires every input to have
exactly the output's scale and zero point ("no re-scaling needed for Int8 quantized kernel"; the converter
gives them that) and then copies the input bytes unchanged. Inputs with their own quantization are refused
here as TFLM refuses them, as are a fused activation, more than 10 inputs and more than 6 dimensions.
int16 is held to the same rule; float32 is a plain copy. The kernel copies bytes, whatever the type."""
import numpy as np

from harness.plan.kernel import Arena, Const, KernelCall
from harness.plan.model import Graph, ModelError, Op

MAX_INPUTS = 10
MAX_DIMS = 6


def lower(g: Graph, op: Op) -> KernelCall:
    out = g.tensor(op.outputs[0])
    where = f"op {op.index} CONCATENATION (output {out.name!r})"
    ins = [g.tensor(t) for t in op.inputs]
    if not 1 <= len(ins) <= MAX_INPUTS or min(op.inputs) < 0:
        raise ModelError(f"{where}: {len(ins)} inputs; 1 to {MAX_INPUTS} are supported")
    if any(t.dtype != out.dtype for t in ins) or out.dtype not in (np.int8, np.int16, np.float32):
        raise ModelError(f"{where}: only int8, int16 and float32 are supported (inputs and output alike), got "
                         f"{[str(t.dtype) for t in ins]} -> {out.dtype}")
    itemsize = np.dtype(out.dtype).itemsize
    opts = op.options
    if opts is not None and opts.FusedActivationFunction() != 0:
        raise ModelError(f"{where}: a fused activation on CONCATENATION is not supported (TFLM refuses it)")
    for t in () if out.dtype == np.float32 else ins:
        if t.scales.size != 1 or out.scales.size != 1 or float(t.scale) != float(out.scale) \
                or t.zero_point != out.zero_point:
            raise ModelError(f"{where}: input {t.name!r} (scale {t.scales.tolist()}, zero point "
                             f"{t.zero_points.tolist()}) must have the output's quantization (scale "
                             f"{out.scales.tolist()}, zero point {out.zero_points.tolist()}): TFLM's int8 "
                             "CONCATENATION copies bytes and refuses to rescale")
    rank = len(out.shape)
    if rank > MAX_DIMS or any(len(t.shape) != rank for t in ins):
        raise ModelError(f"{where}: inputs {[list(t.shape) for t in ins]} -> {list(out.shape)}; all must have "
                         f"the output's rank, at most {MAX_DIMS}")
    axis = opts.Axis() if opts is not None else 0
    axis = axis + rank if axis < 0 else axis
    if not 0 <= axis < rank:
        raise ModelError(f"{where}: axis {axis} is out of range for {rank}-D tensors")
    for t in ins:
        if any(t.shape[d] != out.shape[d] for d in range(rank) if d != axis):
            raise ModelError(f"{where}: input {list(t.shape)} does not match output {list(out.shape)} "
                             f"off axis {axis}")
    if sum(t.shape[axis] for t in ins) != out.shape[axis]:
        raise ModelError(f"{where}: inputs' sizes along axis {axis} do not add up to the output's")
    outer = int(np.prod(out.shape[:axis], dtype=np.int64))
    inner = int(np.prod(out.shape[axis + 1:], dtype=np.int64))
    fields: dict = {"out_offset": Arena(op.outputs[0]), "n_inputs": len(ins), "outer": outer}
    for i, (ti, t) in enumerate(zip(op.inputs, ins)):
        fields[f"in_bytes[{i}]"] = t.shape[axis] * inner * itemsize
    for i, (ti, t) in enumerate(zip(op.inputs, ins)):
        fields[f"in_offset[{i}]"] = 0 if t.is_constant else Arena(ti)
    for i, (ti, t) in enumerate(zip(op.inputs, ins)):
        # other types as their bytes: not shared by tensor index (another op may emit it with its own type)
        fields[f"in_const[{i}]"] = Const("int8_t", np.ascontiguousarray(t.data).view(np.int8),
                                         ti if t.dtype == np.int8 else None) if t.is_constant else None
    return KernelCall("tm_concatenation_s8", "concatenation.h", "tm_concat_params_t", op, fields)
