/* SVDF with int8 activations: TFLM's integer reference kernel semantics. Per inference:
 * 1. the state moves one step back in time (the whole buffer shifts left by one element);
 * 2. each filter's newest state entry = clamp(requantize(weights_feature . (x - zp_in))) + zp_state,
 *    narrowed to the state type with wraparound (TFLM clamps before adding the zero point);
 * 3. each unit's output = requantize(bias + sum over its rank filters of weights_time . (state - zp_state))
 *    + zp_out, clamped to int8. (TFLM applies no fused activation in the integer path.)
 * Sums are taken modulo 2^32, as TFLM's int32 accumulators wrap, so their order does not matter. */
#include "svdf.h"
#include "tm_quant.h"

static int32_t state_get(const uint8_t *state, uint32_t i, int wide)
{
    return wide ? ((const int16_t *)state)[i] : ((const int8_t *)state)[i];
}

static void state_set(uint8_t *state, uint32_t i, int wide, int32_t v)
{
    if (wide) {
        ((int16_t *)state)[i] = (int16_t)v;
    } else {
        ((int8_t *)state)[i] = (int8_t)v;
    }
}

static tm_status_t svdf(const tm_svdf_params_t *p, uint8_t *arena, int wide)
{
    const int8_t *in = (const int8_t *)(arena + p->in_offset);
    int8_t *out = (int8_t *)(arena + p->out_offset);
    uint8_t *state = arena + p->state_offset;
    const uint32_t n_state = p->batches * p->filters * p->memory;
    uint8_t *initialised = state + n_state * (wide ? 2u : 1u);
    const int32_t state_min = wide ? INT16_MIN : INT8_MIN;
    const int32_t state_max = wide ? INT16_MAX : INT8_MAX;

    if (!*initialised) {
        for (uint32_t i = 0; i < n_state; i++) {
            state_set(state, i, wide, wide ? 0 : p->state_zero_point);
        }
        *initialised = 1;
    }
    for (uint32_t i = 0; i + 1 < n_state; i++) {
        state_set(state, i, wide, state_get(state, i + 1, wide));
    }
    for (uint32_t b = 0; b < p->batches; b++) {
        const int8_t *x = in + b * p->input_size;
        for (uint32_t f = 0; f < p->filters; f++) {
            const int8_t *w = p->weights_feature + f * p->input_size;
            uint32_t acc = 0;
            for (uint32_t i = 0; i < p->input_size; i++) {
                acc += (uint32_t)((int32_t)w[i] * ((int32_t)x[i] - p->in_zero_point));
            }
            int32_t v = tm_requantize((int32_t)acc, p->feature_multiplier, p->feature_shift);
            /* TFLM (this release) clamps first and adds the state zero point after, so the sum wraps
             * when it is narrowed into the state; we keep that. */
            v = tm_clamp(v, state_min, state_max) + p->state_zero_point;
            state_set(state, (b * p->filters + f) * p->memory + p->memory - 1, wide, v);
        }
    }
    for (uint32_t b = 0; b < p->batches; b++) {
        for (uint32_t u = 0; u < p->units; u++) {
            uint32_t acc = (uint32_t)p->bias[u];
            for (uint32_t f = u * p->rank; f < (u + 1) * p->rank; f++) {
                uint32_t s = (b * p->filters + f) * p->memory;
                for (uint32_t m = 0; m < p->memory; m++) {
                    int32_t wt = wide ? ((const int16_t *)p->weights_time)[f * p->memory + m]
                                      : ((const int8_t *)p->weights_time)[f * p->memory + m];
                    acc += (uint32_t)(wt * (state_get(state, s + m, wide) - p->state_zero_point));
                }
            }
            int32_t v = tm_requantize((int32_t)acc, p->time_multiplier, p->time_shift) + p->out_zero_point;
            out[b * p->units + u] = (int8_t)tm_clamp(v, INT8_MIN, INT8_MAX);
        }
    }
    return TM_OK;
}

tm_status_t tm_svdf_s8_s16(const void *params, uint8_t *arena)
{
    return svdf(params, arena, 1);
}

tm_status_t tm_svdf_s8_s8(const void *params, uint8_t *arena)
{
    return svdf(params, arena, 0);
}
