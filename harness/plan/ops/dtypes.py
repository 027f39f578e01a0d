"""What the float32 and int16x8 lowerings share: TFLM's float activation range, float constants, and the
int16x8 scheme's checks.

int16x8 ("16x8") is TFLite's quantization with int16 activations and int8 weights: activations are
symmetric (zero point 0, which TFLM's int16 kernels assume: they apply no input or output offset), conv
and fully connected biases are int64."""
from __future__ import annotations

import numpy as np
from tflite.ActivationFunctionType import ActivationFunctionType as A

from harness.plan.kernel import Const
from harness.plan.model import Graph, ModelError, Op, Tensor

FLT_MAX = float(np.finfo(np.float32).max)


def same_type_unary(g: Graph, op: Op) -> tuple[Tensor, Tensor, str]:
    """An activation's operands: one input and one output of the same shape and dtype, int8 or float32;
    returns (input, output, the op's name for messages)."""
    if len(op.inputs) != 1 or len(op.outputs) != 1:
        raise ModelError(f"op {op.index} {op.name}: needs one input and one output")
    inp, out = g.tensor(op.inputs[0]), g.tensor(op.outputs[0])
    where = f"op {op.index} {op.name} (output {out.name!r})"
    if inp.dtype != out.dtype or np.dtype(out.dtype) not in (np.int8, np.float32):
        raise ModelError(f"{where}: only int8 and float32 are supported, got {inp.dtype} -> {out.dtype}")
    if inp.shape != out.shape:
        raise ModelError(f"{where}: input and output shapes differ")
    return inp, out, where


def same_type_with_param(g: Graph, op: Op, param: str) -> tuple[Tensor, Tensor, Tensor, str]:
    """The operands of an op on one int8 or float32 tensor steered by a second input (`param`, e.g. "an
    axis tensor", "a size", "a permutation"): (input, that second input, output, the op's name for
    messages); the output has the input's dtype."""
    if len(op.inputs) != 2 or len(op.outputs) != 1:
        raise ModelError(f"op {op.index} {op.name}: needs an input, {param} and one output")
    inp, second, out = g.tensor(op.inputs[0]), g.tensor(op.inputs[1]), g.tensor(op.outputs[0])
    where = f"op {op.index} {op.name} (output {out.name!r})"
    if inp.dtype != out.dtype or inp.dtype not in (np.int8, np.float32):
        raise ModelError(f"{where}: only int8 and float32 are supported, got {inp.dtype} -> {out.dtype}")
    return inp, second, out, where


def float_activation_range(where: str, activation: int) -> tuple[float, float]:
    """TFLM's CalculateActivationRange for float: NONE clamps to [-FLT_MAX, FLT_MAX] (so an overflow to
    infinity comes out as FLT_MAX, as TFLM's does)."""
    ranges = {A.NONE: (-FLT_MAX, FLT_MAX), A.RELU: (0.0, FLT_MAX), A.RELU_N1_TO_1: (-1.0, 1.0),
              A.RELU6: (0.0, 6.0)}
    if activation not in ranges:
        raise ModelError(f"{where}: fused activation {activation} is not supported")
    return ranges[activation]


def float_const(where: str, t: Tensor) -> Const:
    """A constant float32 tensor as a flash array (emitted as exact hex-float literals)."""
    if t.dtype != np.float32 or not t.is_constant:
        raise ModelError(f"{where}: tensor {t.name!r} must be a constant float32 tensor")
    if not np.all(np.isfinite(t.data)):
        raise ModelError(f"{where}: constant tensor {t.name!r} holds inf or NaN; not supported")
    return Const("float", np.ascontiguousarray(t.data, np.float32), t.index)


def check_int16_symmetric(where: str, *tensors: Tensor) -> None:
    """int16 activations of the 16x8 scheme: quantized per tensor with zero point 0."""
    for t in tensors:
        if t.scales.size != 1 or not t.scale > 0:
            raise ModelError(f"{where}: int16 tensor {t.name!r} must be quantized per tensor with a positive scale")
        if t.zero_point != 0:
            raise ModelError(f"{where}: int16 tensor {t.name!r} has zero point {t.zero_point}; the int16x8 "
                             "kernels (TFLM's too) need zero point 0")
