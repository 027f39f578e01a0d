/* PRELU, int8 and float32, with broadcasting (the loop: broadcast.h; the slope alpha is the second input,
 * usually a per-channel constant). TFLM semantics: a non-negative input passes through (int8: rescaled
 * from the input's scale to the output's), a negative one is multiplied by its alpha. */
#include "broadcast.h"
#include "elementwise.h"
#include "tm_quant.h"

/* int8: the two branches have different real multipliers (in_scale / out_scale, and in_scale *
 * alpha_scale / out_scale for the product of two zero-point-corrected values), so each has its own. The
 * branch is chosen on the input's real sign (x - zp_in), which is 0 for both at x = zp_in. */
static inline __attribute__((always_inline)) int32_t prelu_one(const tm_prelu_params_t *p, int32_t x, int32_t a)
{
    int32_t v = x + p->in1_zero_offset;
    int32_t r = v >= 0 ? tm_requantize(v, p->multiplier1, p->shift1)
                       : tm_requantize(v * (a + p->in2_zero_offset), p->multiplier2, p->shift2);
    return tm_clamp(r + p->out_zero_point, INT8_MIN, INT8_MAX);
}

/* float32: x >= 0 keeps x (so -0.0 stays -0.0), else x * alpha in single precision. */
static inline float prelu_one_f32(const tm_binary_raw_params_t *p, float x, float a)
{
    (void)p;
    return x >= 0.0f ? x : x * a;
}

TM_BINARY_KERNEL(tm_prelu_s8, tm_prelu_params_t, int8_t, prelu_one)
TM_BINARY_KERNEL(tm_prelu_f32, tm_binary_raw_params_t, float, prelu_one_f32)
