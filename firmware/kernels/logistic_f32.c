/* LOGISTIC and TANH float32, element-wise: the reference kernels (TFLM semantics). */
#include <math.h>

#include "float_ops.h"
#include "logistic.h"

tm_status_t tm_logistic_f32(const void *params, uint8_t *arena)
{
    const tm_unary_f32_params_t *p = params;
    const float *in = (const float *)(arena + p->in_offset);
    float *out = (float *)(arena + p->out_offset);
    for (uint32_t i = 0; i < p->count; i++) {
        out[i] = tm_logisticf(in[i]);
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
