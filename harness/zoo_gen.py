"""Models this project builds itself with TensorFlow: seeded, small, of the zoo's families, so that a
machine without ../shared/models still has real int8 .tflite files to check."""
from __future__ import annotations

from pathlib import Path

from harness.errors import HarnessError
from harness.tfgen import convert


def _ad_fc_s(tf):
    """MLPerf Tiny AD baseline shape, scaled down: a dense autoencoder with ReLU."""
    inp = tf.keras.Input(shape=(128,))
    x = inp
    for units in (64, 32, 8, 32, 64):
        x = tf.keras.layers.Dense(units, activation="relu")(x)
    return tf.keras.Model(inp, tf.keras.layers.Dense(128)(x))


def _kws_dscnn_xs(tf):
    """DS-CNN of the KWS family (Hello Edge / MicroNets): conv, then depthwise-separable blocks, average
    pooling, a 12-way classifier, on the 49x10 MFCC layout."""
    L = tf.keras.layers
    inp = tf.keras.Input(shape=(49, 10, 1), batch_size=1)
    x = L.Conv2D(32, (10, 4), strides=(2, 2), padding="same", activation="relu")(inp)
    for _ in range(2):
        x = L.DepthwiseConv2D(3, padding="same", activation="relu")(x)
        x = L.Conv2D(32, 1, activation="relu")(x)
    x = L.AveragePooling2D(pool_size=x.shape[1:3])(x)
    x = L.Flatten()(x)
    return tf.keras.Model(inp, L.Softmax()(L.Dense(12)(x)))


def _vww_mobilenet_xs(tf):
    """MobileNet-style visual wake words model: strided depthwise-separable blocks on a 48x48 grayscale
    image, a residual add, average pooling, a 2-way classifier."""
    L = tf.keras.layers
    inp = tf.keras.Input(shape=(48, 48, 1), batch_size=1)
    x = L.Conv2D(8, 3, strides=2, padding="same", activation="relu6")(inp)
    for ch, stride in ((16, 2), (16, 1), (32, 2)):
        y = L.DepthwiseConv2D(3, strides=stride, padding="same", activation="relu6")(x)
        y = L.Conv2D(ch, 1)(y)
        x = L.Add()([x, y]) if stride == 1 and x.shape[-1] == ch else L.ReLU(6.0)(y)
    x = L.AveragePooling2D(pool_size=x.shape[1:3])(x)
    x = L.Flatten()(x)
    return tf.keras.Model(inp, L.Softmax()(L.Dense(2)(x)))


def _mcunet_f446(tf):
    """An MCUNet-like MobileNetV2 variant for patch-based inference (docs/patch.md): a 144x144 RGB input and
    inverted-residual blocks whose 72x72 expansion needs more SRAM layer by layer than the F446RE's 128 KB,
    while its weights (~100 KB) fit the F446RE's flash. No softmax: with random weights its logits' scale is
    below what TFLM's int8 SOFTMAX accepts."""
    L = tf.keras.layers
    inp = tf.keras.Input(shape=(144, 144, 3), batch_size=1)
    x = L.Conv2D(8, 3, strides=2, padding="same", activation="relu6")(inp)
    for ch, stride, expand in ((16, 2, 3), (16, 1, 3), (24, 2, 3), (24, 1, 3), (40, 2, 4), (40, 1, 4), (48, 1, 4),
                               (96, 2, 4)):
        y = L.Conv2D(x.shape[-1] * expand, 1, activation="relu6")(x)
        y = L.DepthwiseConv2D(3, strides=stride, padding="same", activation="relu6")(y)
        y = L.Conv2D(ch, 1)(y)
        x = L.Add()([x, y]) if stride == 1 and x.shape[-1] == ch else y
    x = L.AveragePooling2D(pool_size=x.shape[1:3])(x)
    return tf.keras.Model(inp, L.Dense(2)(L.Flatten()(x)))


def _mobilenet_v2_035_160(tf):
    """Keras' MobileNetV2 at width 0.35 on a 160x160 RGB image (issue 17's benchmark of patch-based
    inference, as in MCUNetV2): its 80x80x48 expansion makes the first stage's peak. Random weights, two
    classes and no softmax (with random weights the logits' scale is below what TFLM's int8 SOFTMAX
    accepts)."""
    inp = tf.keras.Input(shape=(160, 160, 3), batch_size=1)
    return tf.keras.applications.MobileNetV2(input_tensor=inp, alpha=0.35, weights=None, classes=2,
                                             classifier_activation=None)


# The test corpus of issue 18: one small model per blocker the public corpus met (uint8 I/O, Keras' dynamic
# reshape, a clip written as MAXIMUM/MINIMUM, TRANSPOSE, an LSTM, two outputs), each of the family the
# public models of that blocker come from. tests/test_corpus.py holds each to its op and runs it on every board.

def _vww_uint8_xs(tf):
    """A Wake-Vision-style person classifier on a 32x32 RGB image with uint8 input and output (converted
    with uint8 I/O: QUANTIZE uint8 -> int8 first, int8 -> uint8 last)."""
    L = tf.keras.layers
    inp = tf.keras.Input(shape=(32, 32, 3), batch_size=1)
    x = L.Conv2D(8, 3, strides=2, padding="same", activation="relu")(inp)
    x = L.DepthwiseConv2D(3, strides=2, padding="same", activation="relu")(x)
    x = L.Conv2D(16, 1, activation="relu")(x)
    x = L.AveragePooling2D(pool_size=x.shape[1:3])(x)
    return tf.keras.Model(inp, L.Softmax()(L.Dense(2)(L.Flatten()(x))))


def _har_reshape_xs(tf):
    """A human-activity classifier on 64 samples of a 3-axis accelerometer, its batch left open as Keras
    leaves it, so each Reshape and Flatten converts to a SHAPE -> STRIDED_SLICE -> PACK -> RESHAPE chain."""
    L = tf.keras.layers
    inp = tf.keras.Input(shape=(64, 3))
    x = L.Reshape((64, 3, 1))(inp)
    x = L.Conv2D(8, (5, 3), strides=(2, 1), activation="relu")(x)
    x = L.Conv2D(8, (3, 1), strides=(2, 1), activation="relu")(x)
    x = L.Flatten()(x)
    return tf.keras.Model(inp, L.Softmax()(L.Dense(6)(x)))


def _kws_clip_xs(tf):
    """A KWS CNN whose activations are a clip to [-1.5, 4] written as ops (tf.clip_by_value: MINIMUM and
    MAXIMUM with constants; no fused activation covers that range)."""
    L = tf.keras.layers
    clip = L.Lambda(lambda t: tf.clip_by_value(t, -1.5, 4.0))
    inp = tf.keras.Input(shape=(49, 10, 1), batch_size=1)
    x = clip(L.Conv2D(8, (10, 4), strides=(2, 2), padding="same")(inp))
    x = clip(L.Conv2D(8, 3, strides=(2, 2), padding="same")(x))
    x = L.AveragePooling2D(pool_size=x.shape[1:3])(x)
    return tf.keras.Model(inp, L.Softmax()(L.Dense(12)(L.Flatten()(x))))


def _kws_transpose_xs(tf):
    """A KWS CNN that swaps time and frequency between its convolutions (a Keras Permute: TRANSPOSE)."""
    L = tf.keras.layers
    inp = tf.keras.Input(shape=(49, 10, 1), batch_size=1)
    x = L.Conv2D(8, (5, 3), strides=(2, 1), padding="same", activation="relu")(inp)
    x = L.Permute((2, 1, 3))(x)
    x = L.Conv2D(8, 3, strides=(1, 2), padding="same", activation="relu")(x)
    x = L.AveragePooling2D(pool_size=x.shape[1:3])(x)
    return tf.keras.Model(inp, L.Softmax()(L.Dense(12)(L.Flatten()(x))))


def _kws_lstm_xs(tf):
    """An LSTM keyword model: 49 MFCC frames of 10 coefficients, one LSTM of 16 units (its last step), a
    12-way softmax. Built with tf_keras (Keras 2): Keras 3's LSTM converts to a WHILE loop, not the fused
    UNIDIRECTIONAL_SEQUENCE_LSTM."""
    import tf_keras as keras
    inp = keras.Input(shape=(49, 10), batch_size=1)
    x = keras.layers.LSTM(16)(inp)
    return keras.Model(inp, keras.layers.Dense(12, activation="softmax")(x))


def _vww_two_outputs_xs(tf):
    """A detector-style model with two outputs of their own size and quantization: a person score
    (softmax of 2) and a box (4 values, linear) from one trunk on a 32x32 grayscale image."""
    L = tf.keras.layers
    inp = tf.keras.Input(shape=(32, 32, 1), batch_size=1)
    x = L.Conv2D(8, 3, strides=2, padding="same", activation="relu")(inp)
    x = L.Conv2D(16, 3, strides=2, padding="same", activation="relu")(x)
    x = L.Flatten()(L.AveragePooling2D(pool_size=x.shape[1:3])(x))
    return tf.keras.Model(inp, [L.Softmax()(L.Dense(2)(x)), L.Dense(4)(x)])


ARCHITECTURES = {"ad_fc_s": _ad_fc_s, "kws_dscnn_xs": _kws_dscnn_xs, "vww_mobilenet_xs": _vww_mobilenet_xs,
                 "mcunet_f446": _mcunet_f446, "mobilenet_v2_035_160": _mobilenet_v2_035_160,
                 "vww_uint8_xs": _vww_uint8_xs, "har_reshape_xs": _har_reshape_xs, "kws_clip_xs": _kws_clip_xs,
                 "kws_transpose_xs": _kws_transpose_xs, "kws_lstm_xs": _kws_lstm_xs,
                 "vww_two_outputs_xs": _vww_two_outputs_xs}
CONVERT_OPTIONS = {"vww_uint8_xs": {"uint8_io": True}}     # tfgen.convert's options beyond the default int8


def generate(name: str) -> Path:
    if name not in ARCHITECTURES:
        raise HarnessError(f"no generator for {name!r}; known: {', '.join(ARCHITECTURES)}")
    source = Path(__file__).read_text()     # a change to any architecture here rebuilds the models
    return convert(ARCHITECTURES[name], f"zoo:{name}:{source}", folder="models", **CONVERT_OPTIONS.get(name, {}))
