"""Int8 (or int16x8) .tflite files built here with TensorFlow from a seeded Keras builder: the
project's own zoo models and the per-op sweep cases. Cached by a key the caller gives."""
from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import tempfile
from pathlib import Path
from typing import Callable

from harness.build import CACHE
from harness.errors import HarnessError


def _tf():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")     # deterministic float math while converting
    try:
        import tensorflow as tf
    except ImportError as e:
        raise HarnessError(f"building models needs TensorFlow (pip install -e '.[models]'): {e}") from None
    tf.get_logger().setLevel("ERROR")
    return tf


def convert(build: Callable, key: str, *, seed: int = 1234, int16x8: bool = False,
            calibration: Callable | None = None, folder: str = "generated", float_io: bool = False,
            float32: bool = False, uint8_io: bool = False) -> Path:
    """`build(tf)` returns a Keras model (one input or several); `key` names the case (same key, same
    file). Calibration draws from a seeded normal distribution unless `calibration(rng, shape)` is given,
    one array per input in the model's input order (it may return a whole batch where the input has a
    fixed batch size).
    `float_io` keeps the model's input and output float32 (the converter adds QUANTIZE / DEQUANTIZE);
    `float32` converts without quantizing at all (a float32 model: no calibration);
    `uint8_io` makes the int8 model's input and output uint8 (the converter adds uint8 <-> int8 QUANTIZEs,
    as Wake Vision's and Edge Impulse's models have)."""
    digest = hashlib.sha256(f"{key}|{seed}|{int16x8}{'|float_io' if float_io else ''}"
                            f"{'|float32' if float32 else ''}{'|uint8_io' if uint8_io else ''}".encode()).hexdigest()[:16]
    out = CACHE / folder / f"{digest}.tflite"
    if out.is_file():
        return out
    tf = _tf()
    import numpy as np
    tf.keras.utils.set_random_seed(seed)
    model = build(tf)
    shapes = [tuple(i.shape[1:]) for i in model.inputs]
    rng = np.random.default_rng(seed)

    def representative():
        for _ in range(32):
            xs = []
            for inp, shape in zip(model.inputs, shapes):
                x = np.asarray(calibration(rng, shape) if calibration else rng.normal(0.0, 1.0, size=(1, *shape)),
                               np.float32)
                # one sample at a time, or a whole fixed batch where the calibration gives one: an op with
                # state (an LSTM's) is sized for the model's batch and cannot be calibrated on a batch of 1
                full = tuple(inp.shape)
                whole = None not in full and x.size == int(np.prod(full)) and full[0] != 1
                xs.append(x.reshape(full if whole else (1, *shape)))
            # several inputs by name: the converted graph's input order need not be the Keras model's
            yield xs if len(xs) == 1 else {i.name: x for i, x in zip(model.inputs, xs)}

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    if float32:
        return _write(out, _converted(conv))
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = representative
    if int16x8:
        conv.target_spec.supported_ops = [tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
        if not float_io:
            conv.inference_input_type = conv.inference_output_type = tf.int16
    else:
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if not float_io:
            conv.inference_input_type = conv.inference_output_type = tf.uint8 if uint8_io else tf.int8
    return _write(out, _converted(conv))


def _converted(conv) -> bytes:
    """conv.convert() without its chatter on the user's terminal: the converter prints the SavedModel's
    signature (Python, stdout) and its MLIR passes log (C++, straight to file descriptor 2), a screenful
    per model that buries a progress bar. Both descriptors go to a file for the call; shown if it fails."""
    with tempfile.TemporaryFile("w+") as log:
        sys.stdout.flush()
        sys.stderr.flush()
        saved = [os.dup(1), os.dup(2)]
        try:
            os.dup2(log.fileno(), 1)
            os.dup2(log.fileno(), 2)
            with contextlib.redirect_stdout(sys.__stdout__), contextlib.redirect_stderr(sys.__stderr__):
                return conv.convert()
        except Exception:
            _restore(saved)
            log.seek(0)
            sys.stderr.write(log.read()[-4000:])
            raise
        finally:
            _restore(saved)


def _restore(saved: list[int]) -> None:
    if saved[0] < 0:
        return
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        if stream is not None:
            stream.flush()
    os.dup2(saved[0], 1)
    os.dup2(saved[1], 2)
    for fd in saved:
        os.close(fd)
    saved[:] = [-1, -1]


def _write(out: Path, data: bytes) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, out)
    return out
