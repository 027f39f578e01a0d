"""LOGISTIC and TANH (int8) against TFLM, byte for byte.

Keras Dense -> sigmoid / tanh models converted by TensorFlow, plus hand-built single-op models with input
scales from tiny (nothing saturates) to large (most of the int8 range is past the input radius and
saturates), and every zero point region. Inputs: uniform over int8 and an exhaustive ramp of all 256
values, so each input code is checked."""
import os

import numpy as np
import pytest

from harness.plan.lower import lower
from harness.plan.model import ModelError, load_model
from harness.sweep import run_case
from tflite_synth import Synth, compare

LARGE = os.environ.get("HARNESS_SWEEP") == "large"


def _synth(op, shape, in_scale, in_zp, out_scale=None, out_zp=None):
    s = Synth()
    a = s.tensor(shape, np.int8, in_scale, in_zp)
    if op == "LOGISTIC":
        b = s.tensor(shape, np.int8, out_scale or 1.0 / 256, -128 if out_zp is None else out_zp)
    else:
        b = s.tensor(shape, np.int8, out_scale or 1.0 / 128, 0 if out_zp is None else out_zp)
    s.op(op, [a], [b])
    return s.save([a], [b])


def _cases(n, seed):
    rng = np.random.default_rng(seed)
    out = [pytest.param(op, 0.1, 0, id=f"{op.lower()}-0.1") for op in ("LOGISTIC", "TANH")]
    out += [pytest.param(op, sc, zp, id=f"{op.lower()}-{sc}-{zp}")
            for op in ("LOGISTIC", "TANH") for sc, zp in ((2.0 ** -20, 0), (1e-3, 100), (1.0, -128), (8.0, 127))]
    for i in range(n):
        op = "LOGISTIC" if i % 2 == 0 else "TANH"
        scale = float(np.exp(rng.uniform(np.log(1e-4), np.log(4.0))))
        out.append(pytest.param(op, scale, int(rng.integers(-128, 128)), id=f"{op.lower()}-r{i}"))
    return out


@pytest.mark.parametrize("op,in_scale,in_zp", _cases(120 if LARGE else 16, 11))
def test_activation_synth(op, in_scale, in_zp):
    shape = (1, 256)
    path = _synth(op, shape, in_scale, in_zp)
    rng = np.random.default_rng(5)
    ramp = np.arange(-128, 128, dtype=np.int8).reshape(shape)
    xs = [ramp] + [rng.integers(-128, 128, size=shape, dtype=np.int8) for _ in range(3)]
    bad, first = compare(path, xs)
    assert bad == 0, f"{bad}/{len(xs)} inputs differ from TFLM; {first}"


KERAS = [("sigmoid", 8, 0.2), ("sigmoid", 24, 2.0), ("tanh", 8, 0.2), ("tanh", 24, 2.0)]
if LARGE:
    KERAS += [(a, u, w) for a in ("sigmoid", "tanh") for u in (3, 50) for w in (0.02, 0.7, 6.0)]


@pytest.mark.parametrize("act,units,weight_std", KERAS)
def test_activation_after_dense(act, units, weight_std):
    def build(tf):
        i = tf.keras.Input((16,))
        init = tf.keras.initializers.RandomNormal(stddev=weight_std, seed=5)
        x = tf.keras.layers.Dense(units, kernel_initializer=init, bias_initializer=init)(i)
        return tf.keras.Model(i, tf.keras.layers.Activation(act)(x))

    r = run_case(build, f"act_dense_{act}_{units}_{weight_std}", inputs=10)
    assert r.ops == ["FULLY_CONNECTED", "LOGISTIC" if act == "sigmoid" else "TANH"]
    assert r.mismatches == 0, f"{r.key}: {r.mismatches}/{r.inputs} inputs differ from TFLM; {r.first_diff}"


@pytest.mark.parametrize("op,zp", [("LOGISTIC", 0), ("TANH", -128)])
def test_refuses_other_output_zero_point(op, zp):
    with pytest.raises(ModelError, match=rf"op 0 {op} .*zero point"):
        lower(load_model(_synth(op, (1, 8), 0.05, 0, out_zp=zp)))


def test_refuses_int16():
    s = Synth()
    a = s.tensor((1, 8), np.int16, 2.0 ** -12, 0)
    b = s.tensor((1, 8), np.int16, 2.0 ** -15, 0)
    s.op("LOGISTIC", [a], [b])
    with pytest.raises(ModelError, match=r"op 0 LOGISTIC .*only int8"):
        lower(load_model(s.save([a], [b])))
