"""SOFTMAX (int8 -> int8, int8 -> int16, int16 -> int16) against TFLM, byte for byte.

Two sources of models: Keras Dense -> Softmax converted by TensorFlow (what real models contain), and
hand-built single-op models (tflite_synth) for what the converter never emits: beta != 1, int16 output,
scales that hit the multiplier cap, depth 1. Inputs are uniform over int8 (so differences below diff_min,
which contribute nothing, are common) plus structured rows: all equal, one hot, two values."""
import os

import numpy as np
import pytest

from harness.plan.lower import lower
from harness.plan.model import ModelError, load_model
from harness.sweep import run_case
from tflite_synth import Synth, compare

LARGE = os.environ.get("HARNESS_SWEEP") == "large"


def _structured(shape, rng, count=6):
    depth = shape[-1]
    xs = []
    for k in range(count):
        x = np.full(shape, rng.integers(-128, 128), np.int8)       # all equal: every diff is 0
        if k % 3 == 1:                                               # one hot at the top of the range
            x[..., :] = -128
            x[..., rng.integers(depth)] = 127
        elif k % 3 == 2:                                             # two values, a small gap apart
            lo = int(rng.integers(-128, 120))
            x = rng.choice(np.array([lo, lo + int(rng.integers(1, 8))], np.int8), size=shape)
        xs.append(x.astype(np.int8))
    return xs


def _synth(shape, in_scale, in_zp, beta, out16):
    s = Synth()
    a = s.tensor(shape, np.int8, in_scale, in_zp)
    b = (s.tensor(shape, np.int16, 1.0 / 65536, -32768) if out16 else s.tensor(shape, np.int8, 1.0 / 256, -128))
    s.op("SOFTMAX", [a], [b], s.options("SoftmaxOptions", beta=beta))
    return s.save([a], [b])


def _random_cases(n, seed):
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(n):
        depth = int(rng.choice([1, 2, 3, 5, 10, 12, 33, 64, 100, 257]))
        rows = int(rng.integers(1, 4))
        shape = (rows, depth) if rng.random() < 0.7 else (1, rows, depth)
        in_scale = float(np.exp(rng.uniform(np.log(1e-3), np.log(60.0))))
        beta = float(rng.choice([1.0, 1.0, float(np.exp(rng.uniform(np.log(0.05), np.log(20.0))))]))
        cases.append(pytest.param(shape, in_scale, int(rng.integers(-128, 128)), beta, bool(rng.random() < 0.4),
                                  id=f"r{i}"))
    return cases


FIXED = [
    pytest.param((1, 10), 0.1, 0, 1.0, False, id="plain"),
    pytest.param((1, 10), 0.1, 0, 1.0, True, id="plain-int16-out"),
    pytest.param((1, 1), 0.5, 3, 1.0, False, id="depth1"),
    pytest.param((2, 7), 1.0, -5, 40.0, False, id="multiplier-cap"),       # beta * scale > 32: capped at 2^31-1
    pytest.param((2, 7), 100.0, 0, 1.0, True, id="multiplier-cap-int16"),
    pytest.param((3, 50), 1e-3, 0, 0.5, True, id="tiny-scale"),            # no input difference saturates
]


@pytest.mark.parametrize("shape,in_scale,in_zp,beta,out16", FIXED + _random_cases(200 if LARGE else 24, 7))
def test_softmax_synth(shape, in_scale, in_zp, beta, out16):
    path = _synth(shape, in_scale, in_zp, beta, out16)
    rng = np.random.default_rng(abs(hash((shape, in_scale))) % 2**32)
    xs = [rng.integers(-128, 128, size=shape, dtype=np.int8) for _ in range(6)] + _structured(shape, rng)
    bad, first = compare(path, xs)
    assert bad == 0, f"{bad}/{len(xs)} inputs differ from TFLM; {first}"


KERAS = [(10, 16, 0.05), (4, 32, 0.3), (33, 8, 1.0), (2, 64, 3.0)]
if LARGE:
    KERAS += [(d, f, w) for d in (3, 12, 100) for f in (8, 40) for w in (0.02, 0.5, 5.0)]


@pytest.mark.parametrize("depth,features,weight_std", KERAS)
def test_softmax_after_dense(depth, features, weight_std):
    """Real converter output: the Dense's scaling sets the softmax input scale (beta * scale)."""
    def build(tf):
        i = tf.keras.Input((features,))
        init = tf.keras.initializers.RandomNormal(stddev=weight_std, seed=3)
        x = tf.keras.layers.Dense(depth, kernel_initializer=init, bias_initializer=init)(i)
        return tf.keras.Model(i, tf.keras.layers.Softmax()(x))

    r = run_case(build, f"softmax_dense_{depth}_{features}_{weight_std}", inputs=10)
    assert r.ops == ["FULLY_CONNECTED", "SOFTMAX"]
    assert r.mismatches == 0, f"{r.key}: {r.mismatches}/{r.inputs} inputs differ from TFLM; {r.first_diff}"


def _refused(path, match):
    with pytest.raises(ModelError, match=match):
        lower(load_model(path))


def test_softmax_refuses_wrong_int8_output_quantization():
    s = Synth()
    a = s.tensor((1, 8), np.int8, 0.1, 0)
    b = s.tensor((1, 8), np.int8, 1.0 / 128, 0)
    s.op("SOFTMAX", [a], [b], s.options("SoftmaxOptions", beta=1.0))
    _refused(s.save([a], [b]), r"op 0 SOFTMAX .*scale 1/256")


def test_softmax_refuses_int16_to_int8():
    s = Synth()
    a = s.tensor((1, 8), np.int16, 0.001, 0)
    b = s.tensor((1, 8), np.int8, 1.0 / 256, -128)
    s.op("SOFTMAX", [a], [b], s.options("SoftmaxOptions", beta=1.0))
    _refused(s.save([a], [b]), r"op 0 SOFTMAX .*int16 -> int8")


def test_softmax_refuses_wrong_int16_output_quantization():
    s = Synth()
    a = s.tensor((1, 8), np.int16, 0.001, 0)
    b = s.tensor((1, 8), np.int16, 1.0 / 65536, 0)
    s.op("SOFTMAX", [a], [b], s.options("SoftmaxOptions", beta=1.0))
    _refused(s.save([a], [b]), r"op 0 SOFTMAX .*scale 1/32768")


def _int16_cases(n, seed):
    rng = np.random.default_rng(seed)
    cases = [pytest.param((1, 10), 1e-3, 1.0, id="s16-plain"), pytest.param((1, 1), 0.01, 1.0, id="s16-depth1"),
             pytest.param((2, 40), 0.5, 1.0, id="s16-coarse"), pytest.param((2, 40), 1e-6, 3.0, id="s16-fine")]
    for i in range(n):
        depth = int(rng.choice([2, 3, 10, 64, 257]))
        scale = float(np.exp(rng.uniform(np.log(1e-6), np.log(1.0))))
        beta = float(rng.choice([1.0, float(np.exp(rng.uniform(-2.0, 2.0)))]))
        cases.append(pytest.param((int(rng.integers(1, 4)), depth), scale, beta, id=f"s16-r{i}"))
    return cases


@pytest.mark.parametrize("shape,in_scale,beta", _int16_cases(100 if LARGE else 10, 13))
def test_softmax_int16_synth(shape, in_scale, beta):
    """int16 -> int16: TFLM's table-driven kernel; the tables are rebuilt on the host as TFLM builds them."""
    s = Synth()
    a = s.tensor(shape, np.int16, in_scale, 0)
    b = s.tensor(shape, np.int16, 1.0 / 32768, 0)
    s.op("SOFTMAX", [a], [b], s.options("SoftmaxOptions", beta=beta))
    path = s.save([a], [b])
    rng = np.random.default_rng(3)
    xs = [rng.integers(-32768, 32768, size=shape, dtype=np.int16) for _ in range(4)]
    xs += [rng.integers(-400, 400, size=shape).astype(np.int16) for _ in range(4)]     # near-equal rows
    xs += [np.full(shape, 1234, np.int16)]
    bad, first = compare(path, xs)
    assert bad == 0, f"{bad}/{len(xs)} inputs differ from TFLM; {first}"


@pytest.mark.parametrize("depth", [10, 33] + ([2, 100] if LARGE else []))
def test_softmax_int16x8_converted(depth):
    """The converter's int16x8 mode (as in ds_cnn_s_quantized_int16): int16 in, int16 out."""
    def build(tf):
        i = tf.keras.Input((depth,))
        return tf.keras.Model(i, tf.keras.layers.Softmax()(i))

    r = run_case(build, f"softmax_s16_{depth}", inputs=10, int16x8=True)
    assert r.ops == ["SOFTMAX"]
    assert r.mismatches == 0, f"{r.key}: {r.mismatches}/{r.inputs} inputs differ from TFLM; {r.first_diff}"
