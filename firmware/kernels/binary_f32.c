/* ADD and MUL, float32, with broadcasting: the reference kernels (TFLM semantics): a + b (a * b) in
 * single precision, clamped to the fused activation's range. */
#include "elementwise.h"
#include "float_ops.h"

static tm_status_t binary(const tm_binary_f32_params_t *p, uint8_t *arena, int mul)
{
    const float *a = p->in1_const ? p->in1_const : (const float *)(arena + p->in1_offset);
    const float *b = p->in2_const ? p->in2_const : (const float *)(arena + p->in2_offset);
    float *out = (float *)(arena + p->out_offset);
    const uint32_t *n = p->dims, *sa = p->in1_stride, *sb = p->in2_stride;
    for (uint32_t i0 = 0; i0 < n[0]; i0++)
    for (uint32_t i1 = 0; i1 < n[1]; i1++)
    for (uint32_t i2 = 0; i2 < n[2]; i2++)
    for (uint32_t i3 = 0; i3 < n[3]; i3++)
    for (uint32_t i4 = 0; i4 < n[4]; i4++) {
        const float *x = a + i0 * sa[0] + i1 * sa[1] + i2 * sa[2] + i3 * sa[3] + i4 * sa[4];
        const float *y = b + i0 * sb[0] + i1 * sb[1] + i2 * sb[2] + i3 * sb[3] + i4 * sb[4];
        for (uint32_t i5 = 0; i5 < n[5]; i5++) {
            const float u = x[i5 * sa[5]], v = y[i5 * sb[5]];
            *out++ = tm_clampf(mul ? u * v : u + v, p->act_min, p->act_max);
        }
    }
    return TM_OK;
}

tm_status_t tm_add_f32(const void *params, uint8_t *arena)
{
    return binary(params, arena, 0);
}

tm_status_t tm_mul_f32(const void *params, uint8_t *arena)
{
    return binary(params, arena, 1);
}
