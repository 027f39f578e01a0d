"""Real inputs from ../shared/models (or $HARNESS_MODELS) for the zoo's tasks, quantized into each model's
input tensor: the person / no-person images for visual wake words, the MLPerf Tiny anomaly-detection
sample windows, and MFCC features computed here from the micro_speech WAV clips for keyword spotting.
Both TFLM and the board get the same bytes, so these are compared bit for bit like the random inputs."""
from __future__ import annotations

import struct
import wave
from pathlib import Path

import numpy as np

from harness import registry
from harness.plan.model import Tensor
from harness.plan.quant import affine_quantize

IMAGES = ["tflite-micro/testdata/person.bmp", "tflite-micro/testdata/no_person.bmp"]
CLIPS = [f"tflite-micro/testdata/{w}_1000ms.wav" for w in ("yes", "no", "silence", "noise")]
AD_SAMPLE = "mlcommons-tiny/datasets/ad01_sample_normal_id_01_00000000_hist_librosa.bin"
AD_WINDOW, AD_STRIDE = 640, 128          # floats: MLPerf Tiny ad01's 2560-byte windows, 512-byte stride


def _find(rel: str) -> Path | None:
    for d in registry.search_dirs():
        if (d / rel).is_file():
            return d / rel
    return None


def quantize(values: np.ndarray, t: Tensor) -> np.ndarray:
    if np.dtype(t.dtype).kind == "f":
        return values.astype(t.dtype).reshape(t.shape)
    return affine_quantize(values, t.scale, t.zero_point, t.dtype).reshape(t.shape)


def read_bmp_gray(path: Path) -> np.ndarray:
    """An 8-bit palettised BMP (as TFLM's test images are) as a (rows, cols) uint8 array, top row first."""
    data = path.read_bytes()
    offset, = struct.unpack_from("<I", data, 10)
    width, height = struct.unpack_from("<ii", data, 18)
    bpp, = struct.unpack_from("<H", data, 28)
    if data[:2] != b"BM" or bpp != 8:
        raise ValueError(f"{path}: not an 8-bit BMP")
    header, = struct.unpack_from("<I", data, 14)
    colours = (offset - 14 - header) // 4
    palette = np.frombuffer(data, np.uint8, colours * 4, 14 + header).reshape(colours, 4)
    gray = palette[:, :3].astype(np.uint16).sum(axis=1) // 3          # B, G, R entries of a gray ramp
    stride = (width + 3) // 4 * 4
    rows = np.frombuffer(data, np.uint8, stride * abs(height), offset).reshape(abs(height), stride)[:, :width]
    rows = gray[rows].astype(np.uint8)
    return rows[::-1] if height > 0 else rows


def _resize(img: np.ndarray, h: int, w: int) -> np.ndarray:
    """Bilinear, align-corners=False, enough for a sanity input."""
    ys = (np.arange(h) + 0.5) * img.shape[0] / h - 0.5
    xs = (np.arange(w) + 0.5) * img.shape[1] / w - 0.5
    y0 = np.clip(np.floor(ys).astype(int), 0, img.shape[0] - 1)
    x0 = np.clip(np.floor(xs).astype(int), 0, img.shape[1] - 1)
    y1, x1 = np.minimum(y0 + 1, img.shape[0] - 1), np.minimum(x0 + 1, img.shape[1] - 1)
    fy, fx = np.clip(ys - y0, 0, 1)[:, None], np.clip(xs - x0, 0, 1)[None, :]
    f = img.astype(np.float32)
    top = f[y0][:, x0] * (1 - fx) + f[y0][:, x1] * fx
    bottom = f[y1][:, x0] * (1 - fx) + f[y1][:, x1] * fx
    return top * (1 - fy) + bottom * fy


def _image_inputs(t: Tensor) -> list[tuple[str, np.ndarray]]:
    if len(t.shape) != 4:
        return []
    _, h, w, c = t.shape
    out = []
    for rel in IMAGES:
        if (p := _find(rel)) is None:
            continue
        img = np.repeat(np.round(_resize(read_bmp_gray(p), h, w))[:, :, None], c, axis=2)
        if np.dtype(t.dtype) == np.int8:     # MLPerf Tiny's vww01 convention: each pixel byte minus 128
            out.append((p.stem, (img - 128).astype(np.int8).reshape(t.shape)))
        else:
            out.append((p.stem, quantize(img / 255.0, t)))
    return out


def mfcc(samples: np.ndarray, rate: int, frames: int, coeffs: int, window_s: float = 0.040,
         stride_s: float = 0.020, mels: int = 40) -> np.ndarray:
    """Log-mel MFCC (Hann window, power spectrum, mel filterbank, DCT-II): the KWS models' 49x10 layout."""
    win, hop = int(rate * window_s), int(rate * stride_s)
    nfft = 1 << (win - 1).bit_length()
    x = samples.astype(np.float64) / 32768.0
    x = np.pad(x, (0, max(0, (frames - 1) * hop + win - len(x))))
    spec = np.stack([np.abs(np.fft.rfft(x[i * hop:i * hop + win] * np.hanning(win), nfft)) ** 2
                     for i in range(frames)])
    hz_to_mel = lambda f: 2595 * np.log10(1 + f / 700)            # noqa: E731
    mel_to_hz = lambda m: 700 * (10 ** (m / 2595) - 1)            # noqa: E731
    edges = mel_to_hz(np.linspace(hz_to_mel(20), hz_to_mel(4000), mels + 2))
    bins = np.fft.rfftfreq(nfft, 1 / rate)
    fb = np.maximum(0, np.minimum((bins[None] - edges[:-2, None]) / (edges[1:-1, None] - edges[:-2, None]),
                                  (edges[2:, None] - bins[None]) / (edges[2:, None] - edges[1:-1, None])))
    logmel = np.log(spec @ fb.T + 1e-6)
    n = np.arange(mels)
    dct = np.cos(np.pi / mels * (n[None, :] + 0.5) * np.arange(coeffs)[:, None]) * np.sqrt(2 / mels)
    return (logmel @ dct.T).astype(np.float32)


def _kws_inputs(t: Tensor) -> list[tuple[str, np.ndarray]]:
    if int(np.prod(t.shape)) != 490:                 # the 49 frames x 10 coefficients layout only
        return []
    out = []
    for rel in CLIPS:
        if (p := _find(rel)) is None:
            continue
        with wave.open(str(p)) as w:
            samples = np.frombuffer(w.readframes(w.getnframes()), np.int16)
            rate = w.getframerate()
        out.append((p.stem, quantize(mfcc(samples, rate, 49, 10), t)))
    return out


def _ad_inputs(t: Tensor) -> list[tuple[str, np.ndarray]]:
    if int(np.prod(t.shape)) != AD_WINDOW or (p := _find(AD_SAMPLE)) is None:
        return []
    frames = np.fromfile(p, np.float32)
    starts = range(0, len(frames) - AD_WINDOW + 1, AD_STRIDE * 40)     # every 40th MLPerf window
    return [(f"{p.stem}@{s // AD_STRIDE}", quantize(frames[s:s + AD_WINDOW], t)) for s in starts]


_BY_TASK = {"vww": _image_inputs, "kws": _kws_inputs, "ad": _ad_inputs}


def real_inputs(task: str | None, tensors: list[Tensor]) -> list[tuple[str, list[np.ndarray]]]:
    """(name, model input) pairs for a model of `task` with input tensors `tensors`, each model input one
    array per tensor as harness.reference.random_inputs gives; [] when none apply (the tasks' data are
    one tensor each: a model with several inputs has none)."""
    fn = _BY_TASK.get(task or "")
    return [(name, [x]) for name, x in fn(tensors[0])] if fn and len(tensors) == 1 else []
