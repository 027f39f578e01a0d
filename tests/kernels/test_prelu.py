"""PRELU (int8, float32): seeded Keras PReLU layers, our runtime vs TFLM byte for byte on the host build
and on the emulated M4 and M7. The layer is applied to the model's input (its scale and zero point drawn
through the calibration data, unary_cases.py), 1-D to 3-D (4-D with the batch, TFLM's limit), its slopes
shared across a random subset of the non-channel axes (alpha [1, 1, C] as in MobileNet-style models, [H, W,
C], a single slope, ...) and drawn from ranges that include negative slopes and slopes above 1; the int8
cases also get every int8 input value. Plus what the converter does not emit: an alpha with a zero point,
an alpha computed in the arena, float signed zeros and NaNs, and scales on which a slope multiplier formed
in single precision would give another byte than TFLM's double-precision one. HARNESS_SWEEP=large widens
the sweep and runs all of it on the boards."""
import os

import numpy as np
import pytest

from broadcast_cases import BOARDS, every_value
from harness.host_runtime import HostModel
from harness.plan.lower import lower
from harness.plan.model import ModelError, load_model
from harness.plan.quant import quantize_multiplier
from harness.reference import TflmReference, random_inputs
from harness.sweep import compare_on_board, compare_on_host
from tflite_edit import tensor_index, with_quantization
from tflite_synth import Synth, compare
from unary_cases import convert_case

LARGE = os.environ.get("HARNESS_SWEEP") == "large"


def _model(shape, shared, lo, hi):
    def build(tf):
        x = tf.keras.Input(shape=shape, batch_size=1)
        init = tf.keras.initializers.RandomUniform(lo, hi, seed=7)
        return tf.keras.Model(x, tf.keras.layers.PReLU(alpha_initializer=init, shared_axes=list(shared) or None)(x))
    return build


def _cases(n: int, seed: int):
    rng = np.random.default_rng(seed)
    cases = []
    for _ in range(n):
        dtype = "f32" if rng.random() < 0.25 else "i8"
        shape = tuple(int(v) for v in rng.integers(1, 7, int(rng.integers(1, 4))))
        shared = tuple(a for a in range(1, len(shape)) if rng.random() < 0.6)     # Keras axes: 1 = first
        lo = float(rng.uniform(-1.0, 0.5))
        hi = lo + float(rng.uniform(0.05, 2.0))
        sigma = float(np.exp(rng.uniform(np.log(0.05), np.log(20.0))))
        cases.append((dtype, shape, shared, round(lo, 3), round(hi, 3),
                      round(sigma * float(rng.uniform(-1.5, 1.5)), 4), round(sigma, 4)))
    return cases


EDGES = [
    ("i8", (4, 5, 3), (1, 2), 0.0, 0.3, 0.0, 1.0),        # per-channel slopes [1, 1, C]
    ("i8", (4, 5, 3), (), -0.5, 0.8, 0.0, 1.0),           # a slope per element, some negative
    ("i8", (6, 4), (1,), 1.0, 3.0, -1.0, 2.0),            # slopes above 1
    ("i8", (32,), (), 0.1, 0.2, 0.5, 0.1),                # 1-D, small input scale
    ("i8", (2, 3, 8), (1, 2), -1.0, -0.2, 0.0, 5.0),      # negative slopes only
    ("f32", (4, 5, 3), (1, 2), -0.5, 0.8, 0.0, 1.0),
    ("f32", (6, 4), (), 1.0, 3.0, 0.0, 1.0),
]
CASES = EDGES + _cases(100 if LARGE else 24, seed=22)
BOARD_CASES = CASES if LARGE else [EDGES[i] for i in (0, 1, 5)]


def _key(case) -> str:
    return "prelu/v1/" + "-".join(str(v).replace(" ", "") for v in case)


def _path(case):
    dtype, shape, shared, lo, hi, mu, sigma = case
    return convert_case(_model(shape, shared, lo, hi), _key(case), dtype, mu, sigma)


@pytest.mark.parametrize("case", CASES, ids=_key)
def test_prelu_matches_tflm(case):
    path = _path(case)
    r = compare_on_host(path, key=_key(case), extra=[[x] for x in every_value(path)])
    assert r.ops == ["PRELU"], r.ops
    assert r.mismatches == 0 and r.bit_exact, r.first_diff


@pytest.mark.emulated
@pytest.mark.parametrize("board", BOARDS)
@pytest.mark.parametrize("case", BOARD_CASES, ids=_key)
def test_prelu_on_emulated_board(case, board):
    path = _path(case)
    r = compare_on_board(path, board, key=_key(case), extra=[[x] for x in every_value(path)])
    assert r.ops == ["PRELU"], r.ops
    assert r.mismatches == 0 and r.bit_exact, r.first_diff


def test_alpha_zero_point_is_applied(tmp_path):
    """The converter quantizes alpha symmetrically (zero point 0); TFLM subtracts alpha's zero point all the
    same, and so do we: the same model with alpha's zero point moved gives TFLM's other bytes."""
    src = _path(EDGES[1])
    alpha = tensor_index(src, op="PRELU", which="inputs", k=1)
    moved = with_quantization(src, tmp_path / "prelu.tflite", alpha, zero_point=-23)
    g = load_model(moved)
    xs = [x for [x] in random_inputs([g.tensor(g.inputs[0])], 3, seed=4)] + every_value(moved)
    n_bad, first = compare(moved, xs)
    assert n_bad == 0, first
    assert any(TflmReference(moved).run([x]) != TflmReference(src).run([x]) for x in xs)   # the zero point counts


def _synth_arena_alpha():
    """PRELU whose alpha is computed in the arena: x requantized (QUANTIZE int8 -> int8) to its own scale
    and zero point, then PRELU(x, alpha) element by element."""
    s = Synth()
    x = s.tensor((1, 4, 5, 3), np.int8, 0.05, -10, name="x")
    a = s.tensor((1, 4, 5, 3), np.int8, 0.01, 7, name="alpha")
    y = s.tensor((1, 4, 5, 3), np.int8, 0.04, 20, name="y")
    s.op("QUANTIZE", [x], [a])
    s.op("PRELU", [x, a], [y])
    return s.save([x], [y])


def test_alpha_from_the_arena():
    path = _synth_arena_alpha()
    g = load_model(path)
    assert [c.kernel for c in lower(g).calls] == ["tm_requantize_int", "tm_prelu_s8"]
    n_bad, first = compare(path, [x for [x] in random_inputs([g.tensor(g.inputs[0])], 3, seed=5)] + every_value(path))
    assert n_bad == 0, first


@pytest.mark.emulated
@pytest.mark.parametrize("board", BOARDS)
def test_alpha_from_the_arena_on_emulated_board(board):
    path = _synth_arena_alpha()
    r = compare_on_board(path, board, key="prelu-arena-alpha", extra=[[x] for x in every_value(path)])
    assert r.mismatches == 0, r.first_diff


def test_slope_multiplier_is_formed_in_double_precision():
    """in_scale * alpha_scale / out_scale in double from the float32 scales, as TFLM forms it: on these scales
    (found by search) the single-precision product gives another q31 multiplier, and input -31 with alpha
    -37 then 22 where TFLM gives 23; ours is TFLM's for every input."""
    s_in, s_alpha, s_out = 0.010191867128014565, 0.18416887521743774, 0.063456229865551
    s = Synth()
    x = s.tensor((1, 256), np.int8, s_in, 80, name="x")
    a = s.tensor((256,), np.int8, s_alpha, 0, data=np.full(256, -37), name="a")
    y = s.tensor((1, 256), np.int8, s_out, -99, name="y")
    s.op("PRELU", [x, a], [y])
    path = s.save([x], [y])
    every = np.arange(-128, 128, dtype=np.int8).reshape(1, 256)
    n_bad, first = compare(path, [every])
    assert n_bad == 0, first
    low = lower(load_model(path))
    f32 = np.float32
    single = quantize_multiplier(float(f32(s_in) * f32(s_alpha) / f32(s_out)))
    assert (low.calls[0].fields["multiplier2"], low.calls[0].fields["shift2"]) != single
    low.calls[0].fields.update(multiplier2=single[0], shift2=single[1])
    ours_single = np.frombuffer(HostModel(low).run([every])[0], np.int8)
    theirs = np.frombuffer(TflmReference(path).run([every])[0], np.int8)
    assert np.flatnonzero(ours_single != theirs).tolist() == [-31 + 128]


def test_float_signed_zero_and_nan_are_tflms():
    """x >= 0 ? x : x * alpha: -0.0 passes through (not -0.0 * alpha), NaN takes the slope."""
    s = Synth()
    x = s.tensor((1, 8), np.float32, name="x")
    alpha = s.tensor((8,), np.float32, data=np.array([-0.5, 0.5, -2.0, 2.0, -0.5, 0.5, -1.0, 0.0]), name="a")
    y = s.tensor((1, 8), np.float32, name="y")
    s.op("PRELU", [x, alpha], [y])
    path = s.save([x], [y])
    xs = [np.array([[-0.0, -0.0, 0.0, np.nan, np.inf, -np.inf, -1e-45, -3.0]], np.float32)]
    n_bad, first = compare(path, xs)
    assert n_bad == 0, first


def test_five_dimensional_prelu_is_refused():
    s = Synth()
    x = s.tensor((1, 2, 2, 2, 3), np.int8, 0.1, 0, name="x")
    a = s.tensor((3,), np.int8, 0.01, 0, data=np.array([1, 2, 3]), name="a")
    y = s.tensor((1, 2, 2, 2, 3), np.int8, 0.1, 0, name="y")
    s.op("PRELU", [x, a], [y])
    with pytest.raises(ModelError, match=r"op 0 PRELU .*up to 4-D"):
        lower(load_model(s.save([x], [y])))
