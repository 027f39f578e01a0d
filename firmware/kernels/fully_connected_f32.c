/* FULLY_CONNECTED float32: the reference kernel (TFLM semantics and operation order). */
#include "fully_connected.h"
#include "float_ops.h"

tm_status_t tm_fully_connected_f32(const void *params, uint8_t *arena)
{
    const tm_fc_f32_params_t *p = params;
    const float *in = (const float *)(arena + p->in_offset);
    float *out = (float *)(arena + p->out_offset);
    for (uint32_t b = 0; b < p->batches; b++) {
        const float *x = in + b * p->in_features;
        for (uint32_t o = 0; o < p->out_features; o++) {
            const float *w = p->weights + o * p->in_features;
            float total = 0.0f;
            for (uint32_t i = 0; i < p->in_features; i++) {
                total += x[i] * w[i];
            }
            out[b * p->out_features + o] = tm_clampf(total + (p->bias ? p->bias[o] : 0.0f), p->act_min, p->act_max);
        }
    }
    return TM_OK;
}
