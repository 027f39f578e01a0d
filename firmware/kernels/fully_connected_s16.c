/* FULLY_CONNECTED int16x8: int16 activations (zero points 0), int8 weights, int64 bias: the reference
 * kernel (TFLM semantics): a 64-bit sum of x * w, + bias, TFLM's 64-bit requantization, clamped. */
#include "fully_connected.h"
#include "tm_quant.h"

tm_status_t tm_fully_connected_s16(const void *params, uint8_t *arena)
{
    const tm_fc_s16_params_t *p = params;
    const int16_t *in = (const int16_t *)(arena + p->in_offset);
    int16_t *out = (int16_t *)(arena + p->out_offset);
    for (uint32_t b = 0; b < p->batches; b++) {
        const int16_t *x = in + b * p->in_features;
        for (uint32_t o = 0; o < p->out_features; o++) {
            const int8_t *w = p->weights + o * p->in_features;
            int64_t acc = 0;
            for (uint32_t i = 0; i < p->in_features; i++) {
                acc += (int32_t)x[i] * (int32_t)w[i];
            }
            if (p->bias) {
                acc += p->bias[o];
            }
            uint32_t q = p->per_channel ? o : 0;
            int32_t r = tm_requantize64(acc, p->multiplier[q], p->shift[q]);
            out[b * p->out_features + o] = (int16_t)tm_clamp(r, p->act_min, p->act_max);
        }
    }
    return TM_OK;
}
