/* ADD, int8 and int16x8 (zero points 0, left_shift 15), with broadcasting: the reference kernels
 * tm_add_s8 and tm_add_s16 (TFLM semantics; the loop: broadcast.h). Both inputs are brought to a common
 * scale (shifted left by left_shift, then each multiplied by its own multiplier below 1), added, and the
 * sum rescaled to the output. */
#include "broadcast.h"
#include "elementwise.h"
#include "tm_quant.h"

/* One output element, before its narrowing to the element type (a value in [act_min, act_max]). Forced
 * inline: it is the whole per-element cost of both kernels. */
static inline __attribute__((always_inline)) int32_t add_one(const tm_add_params_t *p, int32_t x, int32_t y)
{
    int32_t u = (int32_t)((uint32_t)(x + p->in1_zero_offset) << p->left_shift);
    int32_t v = (int32_t)((uint32_t)(y + p->in2_zero_offset) << p->left_shift);
    int32_t sum = tm_requantize(u, p->in1_multiplier, p->in1_shift) +
                  tm_requantize(v, p->in2_multiplier, p->in2_shift);
    int32_t r = tm_requantize(sum, p->out_multiplier, p->out_shift) + p->out_zero_point;
    return tm_clamp(r, p->act_min, p->act_max);
}

TM_BINARY_KERNEL(tm_add_s8, tm_add_params_t, int8_t, add_one)
TM_BINARY_KERNEL(tm_add_s16, tm_add_params_t, int16_t, add_one)
