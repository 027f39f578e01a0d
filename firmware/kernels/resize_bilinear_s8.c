/* RESIZE_BILINEAR, int8: TFLM's integer interpolation. Each output is the sum of its four source values
 * times their row and column weights (1/1024ths each, so the sum is in 1/2^20ths), divided by 2^20 and
 * rounded half away from zero: +-2^19 added by the sum's sign (-2^19 for 0) and C's division, which
 * truncates toward zero. The weights are in [-512, 1536] with |row pair| and |column pair| sums <= 2048
 * (harness/plan/ops/resize.py), so |sum| <= 128 * 2048^2 = 2^29 fits int32, and the result, a weighted
 * average or a copy, fits int8. */
#include "resize.h"

tm_status_t tm_resize_bilinear_s8(const void *params, uint8_t *arena)
{
    const tm_resize_bilinear_s8_params_t *p = params;
    int8_t *out = (int8_t *)(arena + p->out_offset);
    for (uint32_t b = 0; b < p->batches; b++) {
        const int8_t *in = (const int8_t *)(arena + p->in_offset) + b * p->in_batch;
        for (uint32_t y = 0; y < p->out_h; y++) {
            const int8_t *top = in + p->row_offset[2 * y], *bottom = in + p->row_offset[2 * y + 1];
            const int32_t wy0 = p->row_weight[2 * y], wy1 = p->row_weight[2 * y + 1];
            for (uint32_t x = 0; x < p->out_w; x++) {
                const int32_t x0 = p->col_offset[2 * x], x1 = p->col_offset[2 * x + 1];
                const int32_t wx0 = p->col_weight[2 * x], wx1 = p->col_weight[2 * x + 1];
                /* exact integer products, so (value * wy) * wx = value * (wy * wx) */
                const int32_t w00 = wy0 * wx0, w10 = wy1 * wx0, w01 = wy0 * wx1, w11 = wy1 * wx1;
                for (uint32_t c = 0; c < p->depth; c++) {
                    const int32_t sum = top[x0 + c] * w00 + bottom[x0 + c] * w10 + top[x1 + c] * w01 +
                                        bottom[x1 + c] * w11;
                    *out++ = (int8_t)((sum + (sum > 0 ? (1 << 19) : -(1 << 19))) / (1 << 20));
                }
            }
        }
    }
    return TM_OK;
}
