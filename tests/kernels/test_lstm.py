"""UNIDIRECTIONAL_SEQUENCE_LSTM: seeded Keras LSTM models converted by TFLite (full-integer int8, the
converter's int16 cell state; and float32), our host runtime against TFLM byte for byte over a sequence of
inferences (the hidden and cell states are variable tensors that carry over, so both, not only the
outputs, are compared after each inference), and a few cases on the emulated M4 and M7 (all of them with
HARNESS_SWEEP=large, which also widens the sweep).

The models come from tf_keras (Keras 2): Keras 3's LSTM converts to a WHILE loop over three subgraphs, not
to the fused op. Drawn per case: sequence length, features, units, batch (batch-major or time-major),
whole sequences or the last step (the converter's STRIDED_SLICE: a view in our plan, a strided copy
for batch > 1), a second stacked
LSTM, a Dense softmax head (the keyword-spotting shape), the weights' and biases' spread and the
calibration data's (so the input, hidden and cell state scales vary; the cell state's power-of-two scale
moves the tanh's rescaling, and uniform test inputs beyond the calibrated range saturate the cell)."""
import os

import numpy as np
import pytest

from harness.plan.lower import lower
from harness.plan.model import load_model
from harness.tfgen import convert
from on_board import BOARDS, board_mismatches
from variable_state import compare_with_state

LARGE = os.environ.get("HARNESS_SWEEP") == "large"

FIELDS = ("steps", "features", "units", "batch", "time_major", "sequences", "stacked", "head", "w_std",
          "cal_std", "dtype")


def _lstm(steps, features, units, batch, time_major, sequences, stacked, head, w_std, cal_std, dtype, seed=7):
    """Input -> LSTM (-> LSTM) (-> Dense softmax); time-major models read [steps, batch, features]."""
    def build(tf):
        import tf_keras as keras    # Keras 3 would give a WHILE loop, not the fused op

        def init(std, k):
            return keras.initializers.RandomNormal(stddev=std, seed=seed + k)
        x = (keras.Input(shape=(batch, features), batch_size=steps) if time_major
             else keras.Input(shape=(steps, features), batch_size=batch))
        y = x
        for layer in range(2 if stacked else 1):
            last = layer == (1 if stacked else 0)
            y = keras.layers.LSTM(units, time_major=time_major, return_sequences=sequences or not last,
                                  kernel_initializer=init(w_std, 3 * layer),
                                  recurrent_initializer=init(w_std, 3 * layer + 1),
                                  bias_initializer=init(w_std / 2, 3 * layer + 2))(y)
        if head:
            y = keras.layers.Dense(head, activation="softmax", kernel_initializer=init(0.5, 9))(y)
        return keras.Model(x, y)
    return build


def _path(case):
    key = "lstm/v2/" + "-".join(str(v) for v in case)
    steps, features, _, batch, time_major = case[:5]
    whole = (steps, batch, features) if time_major else (batch, steps, features)   # the state has the batch's size
    cal_std = case[FIELDS.index("cal_std")]
    return convert(_lstm(*case), key, folder="sweep", float32=case[-1] == "f32",
                   calibration=lambda rng, shape: rng.normal(0.0, cal_std, size=whole))


def _cases(n: int, seed: int):
    rng = np.random.default_rng(seed)
    cases = []
    for _ in range(n):
        sequences = bool(rng.random() < 0.5)
        batch = 1 if rng.random() < 0.75 else int(rng.integers(2, 4))
        cases.append((int(rng.integers(1, 13)), int(rng.integers(1, 13)), int(rng.integers(1, 21)),
                      batch, bool(rng.random() < 0.2), sequences,
                      bool(rng.random() < 0.2),
                      0 if sequences or rng.random() < 0.5 else int(rng.integers(2, 13)),
                      round(float(np.exp(rng.uniform(np.log(0.1), np.log(1.5)))), 3),
                      round(float(np.exp(rng.uniform(np.log(0.2), np.log(5.0)))), 3),
                      "f32" if rng.random() < 0.25 else "i8"))
    return cases


KWS = (16, 10, 16, 1, False, False, False, 12, 0.4, 1.0, "i8")     # MFCC frames -> LSTM -> softmax
SEQUENCES = (12, 6, 8, 2, False, True, False, 0, 0.5, 1.0, "i8")
EDGES = [
    KWS,
    (1, 1, 1, 1, False, True, False, 0, 0.5, 1.0, "i8"),            # one step, one feature, one unit
    SEQUENCES,                                                      # batch-major, two sequences in turn
    (6, 5, 7, 3, True, True, False, 0, 0.5, 1.0, "i8"),             # time-major, three rows per step
    (6, 5, 7, 2, True, False, False, 5, 0.5, 1.0, "i8"),            # time-major, last step
    (8, 4, 12, 1, False, False, True, 0, 0.5, 1.0, "i8"),           # two stacked layers
    (10, 8, 6, 1, False, True, False, 0, 1.5, 0.2, "i8"),           # big weights, narrow calibration: saturating
    (8, 4, 12, 1, False, True, False, 0, 0.1, 5.0, "i8"),           # small weights, wide calibration
    KWS[:-1] + ("f32",),
    (6, 5, 7, 3, True, True, False, 0, 0.5, 1.0, "f32"),
    (8, 4, 12, 2, False, False, True, 4, 1.5, 1.0, "f32"),
]
CASES = EDGES + _cases(60 if LARGE else 16, seed=18)
BOARD_CASES = CASES if LARGE else [KWS, EDGES[3], EDGES[8]]


def _id(case) -> str:
    return "-".join(str(v) for v in case)


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_lstm_matches_tflm(case):
    """Outputs and both states equal to TFLM's after each of 8 inferences (uniform inputs over the whole
    int8 range or N(0, 1) floats, every fourth a quiet one)."""
    path = _path(case)
    g = load_model(path)
    lstm_ops = [op for op in g.ops if op.name == "UNIDIRECTIONAL_SEQUENCE_LSTM"]
    assert len(lstm_ops) == (2 if case[FIELDS.index("stacked")] else 1), g.op_names
    cell = g.tensor(lstm_ops[0].inputs[19])
    assert np.dtype(cell.dtype) == (np.float32 if case[-1] == "f32" else np.int16)
    problems = compare_with_state(path, steps=8, seed=1)
    assert not problems, "; ".join(problems[:5])


@pytest.mark.emulated
@pytest.mark.parametrize("board", BOARDS)
@pytest.mark.parametrize("case", BOARD_CASES, ids=_id)
def test_lstm_on_the_emulated_board(case, board):
    """The same inputs in the same order on the board and in TFLM, so the state evolves alike: int8
    outputs are the same bytes; float32 ones agree within the float tolerance (newlib's tanhf and expf
    are not glibc's, and each step's state carries the difference on)."""
    differ, disagree = board_mismatches(_path(case), board, "lstm", inputs=4)
    assert disagree == 0
    if case[-1] == "i8":
        assert differ == 0


def test_state_carries_over_and_restarts():
    """The same input twice gives two outputs (the state moved on), in TFLM and in ours; a new host model
    (a fresh boot) starts from TFLM's initial state again."""
    from harness.host_runtime import HostModel
    from tflite_synth import tflm
    path = _path(SEQUENCES)
    low = lower(load_model(path))
    x = np.random.default_rng(5).integers(-128, 128, size=low.graph.tensor(low.inputs[0]).shape, dtype=np.int8)
    ref = tflm(path)
    theirs = [(ref.set_input(x, 0), ref.invoke(), ref.get_output(0).tobytes())[2] for _ in range(2)]
    host = HostModel(low)
    ours = [host.run([x])[0], host.run([x])[0]]
    assert theirs[0] != theirs[1]
    assert ours == theirs
    assert HostModel(low).run([x]) == [theirs[0]]


def test_last_step_is_a_view_of_the_sequence():
    """return_sequences=False: the converter slices the last step out of [1, T, units]; the plan runs no
    kernel for it, the slice's bytes are the sequence's last row."""
    low = lower(load_model(_path(KWS)))
    g = low.graph
    assert [c.kernel for c in low.calls][:1] == ["tm_lstm_s8"] and len(low.calls) == 3, [c.kernel for c in low.calls]
    sl = next(op for op in g.ops if op.name == "STRIDED_SLICE")
    steps, units = KWS[0], KWS[2]
    assert low.plan.offsets[sl.outputs[0]] == low.plan.offsets[sl.inputs[0]] + (steps - 1) * units


def test_last_steps_of_a_batch_are_a_strided_copy():
    """Batch 2, last step: [2, T, units] -> [:, -1, :] is two rows T * units apart, not one run of bytes:
    the plan copies them with TRANSPOSE's strided copy (the sweep's batch-2 cases check the bytes)."""
    case = (6, 5, 7, 2, False, False, False, 0, 0.5, 1.0, "i8")
    low = lower(load_model(_path(case)))
    copy = low.calls[-1]
    assert copy.kernel == "tm_transpose" and copy.op.name == "STRIDED_SLICE"
    assert [copy.fields[f"dims[{i}]"] for i in (3, 4)] == [2, 7]
    assert [copy.fields[f"in_stride[{i}]"] for i in (3, 4)] == [6 * 7, 1]
    assert copy.fields["in_offset"].at == 5 * 7
    assert not compare_with_state(_path(case), steps=4, seed=2)


def test_the_sigmoid_table_is_its_derivation():
    """lut_int16.h holds exactly what harness/plan/lut.py derives (the LSTM sweeps above, bit-exact with
    TFLM, are what show the derivation right); and the derivation is not plain rounding."""
    import math
    import re
    from harness.build import FIRMWARE
    from harness.plan.lut import header_table, sigmoid_table_u16
    text = (FIRMWARE / "kernels" / "lut_int16.h").read_text()
    body = text[text.index("{", text.index("tm_sigmoid_table_u16")) + 1:text.index("};")]
    assert body.strip("\n") == header_table()
    table = sigmoid_table_u16()
    assert [int(v) for v in re.findall(r"\d+", body)] == table and len(table) == 256
    rounded = [round(65536 / (1 + math.exp(-i / 24))) for i in range(255)]
    assert sum(a != b for a, b in zip(table, rounded)) > 0
