"""DEPTHWISE_CONV_2D (int8): our host-built kernel against TFLM, byte for byte, over a seeded sweep of
single-op models built with TensorFlow; plus the variants we refuse, named by op.

Dilation > 1 cannot come from Keras' DepthwiseConv2D (the converter leaves SPACE_TO_BATCH_ND/
BATCH_TO_SPACE_ND around it), and Keras has no RELU_N1_TO_1 activation: those cases use a layer calling
tf.raw_ops.DepthwiseConv2dNative directly, which converts to one DEPTHWISE_CONV_2D with its dilation and
fused activation. HARNESS_SWEEP=large runs a much larger sweep."""
import dataclasses
import os

import numpy as np
import pytest

from harness.plan.lower import lower
from harness.plan.model import ModelError, load_model
from harness.sweep import run_case
from harness.tfgen import convert

from keras_cases import activation

LARGE = os.environ.get("HARNESS_SWEEP") == "large"
ACT_CODE = {None: 0, "relu": 1, "n1": 2, "relu6": 3}     # tflite ActivationFunctionType


@dataclasses.dataclass(frozen=True)
class Case:
    h: int
    w: int
    c: int
    mult: int                # depth multiplier
    k: tuple[int, int]
    s: tuple[int, int]
    d: tuple[int, int]
    pad: str                 # "same" | "valid"
    act: str | None          # None | "relu" | "relu6" | "n1" (RELU_N1_TO_1)
    bias: bool
    batch: int = 1
    per_tensor: bool = False

    @property
    def key(self) -> str:
        return "dwconv2d-v1-" + "-".join(f"{f.name}={getattr(self, f.name)}" for f in dataclasses.fields(self))

    def build(self, tf):
        x = tf.keras.Input((self.h, self.w, self.c), batch_size=self.batch if self.batch > 1 else None)
        if self.d == (1, 1) and self.act != "n1":
            y = tf.keras.layers.DepthwiseConv2D(self.k, strides=self.s, padding=self.pad,
                                                depth_multiplier=self.mult, activation=self.act,
                                                use_bias=self.bias)(x)
        else:
            y = _raw_depthwise(tf, self)(x)
        return tf.keras.Model(x, y)


def _raw_depthwise(tf, case: Case):
    class RawDepthwise(tf.keras.layers.Layer):
        def build(self, shape):
            self.kernel = self.add_weight(shape=(*case.k, shape[-1], case.mult), initializer="glorot_uniform")
            self.b = (self.add_weight(shape=(shape[-1] * case.mult,), initializer="random_normal")
                      if case.bias else None)

        def call(self, x):
            y = tf.raw_ops.DepthwiseConv2dNative(input=x, filter=self.kernel, strides=[1, *case.s, 1],
                                                 padding=case.pad.upper(), dilations=[1, *case.d, 1])
            if self.b is not None:
                y = tf.nn.bias_add(y, self.b)
            return activation(tf, y, case.act)
    return RawDepthwise()


def _random_cases(n: int, seed: int) -> list[Case]:
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < n:
        k = (int(rng.integers(1, 6)), int(rng.integers(1, 6)) if rng.random() < 0.3 else 0)
        k = (k[0], k[1] or k[0])
        s = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
        d = (int(rng.integers(1, 3)), int(rng.integers(1, 3))) if rng.random() < 0.35 else (1, 1)
        pad = str(rng.choice(["same", "valid"]))
        act = [None, "relu", "relu6", "n1"][int(rng.integers(0, 4))]
        h, w = (int(rng.integers(1, 16)) for _ in range(2))
        if pad == "valid":      # the window must fit
            h, w = max(h, (k[0] - 1) * d[0] + 1), max(w, (k[1] - 1) * d[1] + 1)
        c = int(rng.choice([1, 2, 3, 4, 5, 8, 16, 32]))
        mult = 2 if rng.random() < 0.3 else 1
        cases.append(Case(h, w, c, mult, k, s, d, pad, act, bool(rng.random() < 0.7)))
    return cases


# Hand-picked corners: odd total padding (extra row/column after), 1x1 images and kernels, a kernel as
# large as the image, stride and dilation together, wide and tall kernels, per-tensor weights, batch 2.
CORNERS = [
    Case(8, 8, 3, 1, (4, 4), (1, 1), (1, 1), "same", None, True),        # total pad 3: 1 before, 2 after
    Case(8, 7, 4, 1, (3, 3), (2, 2), (1, 1), "same", "relu", True),      # even size, stride 2: odd total
    Case(7, 8, 2, 2, (2, 2), (2, 2), (1, 1), "same", "relu6", False),
    Case(1, 1, 4, 1, (1, 1), (1, 1), (1, 1), "valid", None, True),
    Case(1, 1, 3, 2, (3, 3), (2, 2), (1, 1), "same", None, True),        # every tap but the centre padded
    Case(5, 5, 3, 1, (5, 5), (1, 1), (1, 1), "valid", "relu", True),     # 1x1 output
    Case(9, 11, 3, 2, (3, 3), (2, 2), (2, 2), "same", "n1", True),       # stride with dilation
    Case(9, 11, 4, 1, (3, 2), (1, 2), (2, 1), "valid", None, False),
    Case(6, 10, 3, 1, (1, 5), (1, 2), (1, 1), "same", "relu", True),
    Case(10, 6, 3, 2, (5, 1), (2, 1), (1, 1), "same", "relu6", True),
    Case(4, 4, 3, 1, (3, 3), (1, 1), (2, 2), "same", None, True),        # dilated kernel wider than the image
    Case(12, 12, 32, 1, (3, 3), (1, 1), (1, 1), "same", "relu6", True),
    Case(7, 7, 1, 2, (3, 3), (1, 1), (1, 1), "same", "relu", True),      # one input channel, two outputs
    Case(9, 7, 8, 1, (3, 3), (2, 1), (1, 1), "same", "relu", True, per_tensor=True),
    Case(9, 7, 3, 2, (3, 3), (1, 1), (2, 2), "valid", None, False, per_tensor=True),
    Case(6, 5, 3, 2, (3, 3), (2, 2), (1, 1), "same", "relu", True, batch=2),
]
CASES = CORNERS + _random_cases(300 if LARGE else 40, seed=12)


@pytest.fixture
def per_tensor_weights(monkeypatch):
    """The converter quantizes depthwise weights per channel unless told otherwise."""
    import tensorflow as tf
    original = tf.lite.TFLiteConverter.from_keras_model

    def patched(model):
        conv = original(model)
        conv._experimental_disable_per_channel = True
        return conv
    monkeypatch.setattr(tf.lite.TFLiteConverter, "from_keras_model", staticmethod(patched))


@pytest.mark.parametrize("kernels", ["optimized", "reference"])
@pytest.mark.parametrize("case", CASES, ids=[f"c{i}" for i in range(len(CASES))])
def test_depthwise_conv2d_bit_exact(case, kernels, request):
    """Both kernel sets: the planner's choice (the DSP kernel for depth multiplier 1,
    harness/plan/optimize.py) and the reference kernel alone."""
    if case.per_tensor:
        request.getfixturevalue("per_tensor_weights")
    r = run_case(case.build, case.key, inputs=3, kernels=kernels)
    dsp = kernels == "optimized" and case.mult == 1
    assert r.kernels == ["tm_depthwise_conv2d_s8_dsp" if dsp else "tm_depthwise_conv2d_s8"], r.kernels
    g = load_model(r.path)
    assert r.ops == ["DEPTHWISE_CONV_2D"], r.ops
    op = g.ops[0]
    o = op.options
    assert (o.StrideH(), o.StrideW(), o.DilationHFactor(), o.DilationWFactor()) == (*case.s, *case.d)
    assert o.FusedActivationFunction() == ACT_CODE[case.act]
    assert o.DepthMultiplier() == case.mult
    assert (g.tensor(op.inputs[1]).scales.size == 1) == (case.per_tensor or case.c * case.mult == 1)
    assert r.mismatches == 0, f"{case}: {r.mismatches}/{r.inputs} inputs differ, {r.first_diff}"


# --- refused variants: named by op index and type ---------------------------------------------------

def _small():
    return convert(Case(6, 6, 3, 2, (3, 3), (1, 1), (1, 1), "same", "relu", True).build, "dwconv2d-v1-refusals",
                   folder="sweep")


def _mutated(**tensor_changes):
    g = load_model(_small())
    op = g.ops[0]
    for role, changes in tensor_changes.items():
        i = {"input": op.inputs[0], "weights": op.inputs[1], "output": op.outputs[0]}[role]
        g.tensors[i] = dataclasses.replace(g.tensors[i], **changes)
    return g


def test_hybrid_float_activations_are_refused():
    """Float activations with int8 weights: TFLM refuses it too (int16x8: tests/kernels/test_int16.py)."""
    f32 = np.dtype(np.float32)
    g = _mutated(input={"dtype": f32, "scales": np.zeros(0, np.float32)},
                 output={"dtype": f32, "scales": np.zeros(0, np.float32)})
    with pytest.raises(ModelError, match=r"op 0 DEPTHWISE_CONV_2D .*hybrid"):
        lower(g)


class _Options:
    """The op's options with one field overridden."""
    def __init__(self, real, **override):
        self._real, self._override = real, override

    def __getattr__(self, name):
        if name in self._override:
            return lambda: self._override[name]
        return getattr(self._real, name)


def test_depth_multiplier_disagreeing_with_shapes_is_refused():
    g = load_model(_small())
    g.ops[0] = dataclasses.replace(g.ops[0], options=_Options(g.ops[0].options, DepthMultiplier=1))
    with pytest.raises(ModelError, match=r"op 0 DEPTHWISE_CONV_2D .*depth multiplier 1 with 3 input channels"):
        lower(g)


def test_asymmetric_weights_are_refused():
    g = _mutated(weights={"zero_points": np.ones(6, np.int64)})
    with pytest.raises(ModelError, match=r"op 0 DEPTHWISE_CONV_2D .*zero point 0"):
        lower(g)


def test_output_size_disagreeing_with_padding_is_refused():
    g = _mutated(output={"shape": (1, 6, 5, 6)})
    with pytest.raises(ModelError, match=r"op 0 DEPTHWISE_CONV_2D .*SAME padding of a 6x6 input gives 6x6"):
        lower(g)


def test_per_channel_scales_on_the_wrong_axis_are_refused():
    g = _mutated(weights={"quantized_dim": 0})
    with pytest.raises(ModelError, match=r"op 0 DEPTHWISE_CONV_2D .*per channel along dimension 3"):
        lower(g)


def test_unknown_fused_activation_is_refused():
    g = load_model(_small())
    g.ops[0] = dataclasses.replace(g.ops[0], options=_Options(g.ops[0].options, FusedActivationFunction=4))
    with pytest.raises(ModelError, match=r"op 0 DEPTHWISE_CONV_2D .*fused activation 4"):
        lower(g)
