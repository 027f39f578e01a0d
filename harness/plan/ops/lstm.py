"""UNIDIRECTIONAL_SEQUENCE_LSTM as TFLM runs it (its kernel since 2023: the standard LSTM of a Keras
layer, no CIFG, peepholes, projection or layer norm; TFLM refuses those, and so do we):
- int8 activations and weights, int32 biases, an int8 hidden state and an int16 cell state (the
  converter's full-integer quantization of a Keras LSTM; TFLM's 8x8->16 kernel);
- float32 throughout.

The hidden and cell states are variable tensors (inputs 18 and 19): lower.py gives each a persistent arena
region plus the kernel's "initialised" flag byte (as SVDF's state), so the state carries over from one
inference to the next exactly as in TFLM's interpreter, which a Keras LSTM converted with its default
(stateful=False) relies on too: TFLite does not reset it between invocations.

TFLM's Prepare, mirrored for the integer kernel (the op's intermediate tensors, which older kernels read,
are ignored by this one): each gate's two fully connected layers requantize to Q3.12 with the conv formula
(input or hidden scale x weight scale / 2^-12, in double); the three element-wise products use
CreateInterGateMulParams' formula with the gates' Q0.15 scale (quant.py LSTM_GATE_OUTPUT_SCALE); the tanh of
the cell state reads it through its power-of-two scale (TFLite's CheckedLog2, result unchecked by TFLM);
the cell clip, when the option is positive, is clip / cell_scale in double truncated to int16. The output
tensor gets the hidden state's bytes, whatever its own quantization says (TFLM copies them)."""
import numpy as np
from tflite.ActivationFunctionType import ActivationFunctionType as A

from harness.plan.kernel import Arena, Const, KernelCall
from harness.plan.model import Graph, ModelError, Op, Tensor
from harness.plan.ops.dtypes import float_const
from harness.plan.quant import (LSTM_GATE_INPUT_SCALE, LSTM_GATE_OUTPUT_SCALE, checked_log2, conv_multiplier,
                                lstm_tanh_rescale, product_multiplier)

# the op's inputs (TFLite's lstm_shared.h); the gates in the kernel's order (firmware/kernels/lstm.h)
INPUT, HIDDEN, CELL = 0, 18, 19
GATES = ("input", "forget", "cell", "output")
IN_WEIGHTS, REC_WEIGHTS, BIASES = (1, 2, 3, 4), (5, 6, 7, 8), (12, 13, 14, 15)
VARIANTS = {"CIFG (no input gate)": (1, 5, 12), "peephole": (9, 10, 11), "projection": (16, 17),
            "layer norm": (20, 21, 22, 23)}


def lower(g: Graph, op: Op) -> KernelCall:
    if len(op.outputs) != 1 or len(op.inputs) != 24:
        raise ModelError(f"op {op.index} {op.name}: needs 24 inputs (absent ones -1) and one output")
    out = g.tensor(op.outputs[0])
    where = f"op {op.index} {op.name} (output {out.name!r})"
    present = lambda i: op.inputs[i] >= 0                                          # noqa: E731
    for variant, slots in VARIANTS.items():
        if variant.startswith("CIFG") and not all(present(i) for i in slots):
            raise ModelError(f"{where}: a {variant} LSTM is not supported (TFLM's kernel needs every gate)")
        if not variant.startswith("CIFG") and any(present(i) for i in slots):
            raise ModelError(f"{where}: a {variant} LSTM is not supported (TFLM's kernel refuses it too)")
    for i in (INPUT, HIDDEN, CELL, *IN_WEIGHTS, *REC_WEIGHTS, *BIASES):
        if not present(i):
            raise ModelError(f"{where}: input {i} is missing")
    inp, hidden, cell = (g.tensor(op.inputs[i]) for i in (INPUT, HIDDEN, CELL))
    w_in = [g.tensor(op.inputs[i]) for i in IN_WEIGHTS]
    w_rec = [g.tensor(op.inputs[i]) for i in REC_WEIGHTS]
    biases = [g.tensor(op.inputs[i]) for i in BIASES]
    opts = op.options
    if opts is not None and opts.FusedActivationFunction() != A.TANH:
        raise ModelError(f"{where}: the cell gate's activation must be tanh (TFLM runs only tanh or sigmoid, and "
                         f"a TFLite model can name only tanh), got {opts.FusedActivationFunction()}")
    time_major = bool(opts.TimeMajor()) if opts is not None else False
    cell_clip = float(opts.CellClip()) if opts is not None else 0.0

    if len(inp.shape) != 3 or len(out.shape) != 3:
        raise ModelError(f"{where}: input and output must be 3-D, got {list(inp.shape)} and {list(out.shape)}")
    steps, batches = inp.shape[:2] if time_major else inp.shape[1::-1]
    input_size = inp.shape[2]
    units = w_rec[0].shape[0] if len(w_rec[0].shape) == 2 else -1
    for w, cols in [*((w, input_size) for w in w_in), *((w, units) for w in w_rec)]:
        if w.shape != (units, cols) or not w.is_constant:
            raise ModelError(f"{where}: weights {w.name!r} must be a constant {units}x{cols} tensor, got "
                             f"{list(w.shape)}")
    for b in biases:
        if b.shape != (units,) or not b.is_constant:
            raise ModelError(f"{where}: bias {b.name!r} must be a constant tensor of {units} values")
    if out.shape != (*inp.shape[:2], units):
        raise ModelError(f"{where}: output shape {list(out.shape)}, expected {[*inp.shape[:2], units]}")
    for state in (hidden, cell):
        if not state.is_variable or state.is_constant:
            raise ModelError(f"{where}: the state {state.name!r} must be a variable tensor without initial data")
        if int(np.prod(state.shape)) != batches * units:
            raise ModelError(f"{where}: state {state.name!r} has {int(np.prod(state.shape))} values for "
                             f"{batches} batch(es) of {units} units")
    if hidden.dtype != inp.dtype or out.dtype != inp.dtype:
        raise ModelError(f"{where}: the hidden state and output must have the input's type ({np.dtype(inp.dtype)})")
    io = {"in_offset": Arena(op.inputs[INPUT]), "out_offset": Arena(op.outputs[0]),
          "hidden_offset": Arena(op.inputs[HIDDEN]), "cell_offset": Arena(op.inputs[CELL]),
          "batches": batches, "steps": steps, "input_size": input_size, "units": units,
          "time_major": int(time_major)}
    rows = batches if time_major else 1
    macs = steps * batches * 4 * units * (input_size + units)
    if inp.dtype == np.float32:
        if any(t.dtype != np.float32 for t in (cell, *w_in, *w_rec, *biases)):
            raise ModelError(f"{where}: a float32 LSTM needs float32 weights, biases and cell state (a hybrid "
                             "LSTM, int8 weights with float activations, is not supported)")
        gates = {f"gate[{k}].{field}": float_const(where, t) for k in range(4)
                 for field, t in (("in_weights", w_in[k]), ("rec_weights", w_rec[k]), ("bias", biases[k]))}
        return KernelCall("tm_lstm_f32", "lstm.h", "tm_lstm_f32_params_t", op, {
            **io, **gates, "cell_clip": cell_clip if cell_clip > 0 else 0.0,
        }, macs=macs, scratch=4 * rows * units * 4)
    return KernelCall("tm_lstm_s8", "lstm.h", "tm_lstm_s8_params_t", op,
                      {**io, **_integer_params(where, inp, hidden, cell, w_in, w_rec, biases, cell_clip)},
                      macs=macs, scratch=4 * rows * units * 2)


def _integer_params(where: str, inp: Tensor, hidden: Tensor, cell: Tensor, w_in: list[Tensor],
                    w_rec: list[Tensor], biases: list[Tensor], cell_clip: float) -> dict:
    """The 8x8->16 kernel's fields: the gates' multipliers and constants, the products' multipliers, the
    cell state's tanh rescaling and clip."""
    if inp.dtype != np.int8 or cell.dtype != np.int16:
        raise ModelError(f"{where}: only int8 activations with an int16 cell state (or float32) are supported, "
                         f"got {np.dtype(inp.dtype)} activations and a {np.dtype(cell.dtype)} cell state")
    if any(w.dtype != np.int8 for w in (*w_in, *w_rec)) or any(b.dtype != np.int32 for b in biases):
        raise ModelError(f"{where}: the weights must be int8 and the biases int32")
    for t in (inp, hidden, cell, *w_in, *w_rec):
        if t.scales.size != 1:
            raise ModelError(f"{where}: tensor {t.name!r} must be quantized per tensor")
    if any(w.zero_point != 0 for w in (*w_in, *w_rec)) or cell.zero_point != 0:
        raise ModelError(f"{where}: the weights and the cell state must be symmetric (zero point 0)")
    fields = {"in_zero_point": inp.zero_point, "hidden_zero_point": hidden.zero_point}
    for k in range(4):
        m_in, s_in = conv_multiplier(inp.scale, w_in[k].scale, LSTM_GATE_INPUT_SCALE)
        m_rec, s_rec = conv_multiplier(hidden.scale, w_rec[k].scale, LSTM_GATE_INPUT_SCALE)
        fields |= {f"gate[{k}].in_multiplier": m_in, f"gate[{k}].in_shift": s_in,
                   f"gate[{k}].rec_multiplier": m_rec, f"gate[{k}].rec_shift": s_rec,
                   f"gate[{k}].in_weights": Const("int8_t", w_in[k].data, w_in[k].index),
                   f"gate[{k}].rec_weights": Const("int8_t", w_rec[k].data, w_rec[k].index),
                   f"gate[{k}].bias": Const("int32_t", biases[k].data, biases[k].index)}
    q015 = LSTM_GATE_OUTPUT_SCALE
    products = {"forget": (q015, cell.scale, cell.scale), "input": (q015, q015, cell.scale),
                "hidden": (q015, q015, hidden.scale)}
    for name, scales in products.items():
        fields[f"{name}_multiplier"], fields[f"{name}_shift"] = product_multiplier(*scales)
    power, _ = checked_log2(cell.scale)
    try:
        fields["tanh_multiplier"], fields["tanh_shift"] = lstm_tanh_rescale(power)
    except ModelError as e:
        raise ModelError(f"{where}: {e}") from None
    clip = int(np.trunc(min(max(float(np.float32(cell_clip)) / float(np.float32(cell.scale)), -32768.0), 32767.0)))
    return fields | {"cell_clip": clip, "clip_enabled": int(cell_clip > 0)}
