"""AVERAGE_POOL_2D / MAX_POOL_2D: seeded single-op Keras models, our host runtime vs TFLM byte for byte.
HARNESS_SWEEP=large widens the sweep."""
import os
from pathlib import Path

import numpy as np
import pytest

from harness.plan.lower import lower
from harness.plan.model import ModelError, load_model
from harness.reference import TflmReference
from harness.sweep import run_case
from harness.tfgen import convert
from tflite_edit import tensor_index, with_quantization

LARGE = os.environ.get("HARNESS_SWEEP") == "large"
ACTS = ("none", "relu", "relu6")


def _builder(kind, shape, pool, strides, padding, act):
    def build(tf):
        x = tf.keras.Input(shape=shape, batch_size=1)
        layer = tf.keras.layers.AveragePooling2D if kind == "avg" else tf.keras.layers.MaxPooling2D
        y = layer(pool, strides, padding)(x)
        if act != "none":                   # the converter fuses it into the pooling op
            y = tf.keras.layers.ReLU(6.0 if act == "relu6" else None)(y)
        return tf.keras.Model(x, y)
    return build


def _cases(n: int, seed: int):
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < n:
        kind = ("avg", "max")[len(cases) % 2]
        h, w, c = (int(v) for v in rng.integers(1, [10, 10, 7]))
        pool = tuple(int(v) for v in rng.integers(1, 5, 2))
        strides = tuple(int(v) for v in rng.integers(1, 4, 2))
        padding = ("same", "valid")[int(rng.integers(2))]
        if padding == "valid" and (pool[0] > h or pool[1] > w):
            continue
        cases.append((kind, (h, w, c), pool, strides, padding, ACTS[int(rng.integers(3))]))
    return cases


EDGES = [
    ("avg", (1, 1, 3), (1, 1), (1, 1), "valid", "none"),      # 1x1 everything
    ("avg", (5, 7, 4), (5, 7), (1, 1), "valid", "none"),      # global pooling window
    ("max", (3, 3, 2), (4, 4), (1, 1), "same", "none"),       # window larger than the image
    ("avg", (3, 3, 2), (4, 4), (2, 2), "same", "relu6"),
    ("avg", (9, 8, 5), (2, 2), (3, 3), "valid", "none"),      # stride > window: skipped pixels
    ("max", (8, 9, 3), (3, 2), (1, 3), "same", "relu"),
    ("avg", (6, 6, 16), (3, 3), (2, 2), "same", "none"),      # odd total padding: extra after
    ("avg", (16, 16, 7), (16, 16), (1, 1), "valid", "none"),  # 256 taps: the DSP kernel's largest window
    ("avg", (17, 16, 6), (17, 16), (1, 1), "valid", "none"),  # 272 taps: the reference kernel
    ("avg", (25, 5, 12), (25, 5), (1, 1), "valid", "relu"),   # kws_micronet's global pool, fewer channels
]
CASES = EDGES + _cases(80 if LARGE else 24, seed=11)


def _key(case) -> str:
    return "pool/v1/" + "-".join(str(v) for v in case)


@pytest.mark.parametrize("kernels", ["optimized", "reference"])
@pytest.mark.parametrize("case", CASES, ids=_key)
def test_pool_matches_tflm(case, kernels):
    """Both kernel sets: int8 average pooling over windows of <= 256 taps takes the DSP kernel
    (harness/plan/optimize.py)."""
    r = run_case(_builder(*case), _key(case), kernels=kernels)
    assert r.ops == [("AVERAGE_POOL_2D" if case[0] == "avg" else "MAX_POOL_2D")], r.ops
    dsp = kernels == "optimized" and case[0] == "avg" and case[2][0] * case[2][1] <= 256
    assert r.kernels[0].endswith("_dsp") == dsp, r.kernels
    assert r.mismatches == 0, r.first_diff


def test_pool_with_its_own_output_scale_is_refused(tmp_path: Path):
    """TFLM requires the input's quantization on the output; so do we, naming the op."""
    src = convert(_builder(*EDGES[3]), _key(EDGES[3]), folder="sweep")
    out = tensor_index(src, op="AVERAGE_POOL_2D", which="outputs")
    bad = with_quantization(src, tmp_path / "pool_rescaled.tflite", out,
                            scale=2 * float(load_model(src).tensor(out).scale))
    with pytest.raises(ModelError, match="op 0 AVERAGE_POOL_2D.*share quantization"):
        lower(load_model(bad))
    with pytest.raises(RuntimeError):
        TflmReference(bad)
