/* LOGISTIC and TANH float32, element-wise: the reference kernels (TFLM semantics). */
#include <math.h>

#include "logistic.h"

tm_status_t tm_logistic_f32(const void *params, uint8_t *arena)
{
    const tm_unary_f32_params_t *p = params;
    const float *in = (const float *)(arena + p->in_offset);
    float *out = (float *)(arena + p->out_offset);
    const float cutoff_upper = 16.619047164916992188f;   /* TFLM's cut-offs */
    const float cutoff_lower = -9.0f;
    for (uint32_t i = 0; i < p->count; i++) {
        const float x = in[i];
        float r;
        if (x > cutoff_upper) {
            r = 1.0f;
        } else if (x < cutoff_lower) {
            r = expf(x);
        } else {
            r = 1.0f / (1.0f + expf(-x));
        }
        out[i] = r;
    }
    return TM_OK;
}

tm_status_t tm_tanh_f32(const void *params, uint8_t *arena)
{
    const tm_unary_f32_params_t *p = params;
    const float *in = (const float *)(arena + p->in_offset);
    float *out = (float *)(arena + p->out_offset);
    for (uint32_t i = 0; i < p->count; i++) {
        out[i] = tanhf(in[i]);
    }
    return TM_OK;
}
