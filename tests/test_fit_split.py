"""The memory breakdown's weights vs quantization tables (issue 14, item 4): the optimized kernels' weight
arrays (op<N>_weights) are weights, only the per-channel requantization data is quant tables."""
import numpy as np
import pytest

from harness import registry
from harness.board import load_board
from harness.pipeline import build
from harness.fit import breakdown
from harness.plan.lower import lower
from harness.plan.model import load_model

KINDS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")


def _up(n: int, k: int) -> int:
    return -(-n // k) * k


def tflite_weights(path) -> tuple[int, int, int]:
    """From the .tflite alone (TensorFlow's interpreter, not harness/plan): (int8 weight bytes of the
    CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED ops, the bytes the DSP kernels store them in, output
    channels). Stored: conv and FC keep int8 with the taps padded to a multiple of 4 and the output channels
    to an even count; depthwise (multiplier 1) widens every weight to int16, 2 bytes each, with the channels
    padded to a multiple of 4 (harness/plan/optimize.py's layouts)."""
    import tensorflow as tf
    it = tf.lite.Interpreter(model_path=str(path))
    tensors = {t["index"]: t for t in it.get_tensor_details()}
    raw = stored = channels = 0
    for op in it._get_ops_details():
        if op["op_name"] not in KINDS:
            continue
        w = tensors[op["inputs"][1]]
        assert w["dtype"] == np.int8, w
        shape = [int(d) for d in w["shape"]]
        raw += int(np.prod(shape))
        if op["op_name"] == "DEPTHWISE_CONV_2D":
            c = shape[-1]
            stored += 2 * shape[1] * shape[2] * _up(c, 4)
        else:
            c, taps = shape[0], int(np.prod(shape[1:]))
            stored += _up(c, 2) * _up(taps, 4)
        channels += c
    return raw, stored, channels


def _model(model_id: str):
    zoo = registry.load_zoo()
    if registry.locate(zoo[model_id]) is None:
        pytest.skip(f"{zoo[model_id].file} is not on this machine")
    return registry.resolve(model_id)


# a model of our own (always there) and the MicroNets KWS-S of the ml-zoo (where ../shared has it)
@pytest.mark.parametrize("model_id", ["gen_kws_dscnn_xs", "kws_micronet_s"])
def test_dsp_weights_are_weights_not_quant_tables(model_id):
    mid, path = _model(model_id)
    low = lower(load_model(path))
    kernels = {c.kernel for c in low.calls}
    assert {"tm_conv2d_s8_dsp", "tm_depthwise_conv2d_s8_dsp"} <= kernels     # the optimized kernels run
    fw = build(load_board("nucleo_f446re"), low, mid)
    parts = breakdown(fw.elf)
    raw, stored, channels = tflite_weights(path)
    assert parts["weights"] == stored
    if model_id == "gen_kws_dscnn_xs":
        # shapes that need no padding: the stored bytes are the int8 weights, the depthwise ones twice
        dw = sum(c.fields["weights"].data.size for c in low.calls if c.kernel == "tm_depthwise_conv2d_s8_dsp")
        assert (raw, stored) == (4288, raw + dw)
    # quant tables: per output channel at most a requantization record (4 int32) plus the depthwise
    # kernel's bias, bias_inside, multiplier (int32 each) and shift (int8)
    assert 0 < parts["quant tables"] <= (16 + 4 + 4 + 4 + 1) * channels
    assert parts["quant tables"] < parts["weights"]
