/* MUL, int8 and int16x8 (zero points 0), with broadcasting: the reference kernels tm_mul_s8 and
 * tm_mul_s16 (TFLM semantics; the loop: broadcast.h). The product of the two zero-point-corrected inputs
 * is rescaled once, by input1_scale * input2_scale / output_scale. */
#include "broadcast.h"
#include "elementwise.h"
#include "tm_quant.h"

/* One output element, before its narrowing to the element type (a value in [act_min, act_max]). Forced
 * inline: it is the whole per-element cost of both kernels. */
static inline __attribute__((always_inline)) int32_t mul_one(const tm_mul_params_t *p, int32_t x, int32_t y)
{
    int32_t u = x + p->in1_zero_offset;
    int32_t v = y + p->in2_zero_offset;
    int32_t r = tm_requantize(u * v, p->out_multiplier, p->out_shift) + p->out_zero_point;
    return tm_clamp(r, p->act_min, p->act_max);
}

TM_BINARY_KERNEL(tm_mul_s8, tm_mul_params_t, int8_t, mul_one)
TM_BINARY_KERNEL(tm_mul_s16, tm_mul_params_t, int16_t, mul_one)
