"""MEAN: seeded Keras models (GlobalAveragePooling2D, tf.reduce_mean over any axes of 2-D to 5-D tensors,
keep_dims both ways, on the input or on a differently scaled Dense branch), our host runtime vs TFLM
byte for byte. HARNESS_SWEEP=large widens the sweep."""
import os
from pathlib import Path

import numpy as np
import pytest

from harness.plan.lower import lower
from harness.plan.model import ModelError, load_model
from harness.sweep import compare_on_host, run_case
from harness.tfgen import convert
from tflite_edit import tensor_index, with_quantization

LARGE = os.environ.get("HARNESS_SWEEP") == "large"


def _source(tf, x, shape, branch):
    if not branch:
        return x
    y = tf.keras.layers.Dense(int(np.prod(shape)))(tf.keras.layers.Flatten()(x))
    return tf.keras.layers.Reshape(shape)(y)


def _gap(shape, keepdims, branch):
    def build(tf):
        x = tf.keras.Input(shape=shape, batch_size=1)
        return tf.keras.Model(x, tf.keras.layers.GlobalAveragePooling2D(keepdims=keepdims)(_source(tf, x, shape, branch)))
    return build


def _reduce_mean(shape, axes, keepdims, branch):
    def build(tf):
        x = tf.keras.Input(shape=shape, batch_size=1)
        y = _source(tf, x, shape, branch)
        return tf.keras.Model(x, tf.keras.layers.Lambda(lambda t: tf.reduce_mean(t, axis=list(axes), keepdims=keepdims))(y))
    return build


def _cases(n: int, seed: int):
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < n:
        branch = bool(rng.random() < 0.5)
        if len(cases) % 4 == 0:
            shape = tuple(int(v) for v in rng.integers(1, 9, 3))
            cases.append(("gap", shape, bool(rng.random() < 0.5), branch))
            continue
        rank = int(rng.integers(1, 5))                          # without the batch dimension
        shape = tuple(int(v) for v in rng.integers(1, 7, rank))
        if np.prod(shape) > 400:
            continue
        n_axes = int(rng.integers(1, min(rank, 3) + 1))
        axes = sorted(int(a) for a in rng.choice(np.arange(1, rank + 1), n_axes, replace=False))
        if all(shape[a - 1] == 1 for a in axes):
            continue                                            # a no-op mean: the converter drops it
        axes = tuple(a - (rank + 1) if rng.random() < 0.25 else a for a in axes)   # some negative
        cases.append(("reduce", shape, axes, bool(rng.random() < 0.5), branch))
    return cases


EDGES = [
    ("gap", (6, 5, 3), False, False),                         # global average pooling
    ("gap", (7, 7, 16), True, True),
    ("gap", (1, 1, 4), False, True),                          # N = 1
    ("reduce", (4, 5, 3), (1,), True, True),                  # rows
    ("reduce", (4, 5, 3), (-1,), False, True),                # channels
    ("reduce", (4, 5, 3), (1, 3), False, True),               # two non-adjacent axes
    ("reduce", (3, 4, 5), (1, 2, 3), False, False),           # all axes (3 of them)
    ("reduce", (12,), (1,), True, True),                      # 2-D
    ("reduce", (3, 4, 5, 2), (1, 3, 4), False, True),         # 5-D, three axes
    ("reduce", (16, 16, 8), (1, 2), True, True),              # N = 256
]
CASES = EDGES + _cases(70 if LARGE else 22, seed=9)


def _key(case) -> str:
    return "mean/v1/" + "-".join(str(v).replace(" ", "") for v in case)


def _build(case):
    return _gap(*case[1:]) if case[0] == "gap" else _reduce_mean(*case[1:])


@pytest.mark.parametrize("case", CASES, ids=_key)
def test_mean_matches_tflm(case):
    r = run_case(_build(case), _key(case))
    assert "MEAN" in r.ops, r.ops
    assert r.mismatches == 0, r.first_diff


@pytest.mark.parametrize("scale_factor,zp_shift", [(1.0, 0), (0.25, 17), (3.0, -40)])
def test_mean_with_chosen_output_quantization(tmp_path: Path, scale_factor, zp_shift):
    """Output quantization equal to the input's (an older TFLM took another path there) or far from it:
    TFLM's integer mean is used throughout, and ours matches it."""
    src = convert(_build(EDGES[1]), _key(EDGES[1]), folder="sweep")
    g = load_model(src)
    mean = next(op for op in g.ops if op.name == "MEAN")
    inp = g.tensor(mean.inputs[0])
    out = tensor_index(src, op="MEAN", which="outputs")
    path = with_quantization(src, tmp_path / "mean.tflite", out, scale=float(inp.scale) * scale_factor,
                             zero_point=max(-128, min(127, inp.zero_point + zp_shift)))
    r = compare_on_host(path, inputs=10)
    assert r.mismatches == 0, r.first_diff


def test_six_d_mean_is_refused():
    path = convert(_reduce_mean((2, 2, 2, 2, 2), (1, 2), False, False), "mean/v1/6d", folder="sweep")
    with pytest.raises(ModelError, match=r"op 0 MEAN .*6-D input"):
        lower(load_model(path))
