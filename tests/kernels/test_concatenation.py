"""CONCATENATION: seeded Keras models (2 to 4 inputs along any axis of 2-D to 5-D tensors: the input
itself, Dense branches, a constant), our host runtime vs TFLM byte for byte. HARNESS_SWEEP=large widens
the sweep."""
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


def _concat(shape, axis, parts, seed):
    """`parts` lists each input's size along `axis` and its kind: 'x' (the model input, whose size is
    shape[axis]), 'dense' (a Dense branch of the input) or 'const' (a constant)."""
    def build(tf):
        rng = np.random.default_rng(seed)
        x = tf.keras.Input(shape=shape, batch_size=1)
        flat = tf.keras.layers.Flatten()(x)
        tensors, layout = [], []          # layout: an index into tensors, or a constant array
        for size, kind in parts:
            s = list(shape)
            s[axis - 1] = size
            if kind == "const":
                layout.append(rng.uniform(-2, 2, size=[1] + s).astype(np.float32))
                continue
            layout.append(len(tensors))
            tensors.append(x if kind == "x" else
                           tf.keras.layers.Reshape(s)(tf.keras.layers.Dense(int(np.prod(s)))(flat)))
        ax = axis if seed % 2 else axis - (len(shape) + 1)      # sometimes a negative axis
        y = tf.keras.layers.Lambda(
            lambda ts: tf.concat([ts[i] if isinstance(i, int) else tf.constant(i) for i in layout], ax))(tensors)
        return tf.keras.Model(x, y)
    return build


def _cases(n: int, seed: int):
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < n:
        rank = int(rng.integers(1, 5))
        shape = tuple(int(v) for v in rng.integers(1, 6, rank))
        axis = int(rng.integers(1, rank + 1))
        k = int(rng.integers(2, 5))
        parts = []
        for i in range(k):
            kind = ("x", "dense", "dense", "const")[int(rng.integers(4))]
            parts.append((shape[axis - 1] if kind == "x" else int(rng.integers(1, 5)), kind))
        if sum(p[0] for p in parts) * np.prod(shape) / shape[axis - 1] > 600 \
                or all(p[1] == "const" for p in parts):
            continue
        cases.append((shape, axis, tuple(parts), int(rng.integers(1 << 16))))
    return cases


EDGES = [
    ((4, 5, 3), 3, ((3, "x"), (2, "dense")), 1),               # channels
    ((4, 5, 3), 1, ((4, "x"), (1, "dense"), (4, "x")), 3),    # rows, the same tensor twice
    ((4, 5, 3), 2, ((2, "dense"), (5, "x")), 2),
    ((6,), 1, ((6, "x"), (3, "dense"), (1, "dense"), (2, "dense")), 5),   # 2-D, four inputs
    ((2, 3, 2, 2), 4, ((2, "x"), (3, "dense")), 7),            # 5-D
    ((4, 5, 3), 3, ((3, "x"), (2, "const")), 9),               # a constant input
]
CASES = EDGES + _cases(60 if LARGE else 20, seed=21)


def _key(case) -> str:
    return "concat/v1/" + "-".join(str(v).replace(" ", "").replace("'", "") for v in case)


@pytest.mark.parametrize("case", CASES, ids=_key)
def test_concatenation_matches_tflm(case):
    r = run_case(_concat(*case), _key(case))
    assert "CONCATENATION" in r.ops, r.ops
    assert r.mismatches == 0, r.first_diff
    if any(kind == "const" for _, kind in case[2]):
        g = load_model(r.path)
        op = next(o for o in g.ops if o.name == "CONCATENATION")
        assert any(g.tensor(t).is_constant for t in op.inputs)


def test_input_with_its_own_quantization_is_refused(tmp_path: Path):
    """TFLM's int8 CONCATENATION refuses to rescale (an input's scale and zero point must be the
    output's); so do we, naming the op and the input."""
    src = convert(_concat(*EDGES[0]), _key(EDGES[0]), folder="sweep")
    g = load_model(src)
    op = next(o for o in g.ops if o.name == "CONCATENATION")
    t = tensor_index(src, op="CONCATENATION", which="inputs", k=1)
    bad = with_quantization(src, tmp_path / "concat.tflite", t, scale=0.5, zero_point=30)
    with pytest.raises(ModelError, match=rf"op {op.index} CONCATENATION .*must have the output's quantization"):
        lower(load_model(bad))
    with pytest.raises(RuntimeError):
        TflmReference(bad)
