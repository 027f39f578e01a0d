/* Applying TFLM's fixed-point requantization. The multipliers and shifts themselves are computed once,
 * on the host (harness/plan/quant.py), with TFLM's formulas; this header only applies them, exactly as
 * TFLM's reference kernels do (double rounding: a rounding doubling high multiply, then a rounding
 * right shift), so our outputs are TFLM's bytes. */
#ifndef TM_QUANT_H
#define TM_QUANT_H
#include <stdint.h>

static inline int32_t tm_sat_rounding_doubling_high_mul(int32_t a, int32_t b)
{
    if (a == INT32_MIN && b == INT32_MIN) {
        return INT32_MAX;
    }
    int64_t ab = (int64_t)a * (int64_t)b;
    int32_t nudge = ab >= 0 ? (1 << 30) : (1 - (1 << 30));
    return (int32_t)((ab + nudge) / (1ll << 31));
}

static inline int32_t tm_rounding_divide_by_pot(int32_t x, int exponent)
{
    int32_t mask = (int32_t)((1ll << exponent) - 1);
    int32_t remainder = x & mask;
    int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* shift > 0 multiplies by 2^shift first; shift < 0 divides after (TFLM's convention). */
static inline int32_t tm_requantize(int32_t x, int32_t multiplier, int shift)
{
    int left = shift > 0 ? shift : 0;
    int right = shift > 0 ? 0 : -shift;
    return tm_rounding_divide_by_pot(tm_sat_rounding_doubling_high_mul((int32_t)((uint32_t)x << left), multiplier), right);
}

static inline int32_t tm_clamp(int32_t v, int32_t lo, int32_t hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}
#endif
