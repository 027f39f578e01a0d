/* LOGISTIC and TANH, int8 in and out: TFLM's reference integer kernels' semantics. */
#include "logistic.h"
#include "tm_quant.h"

tm_status_t tm_logistic_s8(const void *params, uint8_t *arena)
{
    const tm_logistic_params_t *p = params;
    const int8_t *in = (const int8_t *)(arena + p->in_offset);
    int8_t *out = (int8_t *)(arena + p->out_offset);
    for (uint32_t i = 0; i < p->count; i++) {
        int32_t x = (int32_t)in[i] - p->in_zero_point;
        int32_t v;
        if (x <= -p->input_radius) {
            v = INT8_MIN;
        } else if (x >= p->input_radius) {
            v = INT8_MAX;
        } else {
            int32_t x_q4 = tm_requantize(x, p->input_multiplier, p->input_left_shift);
            int32_t y_q0 = tm_fx_logistic(x_q4, 4);
            v = tm_clamp(tm_rounding_divide_by_pot(y_q0, 23) - 128, INT8_MIN, INT8_MAX);
        }
        out[i] = (int8_t)v;
    }
    return TM_OK;
}

tm_status_t tm_tanh_s8(const void *params, uint8_t *arena)
{
    const tm_logistic_params_t *p = params;
    const int8_t *in = (const int8_t *)(arena + p->in_offset);
    int8_t *out = (int8_t *)(arena + p->out_offset);
    for (uint32_t i = 0; i < p->count; i++) {
        int32_t x = (int32_t)in[i] - p->in_zero_point;
        int32_t v;
        if (x <= -p->input_radius) {
            v = INT8_MIN;
        } else if (x >= p->input_radius) {
            v = INT8_MAX;
        } else {
            int32_t x_q4 = tm_requantize(x, p->input_multiplier, p->input_left_shift);
            int32_t y_q0 = tm_fx_tanh(x_q4, 4);
            v = tm_clamp(tm_rounding_divide_by_pot(y_q0, 24), INT8_MIN, INT8_MAX);
        }
        out[i] = (int8_t)v;
    }
    return TM_OK;
}
