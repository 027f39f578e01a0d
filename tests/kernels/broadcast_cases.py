"""What the broadcasting binary-op sweeps share (ADD and MUL: test_elementwise.py; SUB, MAXIMUM, MINIMUM,
PRELU): the operand shapes drawn for a case, a Dense branch giving an operand its own scale, and the
boards and input sets the newer sweeps run on."""
import numpy as np

from harness.plan.model import load_model

BOARDS = ("nucleo_f446re", "nucleo_f746zg")          # the emulated Cortex-M4 and Cortex-M7
SCHEMES = {"i8": {}, "i16": {"int16x8": True}, "f32": {"float32": True}}   # tfgen.convert flags per dtype


def dense_nd(tf, x, shape, k=1.0):
    """A fresh Dense branch of x, reshaped to `shape` and scaled by k: a tensor with its own scale."""
    y = tf.keras.layers.Dense(int(np.prod(shape)))(tf.keras.layers.Flatten()(x))
    return tf.keras.layers.Reshape(tuple(shape))(y) * k


def broadcast_pair(rng, rank):
    """An output shape and two operand shapes broadcasting to it (1s in random places, some of a lower
    rank)."""
    while True:
        out = [int(v) for v in rng.integers(1, 6, rank)]
        if np.prod(out) <= 360:
            break
    sa, sb = list(out), list(out)
    for s in (sa, sb):
        for d in range(rank):
            if rng.random() < 0.35:
                s[d] = 1
    if rng.random() < 0.3:                          # a lower-rank operand: leading dims dropped
        drop = int(rng.integers(1, rank + 1)) if rank > 1 else 0
        sb = sb[drop:] or [out[-1]]
    if rng.random() < 0.5:
        sa, sb = sb, sa
    return tuple(out), tuple(sa), tuple(sb)


def log_uniform(rng, lo, hi, n=None):
    return np.exp(rng.uniform(np.log(lo), np.log(hi), n))


def every_value(path) -> list[np.ndarray]:
    """Inputs for a model whose input is an int8 element-wise op's own input: together they hold every
    int8 value (each input a different rotation of -128..127, so each value meets several positions)."""
    g = load_model(path)
    t = g.tensor(g.inputs[0])
    if np.dtype(t.dtype) != np.int8:
        return []
    size = int(np.prod(t.shape))
    n = max(2, -(-256 // size))
    ramp = np.arange(-128, 128, dtype=np.int16)
    return [np.resize(np.roll(ramp, 37 * k), size).astype(np.int8).reshape(t.shape) for k in range(n)]
