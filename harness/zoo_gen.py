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


ARCHITECTURES = {"ad_fc_s": _ad_fc_s}


def generate(name: str) -> Path:
    if name not in ARCHITECTURES:
        raise HarnessError(f"no generator for {name!r}; known: {', '.join(ARCHITECTURES)}")
    source = Path(__file__).read_text()     # a change to any architecture here rebuilds the models
    return convert(ARCHITECTURES[name], f"zoo:{name}:{source}", folder="models")
