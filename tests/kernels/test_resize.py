"""RESIZE_NEAREST_NEIGHBOR and RESIZE_BILINEAR: seeded Keras models (tf.raw_ops resizes with each of the
three coordinate conventions -- plain, align_corners, half_pixel_centers -- up- and downscaling, and Keras'
Resizing layer; on the input or on a differently quantized Dense branch), int8 and float32, our host runtime
vs TFLM byte for byte, and a few cases on the emulated M4 and M7 (all of them with HARNESS_SWEEP=large, which
also widens the sweep)."""
import os

import numpy as np
import pytest

from harness.sweep import run_case
from harness.tfgen import convert
from on_board import BOARDS, board_mismatches

LARGE = os.environ.get("HARNESS_SWEEP") == "large"
OPS = {"nearest": "RESIZE_NEAREST_NEIGHBOR", "bilinear": "RESIZE_BILINEAR"}
MODES = {"plain": (False, False), "align": (True, False), "half": (False, True)}


def _resize(kind, shape, size, mode, branch):
    """`shape` (h, w, c) resized to `size` (h, w) by tf.raw_ops with the mode's (align_corners,
    half_pixel_centers); or, for mode "keras", by Keras' Resizing layer (tf.image.resize: half-pixel centers).
    (Keras 3's UpSampling2D repeats pixels with TILE for "nearest", no resize op.)"""
    def build(tf):
        x = tf.keras.Input(shape=shape, batch_size=1)
        y = x
        if branch:
            y = tf.keras.layers.Dense(int(np.prod(shape)))(tf.keras.layers.Flatten()(x))
            y = tf.keras.layers.Reshape(shape)(y)
        if mode == "keras":
            return tf.keras.Model(x, tf.keras.layers.Resizing(*size, interpolation=kind)(y))
        align, half = MODES[mode]
        fn = tf.raw_ops.ResizeNearestNeighbor if kind == "nearest" else tf.raw_ops.ResizeBilinear
        return tf.keras.Model(x, tf.keras.layers.Lambda(
            lambda t: fn(images=t, size=list(size), align_corners=align, half_pixel_centers=half))(y))
    return build


def _cases(n: int, seed: int):
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < n:
        kind = ("nearest", "bilinear")[len(cases) % 2]
        shape = (int(rng.integers(1, 9)), int(rng.integers(1, 9)), int(rng.choice([1, 2, 3, 4, 8])))
        branch = bool(rng.random() < 0.5)
        dtype = "f32" if rng.random() < 0.3 else "i8"
        size = (int(rng.integers(1, 17)), int(rng.integers(1, 17)))
        if size == shape[:2]:
            continue                                  # the converter may drop an identity resize
        mode = "keras" if rng.random() < 0.2 else str(rng.choice(list(MODES)))
        cases.append((kind, shape, size, mode, branch, dtype))
    return cases


EDGES = [(kind, *rest) for kind in OPS for rest in [
    ((4, 5, 3), (8, 10), "plain", False, "i8"),       # 2x upscale
    ((4, 5, 3), (7, 9), "align", True, "i8"),
    ((4, 5, 3), (7, 13), "half", True, "i8"),          # half-pixel: the first row/column extrapolates
    ((8, 6, 2), (3, 4), "half", False, "i8"),          # downscale
    ((8, 6, 2), (3, 1), "align", False, "i8"),         # one output column: align_corners' scale falls back
    ((1, 1, 4), (3, 2), "plain", True, "i8"),          # a single input pixel
    ((3, 4, 2), (6, 8), "keras", True, "i8"),          # Keras' Resizing layer
    ((4, 5, 3), (7, 13), "half", True, "f32"),
    ((5, 4, 2), (9, 3), "align", False, "f32"),
    ((3, 3, 3), (8, 5), "plain", True, "f32"),
]]
CASES = EDGES + _cases(70 if LARGE else 24, seed=31)
BOARD_CASES = CASES if LARGE else [EDGES[2], EDGES[7], EDGES[12], EDGES[17]]


def _key(case) -> str:
    return "resize/v1/" + "-".join(str(v).replace(" ", "") for v in case)


@pytest.mark.parametrize("case", CASES, ids=_key)
def test_resize_matches_tflm(case):
    r = run_case(_resize(*case[:5]), _key(case), float32=case[5] == "f32")
    assert OPS[case[0]] in r.ops, r.ops
    assert r.mismatches == 0 and r.bit_exact, r.first_diff


@pytest.mark.emulated
@pytest.mark.parametrize("board", BOARDS)
@pytest.mark.parametrize("case", BOARD_CASES, ids=_key)
def test_resize_bit_exact_on_the_emulated_board(case, board):
    path = convert(_resize(*case[:5]), _key(case), folder="sweep", float32=case[5] == "f32")
    assert board_mismatches(path, board, "resize") == (0, 0)


def test_source_tables_by_hand():
    """The planner's index arithmetic on small sizes worked out by hand from TFLM's formulas."""
    from harness.plan.ops.resize import bilinear_axis_float, bilinear_axis_int, nearest_indices
    assert nearest_indices(2, 4, False, False) == [0, 0, 1, 1]           # floor(i * 0.5)
    assert nearest_indices(3, 4, True, False) == [0, 1, 1, 2]            # round(i * 2/3): 0, .67, 1.33, 2
    assert nearest_indices(2, 4, False, True) == [0, 0, 1, 1]            # floor((i + .5) * .5)
    assert nearest_indices(4, 2, False, True) == [1, 3]                  # floor((i + .5) * 2)
    # int8 bilinear, 2 -> 4 half-pixel: scale 512, positions -256, 256, 768, 1280 (1/1024ths)
    assert bilinear_axis_int(2, 4, False, True) == [(0, 0, -256), (0, 1, 256), (0, 1, 768), (1, 1, 256)]
    # 3 -> 5 aligned: scale (2048 + 2) / 4 = 512, positions 0, 512, ..., 2048
    assert bilinear_axis_int(3, 5, True, False) == [(0, 0, 0), (0, 1, 512), (1, 1, 0), (1, 2, 512), (2, 2, 0)]
    # float: 2 -> 4 half-pixel positions -0.25, 0.25, 0.75, 1.25: lower index at least 0, upper at most 1
    assert [(lo, hi, float(d)) for lo, hi, d in bilinear_axis_float(2, 4, False, True)] == \
        [(0, 0, -0.25), (0, 1, 0.25), (0, 1, 0.75), (1, 1, 0.25)]

