/* ADD and SUB, int8 and int16x8 (zero points 0, left_shift 15), with broadcasting: the reference kernels
 * tm_add_s8, tm_add_s16, tm_sub_s8 and tm_sub_s16 (TFLM semantics; the loop: broadcast.h). Both inputs are
 * brought to a common scale (shifted left by left_shift, then each multiplied by its own multiplier below
 * 1), added or subtracted, and the result rescaled to the output. SUB is ADD with the second rescaled
 * input negated, so both share one rescaling, written once here. */
#include "broadcast.h"
#include "elementwise.h"
#include "tm_quant.h"

/* An input's value on the common scale: (q - zero point) * 2^left_shift times its multiplier. */
static inline __attribute__((always_inline)) int32_t on_common_scale(const tm_add_params_t *p, int32_t q,
                                                                     int32_t zero_offset, int32_t multiplier,
                                                                     int shift)
{
    return tm_requantize((int32_t)((uint32_t)(q + zero_offset) << p->left_shift), multiplier, shift);
}

/* A sum (or difference) on the common scale, rescaled to the output and clamped to [act_min, act_max]. */
static inline __attribute__((always_inline)) int32_t to_output(const tm_add_params_t *p, int32_t raw)
{
    int32_t r = tm_requantize(raw, p->out_multiplier, p->out_shift) + p->out_zero_point;
    return tm_clamp(r, p->act_min, p->act_max);
}

/* One output element, before its narrowing to the element type. Forced inline: it is the whole
 * per-element cost of the kernels. */
static inline __attribute__((always_inline)) int32_t add_one(const tm_add_params_t *p, int32_t x, int32_t y)
{
    return to_output(p, on_common_scale(p, x, p->in1_zero_offset, p->in1_multiplier, p->in1_shift) +
                            on_common_scale(p, y, p->in2_zero_offset, p->in2_multiplier, p->in2_shift));
}

static inline __attribute__((always_inline)) int32_t sub_one(const tm_add_params_t *p, int32_t x, int32_t y)
{
    return to_output(p, on_common_scale(p, x, p->in1_zero_offset, p->in1_multiplier, p->in1_shift) -
                            on_common_scale(p, y, p->in2_zero_offset, p->in2_multiplier, p->in2_shift));
}

TM_BINARY_KERNEL(tm_add_s8, tm_add_params_t, int8_t, add_one)
TM_BINARY_KERNEL(tm_add_s16, tm_add_params_t, int16_t, add_one)
TM_BINARY_KERNEL(tm_sub_s8, tm_add_params_t, int8_t, sub_one)
TM_BINARY_KERNEL(tm_sub_s16, tm_add_params_t, int16_t, sub_one)
