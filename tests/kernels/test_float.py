"""float32: CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, AVERAGE_POOL_2D, MAX_POOL_2D, ADD, MUL, PAD, PADV2,
RESHAPE, SOFTMAX, MEAN, CONCATENATION, LOGISTIC, TANH, converted by TensorFlow without quantization and
run through our host-built runtime and TFLM on seeded N(0, 1) inputs.

The rule a float output is judged by is harness.reference.outputs_agree (every element within
1e-5 * max|TFLM's output| + 1e-6 of TFLM's). Our float kernels follow TFLM's reference operation order and
the host build calls the same C library (expf, tanhf) as the TFLM wheel, so on the host we also require
the same bytes (`bit_exact`); the tolerance is for the board's newlib. Plus the four float models of
../shared and the variants we refuse. HARNESS_SWEEP=large runs a much larger sweep."""
import os

import numpy as np
import pytest

import keras_cases as K
from harness.plan.lower import lower
from harness.plan.model import ModelError, Tensor, load_model
from harness.reference import outputs_agree
from harness.sweep import compare_on_host, run_case
from harness.tfgen import convert

LARGE = os.environ.get("HARNESS_SWEEP") == "large"
_rng = np.random.default_rng(32)

CORNERS = [
    K.conv(8, 8, 3, 4, (4, 4), (1, 1), pad="same"),
    K.conv(7, 8, 2, 5, (2, 2), (2, 2), pad="same", act="relu6", bias=False),
    K.conv(1, 1, 3, 2, (3, 3), (2, 2), pad="same"),
    K.conv(9, 11, 3, 6, (3, 3), (2, 2), d=(2, 2), act="n1"),
    K.conv(6, 6, 8, 8, (3, 3), (1, 1), act="relu", groups=4),
    K.conv(7, 7, 32, 32, (3, 3), (1, 1), act="relu"),
    K.conv(6, 5, 3, 4, (3, 3), (2, 2), act="relu", batch=2),
    K.dwconv(8, 8, 4, 1, (3, 3), (1, 1), act="relu"),
    K.dwconv(9, 7, 3, 2, (3, 3), (2, 2), pad="valid", bias=False),
    K.dwconv(6, 6, 2, 3, (3, 3), (1, 1), d=(2, 2), act="n1"),
    K.dense((16,), 8),
    K.dense((40,), 12, act="relu", bias=False),
    K.dense((4, 10), 6, act="relu6"),
    K.dense((640,), 128, act="relu"),                                      # AD01's widest layer
    K.pool("avg", 8, 8, 3, (2, 2), (2, 2)),
    K.pool("avg", 7, 9, 4, (3, 3), (2, 2), pad="same"),
    K.pool("avg", 25, 5, 8, (25, 5), (1, 1)),
    K.pool("max", 8, 8, 3, (2, 2), (2, 2)),
    K.pool("max", 7, 9, 4, (3, 3), (2, 1), pad="same"),
    K.binary("add", (4, 3), (4, 3), (4, 3), 1.0, 2.0),
    K.binary("add", (4, 3), (2, 3, 4), (3, 1), 0.5, 3.0, act="relu"),
    K.binary("add", (6,), (1, 5, 1, 3), (2, 1, 4, 1), 4.0, 0.25, act="relu6"),
    K.binary("mul", (4, 3), (4, 3), (4, 3), 1.0, 2.0),
    K.binary("mul", (6,), (2, 1, 4, 3), (5, 1, 3), 1.0, 1.0, act="relu"),
    K.with_const("add", (3, 4), (4,), seed=1),
    K.with_const("mul", (2, 3, 4), (3, 1), seed=2),
    K.pad((4, 5, 3), [[1, 2], [0, 3], [0, 0]]),
    K.pad((3, 4), [[2, 0], [1, 1]], value=1.5),
    K.softmax((10,)),
    K.softmax((3, 12)),
    K.softmax((7,), beta=0.5),
    K.mean((6, 5, 4), (1, 2), True),                                       # global average pooling
    K.mean((6, 5, 4), (1, 2), False),
    K.mean((6, 5, 4), (3,), False),
    K.mean((4, 3, 5), (1,), True),
    K.concat([(2, 3), (2, 5), (2, 1)], -1),
    K.concat([(3, 2), (1, 2)], 1),
    K.unary("sigmoid", (40,), 6.0),                                        # past both cut-offs
    K.unary("sigmoid", (3, 7)),
    K.unary("tanh", (40,), 3.0),
    K.stack(12, 8, 1),
]
CASES = CORNERS + K.random_convs(_rng, 60 if LARGE else 6, groups=True) + K.random_dwconvs(_rng, 40 if LARGE else 5)


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_float32_matches_tflm(case):
    r = run_case(case.build, "float-v1-" + case.key, inputs=3, float32=True)
    assert case.op in r.ops, r.ops
    g = load_model(r.path)
    assert g.tensor(g.inputs[0]).dtype == np.float32 and g.tensor(g.outputs[0]).dtype == np.float32
    assert r.mismatches == 0, f"{case.key}: {r.mismatches}/{r.inputs} outside the tolerance, {r.first_diff}"
    assert r.bit_exact, f"{case.key}: within the tolerance but not bit-exact on the host (max diff {r.max_abs_diff})"


@pytest.mark.parametrize("model", ["mlcommons-tiny/ad01_fp32", "mlcommons-tiny/vww_96_float",
                                   "mlcommons-tiny/pretrainedResnet"])
def test_shared_float_models(model):
    from conftest import shared_model
    r = compare_on_host(shared_model(f"{model}.tflite"), inputs=3)
    assert r.mismatches == 0 and r.bit_exact, (r.max_abs_diff, r.first_diff)


def test_hybrid_shared_model_is_refused():
    """kws_ref_model_float32 has float activations with int8 conv weights: TFLM refuses it too."""
    from conftest import shared_model
    with pytest.raises(ModelError, match=r"op 0 CONV_2D .*hybrid"):
        lower(load_model(shared_model("mlcommons-tiny/kws_ref_model_float32.tflite")))


# --- the agreement rule ---------------------------------------------------------------------------

def _t(dtype):
    return Tensor(0, "out", (4,), np.dtype(dtype), np.zeros(0, np.float32), np.zeros(0, np.int64), 0, None)


def test_outputs_agree_rule():
    f = _t(np.float32)
    a = np.array([1.0, -2.0, 0.5, 100.0], np.float32)
    assert outputs_agree(a.tobytes(), a.tobytes(), f) == (True, 0.0)
    b = a.copy()
    b[3] = np.nextafter(b[3], np.float32(np.inf))          # one ulp of 100: within 1e-5 * 100
    ok, diff = outputs_agree(b.tobytes(), a.tobytes(), f)
    assert ok and 0 < diff < 1e-5
    b[0] += np.float32(0.01)                                  # 1e-2 > 1e-5 * 100 + 1e-6
    assert outputs_agree(b.tobytes(), a.tobytes(), f)[0] is False
    n = a.copy()
    n[1] = np.nan
    assert outputs_agree(n.tobytes(), a.tobytes(), f) == (False, float("inf"))
    assert outputs_agree(n.tobytes(), n.tobytes(), f)[0]
    i8 = _t(np.int8)
    assert outputs_agree(bytes([1, 2, 3, 4]), bytes([1, 2, 3, 5]), i8) == (False, 1.0)   # integers: exact


# --- refused variants ---------------------------------------------------------------------------------

def test_non_finite_constant_is_refused():
    g = load_model(convert(CORNERS[10].build, "float-v1-" + CORNERS[10].key, float32=True, folder="sweep"))
    fc = next(op for op in g.ops if op.name == "FULLY_CONNECTED")
    w = g.tensor(fc.inputs[1])
    w.data = w.data.copy()
    w.data.flat[0] = np.inf
    with pytest.raises(ModelError, match=rf"op {fc.index} FULLY_CONNECTED .*inf or NaN"):
        lower(g)
