"""MAXIMUM and MINIMUM: int8, int16 and float32, two arena inputs or one constant (in flash), broadcasting
as ADD does (harness/plan/ops/elementwise.py).

TFLM's semantics (maximum_minimum.cc): the stored values are compared as they are, with no requantization
and no fused activation, whatever the three tensors' quantization says. The converter gives the inputs and
the output one scale and zero point (so this is the comparison of real values); a model that does not is
still run as TFLM runs it, on the raw values (tests/kernels/test_minmax.py shows TFLM doing so)."""
import numpy as np

from harness.plan.kernel import Arena, KernelCall
from harness.plan.model import Graph, ModelError, Op
from harness.plan.ops.elementwise import broadcast_geometry, operand_fields

_SUFFIX = {np.dtype(np.int8): "s8", np.dtype(np.int16): "s16", np.dtype(np.float32): "f32"}


def lower(g: Graph, op: Op) -> KernelCall:
    if len(op.inputs) != 2 or len(op.outputs) != 1 or min(op.inputs) < 0:
        raise ModelError(f"op {op.index} {op.name}: needs two inputs and one output")
    a, b, out = g.tensor(op.inputs[0]), g.tensor(op.inputs[1]), g.tensor(op.outputs[0])
    where = f"op {op.index} {op.name} (output {out.name!r})"
    if not (a.dtype == b.dtype == out.dtype) or np.dtype(out.dtype) not in _SUFFIX:
        raise ModelError(f"{where}: only int8, int16, float32 are supported (all three tensors alike), got "
                         f"{a.dtype}, {b.dtype} -> {out.dtype}")
    if a.is_constant and b.is_constant:
        raise ModelError(f"{where}: both inputs are constants (not folded by the converter); not supported")
    return KernelCall(f"tm_{op.name.lower()}_{_SUFFIX[np.dtype(out.dtype)]}", "elementwise.h",
                      "tm_binary_raw_params_t", op, {
                          **operand_fields(op, 0, a), **operand_fields(op, 1, b), "out_offset": Arena(op.outputs[0]),
                          **broadcast_geometry(where, a.shape, b.shape, out.shape)}, macs=int(np.prod(out.shape)))
