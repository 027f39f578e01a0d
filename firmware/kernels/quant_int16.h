/* 16-bit fixed-point primitives of TFLM's int8 HARD_SWISH (gemmlowp's int16 operations and two of
 * TFLite's own). TFLM keeps these values in int16_t; here each takes and returns int16-range values in an
 * int32_t, saturating where TFLM's do. The multipliers are computed on the host (harness/plan/quant.py,
 * quantize_multiplier_int16). */
#ifndef TM_QUANT_INT16_H
#define TM_QUANT_INT16_H
#include <stdint.h>

static inline int32_t tm_sat16(int64_t x)
{
    return x < INT16_MIN ? INT16_MIN : (x > INT16_MAX ? INT16_MAX : (int32_t)x);
}

/* a * b / 2^15 rounded to nearest, ties up (gemmlowp's nudge-and-truncate equals floor((ab + 2^14) /
 * 2^15) for either sign, as the 32-bit tm_sat_rounding_doubling_high_mul shows); -2^15 * -2^15, the one
 * product past the range, saturates to 32767. */
static inline int32_t tm_rounding_doubling_high_mul16(int32_t a, int32_t b)
{
    if (a == INT16_MIN && b == INT16_MIN) {
        return INT16_MAX;
    }
    return (a * b + (1 << 14)) >> 15;
}

/* a * b / 2^15 truncated toward zero (no rounding: HARD_SWISH's last product, whose rounding bias
 * cancels the bias of the rounding multiplies before it), -2^15 * -2^15 saturating to 32767. */
static inline int32_t tm_doubling_high_mul16(int32_t a, int32_t b)
{
    if (a == INT16_MIN && b == INT16_MIN) {
        return INT16_MAX;
    }
    return (a * b) / (1 << 15);
}

/* x * 2^amount saturated to the int16 range, 0 <= amount <= 30. */
static inline int32_t tm_sat_shift_left16(int32_t x, int amount)
{
    return tm_sat16((int64_t)x * ((int64_t)1 << amount));
}
#endif
