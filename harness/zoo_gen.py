"""Models this project builds itself with TensorFlow: seeded, small, of the zoo's families, so that a
machine without ../shared/models still has real int8 .tflite files to check. Built once, cached."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from harness.build import CACHE
from harness.errors import HarnessError

SEED = 1234


def _ad_fc_s(tf):
    """MLPerf Tiny AD baseline shape, scaled down: a dense autoencoder with ReLU."""
    inp = tf.keras.Input(shape=(128,))
    x = inp
    for units in (64, 32, 8, 32, 64):
        x = tf.keras.layers.Dense(units, activation="relu")(x)
    out = tf.keras.layers.Dense(128)(x)
    return tf.keras.Model(inp, out), (128,)


ARCHITECTURES = {"ad_fc_s": _ad_fc_s}


def generate(name: str) -> Path:
    if name not in ARCHITECTURES:
        raise HarnessError(f"no generator for {name!r}; known: {', '.join(ARCHITECTURES)}")
    key = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]
    out = CACHE / "models" / f"{name}-{key}.tflite"
    if out.is_file():
        return out
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        import numpy as np
        import tensorflow as tf
    except ImportError as e:
        raise HarnessError(f"generating {name} needs TensorFlow (pip install -e '.[models]'): {e}") from None
    tf.keras.utils.set_random_seed(SEED)
    model, shape = ARCHITECTURES[name](tf)
    rng = np.random.default_rng(SEED)

    def representative():
        for _ in range(64):
            yield [rng.normal(0.0, 1.0, size=(1, *shape)).astype(np.float32)]

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = representative
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    data = conv.convert()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, out)
    return out
