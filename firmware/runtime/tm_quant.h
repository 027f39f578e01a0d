/* Applying TFLM's fixed-point requantization. The multipliers and shifts themselves are computed once,
 * on the host (harness/plan/quant.py), with TFLM's formulas; this header only applies them, exactly as
 * TFLM's reference kernels do (double rounding: a rounding doubling high multiply, then a rounding
 * right shift), so our outputs are TFLM's bytes. */
#ifndef TM_QUANT_H
#define TM_QUANT_H
#include <stdint.h>

/* TFLM (gemmlowp) computes (ab + nudge) / 2^31 truncated toward zero, nudge = 2^30 for ab >= 0 and
 * 1 - 2^30 below. For ab < 0 that truncation is a ceiling: ceil((ab + 1 - 2^30) / 2^31) =
 * floor((ab + 2^30) / 2^31), the same expression as for ab >= 0. So one arithmetic shift of ab + 2^30
 * gives TFLM's value for every operand pair. The only overflow is INT32_MIN * INT32_MIN (2^31, which wraps
 * to INT32_MIN; no other pair can give INT32_MIN since |ab| <= 2^62 - 2^31 otherwise): it saturates.
 * Branch-free (SMLAL, a funnel shift, a conditional move): the kernels run this once per output.
 * tests/test_kernels_dsp.py checks this and tm_requantize against TFLM's own formulas. */
static inline int32_t tm_sat_rounding_doubling_high_mul(int32_t a, int32_t b)
{
    int64_t ab = (int64_t)a * (int64_t)b;
    /* >> of a negative int64 is arithmetic, and the narrowing wraps, in GCC and Clang */
    int32_t r = (int32_t)(uint32_t)(uint64_t)((ab + (1ll << 30)) >> 31);
    return r == INT32_MIN ? INT32_MAX : r;
}

/* x / 2^exponent rounded half away from zero, 0 <= exponent <= 31. */
static inline int32_t tm_rounding_divide_by_pot(int32_t x, int exponent)
{
    int32_t mask = (int32_t)((1u << exponent) - 1u);
    int32_t remainder = x & mask;
    int32_t threshold = (mask >> 1) + (int32_t)((uint32_t)x >> 31);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* shift > 0 multiplies by 2^shift first; shift < 0 divides after (TFLM's convention). */
static inline int32_t tm_requantize(int32_t x, int32_t multiplier, int shift)
{
    int left = shift > 0 ? shift : 0;
    int right = left - shift;                 /* max(-shift, 0) */
    return tm_rounding_divide_by_pot(tm_sat_rounding_doubling_high_mul((int32_t)((uint32_t)x << left), multiplier), right);
}

/* tm_requantize for an accumulator the planner has bounded: multiplier >= 0 and |x| * 2^max(shift, 0)
 * < 2^30 (harness/plan/optimize.py proves both per op from its weights, bias and input offset, and
 * chooses this form only then). Same value as tm_requantize, in one SMLAL and a few single-cycle
 * instructions instead of a 64-bit add and a compare-heavy rounding divide:
 * - with the bound, x' = x * 2^(left + 1) does not overflow, so TFLM's high multiply floor((x·2^left·m +
 *   2^30) / 2^31) is the high word of x'·m + 2^31 (no saturation: only INT32_MIN² needs it);
 * - TFLM's rounding divide of that y by 2^e (half away from zero) is floor((y + 2^(e-1) - [y < 0]) / 2^e)
 *   for e >= 1 and y for e = 0; [y < 0] may be read from x (y has x's sign or is 0, where both read 0);
 * - the addend 2^(e-1) - [y < 0] is an integer, so it is added as the high word of the same 64-bit
 *   multiply-accumulate, and the divide is one arithmetic shift.
 * tests/test_kernels_dsp.py checks it against TFLM's formulas over the whole bounded range. */
static inline int32_t tm_requantize_bounded(int32_t x, int32_t multiplier, int shift)
{
    const int left = shift > 0 ? shift : 0;
    const int right = left - shift;                                   /* max(-shift, 0) */
    const int32_t half = (int32_t)((1u << right) >> 1);               /* 2^(right-1), 0 for right = 0 */
    /* x's sign bit where right >= 1 (-half has its top bit set exactly then), else 0 */
    const int32_t addend = half - (int32_t)(((uint32_t)x & (uint32_t)-half) >> 31);
    const int64_t sum = ((int64_t)addend << 32) + 0x80000000ll +
                        (int64_t)(int32_t)((uint32_t)x << (left + 1)) * multiplier;
    return (int32_t)(sum >> 32) >> right;
}

/* SMMLAR: the high word of (acc * 2^32 + a * b + 2^31), modulo 2^64 -- one single-cycle instruction on
 * the DSP targets (GCC does not find it in the C), its architectural semantics elsewhere. */
static inline int32_t tm_smmlar(int32_t a, int32_t b, int32_t acc)
{
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP && defined(__thumb2__)
    int32_t r;
    __asm__("smmlar %0, %1, %2, %3" : "=r"(r) : "r"(a), "r"(b), "r"(acc));
    return r;
#else
    const uint64_t sum = ((uint64_t)(uint32_t)acc << 32) + (uint64_t)((int64_t)a * b) + 0x80000000u;
    return (int32_t)(uint32_t)(sum >> 32);
#endif
}

/* tm_requantize_bounded with its per-channel constants precomputed at plan time, for an output channel
 * the planner has proved it for (harness/plan/requant.py, `rq_records`): multiplier >= 0, shift <= -1
 * (so left = 0, right = -shift >= 1) and |acc + bias| < 2^30, and the output zero point folded in
 * without overflow. A channel's record is TM_RQ_WORDS int32 words in this order (RQ_FIELDS in
 * requant.py is the same list):
 *   bias2  = 2 * bias                        x' = 2 * (acc + bias) = acc * 2 + bias2
 *   mult   = multiplier
 *   addend = 2^(right-1) + zp_out * 2^right  the rounding divide's half and the output offset, as high word
 *   right  = -shift
 * Value: tm_requantize_bounded(acc + bias, mult, shift) + zp_out (before the activation clamp). The
 * derivation is tm_requantize_bounded's with e = right >= 1, so the sign term is always x's sign
 * (x' >> 31), and SMMLAR adds the 2^31 of the high multiply itself; zp_out * 2^right added before the
 * floor shift is zp_out added after it. Per output: one ADD with a shifted operand, one ADD with ASR #31,
 * SMMLAR, ASR. tests/test_kernels_dsp.py checks it against TFLM's formulas with records from requant.py. */
enum { TM_RQ_BIAS2, TM_RQ_MULT, TM_RQ_ADDEND, TM_RQ_RIGHT, TM_RQ_WORDS };

static inline int32_t tm_requantize_rq(int32_t acc, const int32_t *rq)
{
    const int32_t x = (int32_t)(((uint32_t)acc << 1) + (uint32_t)rq[TM_RQ_BIAS2]);
    return tm_smmlar(x, rq[TM_RQ_MULT], rq[TM_RQ_ADDEND] + (x >> 31)) >> rq[TM_RQ_RIGHT];
}

static inline int32_t tm_clamp(int32_t v, int32_t lo, int32_t hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

/* TFLM's QUANTIZE of one float: static_cast<int32_t>(TfLiteRound(x / scale)) + zero_point, all in float, not
 * clamped (the caller clamps to its type). The round is half away from zero; a quotient outside the int32
 * range (or NaN) converts to INT32_MIN, as the reference interpreter's x86 conversion gives, and the zero
 * point is then added with wraparound. The MLPerf Tiny ad01 reference DUT quantizes its float input with
 * the same round(x / scale) + zero point, so firmware/src/db.c uses this too. */
static inline int32_t tm_quantize_float(float x, float scale, int32_t zero_point)
{
    float q = x / scale;
    int32_t r;
    if (q >= -2147483648.0f && q < 2147483648.0f) {
        r = (int32_t)q;                                   /* truncates toward zero */
        float frac = q - (float)r;                        /* exact: |q| < 2^31 needs no rounding here */
        if (frac >= 0.5f) {
            r += 1;
        } else if (frac <= -0.5f) {
            r -= 1;
        }
    } else {
        r = INT32_MIN;
    }
    return (int32_t)((uint32_t)r + (uint32_t)zero_point);
}

/* TFLM's MultiplyByQuantizedMultiplier for a 64-bit accumulator (the int16x8 kernels with an int64 bias):
 * the q31 multiplier rounded to 16 bits, then one rounding right shift by 15 - shift (the planner keeps
 * shift <= 14). The product cannot overflow for |x| < 2^47. */
static inline int32_t tm_requantize64(int64_t x, int32_t multiplier, int shift)
{
    int32_t reduced = multiplier < 0x7FFF0000 ? (multiplier + (1 << 15)) >> 16 : 0x7FFF;
    int total_shift = 15 - shift;
    int64_t round = (int64_t)1 << (total_shift - 1);
    return (int32_t)((x * reduced + round) >> total_shift);
}

/* ---- Fixed-point exp / reciprocal / logistic / tanh, as TFLM's int8 SOFTMAX, LOGISTIC and TANH compute
 * them (gemmlowp's algorithms, written out for int32 raw values). A value "in Qm" is a raw int32 with m
 * integer bits and 31 - m fractional bits. Products are rounding doubling high multiplies; sums wrap. */

/* x * 2^exponent (exponent >= 1), saturating to the int32 range. */
static inline int32_t tm_sat_shift_left(int32_t x, int exponent)
{
    int32_t threshold = (int32_t)((1u << (31 - exponent)) - 1u);
    if (x > threshold) {
        return INT32_MAX;
    }
    if (x < -threshold) {
        return INT32_MIN;
    }
    return (int32_t)((uint32_t)x << exponent);
}

/* exp(a) for a in Q0 within [-1/4, 0): a 4th-order Taylor expansion around -1/8, result in Q0. */
static inline int32_t tm_fx_exp_quarter(int32_t a)
{
    const int32_t exp_minus_eighth = 1895147668;      /* exp(-1/8) in Q0 */
    const int32_t one_third = 715827883;              /* 1/3 in Q0 */
    int32_t x = a + (1 << 28);                        /* x = a + 1/8 */
    int32_t x2 = tm_sat_rounding_doubling_high_mul(x, x);
    int32_t x3 = tm_sat_rounding_doubling_high_mul(x2, x);
    int32_t x4 = tm_sat_rounding_doubling_high_mul(x2, x2);
    int32_t x4_over_4 = tm_rounding_divide_by_pot(x4, 2);
    int32_t poly = tm_rounding_divide_by_pot(
        tm_sat_rounding_doubling_high_mul(x4_over_4 + x3, one_third) + x2, 1);   /* x^4/24 + x^3/6 + x^2/2 */
    return exp_minus_eighth + tm_sat_rounding_doubling_high_mul(exp_minus_eighth, x + poly);
}

/* exp(a) for a <= 0 in Q(integer_bits), 1 <= integer_bits <= 5; result in Q0 (exp(0) is INT32_MAX).
 * a = r - k/4 with r in [-1/4, 0): exp(r) times exp(-1/4), exp(-1/2), exp(-1), ... for k's set bits. */
static inline int32_t tm_fx_exp_on_negative_values(int32_t a, int integer_bits)
{
    static const int32_t exp_minus_pot[7] = {    /* exp(-2^e) in Q0 for e = -2 .. 4 */
        1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242,
    };
    const int frac_bits = 31 - integer_bits;
    const int32_t quarter = (int32_t)1 << (frac_bits - 2);
    int32_t r = (a & (quarter - 1)) - quarter;
    int32_t result = tm_fx_exp_quarter(tm_sat_shift_left(r, integer_bits));
    int32_t k = r - a;                                /* a non-negative multiple of 1/4 */
    for (int e = -2; e <= 4 && e < integer_bits; e++) {
        if (k & ((int32_t)1 << (frac_bits + e))) {
            result = tm_sat_rounding_doubling_high_mul(result, exp_minus_pot[e + 2]);
        }
    }
    return a == 0 ? INT32_MAX : result;
}

/* (a + b) / 2 rounded half away from zero, without overflow. */
static inline int32_t tm_rounding_half_sum(int32_t a, int32_t b)
{
    int64_t sum = (int64_t)a + (int64_t)b;
    return (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
}

/* 1 / d in Q2 for d in Q0 within [1/2, 1]: three Newton-Raphson steps from 48/17 - 32/17 d. */
static inline int32_t tm_fx_reciprocal_half(int32_t d)
{
    int32_t x = 1515870810 + tm_sat_rounding_doubling_high_mul(d, -1010580540);   /* 48/17, -32/17 in Q2 */
    for (int i = 0; i < 3; i++) {
        int32_t one_minus_dx = (1 << 29) - tm_sat_rounding_doubling_high_mul(d, x);
        x = x + tm_sat_shift_left(tm_sat_rounding_doubling_high_mul(x, one_minus_dx), 2);
    }
    return x;
}

/* 1 / (1 + a) for a in Q0 within [0, 1]; result in Q0. */
static inline int32_t tm_fx_one_over_one_plus_x(int32_t a)
{
    return tm_sat_shift_left(tm_fx_reciprocal_half(tm_rounding_half_sum(a, INT32_MAX)), 1);
}

/* (1 - a) / (1 + a) for a in Q0 within [0, 1]; result in Q0. */
static inline int32_t tm_fx_one_minus_x_over_one_plus_x(int32_t a)
{
    return tm_sat_shift_left(tm_fx_reciprocal_half(tm_rounding_half_sum(a, INT32_MAX)) - (1 << 29), 2);
}

/* logistic(a) for a in Q(integer_bits), 1 <= integer_bits <= 5; result in Q0. */
static inline int32_t tm_fx_logistic(int32_t a, int integer_bits)
{
    if (a == 0) {
        return 1 << 30;
    }
    int32_t abs_a = a > 0 ? a : -a;
    int32_t pos = tm_fx_one_over_one_plus_x(tm_fx_exp_on_negative_values(-abs_a, integer_bits));
    return a > 0 ? pos : INT32_MAX - pos;
}

/* tanh(a) for a in Q(integer_bits), 1 <= integer_bits <= 4; result in Q0. */
static inline int32_t tm_fx_tanh(int32_t a, int integer_bits)
{
    if (a == 0) {
        return 0;
    }
    int32_t neg_abs = a < 0 ? a : -a;
    /* exp(-2|a|): the same raw value read with one more integer bit is 2 * (-|a|). */
    int32_t t = tm_fx_one_minus_x_over_one_plus_x(tm_fx_exp_on_negative_values(neg_abs, integer_bits + 1));
    return a < 0 ? -t : t;
}

/* ---- Fixed-point log, as TFLM's int8 LOG_SOFTMAX computes it (gemmlowp's algorithm for the log of a
 * positive value). */

/* a + b and a - b saturated to the int32 range. */
static inline int32_t tm_sat_add(int32_t a, int32_t b)
{
    int64_t s = (int64_t)a + b;
    return s > INT32_MAX ? INT32_MAX : (s < INT32_MIN ? INT32_MIN : (int32_t)s);
}

static inline int32_t tm_sat_sub(int32_t a, int32_t b)
{
    int64_t s = (int64_t)a - b;
    return s > INT32_MAX ? INT32_MAX : (s < INT32_MIN ? INT32_MIN : (int32_t)s);
}

/* x * 2^exponent for either sign of exponent: a saturating shift left, or a rounding divide. */
static inline int32_t tm_sat_mul_pot(int32_t x, int exponent)
{
    if (exponent > 0) {
        return tm_sat_shift_left(x, exponent);
    }
    return exponent < 0 ? tm_rounding_divide_by_pot(x, -exponent) : x;
}

/* Leading zero bits of x, 32 for 0. */
static inline int tm_clz32(uint32_t x)
{
    return x ? __builtin_clz(x) : 32;
}

/* log(x) for x > 0 in Q(in_bits); result in Q(out_bits), accumulated with one more integer bit.
 * Range reduction: x = 2^e * r, read two ways -- r normalised to [1/2, 1) and multiplied by sqrt(2)
 * (candidate a, exponent in_bits - clz + 1/4 in the accumulator), or x normalised so that x * sqrt(1/2)
 * has no headroom (candidate b, exponent in_bits - headroom - 1/4); the smaller mantissa r and the larger
 * exponent are kept, so r lies within a quarter octave of 2^(-1/4). Then log r - (the kept quarter) *
 * log 2 is a rational function of q = 2 (r - 2^(-1/4)): num / (1 + den) with the four alpha constants
 * (fixed-point values of 11/240, 1/20, 2/2^(1/4) - 2^(1/4) and 1/4 times 2^(1/4)). Every product is a
 * rounding doubling high multiply, every plain sum wraps, as in TFLM. tests/kernels/test_log_softmax.py
 * checks the whole op against TFLM. */
static inline int32_t tm_fx_log(int32_t x, int in_bits, int out_bits)
{
    const int acc_bits = out_bits + 1;
    const int32_t log_2 = 1488522236, root_half = 1518500250, quarter_root_half = 1805811301;  /* Q0 */
    const int32_t alpha_n = 117049297, alpha_d = 127690142, alpha_i = 1057819769, alpha_f = 638450708;
    const int32_t quarter = (int32_t)1 << (29 - acc_bits);                 /* 1/4 in Q(acc_bits) */

    const int head_a = tm_clz32((uint32_t)x);
    const int32_t r_a = tm_sat_mul_pot(tm_sat_rounding_doubling_high_mul(tm_sat_mul_pot(x, head_a - 1), root_half), 1);
    const int32_t e_a = tm_sat_add(tm_sat_mul_pot(in_bits - head_a, 31 - acc_bits), quarter);
    const int head_b = tm_clz32((uint32_t)tm_sat_rounding_doubling_high_mul(x, root_half)) - 1;
    const int32_t r_b = tm_sat_mul_pot(x, head_b);
    const int32_t e_b = tm_sat_sub(tm_sat_mul_pot(in_bits - head_b, 31 - acc_bits), quarter);
    const int32_t r = r_a < r_b ? r_a : r_b;
    const int32_t e = e_a > e_b ? e_a : e_b;

    const int32_t p = tm_rounding_half_sum(r, quarter_root_half);
    const int32_t q = (int32_t)(((uint32_t)r - (uint32_t)quarter_root_half) * 2u);
    const int32_t q2 = tm_sat_rounding_doubling_high_mul(q, q);
    const int32_t num = (int32_t)((uint32_t)tm_sat_rounding_doubling_high_mul(q, r) +
                                  (uint32_t)tm_sat_rounding_doubling_high_mul(tm_sat_rounding_doubling_high_mul(q, q2), alpha_n));
    const int32_t den_in = (int32_t)((uint32_t)alpha_i + (uint32_t)q + (uint32_t)tm_sat_rounding_doubling_high_mul(alpha_d, q2));
    const int32_t den = (int32_t)((uint32_t)tm_sat_rounding_doubling_high_mul(p, den_in) +
                                  (uint32_t)tm_sat_rounding_doubling_high_mul(alpha_f, q));
    const int32_t frac = tm_sat_rounding_doubling_high_mul(tm_rounding_divide_by_pot(num, acc_bits),
                                                           tm_fx_one_over_one_plus_x(den));
    const int32_t sum = (int32_t)((uint32_t)tm_sat_rounding_doubling_high_mul(e, log_2) + (uint32_t)frac);
    return tm_sat_mul_pot(sum, acc_bits - out_bits);
}
#endif
