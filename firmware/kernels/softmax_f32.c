/* SOFTMAX float32 over the last dimension: the reference kernel (TFLM semantics and operation order). */
#include <float.h>
#include <math.h>

#include "softmax.h"

tm_status_t tm_softmax_f32(const void *params, uint8_t *arena)
{
    const tm_softmax_f32_params_t *p = params;
    const float *in = (const float *)(arena + p->in_offset);
    float *out = (float *)(arena + p->out_offset);
    const uint32_t depth = p->depth;
    for (uint32_t r = 0; r < p->rows; r++) {
        const float *x = in + (size_t)r * depth;
        float *y = out + (size_t)r * depth;
        float max = -FLT_MAX;
        for (uint32_t c = 0; c < depth; c++) {
            max = max < x[c] ? x[c] : max;
        }
        float sum = 0.0f;
        for (uint32_t c = 0; c < depth; c++) {
            const float e = expf((x[c] - max) * p->beta);
            y[c] = e;
            sum += e;
        }
        for (uint32_t c = 0; c < depth; c++) {
            y[c] = y[c] / sum;
        }
    }
    return TM_OK;
}
