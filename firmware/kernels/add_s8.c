/* ADD, int8, with broadcasting: the reference kernel (TFLM semantics). Both inputs are brought to a
 * common scale (shifted left by left_shift, then each multiplied by its own multiplier below 1), added,
 * and the sum rescaled to the output. */
#include "elementwise.h"
#include "tm_quant.h"

static int8_t add_one(const tm_add_params_t *p, int8_t x, int8_t y)
{
    int32_t u = (int32_t)((uint32_t)((int32_t)x + p->in1_zero_offset) << p->left_shift);
    int32_t v = (int32_t)((uint32_t)((int32_t)y + p->in2_zero_offset) << p->left_shift);
    int32_t sum = tm_requantize(u, p->in1_multiplier, p->in1_shift) +
                  tm_requantize(v, p->in2_multiplier, p->in2_shift);
    int32_t r = tm_requantize(sum, p->out_multiplier, p->out_shift) + p->out_zero_point;
    return (int8_t)tm_clamp(r, p->act_min, p->act_max);
}

tm_status_t tm_add_s8(const void *params, uint8_t *arena)
{
    const tm_add_params_t *p = params;
    const int8_t *a = p->in1_const ? (const int8_t *)p->in1_const : (const int8_t *)(arena + p->in1_offset);
    const int8_t *b = p->in2_const ? (const int8_t *)p->in2_const : (const int8_t *)(arena + p->in2_offset);
    int8_t *out = (int8_t *)(arena + p->out_offset);
    const uint32_t *n = p->dims, *sa = p->in1_stride, *sb = p->in2_stride;
    for (uint32_t i0 = 0; i0 < n[0]; i0++)
    for (uint32_t i1 = 0; i1 < n[1]; i1++)
    for (uint32_t i2 = 0; i2 < n[2]; i2++)
    for (uint32_t i3 = 0; i3 < n[3]; i3++)
    for (uint32_t i4 = 0; i4 < n[4]; i4++) {
        const int8_t *x = a + i0 * sa[0] + i1 * sa[1] + i2 * sa[2] + i3 * sa[3] + i4 * sa[4];
        const int8_t *y = b + i0 * sb[0] + i1 * sb[1] + i2 * sb[2] + i3 * sb[3] + i4 * sb[4];
        for (uint32_t i5 = 0; i5 < n[5]; i5++) {
            *out++ = add_one(p, x[i5 * sa[5]], y[i5 * sb[5]]);
        }
    }
    return TM_OK;
}
