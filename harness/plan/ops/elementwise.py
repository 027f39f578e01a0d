"""ADD, SUB and MUL: two arena inputs, or one constant input (stored in flash), with broadcasting up to 6-D
(a dimension of 1 against any size) and a fused activation. int8 and int16 (int16x8: zero points 0; the
int8 arithmetic, ADD and SUB with left_shift 15, as TFLM's); float32 (a + b, a - b, a * b in single
precision, then TFLM's float clamp).

TFLM's semantics (add_common.cc / mul_common.cc, reference_integer_ops Add and Mul):
- ADD rescales both inputs to a common scale first: left_shift = 20, each input's value minus its zero
  point is shifted left by 20 and multiplied by input_scale / (2 * max_input_scale); the sum is multiplied
  by 2 * max_input_scale / (2^20 * output_scale). All three multipliers come from
  QuantizeMultiplierSmallerThanOneExp (so each must be below 1) and are applied with double rounding.
- SUB is ADD with the second rescaled input subtracted: the same multipliers (sub_common.cc).
- MUL multiplies the two zero-point-corrected values and applies one multiplier,
  input1_scale * input2_scale / output_scale (QuantizeMultiplier, may be above 1).
- Broadcasting gives every output element the same arithmetic as the element-wise case; only indexing
  differs. Here shapes are collapsed offline to at most 6 dimensions with per-input strides (0 where an
  input is broadcast), so one loop nest serves every case."""
import numpy as np

from harness.plan.kernel import Arena, Const, KernelCall
from harness.plan.model import Graph, ModelError, Op, Tensor
from harness.plan.ops.dtypes import check_int16_symmetric, float_activation_range, float_const
from harness.plan.quant import activation_range, product_multiplier, quantize_multiplier

_FLOAT_KERNELS = {"ADD": "tm_add_f32", "SUB": "tm_sub_f32", "MUL": "tm_mul_f32"}
ADD_LEFT_SHIFT = {np.dtype(np.int8): 20, np.dtype(np.int16): 15}   # TFLM's left_shift for ADD and SUB
MAX_DIMS = 6                 # the kernels' loop nest; TFLM also broadcasts up to 6-D


def broadcast_geometry(where: str, a: tuple, b: tuple, out: tuple) -> dict:
    """The output shape collapsed to MAX_DIMS dimensions (outermost first), with each input's element
    strides along them (0 where that input is broadcast), as params fields."""
    rank = len(out)
    if len(a) > rank or len(b) > rank:
        raise ModelError(f"{where}: input shapes {list(a)} and {list(b)} do not broadcast to {list(out)}")
    a, b = (1,) * (rank - len(a)) + tuple(a), (1,) * (rank - len(b)) + tuple(b)
    groups: list[list] = []          # [size, a broadcast, b broadcast]
    for da, db, do in zip(a, b, out):
        if da not in (1, do) or db not in (1, do) or do != max(da, db):
            raise ModelError(f"{where}: input shapes {list(a)} and {list(b)} do not broadcast to {list(out)}")
        if do == 1:
            continue
        flags = [da != do, db != do]
        if groups and groups[-1][1:] == flags:
            groups[-1][0] *= do
        else:
            groups.append([do, *flags])
    if a != b and rank > MAX_DIMS:
        raise ModelError(f"{where}: broadcasting {list(a)} with {list(b)} is supported up to {MAX_DIMS}-D "
                         "(as TFLM's reference kernels)")
    if len(groups) > MAX_DIMS:
        raise ModelError(f"{where}: broadcasting {list(a)} with {list(b)} needs {len(groups)} dimensions "
                         f"after collapsing; at most {MAX_DIMS} are supported")
    groups = [[1, False, False]] * (MAX_DIMS - len(groups)) + groups
    fields: dict = {}
    run_a = run_b = 1
    for d in reversed(range(MAX_DIMS)):
        size, bcast_a, bcast_b = groups[d]
        fields[f"dims[{d}]"] = size
        fields[f"in1_stride[{d}]"] = 0 if bcast_a else run_a
        fields[f"in2_stride[{d}]"] = 0 if bcast_b else run_b
        run_a *= 1 if bcast_a else size
        run_b *= 1 if bcast_b else size
    return dict(sorted(fields.items()))


def _inputs(g: Graph, op: Op) -> tuple[Tensor, Tensor, Tensor, str]:
    if len(op.inputs) != 2 or len(op.outputs) != 1 or min(op.inputs) < 0:
        raise ModelError(f"op {op.index} {op.name}: needs two inputs and one output")
    a, b, out = g.tensor(op.inputs[0]), g.tensor(op.inputs[1]), g.tensor(op.outputs[0])
    where = f"op {op.index} {op.name} (output {out.name!r})"
    types = (np.int8, np.int16, np.float32)
    if not (a.dtype == b.dtype == out.dtype) or np.dtype(out.dtype).type not in types:
        raise ModelError(f"{where}: only {', '.join(np.dtype(t).name for t in types)} are supported (all three "
                         f"tensors alike), got {a.dtype}, {b.dtype} -> {out.dtype}")
    if out.dtype != np.float32:
        for t in (a, b, out):
            if t.scales.size != 1 or not t.scale > 0:
                raise ModelError(f"{where}: tensor {t.name!r} must be quantized per tensor with a positive scale")
    if out.dtype == np.int16:
        check_int16_symmetric(where, a, b, out)
    if a.is_constant and b.is_constant:
        raise ModelError(f"{where}: both inputs are constants (not folded by the converter); not supported")
    return a, b, out, where


def operand_fields(op: Op, i: int, t: Tensor) -> dict:
    """An input read from the arena, or (a constant) from flash: the kernel uses the pointer when set."""
    n = i + 1
    if t.is_constant:
        data = float_const(f"op {op.index} {op.name}", t) if t.dtype == np.float32 else \
            Const({np.dtype(np.int8): "int8_t", np.dtype(np.int16): "int16_t"}[np.dtype(t.dtype)], t.data, op.inputs[i])
        return {f"in{n}_offset": 0, f"in{n}_const": data}
    return {f"in{n}_offset": Arena(op.inputs[i]), f"in{n}_const": None}


def _activation(op: Op, out: Tensor) -> tuple[int, int]:
    return activation_range(op.options.FusedActivationFunction() if op.options is not None else 0, out)


def add_multipliers(where: str, s1: float, s2: float, s_out: float,
                    left_shift: int = 20) -> tuple[tuple[int, int], ...]:
    """TFLM's int8/int16 ADD and SUB: (input1, input2, output) (multiplier, shift), from input_scale / (2 *
    max input scale) and 2 * max input scale / (2^left_shift * output_scale), each of which must be below 1
    (QuantizeMultiplierSmallerThanOneExp)."""
    twice_max = 2.0 * float(max(np.float32(s1), np.float32(s2)))
    reals = (float(s1) / twice_max, float(s2) / twice_max, twice_max / ((1 << left_shift) * float(s_out)))
    if reals[2] >= 1.0:
        raise ModelError(f"{where}: output scale {s_out} is too small for the inputs' scales ({s1}, {s2}); "
                         "TFLM's ADD and SUB cannot rescale it")
    return tuple(quantize_multiplier(r) for r in reals)


def _lower_float(g: Graph, op: Op, a: Tensor, b: Tensor, out: Tensor, where: str) -> KernelCall:
    act_min, act_max = float_activation_range(
        where, op.options.FusedActivationFunction() if op.options is not None else 0)
    return KernelCall(_FLOAT_KERNELS[op.name], "elementwise.h", "tm_binary_f32_params_t",
                      op, {**operand_fields(op, 0, a), **operand_fields(op, 1, b),
                           "out_offset": Arena(op.outputs[0]), **broadcast_geometry(where, a.shape, b.shape, out.shape),
                           "act_min": act_min, "act_max": act_max}, macs=int(np.prod(out.shape)))


def lower_add(g: Graph, op: Op) -> KernelCall:
    """ADD and SUB: the same parameters; the kernel adds or subtracts the rescaled inputs."""
    a, b, out, where = _inputs(g, op)
    if out.dtype == np.float32:
        return _lower_float(g, op, a, b, out, where)
    left_shift = ADD_LEFT_SHIFT[np.dtype(out.dtype)]
    (m1, s1), (m2, s2), (mo, so) = add_multipliers(where, a.scale, b.scale, out.scale, left_shift)
    act_min, act_max = _activation(op, out)
    geo = broadcast_geometry(where, a.shape, b.shape, out.shape)
    kernel = f"tm_{op.name.lower()}_{'s16' if out.dtype == np.int16 else 's8'}"
    return KernelCall(kernel, "elementwise.h", "tm_add_params_t", op, {
        **operand_fields(op, 0, a), **operand_fields(op, 1, b), "out_offset": Arena(op.outputs[0]),
        **geo,
        "in1_zero_offset": -a.zero_point, "in2_zero_offset": -b.zero_point, "out_zero_point": out.zero_point,
        "left_shift": left_shift,
        "in1_multiplier": m1, "in1_shift": s1, "in2_multiplier": m2, "in2_shift": s2,
        "out_multiplier": mo, "out_shift": so,
        "act_min": act_min, "act_max": act_max,
    }, macs=int(np.prod(out.shape)))


def lower_mul(g: Graph, op: Op) -> KernelCall:
    a, b, out, where = _inputs(g, op)
    if out.dtype == np.float32:
        return _lower_float(g, op, a, b, out, where)
    mult, shift = product_multiplier(a.scale, b.scale, out.scale)
    act_min, act_max = _activation(op, out)
    geo = broadcast_geometry(where, a.shape, b.shape, out.shape)
    return KernelCall("tm_mul_s16" if out.dtype == np.int16 else "tm_mul_s8", "elementwise.h", "tm_mul_params_t", op, {
        **operand_fields(op, 0, a), **operand_fields(op, 1, b), "out_offset": Arena(op.outputs[0]),
        **geo,
        "in1_zero_offset": -a.zero_point, "in2_zero_offset": -b.zero_point, "out_zero_point": out.zero_point,
        "out_multiplier": mult, "out_shift": shift,
        "act_min": act_min, "act_max": act_max,
    }, macs=int(np.prod(out.shape)))
