"""Models with uint8 input and output, as Wake Vision, Edge Impulse and the converter's
`inference_input_type = tf.uint8` emit them: QUANTIZE uint8 -> int8 at the model's input, int8 -> uint8 at
its output, the int8 graph in between (project issue 14, item 1): run bit-exact against TFLM."""
import hashlib

import numpy as np
import pytest

from harness.build import CACHE
from harness.plan.model import load_model


def uint8_io_model(features: int = 12, units: int = 5, seed: int = 1234):
    """A Keras Dense + sigmoid, int8 full-integer quantization (seeded representative dataset), uint8 I/O."""
    from harness.tfgen import _tf, _write
    key = f"uint8_io_dense_sigmoid|{features}|{units}|{seed}"
    out = CACHE / "sweep" / "uint8_io" / f"{hashlib.sha256(key.encode()).hexdigest()[:16]}.tflite"
    if out.is_file():
        return out
    tf = _tf()
    tf.keras.utils.set_random_seed(seed)
    i = tf.keras.Input((features,))
    init = tf.keras.initializers.RandomNormal(stddev=0.3, seed=8)
    x = tf.keras.layers.Dense(units, kernel_initializer=init, bias_initializer=init)(i)
    model = tf.keras.Model(i, tf.keras.layers.Activation("sigmoid")(x))
    rng = np.random.default_rng(seed)

    def representative():
        for _ in range(32):
            yield [rng.normal(0.0, 1.0, size=(1, features)).astype(np.float32)]

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = representative
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.uint8
    conv.inference_output_type = tf.uint8
    return _write(out, conv.convert())


def test_uint8_io_model_shape():
    """The converter really emits uint8 -> int8 and int8 -> uint8 QUANTIZEs around the int8 graph."""
    g = load_model(uint8_io_model())
    assert g.op_names == ["QUANTIZE", "FULLY_CONNECTED", "LOGISTIC", "QUANTIZE"]
    assert np.dtype(g.tensor(g.inputs[0]).dtype) == np.uint8
    assert np.dtype(g.tensor(g.outputs[0]).dtype) == np.uint8
    assert np.dtype(g.tensor(g.ops[0].outputs[0]).dtype) == np.int8




def test_uint8_io_model_bit_exact():
    """Ours on the host against TFLM, byte for byte: uint8 inputs over the whole range (harness/reference's
    random inputs), the input's zero point, and every byte value."""
    from harness.reference import random_inputs
    from tflite_synth import compare
    path = uint8_io_model()
    g = load_model(path)
    t = g.tensor(g.inputs[0])
    xs = [x for [x] in random_inputs([t], 6, seed=3)]
    xs += [np.full(t.shape, t.zero_point, np.uint8), np.arange(t.shape[1], dtype=np.uint8).reshape(t.shape) * 21,
           np.full(t.shape, 255, np.uint8), np.zeros(t.shape, np.uint8)]
    bad, first = compare(path, xs)
    assert bad == 0, f"{bad} inputs differ from TFLM; {first}"


@pytest.mark.emulated
def test_uint8_io_model_on_emulated_f446():
    """The whole cell on the emulated F446RE: the firmware takes and reports uint8 bytes, bit-exact with TFLM."""
    from harness.board import load_board
    from harness.check import check_cell
    v = check_cell("uint8_io", uint8_io_model(), load_board("nucleo_f446re"), inputs=2, seed=0)
    assert v.status == "pass", v.reasons
    assert (v.inputs, v.mismatches) == (2, 0)
