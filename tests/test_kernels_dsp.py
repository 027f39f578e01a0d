"""The optimized (DSP-extension) kernels of firmware/kernels/dsp and the planner's choice of them
(harness/plan/optimize.py): the intrinsics' host definitions against the instructions' semantics, the
shared requantization against TFLM's own formula, the weight layout by hand, the choice per shape, and
whole models bit-exact with TFLM on the emulated M4 and M7. The per-op sweeps (tests/kernels/test_conv2d.py,
test_depthwise_conv2d.py) run both kernel sets on the host."""
import ctypes
import random
import shutil
import subprocess

import numpy as np
import pytest

from conftest import shared_model
from harness.build import FIRMWARE
from harness.plan.lower import lower
from harness.plan.model import load_model
from harness.plan.kernel import Const, KernelCall
from harness.plan.optimize import choose, conv_weights_dsp, depthwise_weights_dsp, sums_bounded
from harness.plan.requant import RQ_FIELDS, rq_records

_SHIMS = r"""
#include "tm_quant.h"
#include "dsp/tm_acle.h"
uint32_t t_sxtb16(uint32_t x) { return tm_sxtb16(x); }
uint32_t t_sxtb16_ror8(uint32_t x) { return tm_sxtb16_ror8(x); }
int32_t t_smlad(uint32_t a, uint32_t b, int32_t c) { return tm_smlad(a, b, c); }
int32_t t_smlabb(uint32_t a, uint32_t b, int32_t c) { return tm_smlabb(a, b, c); }
int32_t t_smlatt(uint32_t a, uint32_t b, int32_t c) { return tm_smlatt(a, b, c); }
uint32_t t_sadd16(uint32_t a, uint32_t b) { return tm_sadd16(a, b); }
void t_high_mul(const int32_t *a, const int32_t *b, int32_t *out, int n)
{
    for (int i = 0; i < n; i++) out[i] = tm_sat_rounding_doubling_high_mul(a[i], b[i]);
}
void t_requantize(const int32_t *x, const int32_t *m, const int32_t *s, int32_t *out, int n)
{
    for (int i = 0; i < n; i++) out[i] = tm_requantize(x[i], m[i], s[i]);
}
void t_requantize_bounded(const int32_t *x, const int32_t *m, const int32_t *s, int32_t *out, int n)
{
    for (int i = 0; i < n; i++) out[i] = tm_requantize_bounded(x[i], m[i], s[i]);
}
void t_requantize_rq(const int32_t *acc, const int32_t *rq, int32_t *out, int n)
{
    for (int i = 0; i < n; i++) out[i] = tm_requantize_rq(acc[i], rq + TM_RQ_WORDS * i);
}
void t_divide_by_pot(const int32_t *x, const int32_t *e, int32_t *out, int n)
{
    for (int i = 0; i < n; i++) out[i] = tm_rounding_divide_by_pot(x[i], e[i]);
}
"""


@pytest.fixture(scope="module")
def shims(tmp_path_factory):
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        pytest.skip("no host C compiler")
    d = tmp_path_factory.mktemp("dsp")
    (d / "shims.c").write_text(_SHIMS)
    lib = d / "shims.so"
    subprocess.run([cc, "-O1", "-shared", "-fPIC", f"-I{FIRMWARE / 'runtime'}", f"-I{FIRMWARE / 'kernels'}",
                    "-o", str(lib), str(d / "shims.c")], check=True)
    so = ctypes.CDLL(str(lib))
    u32, i32 = ctypes.c_uint32, ctypes.c_int32
    for name, res, args in [("t_sxtb16", u32, [u32]), ("t_sxtb16_ror8", u32, [u32]), ("t_sadd16", u32, [u32, u32]),
                            ("t_smlad", i32, [u32, u32, i32]), ("t_smlabb", i32, [u32, u32, i32]),
                            ("t_smlatt", i32, [u32, u32, i32])]:
        getattr(so, name).restype, getattr(so, name).argtypes = res, args
    return so


def test_intrinsic_fallbacks_have_the_instructions_semantics(shims):
    """Values worked out by hand from the Armv7-M ARM's pseudocode (A7.7: SXTB16, SMLAD, SMLABB, SMLATT,
    SADD16)."""
    assert shims.t_sxtb16(0x80FF_7F01) == 0xFFFF_0001          # bytes 0 (0x01) and 2 (0xFF = -1)
    assert shims.t_sxtb16_ror8(0x80FF_7F01) == 0xFF80_007F     # bytes 1 (0x7F) and 3 (0x80 = -128)
    assert shims.t_smlad(0x0003_FFFE, 0xFFF9_0005, 100) == 100 + (-2 * 5) + (3 * -7)
    assert shims.t_smlad(0x8000_8000, 0x8000_8000, 0x7FFF_FFFF) == -1   # 2^31 + 2^31 - 1 wraps to -1
    assert shims.t_smlabb(0x1234_FFFF, 0x5678_0002, 10) == 10 - 2
    assert shims.t_smlatt(0xFFFF_1234, 0x0003_5678, 10) == 10 - 3
    assert shims.t_sadd16(0x7FFF_0001, 0x0001_FFFF) == 0x8000_0000      # each half wraps on its own


def _tflm_high_mul(a: int, b: int) -> int:
    """gemmlowp's SaturatingRoundingDoublingHighMul as TFLM states it: nudge, then division truncating
    toward zero."""
    if a == b == -2**31:
        return 2**31 - 1
    ab = a * b
    nudge = 2**30 if ab >= 0 else 1 - 2**30
    q = abs(ab + nudge) // 2**31
    return q if ab + nudge >= 0 else -q


def test_requantize_high_mul_is_tflms(shims):
    """tm_quant.h's one-shift form against TFLM's nudge-and-truncate form, on the ties and extremes and on
    random operands."""
    rng = random.Random(8)
    edge = [0, 1, -1, 2**30, -2**30, 2**31 - 1, -2**31, 2**30 + 1, -2**30 - 1, 3, -3, 46341, -46341]
    pairs = [(a, b) for a in edge for b in edge]
    pairs += [(rng.randrange(-2**31, 2**31), rng.randrange(-2**31, 2**31)) for _ in range(20000)]
    pairs += [(rng.randrange(-2**20, 2**20), rng.randrange(2**30, 2**31)) for _ in range(20000)]  # accumulators x multipliers
    pairs += [(s * 2**k, 2**30) for k in range(31) for s in (1, -1)]   # exact halves: the ties
    a = np.array([p[0] for p in pairs], np.int32)
    b = np.array([p[1] for p in pairs], np.int32)
    out = np.zeros(len(pairs), np.int32)
    ptr = lambda x: x.ctypes.data_as(ctypes.POINTER(ctypes.c_int32))   # noqa: E731
    shims.t_high_mul(ptr(a), ptr(b), ptr(out), len(pairs))
    expected = [_tflm_high_mul(x, y) for x, y in pairs]
    bad = [(x, y, int(o), e) for (x, y), o, e in zip(pairs, out, expected) if o != e]
    assert not bad, bad[:5]


def _tflm_divide_by_pot(x: int, e: int) -> int:
    """gemmlowp's RoundingDivideByPOT as TFLM states it: mask, remainder, threshold."""
    mask = (1 << e) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> e) + (1 if remainder > threshold else 0)


def _tflm_requantize(x: int, m: int, shift: int) -> int:
    """TFLM's MultiplyByQuantizedMultiplier (32-bit): x * 2^left (wrapping to int32), the high multiply,
    then the rounding right shift."""
    left, right = max(shift, 0), max(-shift, 0)
    shifted = ((x << left) + 2**31) % 2**32 - 2**31
    return _tflm_divide_by_pot(_tflm_high_mul(shifted, m), right)


def _call(fn, *cols):
    arrays = [np.array(c, np.int32) for c in cols]
    out = np.zeros(len(cols[0]), np.int32)
    ptr = lambda x: x.ctypes.data_as(ctypes.POINTER(ctypes.c_int32))   # noqa: E731
    fn(*map(ptr, arrays), ptr(out), len(out))
    return out.tolist()


def test_requantize_and_divide_by_pot_are_tflms(shims):
    """tm_requantize and tm_rounding_divide_by_pot (tm_quant.h, every kernel's requantization) against
    TFLM's formulas: every exponent 0..31 with ties and extremes, and random accumulators, multipliers
    (the planner's [2^30, 2^31) or 0) and shifts in TFLM's range."""
    rng = random.Random(9)
    xs = [0, 1, -1, 2**31 - 1, -2**31, 2**30, -2**30, 12345, -12345]
    cases = [(x + d, e) for e in range(32) for x in (*xs, 1 << e >> 1, -(1 << e >> 1), 3 << e >> 1,
                                                    -(3 << e >> 1)) for d in (-1, 0, 1)]
    cases = [(min(max(x, -2**31), 2**31 - 1), e) for x, e in cases]
    cases += [(rng.randrange(-2**31, 2**31), rng.randrange(0, 32)) for _ in range(20000)]
    got = _call(shims.t_divide_by_pot, [c[0] for c in cases], [c[1] for c in cases])
    bad = [(c, g) for c, g in zip(cases, got) if g != _tflm_divide_by_pot(*c)]
    assert not bad, bad[:5]
    req = [(rng.randrange(-2**24, 2**24), rng.choice([0, rng.randrange(2**30, 2**31)]), rng.randrange(-31, 8))
           for _ in range(30000)]
    req += [(x, m, s) for x in xs for m in (0, 2**30, 2**31 - 1, 1518500250) for s in (-31, -8, -1, 0, 1, 5)]
    got = _call(shims.t_requantize, *zip(*req))
    bad = [(c, g) for c, g in zip(req, got) if g != _tflm_requantize(*c)]
    assert not bad, bad[:5]


def test_requantize_bounded_is_tflms_within_its_bound(shims):
    """tm_requantize_bounded (the conv kernel's form where the planner proved |x| * 2^max(shift, 0) < 2^30
    and multiplier >= 0) against TFLM's formulas: every shift the planner can give, the bound's edges, the
    ties of both roundings (x = odd multiples of 2^(e-1), doubled, with the multiplier 2^30 = 0.5), and
    random accumulators and multipliers."""
    rng = random.Random(10)
    mults = (0, 2**30, 2**31 - 1, 1518500250, 1073741825)
    cases = []
    for shift in range(-31, 8):
        left, lim = max(shift, 0), (2**30 >> max(shift, 0)) - 1          # the largest |x| allowed
        e = max(-shift, 0)
        xs = [0, 1, -1, 2, -2, lim, -lim, lim - 1, -lim + 1]
        for k in (1, 3, 5, 2**20 + 1):                                   # ties: y = +-k * 2^(e-1) exactly
            for d in (-1, 0, 1):
                v = (k << e >> 1) * 2 + d
                xs += [v, -v]
        cases += [(x, m, shift) for x in xs if abs(x) <= lim for m in mults]
        cases += [(rng.randint(-lim, lim), rng.choice([0, rng.randrange(2**30, 2**31)]), shift)
                  for _ in range(1500)]
        assert left >= 0
    got = _call(shims.t_requantize_bounded, *zip(*cases))
    bad = [(c, g) for c, g in zip(cases, got) if g != _tflm_requantize(*c)]
    assert not bad, bad[:5]


def _rq_ones(bias: int) -> np.ndarray:
    """One channel of n weights 127 (input offset 0) for which rq_records' bound |bias| + 128 * 127 n is
    as close below 2^30 as it gets (within 128 * 127)."""
    return np.full((1, (2**30 - 1 - abs(bias)) // (128 * 127)), 127, np.int8)


def test_requantize_rq_is_tflms_with_the_planners_records(shims):
    """tm_requantize_rq (tm_quant.h: the conv/FC kernel's per-channel record form) with records made by
    the planner (harness/plan/requant.py) against TFLM's formulas, plus the output zero point: every shift
    the record form takes (-31 .. -1), accumulators up to the proven bound |acc + bias| < 2^30 on both
    sides, the ties of both roundings, zero points -128 / 0 / 127 where the record exists, biases of both
    signs, random accumulators and multipliers."""
    rng = random.Random(11)
    accs, recs, expected = [], [], []
    ones = {b: _rq_ones(b) for b in (0, 127, -127, 5000, -77777)}
    for shift in range(-31, 0):
        e = -shift
        for bias in (0, 127, -127, 5000, -77777):
            for zp in (-128, 0, 127, rng.randrange(-128, 128)):
                for m in (0, 2**30, 2**31 - 1, 1518500250, rng.randrange(2**30, 2**31)):
                    rec = rq_records(ones[bias], np.array([bias], np.int32), 0, [m], [shift], zp)
                    lim = abs(bias) + 128 * 127 * ones[bias].shape[1]          # the records' own bound
                    assert 2**30 - 128 * 127 <= lim < 2**30
                    # refused only where the high word y + 2^(e-1) + zp 2^e - [x < 0] could leave int32,
                    # |y| <= floor((2 lim m + 2^31) / 2^32) + 1
                    y_max = ((2 * lim * m + 2**31) >> 32) + 1
                    assert (rec is None) == (y_max + abs((1 << e >> 1) + (zp << e)) + 1 >= 2**31)
                    if rec is None:
                        continue
                    xs = [0, 1, -1, 2, -2, lim, -lim, lim - 1, -lim + 1]
                    for k in (1, 3, 5, 2**20 + 1):                 # ties: y = +-k * 2^(e-1) exactly
                        for d in (-1, 0, 1):
                            v = (k << e >> 1) * 2 + d
                            xs += [v, -v]
                    xs += [rng.randint(-lim, lim) for _ in range(20)]
                    for x in (x for x in xs if abs(x) <= lim):
                        accs.append(x - bias)
                        recs.append(rec[0])
                        expected.append(_tflm_requantize(x, m, shift) + zp)
    assert len(expected) > 20000
    a, r = np.array(accs, np.int32), np.ascontiguousarray(np.array(recs, np.int32))
    out = np.zeros(len(a), np.int32)
    ptr = lambda x: x.ctypes.data_as(ctypes.POINTER(ctypes.c_int32))   # noqa: E731
    shims.t_requantize_rq(ptr(a), ptr(r), ptr(out), len(out))
    bad = [(int(x), tuple(q), int(o), ex) for x, q, o, ex in zip(a, r, out, expected) if o != ex]
    assert not bad, bad[:5]


def test_rq_records_by_hand():
    """The record's words (tm_quant.h's TM_RQ_* order): bias 5, multiplier 2^30, shift -3, output zero
    point -7 -> 2 * 5, 2^30, 2^2 + (-7) * 2^3 = -52, 3. Refused: a shift >= 0 (left > 0 or right = 0), a
    negative multiplier, |sum + bias| reaching 2^30, a zero point whose 2^right multiple overflows."""
    assert RQ_FIELDS == ("bias2", "mult", "addend", "right")
    w = np.array([[127, -128]], np.int8)                  # |sum + bias| <= |bias| + 255 * 255 (offset 128)
    rec = rq_records(w, np.array([5], np.int32), 128, [2**30], [-3], -7)
    assert rec.dtype == np.int32 and rec.tolist() == [[10, 2**30, -52, 3]]
    assert rq_records(w, None, 128, [2**30], [-3], -7).tolist() == [[0, 2**30, -52, 3]]
    assert rq_records(w, np.array([5], np.int32), 128, [2**30], [0], -7) is None
    assert rq_records(w, np.array([5], np.int32), 128, [2**30], [2], -7) is None
    assert rq_records(w, np.array([5], np.int32), 128, [-1], [-3], -7) is None
    assert rq_records(w, np.array([2**30 - 65025 - 1], np.int32), 128, [2**30], [-3], 0) is not None
    assert rq_records(w, np.array([2**30 - 65025], np.int32), 128, [2**30], [-3], 0) is None
    assert rq_records(w, np.array([5], np.int32), 128, [2**30], [-31], 1) is None    # 2^31 + 2^30
    assert rq_records(w, np.array([5], np.int32), 128, [2**30], [-23], -128) is not None
    # two channels: one refused is enough
    w2 = np.array([[127, -128], [1, 1]], np.int8)
    assert rq_records(w2, None, 128, [2**30] * 2, [-3, 0], 0) is None


def test_sums_bounded_by_hand():
    """The planner's proof that a conv's sums meet tm_requantize_bounded's precondition. One channel, weights
    (127, -128): sum|w| = 255; input offset 128 (zero point -128): |x + 128| <= 255; so |sum| <= |bias| +
    65025, times 2^shift for a positive shift, must stay below 2^30 = 1073741824."""
    w = np.array([[127, -128]], np.int8)
    ok = lambda bias, shift, mult=2**30: sums_bounded(w, np.array([bias], np.int32), 128, [mult], [shift])  # noqa: E731
    assert ok(1000, -7)
    assert ok(2**30 - 65025 - 1, -7) and not ok(2**30 - 65025, -7)        # the bound's edge
    assert ok(-(2**30 - 65025 - 1), 0) and not ok(-(2**30 - 65025), 0)
    assert ok(1000, 13) and not ok(1000, 14)                              # 66025 * 2^13 < 2^30 <= * 2^14
    assert not ok(1000, -7, mult=-1)                                      # a negative multiplier
    assert sums_bounded(w, None, 0, [2**30], [-1])                        # no bias; |x| <= 128
    # two channels: one that fails the bound is enough to refuse
    w2 = np.array([[127, -128], [1, 1]], np.int8)
    assert not sums_bounded(w2, np.array([0, 2**30 - 10], np.int32), 128, [2**30] * 2, [-1, -1])


def test_conv_weight_layout_by_hand():
    """3 output channels of 5 taps: taps padded to 8, channels to 4; per pair and group of 4 taps, channel
    2j's 4 bytes then 2j+1's."""
    w = np.arange(1, 16, dtype=np.int8).reshape(3, 5)     # channel c, tap k: 5c + k + 1
    got = conv_weights_dsp(w).tolist()
    assert got == [1, 2, 3, 4, 6, 7, 8, 9,          # pair 0, taps 0-3: channel 0, channel 1
                   5, 0, 0, 0, 10, 0, 0, 0,         # pair 0, taps 4-7
                   11, 12, 13, 14, 0, 0, 0, 0,      # pair 1 (channel 2, zero channel 3), taps 0-3
                   15, 0, 0, 0, 0, 0, 0, 0]


def test_depthwise_weight_layout_by_hand():
    """2 taps of 5 channels, int16: channels padded to 8; per group of 4 channels and tap, channels c, c+2,
    c+1, c+3 (the halves SXTB16 and SXTB16 ROR 8 unpack from an input word)."""
    w = (np.arange(10, dtype=np.int8).reshape(2, 5) - 4) * 25   # tap t, channel c: 25 (5t + c - 4)
    got = depthwise_weights_dsp(w)
    assert got.dtype == np.int16
    assert got.tolist() == [-100, -50, -75, -25, 25, 75, 50, 100,    # group 0: tap 0, tap 1
                            0, 0, 0, 0, 125, 0, 0, 0]                # group 1 (channel 4, 3 zeros)


def _dw_call(weights, bias, in_zero_point, mult=(2**30,), shift=(-1,)):
    """A reference DEPTHWISE_CONV_2D call of a 1x2 kernel over len(bias) channels, multiplier 1."""
    c = len(bias)
    fields = {k: 1 for k in ("batches", "in_h", "in_w", "out_h", "out_w", "stride_h", "stride_w",
                             "dilation_h", "dilation_w", "depth_multiplier")}
    fields.update({"in_offset": 0, "out_offset": 0, "in_c": c, "out_c": c, "kernel_h": 1, "kernel_w": 2,
                   "pad_h": 0, "pad_w": 0, "in_zero_point": in_zero_point, "out_zero_point": 0,
                   "act_min": -128, "act_max": 127,
                   "weights": Const("int8_t", np.array(weights, np.int8)),
                   "bias": Const("int32_t", np.array(bias, np.int32)),
                   "multiplier": Const("int32_t", np.array(mult * c, np.int32)),
                   "shift": Const("int8_t", np.array(shift * c, np.int8))})
    return KernelCall("tm_depthwise_conv2d_s8", "depthwise_conv2d.h", "tm_depthwise_conv2d_params_t", None,
                      fields)


def test_depthwise_plan_by_hand():
    """The depthwise rule's constants: two channels, taps (1, -2) and (3, 4) ([tap][channel]), bias (10, -20),
    input offset 5. bias_inside = bias + 5 * sum of the channel's weights: 10 + 5 * 4 = 30, -20 + 5 * 2 = -10;
    the bound: |x + 5| <= 132, channel 1: 20 + 132 * 6 = 812 < 2^30. A bias of 2^30 - 132 * 4 fails it (channel 0:
    2^30 exactly), and so does a left shift of 21 (812 * 2^21 > 2^30, 2^20 fits)."""
    got = choose(_dw_call([1, -2, 3, 4], [10, -20], 5))
    f = got.fields
    assert got.kernel == "tm_depthwise_conv2d_s8_dsp" and got.struct == "tm_depthwise_conv2d_dsp_params_t"
    assert f["bias_inside"].data.tolist() == [30, -10] and f["bias"].data.tolist() == [10, -20]
    assert f["weights"].data.tolist() == [1, 0, -2, 0, 3, 0, 4, 0]
    # multiplier 2^30, shift -1, output offset 0: records (bias2, mult, addend, right) with bias2 = 2 *
    # bias_inside (the 3x3 path's sums leave the offset out), addend 2^(1-1) + 0 * 2^1 = 1, right 1
    assert f["bounded"] == 2
    assert f["rq"].data.tolist() == [[60, 2**30, 1, 1], [-20, 2**30, 1, 1]]
    assert choose(_dw_call([1, -2, 3, 4], [2**30 - 132 * 4 - 1, 0], 5)).fields["bounded"] == 2
    assert choose(_dw_call([1, -2, 3, 4], [2**30 - 132 * 4, 0], 5)).fields["bounded"] == 0
    assert choose(_dw_call([1, -2, 3, 4], [10, -20], 5, shift=(20,))).fields["bounded"] == 1
    assert choose(_dw_call([1, -2, 3, 4], [10, -20], 5, shift=(21,))).fields["bounded"] == 0
    # bias_inside wraps like the kernel's int32 sums: only its value modulo 2^32 matters
    wrapped = choose(_dw_call([127, 0, 127, 0], [2**31 - 1, 0], -128)).fields["bias_inside"].data
    assert wrapped.tolist()[0] == (2**31 - 1 - 128 * 254) and wrapped.dtype == np.int32
    assert choose(_dw_call([127, 0, 127, 0], [2**31 - 1, 0], 128)).fields["bias_inside"].data.tolist()[0] == \
        2**31 - 1 + 128 * 254 - 2**32


def test_planner_picks_the_dsp_kernels_for_the_zoo_shapes():
    """Every CONV_2D of kws_micronet_s (groups 1, the 10x4 input layer, the pointwise layers, the final
    1x1), every DEPTHWISE_CONV_2D (multiplier 1) and the 25x5 average pool get the DSP kernel; the
    reference set keeps the reference kernel for all."""
    g = load_model(shared_model("ml-zoo/kws_micronet_s.tflite"))
    opt, ref = lower(g, "optimized"), lower(g, "reference")
    want = {"CONV_2D": "tm_conv2d_s8_dsp", "DEPTHWISE_CONV_2D": "tm_depthwise_conv2d_s8_dsp",
            "AVERAGE_POOL_2D": "tm_average_pool_2d_s8_dsp"}
    for o, r in zip(opt.calls, ref.calls):
        assert o.kernel == want[o.op.name], (o.op.index, o.op.name, o.kernel)
        assert r.kernel in ("tm_conv2d_s8", "tm_depthwise_conv2d_s8", "tm_average_pool_2d_s8")
        assert o.macs == r.macs
    assert opt.plan.arena_bytes == ref.plan.arena_bytes     # the DSP kernels need no arena scratch


@pytest.mark.emulated
@pytest.mark.parametrize("board", ["nucleo_f446re", "nucleo_f746zg"])
def test_kws_micronet_s_bit_exact_and_faster_on_the_emulated_board(board):
    """The whole model, optimized kernels, on the emulated M4 and M7: TFLM's bytes for seeded random
    inputs, and the image really runs the DSP kernels (per-function profile)."""
    from harness.bench import run_model
    run = run_model(str(shared_model("ml-zoo/kws_micronet_s.tflite")), board, "optimized", inputs=3, profile=True)
    assert run.mismatches == 0
    ran = {p["function"] for p in run.profile}
    assert {"tm_conv2d_s8_dsp", "tm_depthwise_conv2d_s8_dsp", "tm_average_pool_2d_s8_dsp"} <= ran
    assert not ran & {"tm_conv2d_s8", "tm_depthwise_conv2d_s8", "tm_average_pool_2d_s8"}
    # the issue's flash budget for the kernels a MicroNet needs; per function, the sizes binutils' nm reads
    # from the symbol table
    assert 0 < run.runtime_code_bytes <= 20 * 1024
    from harness.codesize import runtime_code
    nm = subprocess.run(["arm-none-eabi-nm", "-S", run.elf], capture_output=True, text=True, check=True).stdout
    sizes = {f[3]: int(f[1], 16) for f in (ln.split() for ln in nm.splitlines()) if len(f) == 4}
    code = runtime_code(run.elf)
    assert {"tm_invoke", "tm_conv2d_s8_dsp", "tm_depthwise_conv2d_s8_dsp", "tm_average_pool_2d_s8_dsp"} <= set(code)
    assert all(code[f] == sizes[f] for f in code if "@" not in f), {f: (code[f], sizes.get(f)) for f in code}


# Single-op models at the shapes the DSP kernels' edge paths handle: an odd number of output channels (the
# zero-padded channel), an odd number of pixels (the missing second pixel), taps not a multiple of 4,
# padding, stride, dilation; depthwise with channels not a multiple of 4 (the one-at-a-time tail).
def _conv(h, w, c, filters, k, s=(1, 1), d=(1, 1), pad="same", act="relu"):
    def build(tf):
        x = tf.keras.Input((h, w, c))
        if d == (1, 1):
            y = tf.keras.layers.Conv2D(filters, k, strides=s, padding=pad, activation=act)(x)
        else:       # Keras' dilated Conv2D converts to SPACE_TO_BATCH_ND around a CONV_2D; tf.nn.conv2d does not
            class Dilated(tf.keras.layers.Layer):
                def build(self, shape):
                    self.kernel = self.add_weight(shape=(*k, c, filters), initializer="glorot_uniform")

                def call(self, x):
                    return tf.nn.conv2d(x, self.kernel, strides=[1, *s, 1], padding=pad.upper(), dilations=[1, *d, 1])
            y = Dilated()(x)
        return tf.keras.Model(x, y)
    return build, f"dsp-conv-v1-{h}-{w}-{c}-{filters}-{k}-{s}-{d}-{pad}-{act}"


def _dw(h, w, c, k, s=(1, 1), d=(1, 1), pad="same", act="relu6"):
    def build(tf):
        x = tf.keras.Input((h, w, c))
        if d == (1, 1):
            y = tf.keras.layers.DepthwiseConv2D(k, strides=s, padding=pad, activation=act)(x)
        else:       # as above: DepthwiseConv2dNative converts to one DEPTHWISE_CONV_2D with its dilation
            class Dilated(tf.keras.layers.Layer):
                def build(self, shape):
                    self.kernel = self.add_weight(shape=(*k, c, 1), initializer="glorot_uniform")

                def call(self, x):
                    return tf.raw_ops.DepthwiseConv2dNative(input=x, filter=self.kernel, strides=[1, *s, 1],
                                                            padding=pad.upper(), dilations=[1, *d, 1])
            y = Dilated()(x)
        return tf.keras.Model(x, y)
    return build, f"dsp-dw-v3-{h}-{w}-{c}-{k}-{s}-{d}-{pad}-{act}"


EDGE_MODELS = {
    "conv-odd": _conv(9, 7, 3, 5, (3, 3), s=(2, 1)),
    "pointwise": _conv(5, 5, 20, 16, (1, 1), act=None),
    "conv-dilated": _conv(8, 9, 4, 6, (3, 3), d=(2, 2), pad="valid", act=None),
    "dw-tail": _dw(7, 6, 6, (3, 3), s=(2, 2)),
    "dw-dilated": _dw(9, 9, 8, (3, 3), d=(2, 2), pad="valid", act=None),
    # 70 channels: two batches of channel groups (16 + 1 groups of 4) and a 2-channel tail, every pixel's
    # window cut by the border on a 4x3 image (passes ended early for want of a copy slot)
    "dw-wide": _dw(4, 3, 70, (3, 3), act=None),
    # more channels than the 3x3 path copies windows for: the per-pixel path, inside windows too
    "dw-deep": _dw(4, 4, 260, (3, 3), act="relu"),
}


@pytest.mark.emulated
@pytest.mark.parametrize("board", ["nucleo_f446re", "nucleo_f746zg"])
@pytest.mark.parametrize("name", list(EDGE_MODELS))
def test_dsp_kernel_edges_bit_exact_on_the_emulated_board(name, board):
    from harness.bench import run_lowered
    from harness.board import load_board
    from harness.reference import TflmReference
    from harness.tfgen import convert
    build, key = EDGE_MODELS[name]
    path = convert(build, key, folder="sweep")
    low = lower(load_model(path), "optimized")
    assert [c.kernel for c in low.calls] == ["tm_depthwise_conv2d_s8_dsp" if name.startswith("dw")
                                             else "tm_conv2d_s8_dsp"]
    _, bad, _, _ = run_lowered(low, load_board(board), f"dsp-{name}", inputs=4, reference=TflmReference(path).run)
    assert bad == 0


@pytest.mark.parametrize("mode", [0, 1])
@pytest.mark.parametrize("name", ["dw-tail", "dw-wide", "dw-deep", "dw-dilated"])
def test_depthwise_generic_requantization_bit_exact_on_the_host(name, mode):
    """The depthwise kernel's other requantization paths, tm_requantize_bounded (mode 1) and tm_requantize
    (mode 0): every zoo op qualifies for the records, so they are forced here, on the host build, through
    the 3x3 passes (tails, cut windows, dilation) and the per-pixel path: TFLM's bytes."""
    from harness.host_runtime import HostModel
    from harness.reference import TflmReference, random_inputs
    from harness.tfgen import convert
    build, key = EDGE_MODELS[name]
    path = convert(build, key, folder="sweep")
    low = lower(load_model(path), "optimized")
    assert [(c.kernel, c.fields["bounded"]) for c in low.calls] == [("tm_depthwise_conv2d_s8_dsp", 2)]
    low.calls[0].fields.update(bounded=mode, rq=None)
    host, ref = HostModel(low), TflmReference(path)
    xs = random_inputs(low.input_tensors, 4, seed=3)
    assert [host.run(x) == ref.run(x) for x in xs] == [True] * 4


def _fc(n_in, n_out, batch=1, act=None, bias=True):
    def build(tf):
        x = tf.keras.Input((n_in,), batch_size=batch if batch > 1 else None)
        y = tf.keras.layers.Dense(n_out, activation=act, use_bias=bias)(x)
        return tf.keras.Model(x, y)
    return build, f"dsp-fc-v1-{n_in}-{n_out}-{batch}-{act}-{bias}"


# FULLY_CONNECTED int8 goes to the conv DSP kernel as a 1x1 convolution over the batch: in_features not a
# multiple of 4, odd out_features, a batch of 3 (an odd pixel count), no bias, activations.
FC_CASES = [_fc(10, 7), _fc(64, 12, act="relu"), _fc(33, 5, batch=3), _fc(16, 16, bias=False, act="relu6"),
            _fc(1, 3)]


@pytest.mark.parametrize("kernels", ["optimized", "reference"])
@pytest.mark.parametrize("case", range(len(FC_CASES)))
def test_fully_connected_bit_exact_on_the_host(case, kernels):
    from harness.sweep import run_case
    build, key = FC_CASES[case]
    r = run_case(build, key, inputs=4, kernels=kernels)
    assert r.ops == ["FULLY_CONNECTED"]
    assert r.kernels == ["tm_conv2d_s8_dsp" if kernels == "optimized" else "tm_fully_connected_s8"]
    assert r.mismatches == 0, r.first_diff


@pytest.mark.emulated
@pytest.mark.parametrize("board", ["nucleo_f446re", "nucleo_f746zg"])
def test_fully_connected_bit_exact_on_the_emulated_board(board):
    from harness.bench import run_lowered
    from harness.board import load_board
    from harness.reference import TflmReference
    from harness.tfgen import convert
    build, key = FC_CASES[2]
    path = convert(build, key, folder="sweep")
    low = lower(load_model(path), "optimized")
    _, bad, _, _ = run_lowered(low, load_board(board), "dsp-fc", inputs=4, reference=TflmReference(path).run)
    assert bad == 0


@pytest.mark.emulated
@pytest.mark.parametrize("name", ["conv-odd", "dw-tail"])
@pytest.mark.parametrize("board", ["nucleo_f446re", "nucleo_f746zg"])
def test_records_with_a_narrow_clamp_bit_exact_on_the_emulated_board(board, name):
    """The record form's loop (conv and depthwise) for an activation clamp short of the int8 range (C on
    both cores; the M4's assembly takes only the full range, which every zoo op has): the converter gives
    the full range even for ReLU6, so the plan's clamp is narrowed to [-100, 90] and the reference is TFLM's
    bytes clamped the same way (clamping to [-128, 127] and then to the narrower range is clamping to the
    narrower range)."""
    from harness.bench import run_lowered
    from harness.board import load_board
    from harness.reference import TflmReference
    from harness.tfgen import convert
    build, key = EDGE_MODELS[name]
    path = convert(build, key, folder="sweep")
    low = lower(load_model(path), "optimized")
    assert [(c.fields["bounded"], c.fields["act_min"], c.fields["act_max"]) for c in low.calls] == [(2, -128, 127)]
    low.calls[0].fields.update(act_min=-100, act_max=90)
    ref = TflmReference(path)
    narrowed = lambda x: [np.clip(np.frombuffer(ref.run(x)[0], np.int8), -100, 90).astype(np.int8).tobytes()]  # noqa: E731
    _, bad, _, _ = run_lowered(low, load_board(board), f"dsp-narrow-clamp-{name}", inputs=4, reference=narrowed)
    assert bad == 0


@pytest.mark.emulated
@pytest.mark.parametrize("mode", [0, 1])
@pytest.mark.parametrize("name", ["conv-odd", "fc", "dw-tail"])
def test_conv_generic_requantization_bit_exact_on_the_emulated_m4(name, mode, monkeypatch):
    """The conv (and depthwise) kernel's other requantization paths, taken where the planner cannot prove the record form's
    precondition (mode 1, tm_requantize_bounded) or not even the bounded one (mode 0, tm_requantize):
    forced on ops that qualify for the records (every zoo op does), TFLM's bytes still."""
    from harness.bench import run_lowered
    from harness.board import load_board
    from harness.plan import optimize
    from harness.reference import TflmReference
    from harness.tfgen import convert
    build, key = EDGE_MODELS[name] if name != "fc" else FC_CASES[2]
    path = convert(build, key, folder="sweep")
    assert [c.fields.get("bounded") for c in lower(load_model(path), "optimized").calls] == [2]
    monkeypatch.setattr(optimize, "rq_records", lambda *args: None)
    low = lower(load_model(path), "optimized")
    assert [c.fields.get("bounded") for c in low.calls] == [1] and low.calls[0].fields["rq"] is None
    low.calls[0].fields["bounded"] = mode
    _, bad, _, _ = run_lowered(low, load_board("nucleo_f446re"), f"dsp-generic{mode}-{name}", inputs=4,
                               reference=TflmReference(path).run)
    assert bad == 0
