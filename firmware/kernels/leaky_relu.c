/* LEAKY_RELU, int8 and float32: TFLM's reference semantics, element by element. */
#include "activation.h"
#include "tm_quant.h"

tm_status_t tm_leaky_relu_s8(const void *params, uint8_t *arena)
{
    const tm_leaky_relu_params_t *p = params;
    const int8_t *in = (const int8_t *)(arena + p->in_offset);
    int8_t *out = (int8_t *)(arena + p->out_offset);
    for (uint32_t i = 0; i < p->count; i++) {
        /* The branch is the real value's sign; at x = zp_in both give 0. The alpha multiplier may be
         * negative (a negative slope) or above 1: tm_requantize takes either. */
        int32_t v = (int32_t)in[i] - p->in_zero_point;
        int32_t r = v >= 0 ? tm_requantize(v, p->multiplier_identity, p->shift_identity)
                           : tm_requantize(v, p->multiplier_alpha, p->shift_alpha);
        out[i] = (int8_t)tm_clamp(r + p->out_zero_point, INT8_MIN, INT8_MAX);
    }
    return TM_OK;
}

tm_status_t tm_leaky_relu_f32(const void *params, uint8_t *arena)
{
    const tm_leaky_relu_f32_params_t *p = params;
    const float *in = (const float *)(arena + p->in_offset);
    float *out = (float *)(arena + p->out_offset);
    for (uint32_t i = 0; i < p->count; i++) {
        /* not max(x, alpha * x): alpha may be above 1 or negative */
        float x = in[i];
        out[i] = x > 0.0f ? x : x * p->alpha;
    }
    return TM_OK;
}
