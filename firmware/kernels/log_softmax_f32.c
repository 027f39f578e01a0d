/* LOG_SOFTMAX, float32: TFLM's reference order (log_softmax.h); expf and logf are the C library's, so
 * the host build gives TFLM's bytes and the board's newlib may differ by an ulp (harness/reference.py). */
#include <float.h>
#include <math.h>

#include "log_softmax.h"

tm_status_t tm_log_softmax_f32(const void *params, uint8_t *arena)
{
    const tm_log_softmax_f32_params_t *p = params;
    for (uint32_t r = 0; r < p->rows; r++) {
        const float *x = (const float *)(arena + p->in_offset) + r * p->depth;
        float *out = (float *)(arena + p->out_offset) + r * p->depth;
        float max = -FLT_MAX;
        for (uint32_t c = 0; c < p->depth; c++) {
            max = x[c] > max ? x[c] : max;
        }
        float sum = 0.0f;
        for (uint32_t c = 0; c < p->depth; c++) {
            sum += expf(x[c] - max);
        }
        const float log_sum = logf(sum);
        for (uint32_t c = 0; c < p->depth; c++) {
            out[c] = x[c] - max - log_sum;
        }
    }
    return TM_OK;
}
