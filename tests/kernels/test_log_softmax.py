"""LOG_SOFTMAX (int8, float32) against TFLM, byte for byte, on the host build; a few cases on the emulated
M4 and M7 (all Keras cases with HARNESS_SWEEP=large, which also widens the sweep).

int8 from two sources, as test_softmax.py: Keras Dense -> tf.nn.log_softmax converted by TensorFlow (the
Dense's weights set the input scale) and hand-built single-op models (tflite_synth) drawing the input scale
log-uniformly over 1e-3 .. 60 and the zero point over int8, for scales the converter rarely gives (the
multiplier cap, tiny scales where no difference saturates). Inputs are uniform over int8 plus structured
rows (all equal, one hot, two close values). float32: Keras models converted without quantization."""
import os

import numpy as np
import pytest

from harness.plan.lower import lower
from harness.plan.model import ModelError, load_model
from harness.sweep import run_case
from harness.tfgen import convert
from on_board import BOARDS, board_mismatches
from test_softmax import _structured
from tflite_synth import Synth, compare

LARGE = os.environ.get("HARNESS_SWEEP") == "large"


def _synth(shape, in_scale, in_zp, out_scale=16.0 / 256, out_zp=127):
    s = Synth()
    a = s.tensor(shape, np.int8, in_scale, in_zp)
    b = s.tensor(shape, np.int8, out_scale, out_zp)
    s.op("LOG_SOFTMAX", [a], [b])
    return s.save([a], [b])


def _synth_cases(n, seed):
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(n):
        depth = int(rng.choice([1, 2, 3, 5, 10, 12, 33, 64, 100, 257]))
        rows = int(rng.integers(1, 4))
        shape = (rows, depth) if rng.random() < 0.7 else (1, rows, depth)
        in_scale = float(np.exp(rng.uniform(np.log(1e-3), np.log(60.0))))
        cases.append(pytest.param(shape, in_scale, int(rng.integers(-128, 128)), id=f"r{i}"))
    return cases


FIXED = [
    pytest.param((1, 10), 0.1, 0, id="plain"),
    pytest.param((1, 1), 0.5, 3, id="depth1"),                 # log(exp(0)) = 0: the output maximum
    pytest.param((2, 7), 40.0, -5, id="multiplier-cap"),       # scale * 2^26 above 2^31 - 1: capped
    pytest.param((3, 50), 1e-3, 0, id="tiny-scale"),           # no input difference saturates
    pytest.param((2, 300), 0.05, 10, id="wide"),               # sums of many exps
]


@pytest.mark.parametrize("shape,in_scale,in_zp", FIXED + _synth_cases(200 if LARGE else 30, 11))
def test_log_softmax_synth(shape, in_scale, in_zp):
    path = _synth(shape, in_scale, in_zp)
    rng = np.random.default_rng(abs(hash((shape, in_scale))) % 2**32)
    xs = [rng.integers(-128, 128, size=shape, dtype=np.int8) for _ in range(6)] + _structured(shape, rng)
    bad, first = compare(path, xs)
    assert bad == 0, f"{bad}/{len(xs)} inputs differ from TFLM; {first}"


def _dense_log_softmax(shape, weight_std):
    """A Dense of the input (its weights' spread sets the log softmax's input scale), then log softmax."""
    def build(tf):
        x = tf.keras.Input(shape, batch_size=1)
        init = tf.keras.initializers.RandomNormal(stddev=weight_std, seed=3)
        y = tf.keras.layers.Dense(shape[-1], kernel_initializer=init, bias_initializer=init)(x)
        return tf.keras.Model(x, tf.keras.layers.Lambda(lambda t: tf.nn.log_softmax(t))(y))
    return build


KERAS = [((10,), 0.05, "i8"), ((32,), 0.3, "i8"), ((4, 8), 1.0, "i8"), ((64,), 3.0, "i8"),
         ((10,), 0.5, "f32"), ((3, 12), 2.0, "f32")]
if LARGE:
    KERAS += [((d,), w, t) for d in (3, 12, 100) for w in (0.02, 0.5, 5.0) for t in ("i8", "f32")]
BOARD_CASES = KERAS if LARGE else [KERAS[1], KERAS[4]]


def _key(case) -> str:
    return "log_softmax/v1/" + "-".join(str(v).replace(" ", "") for v in case)


@pytest.mark.parametrize("case", KERAS, ids=_key)
def test_log_softmax_after_dense(case):
    shape, weight_std, dtype = case
    r = run_case(_dense_log_softmax(shape, weight_std), _key(case), inputs=10, float32=dtype == "f32")
    assert r.ops == ["FULLY_CONNECTED", "LOG_SOFTMAX"], r.ops
    assert r.mismatches == 0 and r.bit_exact, f"{r.key}: {r.mismatches}/{r.inputs} differ from TFLM; {r.first_diff}"


@pytest.mark.emulated
@pytest.mark.parametrize("board", BOARDS)
@pytest.mark.parametrize("case", BOARD_CASES, ids=_key)
def test_log_softmax_on_the_emulated_board(case, board):
    """int8: TFLM's bytes. float32: within harness.reference's tolerance (newlib's expf/logf on the
    board); the count of inputs whose bytes differ is only reported."""
    shape, weight_std, dtype = case
    path = convert(_dense_log_softmax(shape, weight_std), _key(case), folder="sweep", float32=dtype == "f32")
    differ, disagree = board_mismatches(path, board, "log_softmax", inputs=4)
    assert disagree == 0
    if dtype == "i8":
        assert differ == 0


def test_log_softmax_refuses_wrong_output_quantization():
    """TFLM's int8 LOG_SOFTMAX requires output scale 16/256 and zero point 127; so do we, naming the op."""
    with pytest.raises(ModelError, match=r"op 0 LOG_SOFTMAX .*scale 16/256 and zero point 127"):
        lower(load_model(_synth((1, 8), 0.1, 0, out_scale=1.0 / 16, out_zp=0)))
    with pytest.raises(ModelError, match=r"op 0 LOG_SOFTMAX .*scale 16/256 and zero point 127"):
        lower(load_model(_synth((1, 8), 0.1, 0, out_zp=0)))
