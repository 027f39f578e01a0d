"""Real inputs: the BMP reader against a file written here, quantization, and the shapes per model."""
import struct

import numpy as np
import pytest

from conftest import shared_model
from harness.inputs import mfcc, quantize, read_bmp_gray, real_inputs
from harness.plan.model import load_model


def _write_bmp(path, pixels: np.ndarray, palette: np.ndarray) -> None:
    h, w = pixels.shape
    stride = (w + 3) // 4 * 4
    rows = np.zeros((h, stride), np.uint8)
    rows[:, :w] = pixels[::-1]                      # BMP rows are stored bottom-up
    pal = np.zeros((256, 4), np.uint8)
    pal[:, :3] = palette[:, None]
    offset = 14 + 40 + pal.nbytes
    header = struct.pack("<2sIHHI", b"BM", offset + rows.nbytes, 0, 0, offset)
    info = struct.pack("<IiiHHIIiiII", 40, w, h, 1, 8, 0, rows.nbytes, 2835, 2835, 256, 0)
    path.write_bytes(header + info + pal.tobytes() + rows.tobytes())


def test_bmp_reader_maps_the_palette_and_row_order(tmp_path):
    rng = np.random.default_rng(3)
    indices = rng.integers(0, 256, size=(5, 7), dtype=np.uint8)
    palette = (255 - np.arange(256)).astype(np.uint8)     # an inverted ramp: index != gray
    _write_bmp(tmp_path / "x.bmp", indices, palette)
    assert np.array_equal(read_bmp_gray(tmp_path / "x.bmp"), palette[indices])


def test_quantize_rounds_and_saturates():
    t = type("T", (), {"dtype": np.int8, "scale": 0.5, "zero_point": -3, "shape": (4,)})()
    assert quantize(np.array([0.0, 0.75, 1000.0, -1000.0]), t).tolist() == [-3, -1, 127, -128]


def test_quantize_rounds_half_away_from_zero_like_tflm():
    """TFLM's AffineQuantize rounds with TfLiteRound (std::round): 2.5 -> 3 and -2.5 -> -3, where numpy's
    round (half to even) gives 2 and -2."""
    t = type("T", (), {"dtype": np.int8, "scale": 1.0, "zero_point": 0, "shape": (4,)})()
    assert quantize(np.array([2.5, -2.5, 0.5, -1.5]), t).tolist() == [3, -3, 1, -2]


def test_mfcc_shape_and_tone():
    rate = 16000
    tone = (np.sin(2 * np.pi * 1000 * np.arange(rate) / rate) * 8000).astype(np.int16)
    feats = mfcc(tone, rate, 49, 10)
    assert feats.shape == (49, 10)
    assert np.allclose(feats[5:-5], feats[5], atol=1e-3)     # a steady tone gives steady frames


@pytest.mark.parametrize("rel,task,count", [("tflite-micro/person_detect.tflite", "vww", 2),
                                            ("ml-zoo/kws_micronet_s.tflite", "kws", 4),
                                            ("mlcommons-tiny/ad01_int8.tflite", "ad", 5)])
def test_real_inputs_fit_the_input_tensor(rel, task, count):
    g = load_model(shared_model(rel))
    t = g.tensor(g.inputs[0])
    got = real_inputs(task, [t])
    assert len(got) == count
    assert all(x.shape == t.shape and x.dtype == t.dtype for _, [x] in got)
    assert real_inputs(task, [t, t]) == []          # the tasks' data feed a model of one input
