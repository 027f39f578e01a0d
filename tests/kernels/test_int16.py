"""int16x8 (int16 activations with zero point 0, int8 weights, int64 bias): CONV_2D, DEPTHWISE_CONV_2D,
FULLY_CONNECTED, AVERAGE_POOL_2D, MAX_POOL_2D, ADD, MUL, CONCATENATION, SOFTMAX and a small DS-CNN-like
stack, converted by TensorFlow's 16x8 scheme and run through our host-built runtime and TFLM on seeded
inputs spanning the whole int16 range: the same bytes. Plus hand-built int16 CONV_2D files for the bias
paths, DS-CNN-S int16 from ../shared and the variants we refuse.
HARNESS_SWEEP=large runs a much larger sweep."""
import dataclasses
import os

import numpy as np
import pytest

import keras_cases as K
from harness.plan.lower import lower
from harness.plan.model import ModelError, load_model
from harness.sweep import compare_on_host, run_case
from harness.tfgen import convert

LARGE = os.environ.get("HARNESS_SWEEP") == "large"
_rng = np.random.default_rng(16)

CORNERS = [
    K.conv(8, 8, 3, 4, (4, 4), (1, 1), pad="same"),                        # odd total padding
    K.conv(7, 8, 2, 5, (2, 2), (2, 2), pad="same", act="relu6", bias=False),
    K.conv(1, 1, 3, 2, (3, 3), (2, 2), pad="same"),                        # every tap but the centre padded
    K.conv(9, 11, 3, 6, (3, 3), (2, 2), d=(2, 2), act="n1"),
    K.conv(6, 6, 8, 8, (3, 3), (1, 1), act="relu", groups=4),
    K.conv(7, 7, 32, 32, (3, 3), (1, 1), act="relu"),
    K.conv(6, 5, 3, 4, (3, 3), (2, 2), act="relu", batch=2),
    K.conv(10, 4, 64, 8, (5, 4), (1, 1), pad="valid", bias=False),          # long accumulations
    K.dwconv(8, 8, 4, 1, (3, 3), (1, 1), act="relu"),
    K.dwconv(9, 7, 3, 2, (3, 3), (2, 2), pad="valid", bias=False),
    K.dwconv(6, 6, 2, 3, (3, 3), (1, 1), d=(2, 2), act="n1"),
    K.dense((16,), 8),
    K.dense((40,), 12, act="relu", bias=False),
    K.dense((4, 10), 6, act="relu6"),                                       # batched rows
    K.dense((250,), 3),
    K.pool("avg", 8, 8, 3, (2, 2), (2, 2)),
    K.pool("avg", 7, 9, 4, (3, 3), (2, 2), pad="same"),
    K.pool("avg", 25, 5, 8, (25, 5), (1, 1)),                               # global average (DS-CNN's)
    K.pool("max", 8, 8, 3, (2, 2), (2, 2)),
    K.pool("max", 7, 9, 4, (3, 3), (2, 1), pad="same"),
    K.binary("add", (4, 3), (4, 3), (4, 3), 1.0, 2.0),
    K.binary("add", (4, 3), (2, 3, 4), (3, 1), 0.5, 3.0, act="relu"),     # broadcasting
    K.binary("add", (6,), (1, 5, 1, 3), (2, 1, 4, 1), 4.0, 0.25),
    K.binary("add", (5,), (8,), (8,), 1.0, 0.001),                        # very different scales
    K.binary("mul", (4, 3), (4, 3), (4, 3), 1.0, 2.0),
    K.binary("mul", (6,), (2, 1, 4, 3), (5, 1, 3), 1.0, 3.0, act="relu"),
    K.with_const("add", (3, 4), (4,), seed=1),
    K.with_const("mul", (2, 3, 4), (3, 1), seed=2),
    K.concat([(2, 3), (2, 5), (2, 1)], -1),
    K.softmax((10,)),
    K.softmax((3, 12)),
    K.stack(12, 8, 1),
    K.stack(9, 9, 2),
]
CASES = CORNERS + K.random_convs(_rng, 60 if LARGE else 8, groups=True) + K.random_dwconvs(_rng, 40 if LARGE else 6)


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_int16x8_bit_exact(case):
    try:
        r = run_case(case.build, "int16-v2-" + case.key, inputs=3, int16x8=True)
    except ModelError as e:
        # A random case whose output the calibration saw as constant (e.g. a ReLU after taps that are all
        # padding) gets an output scale near 1e-43: a requantization shift TFLM's arithmetic does not
        # define, which we refuse by name (test_degenerate_output_scale_is_refused).
        if "requantization shift" not in str(e):
            raise
        pytest.skip(f"degenerate calibration: {e}")
    g = load_model(r.path)
    assert case.op in r.ops, r.ops
    t_in = g.tensor(g.inputs[0])
    assert t_in.dtype == np.int16 and t_in.zero_point == 0
    assert r.mismatches == 0, f"{case.key}: {r.mismatches}/{r.inputs} inputs differ, {r.first_diff}"


def test_conversion_gives_int64_biases():
    """What the 16x8 scheme is: int16 activations, int8 weights, int64 conv/FC biases."""
    g = load_model(convert(CORNERS[0].build, "int16-v2-" + CORNERS[0].key, int16x8=True, folder="sweep"))
    op = g.ops[0]
    assert [g.tensor(t).dtype for t in op.inputs] == [np.int16, np.int8, np.int64]


def test_ds_cnn_s_int16_bit_exact():
    from conftest import shared_model
    r = compare_on_host(shared_model("ml-zoo/ds_cnn_s_quantized_int16.tflite"), inputs=5)
    assert r.mismatches == 0 and r.bit_exact, r.first_diff


# --- refused variants: named by op index and type ---------------------------------------------------

def _graph(case):
    return load_model(convert(case.build, "int16-v2-" + case.key, int16x8=True, folder="sweep"))


def _mutate(g, t, **changes):
    g.tensors[t] = dataclasses.replace(g.tensors[t], **changes)
    return g


def test_nonzero_int16_zero_point_is_refused():
    g = _graph(CORNERS[0])
    _mutate(g, g.ops[0].inputs[0], zero_points=np.array([3], np.int64))
    with pytest.raises(ModelError, match=r"op 0 CONV_2D .*zero point 0"):
        lower(g)


def test_int32_bias_on_int16_depthwise_is_refused():
    """TFLM's int16 depthwise kernel reads the bias as int64 whatever its type."""
    g = _graph(CORNERS[8])
    b = g.ops[0].inputs[2]
    _mutate(g, b, dtype=np.dtype(np.int32), data=g.tensor(b).data.astype(np.int32))
    with pytest.raises(ModelError, match=r"op 0 DEPTHWISE_CONV_2D .*int64 bias"):
        lower(g)


def test_int32_bias_on_int16_fully_connected_is_refused():
    g = _graph(CORNERS[11])
    fc = next(op for op in g.ops if op.name == "FULLY_CONNECTED")
    b = fc.inputs[2]
    _mutate(g, b, dtype=np.dtype(np.int32), data=g.tensor(b).data.astype(np.int32))
    with pytest.raises(ModelError, match=rf"op {fc.index} FULLY_CONNECTED .*int64"):
        lower(g)


# --- hand-built int16 CONV_2D: the bias type picks TFLM's accumulator ---------------------------------
# The converter always gives conv an int64 bias (a zero one when the layer has none), so the other two
# paths TFLM has for int16 CONV_2D, no bias and an int32 bias (a 32-bit, wrapping accumulator and the
# 32-bit requantization), come from hand-built files. Large filters and extreme inputs make the 32-bit
# sum wrap; scales are chosen so the 64-bit and 32-bit requantizations round differently.

def _synth_conv(bias_type, kh=5, kw=5, c=64, filters=6, seed=0):
    from tflite_synth import Synth
    rng = np.random.default_rng(seed)
    s = Synth()
    x = s.tensor((1, 6, 6, c), np.int16, 2.0 ** -9, 0, name="x")
    w_scales = rng.uniform(0.002, 0.02, filters)
    w = s.tensor((filters, kh, kw, c), np.int8, w_scales, [0] * filters,
                 data=rng.integers(-127, 128, (filters, kh, kw, c)), name="w")
    ins = [x, w]
    if bias_type is not None:
        ins.append(s.tensor((filters,), bias_type, 2.0 ** -9 * w_scales, [0] * filters,
                            data=rng.integers(-2 ** 20, 2 ** 20, filters), name="b"))
    y = s.tensor((1, 6, 6, filters), np.int16, 0.37, 0, name="y")
    s.op("CONV_2D", ins, [y], s.options("Conv2DOptions", padding=0, strideW=1, strideH=1,
                                        dilationWFactor=1, dilationHFactor=1, fusedActivationFunction=0))
    return s.save([x], [y])


@pytest.mark.parametrize("bias_type", [None, np.int32, np.int64], ids=["none", "int32", "int64"])
def test_int16_conv_bias_paths(bias_type):
    from tflite_synth import compare
    path = _synth_conv(bias_type)
    rng = np.random.default_rng(5)
    xs = [rng.integers(-32768, 32768, (1, 6, 6, 64)).astype(np.int16) for _ in range(3)]
    xs += [np.full((1, 6, 6, 64), v, np.int16) for v in (32767, -32768)]     # sums past 2^31
    bad, first = compare(path, xs)
    assert bad == 0, first


def test_degenerate_output_scale_is_refused():
    g = _graph(CORNERS[0])
    _mutate(g, g.ops[0].outputs[0], scales=np.array([3.6e-43], np.float32))
    with pytest.raises(ModelError, match=r"op 0 CONV_2D .*requantization shift"):
        lower(g)
