/* RESIZE_BILINEAR, float32: TFLM's reference order, each product (value * row weight) * column weight,
 * the four summed left to right, then + 0.0f (TFLM's rounding offset for float, which turns a -0.0 sum
 * into +0.0; GCC keeps it without -ffast-math). */
#include "resize.h"

tm_status_t tm_resize_bilinear_f32(const void *params, uint8_t *arena)
{
    const tm_resize_bilinear_f32_params_t *p = params;
    float *out = (float *)(arena + p->out_offset);
    for (uint32_t b = 0; b < p->batches; b++) {
        const float *in = (const float *)(arena + p->in_offset) + b * p->in_batch;
        for (uint32_t y = 0; y < p->out_h; y++) {
            const float *top = in + p->row_offset[2 * y], *bottom = in + p->row_offset[2 * y + 1];
            const float wy0 = p->row_weight[2 * y], wy1 = p->row_weight[2 * y + 1];
            for (uint32_t x = 0; x < p->out_w; x++) {
                const int32_t x0 = p->col_offset[2 * x], x1 = p->col_offset[2 * x + 1];
                const float wx0 = p->col_weight[2 * x], wx1 = p->col_weight[2 * x + 1];
                for (uint32_t c = 0; c < p->depth; c++) {
                    *out++ = top[x0 + c] * wy0 * wx0 + bottom[x0 + c] * wy1 * wx0 + top[x1 + c] * wy0 * wx1 +
                             bottom[x1 + c] * wy1 * wx1 + 0.0f;
                }
            }
        }
    }
    return TM_OK;
}
