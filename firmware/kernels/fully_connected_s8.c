/* FULLY_CONNECTED, int8 activations and weights, int32 bias: the reference kernel (TFLM semantics). */
#include "fully_connected.h"
#include "tm_quant.h"

tm_status_t tm_fully_connected_s8(const void *params, uint8_t *arena)
{
    const tm_fc_params_t *p = params;
    const int8_t *in = (const int8_t *)(arena + p->in_offset);
    int8_t *out = (int8_t *)(arena + p->out_offset);
    for (uint32_t b = 0; b < p->batches; b++) {
        const int8_t *x = in + b * p->in_features;
        for (uint32_t o = 0; o < p->out_features; o++) {
            const int8_t *w = p->weights + o * p->in_features;
            int32_t acc = 0;
            for (uint32_t i = 0; i < p->in_features; i++) {
                acc += ((int32_t)x[i] + p->in_zero_point) * (int32_t)w[i];
            }
            if (p->bias) {
                acc += p->bias[o];
            }
            uint32_t q = p->per_channel ? o : 0;
            acc = tm_requantize(acc, p->multiplier[q], p->shift[q]) + p->out_zero_point;
            out[b * p->out_features + o] = (int8_t)tm_clamp(acc, p->act_min, p->act_max);
        }
    }
    return TM_OK;
}
