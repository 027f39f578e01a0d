"""PAD / PADV2: seeded Keras models (ZeroPadding2D, tf.pad with and without a constant value, 1-D to 5-D),
our host runtime vs TFLM byte for byte. HARNESS_SWEEP=large widens the sweep."""
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


def _zero_padding_2d(shape, pads):
    def build(tf):
        x = tf.keras.Input(shape=shape, batch_size=1)
        return tf.keras.Model(x, tf.keras.layers.ZeroPadding2D(pads)(x))
    return build


def _tf_pad(shape, pads, value):
    """tf.pad of the whole tensor (batch dimension included); value None pads with 0 (PAD), else PADV2."""
    def build(tf):
        x = tf.keras.Input(shape=shape, batch_size=1)
        kw = {} if value is None else {"constant_values": value}
        return tf.keras.Model(x, tf.keras.layers.Lambda(lambda t: tf.pad(t, [list(p) for p in pads], **kw))(x))
    return build


def _cases(n: int, seed: int):
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < n:
        i = len(cases)
        if i % 3 == 0:
            shape = tuple(int(v) for v in rng.integers(1, 7, 3))
            pads = tuple(tuple(int(v) for v in rng.integers(0, 4, 2)) for _ in range(2))
            if any(any(q) for q in pads):
                cases.append(("zp2d", shape, pads))
            continue
        rank = int(rng.integers(1, 5))                       # without the batch dimension
        shape = tuple(int(v) for v in rng.integers(1, 6, rank))
        pads = [(0, 0)] + [tuple(int(v) for v in rng.integers(0, 3, 2)) for _ in range(rank)]
        if rng.random() < 0.15:
            pads[0] = (0, 1)                                 # pad the batch dimension too
        if not any(any(p) for p in pads):
            continue                                         # the converter drops a no-op pad
        value = None if i % 3 == 1 else round(float(rng.uniform(-2.5, 2.5)), 3)
        cases.append(("tfpad", shape, tuple(pads), value))
    return cases


EDGES = [
    ("zp2d", (4, 5, 3), ((1, 2), (0, 3))),
    ("zp2d", (1, 1, 1), ((0, 1), (1, 0))),
    ("tfpad", (6,), ((0, 0), (3, 0)), None),                   # 2-D
    ("tfpad", (2, 3, 2, 2), ((0, 0), (1, 0), (0, 2), (1, 1), (0, 1)), None),   # 5-D
    ("tfpad", (4, 5, 3), ((0, 0), (1, 2), (0, 1), (1, 0)), 0.7),   # PADV2
    ("tfpad", (4, 5, 3), ((0, 0), (0, 0), (0, 0), (2, 3)), -1.0),  # channels only
]
CASES = EDGES + _cases(60 if LARGE else 21, seed=3)


def _key(case) -> str:
    return "pad/v1/" + "-".join(str(v).replace(" ", "") for v in case)


def _build(case):
    return _zero_padding_2d(*case[1:]) if case[0] == "zp2d" else _tf_pad(*case[1:])


@pytest.mark.parametrize("case", CASES, ids=_key)
def test_pad_matches_tflm(case):
    r = run_case(_build(case), _key(case))
    assert r.ops == ["PADV2" if case[0] == "tfpad" and case[3] is not None else "PAD"], r.ops
    assert r.mismatches == 0, r.first_diff


def test_padv2_constant_with_its_own_quantization_is_refused(tmp_path: Path):
    """TFLM requires the pad value to have the output's scale and zero point; so do we, naming the op."""
    src = convert(_build(EDGES[4]), _key(EDGES[4]), folder="sweep")
    const = tensor_index(src, op="PADV2", which="inputs", k=2)
    bad = with_quantization(src, tmp_path / "padv2.tflite", const,
                            scale=3 * float(load_model(src).tensor(const).scale))
    with pytest.raises(ModelError, match="op 0 PADV2.*must be the output's"):
        lower(load_model(bad))
    with pytest.raises(RuntimeError):
        TflmReference(bad)
