"""Seeded single-op (or small) Keras models shared by the int16x8 and float32 sweeps
(tests/kernels/test_int16.py, tests/kernels/test_float.py). A case is (key, build, op): `key` names the
model (tfgen caches the converted file by it, per dtype scheme), `build(tf)` returns the Keras model and
`op` is the TFLite op the case is about (the converted graph must contain it).

Keras has no dilated Conv2D/DepthwiseConv2D that converts to one op (the converter wraps it in
SPACE_TO_BATCH_ND / BATCH_TO_SPACE_ND) and no RELU_N1_TO_1 layer, so those cases call tf.nn directly in a
small layer, which converts to one op with the dilation and the fused activation."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class KCase:
    key: str
    build: Callable
    op: str

    def __repr__(self) -> str:       # pytest ids
        return self.key


def activation(tf, y, act):
    """The fused activation a case names, applied in TensorFlow (None: none)."""
    if act == "relu":
        return tf.nn.relu(y)
    if act == "relu6":
        return tf.nn.relu6(y)
    if act == "n1":
        return tf.minimum(tf.maximum(y, -1.0), 1.0)
    return y


def conv(h, w, c, filters, k, s, d=(1, 1), pad="same", act=None, bias=True, groups=1, batch=1) -> KCase:
    key = f"conv-h{h}w{w}c{c}f{filters}k{k}s{s}d{d}-{pad}-{act}-b{int(bias)}-g{groups}-n{batch}"

    def build(tf):
        x = tf.keras.Input((h, w, c), batch_size=batch)
        if d == (1, 1) and act != "n1":
            y = tf.keras.layers.Conv2D(filters, k, strides=s, padding=pad, groups=groups, activation=act,
                                       use_bias=bias)(x)
            return tf.keras.Model(x, y)

        class RawConv(tf.keras.layers.Layer):
            def build(self, shape):
                self.kernel = self.add_weight(shape=(*k, shape[-1] // groups, filters), initializer="glorot_uniform")
                self.b = self.add_weight(shape=(filters,), initializer="random_normal") if bias else None

            def call(self, t):
                y = tf.nn.conv2d(t, self.kernel, strides=[1, *s, 1], padding=pad.upper(), dilations=[1, *d, 1])
                return activation(tf, y if self.b is None else tf.nn.bias_add(y, self.b), act)
        return tf.keras.Model(x, RawConv()(x))
    return KCase(key, build, "CONV_2D")


def dwconv(h, w, c, mult, k, s, d=(1, 1), pad="same", act=None, bias=True) -> KCase:
    key = f"dwconv-v2-h{h}w{w}c{c}m{mult}k{k}s{s}d{d}-{pad}-{act}-b{int(bias)}"

    def build(tf):
        x = tf.keras.Input((h, w, c), batch_size=1)
        if d == (1, 1) and act != "n1":
            y = tf.keras.layers.DepthwiseConv2D(k, strides=s, padding=pad, depth_multiplier=mult, activation=act,
                                                use_bias=bias, bias_initializer="random_normal")(x)
            return tf.keras.Model(x, y)

        class RawDw(tf.keras.layers.Layer):
            def build(self, shape):
                self.kernel = self.add_weight(shape=(*k, shape[-1], mult), initializer="glorot_uniform")
                self.b = self.add_weight(shape=(shape[-1] * mult,), initializer="random_normal") if bias else None

            def call(self, t):
                y = tf.raw_ops.DepthwiseConv2dNative(input=t, filter=self.kernel, strides=[1, *s, 1],
                                                     padding=pad.upper(), dilations=[1, *d, 1])
                return activation(tf, y if self.b is None else tf.nn.bias_add(y, self.b), act)
        return tf.keras.Model(x, RawDw()(x))
    return KCase(key, build, "DEPTHWISE_CONV_2D")


def dense(in_shape, units, act=None, bias=True) -> KCase:
    key = f"fc-{'x'.join(map(str, in_shape))}-u{units}-{act}-b{int(bias)}"

    def build(tf):
        x = tf.keras.Input(in_shape, batch_size=1)
        return tf.keras.Model(x, tf.keras.layers.Dense(units, activation=act, use_bias=bias,
                                                       bias_initializer="random_normal")(x))
    return KCase(key, build, "FULLY_CONNECTED")


def pool(kind, h, w, c, k, s, pad="valid") -> KCase:
    key = f"{kind}pool-h{h}w{w}c{c}k{k}s{s}-{pad}"
    layer = {"avg": "AveragePooling2D", "max": "MaxPooling2D"}[kind]

    def build(tf):
        x = tf.keras.Input((h, w, c), batch_size=1)
        return tf.keras.Model(x, getattr(tf.keras.layers, layer)(k, strides=s, padding=pad)(x))
    return KCase(key, build, {"avg": "AVERAGE_POOL_2D", "max": "MAX_POOL_2D"}[kind])


def binary(op, in_shape, sa, sb, ka=1.0, kb=1.0, act=None) -> KCase:
    """x op y for two Dense branches of the input (each reshaped to its shape, its weights drawn with a
    standard deviation proportional to its k: its own scale), broadcasting sa against sb."""
    key = f"{op}-v2-{'x'.join(map(str, in_shape))}-{'x'.join(map(str, sa))}-{'x'.join(map(str, sb))}-{ka}-{kb}-{act}"

    def build(tf):
        x = tf.keras.Input(in_shape, batch_size=1)
        flat = tf.keras.layers.Flatten()(x)

        def branch(shape, k):
            init = tf.keras.initializers.RandomNormal(stddev=0.4 * k)
            y = tf.keras.layers.Dense(int(np.prod(shape)), kernel_initializer=init)(flat)
            return tf.keras.layers.Reshape(tuple(shape))(y)
        a, b = branch(sa, ka), branch(sb, kb)
        y = tf.keras.layers.Lambda(lambda ts: ts[0] + ts[1] if op == "add" else ts[0] * ts[1])([a, b])
        return tf.keras.Model(x, tf.keras.layers.Lambda(lambda t: activation(tf, t, act))(y))
    return KCase(key, build, op.upper())


def with_const(op, shape, cshape, seed=0, act=None) -> KCase:
    key = f"{op}const-{'x'.join(map(str, shape))}-{'x'.join(map(str, cshape))}-{seed}-{act}"

    def build(tf):
        c = np.random.default_rng(seed).uniform(-3, 3, size=cshape).astype(np.float32)
        x = tf.keras.Input(shape, batch_size=1)
        y = tf.keras.layers.Lambda(lambda t: activation(tf, t + c if op == "add" else t * c, act))(x)
        return tf.keras.Model(x, y)
    return KCase(key, build, op.upper())


def softmax(shape, beta=1.0) -> KCase:
    key = f"softmax-{'x'.join(map(str, shape))}-beta{beta}"

    def build(tf):
        x = tf.keras.Input(shape, batch_size=1)
        y = tf.keras.layers.Dense(shape[-1])(x)
        return tf.keras.Model(x, tf.keras.layers.Lambda(lambda t: tf.nn.softmax(t * beta) if beta != 1.0
                                                        else tf.nn.softmax(t))(y))
    return KCase(key, build, "SOFTMAX")


def pad(shape, paddings, value=None) -> KCase:
    key = f"pad-{'x'.join(map(str, shape))}-{paddings}-{value}"

    def build(tf):
        x = tf.keras.Input(shape, batch_size=1)
        p = [[0, 0], *paddings]
        y = tf.keras.layers.Lambda(lambda t: tf.pad(t, p) if value is None else
                                   tf.pad(t, p, constant_values=value))(x)
        return tf.keras.Model(x, y)
    return KCase(key, build, "PAD" if value is None else "PADV2")


def mean(shape, axes, keepdims) -> KCase:
    key = f"mean-{'x'.join(map(str, shape))}-{axes}-k{int(keepdims)}"

    def build(tf):
        x = tf.keras.Input(shape, batch_size=1)
        return tf.keras.Model(x, tf.keras.layers.Lambda(
            lambda t: tf.reduce_mean(t, axis=list(axes), keepdims=keepdims))(x))
    return KCase(key, build, "MEAN")


def concat(shapes, axis) -> KCase:
    """Branches of the input (each a Dense of its own width, reshaped), concatenated along axis."""
    key = f"concat-{'-'.join('x'.join(map(str, s)) for s in shapes)}-a{axis}"

    def build(tf):
        x = tf.keras.Input((6,), batch_size=1)
        parts = [tf.keras.layers.Reshape(tuple(s))(tf.keras.layers.Dense(int(np.prod(s)))(x)) for s in shapes]
        return tf.keras.Model(x, tf.keras.layers.Concatenate(axis=axis)(parts))
    return KCase(key, build, "CONCATENATION")


def unary(fn, shape, k=1.0) -> KCase:
    """LOGISTIC (fn "sigmoid") or TANH of the input times k."""
    key = f"{fn}-{'x'.join(map(str, shape))}-k{k}"

    def build(tf):
        x = tf.keras.Input(shape, batch_size=1)
        f = tf.math.sigmoid if fn == "sigmoid" else tf.math.tanh
        return tf.keras.Model(x, tf.keras.layers.Lambda(lambda t: f(t * k) if k != 1.0 else f(t))(x))
    return KCase(key, build, "LOGISTIC" if fn == "sigmoid" else "TANH")


def stack(h, w, c) -> KCase:
    """A small DS-CNN-like network: conv, depthwise, pointwise, average pool, flatten, dense, softmax."""
    key = f"stack-h{h}w{w}c{c}"

    def build(tf):
        L = tf.keras.layers
        x = tf.keras.Input((h, w, c), batch_size=1)
        y = L.Conv2D(8, (3, 3), strides=(2, 2), padding="same", activation="relu")(x)
        y = L.DepthwiseConv2D((3, 3), padding="same", activation="relu")(y)
        y = L.Conv2D(12, (1, 1), activation="relu")(y)
        y = L.AveragePooling2D(pool_size=(y.shape[1], y.shape[2]))(y)
        y = L.Reshape((y.shape[-1],))(y)
        return tf.keras.Model(x, L.Softmax()(L.Dense(5)(y)))
    return KCase(key, build, "SOFTMAX")


def random_convs(rng, n: int, *, groups: bool) -> list[KCase]:
    out = []
    for _ in range(n):
        k = (int(rng.integers(1, 5)), int(rng.integers(1, 5)))
        s = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
        d = (int(rng.integers(1, 3)), int(rng.integers(1, 3))) if rng.random() < 0.3 else (1, 1)
        padding = str(rng.choice(["same", "valid"]))
        act = [None, "relu", "relu6", "n1"][int(rng.integers(0, 4))]
        h, w = (int(rng.integers(1, 12)) for _ in range(2))
        if padding == "valid":
            h, w = max(h, (k[0] - 1) * d[0] + 1), max(w, (k[1] - 1) * d[1] + 1)
        c = int(rng.choice([1, 2, 3, 4, 8, 16]))
        f = int(rng.choice([1, 2, 3, 5, 8, 16]))
        g = 1
        if groups and d == (1, 1) and act != "n1" and rng.random() < 0.2:
            g = next((x for x in (4, 2) if c % x == 0 and c > x and f % x == 0), 1)
        out.append(conv(h, w, c, f, k, s, d, padding, act, bool(rng.random() < 0.75), g))
    return out


def random_dwconvs(rng, n: int) -> list[KCase]:
    out = []
    for _ in range(n):
        k = (int(rng.integers(1, 5)), int(rng.integers(1, 5)))
        s = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
        d = (int(rng.integers(1, 3)), int(rng.integers(1, 3))) if rng.random() < 0.3 else (1, 1)
        padding = str(rng.choice(["same", "valid"]))
        act = [None, "relu", "relu6", "n1"][int(rng.integers(0, 4))]
        h, w = (int(rng.integers(1, 12)) for _ in range(2))
        if padding == "valid":
            h, w = max(h, (k[0] - 1) * d[0] + 1), max(w, (k[1] - 1) * d[1] + 1)
        c = int(rng.choice([1, 2, 3, 4, 8, 16]))
        mult = int(rng.choice([1, 1, 2, 3]))
        out.append(dwconv(h, w, c, mult, k, s, d, padding, act, bool(rng.random() < 0.75)))
    return out
