/* UNIDIRECTIONAL_SEQUENCE_LSTM, float32: TFLM's reference float LSTM (lstm.h), in its operation order:
 * each fully connected layer sums its products in order, then adds its bias (0 for the recurrent one)
 * and clamps to +-FLT_MAX (a fused activation NONE), the two layers' sum is not clamped; the products of
 * the cell and hidden updates are clamped to +-FLT_MAX, their sum is not. */
#include <float.h>
#include <math.h>

#include "float_ops.h"
#include "lstm.h"

static void gate(const tm_lstm_f32_params_t *p, const tm_lstm_gate_f32_t *g, const float *x, const float *h,
                 uint32_t rows, int tanh, float *out)
{
    const uint32_t n_in = p->input_size, units = p->units;
    for (uint32_t r = 0; r < rows; r++) {
        for (uint32_t u = 0; u < units; u++) {
            float from_x = 0.0f, from_h = 0.0f;
            for (uint32_t i = 0; i < n_in; i++) {
                from_x += x[r * n_in + i] * g->in_weights[u * n_in + i];
            }
            for (uint32_t j = 0; j < units; j++) {
                from_h += h[r * units + j] * g->rec_weights[u * units + j];
            }
            from_x = tm_clampf(from_x + g->bias[u], -FLT_MAX, FLT_MAX);
            from_h = tm_clampf(from_h + 0.0f, -FLT_MAX, FLT_MAX);
            const float sum = from_x + from_h;
            out[r * units + u] = tanh ? tanhf(sum) : tm_logisticf(sum);
        }
    }
}

static void step(const tm_lstm_f32_params_t *p, const float *x, float *h, float *c, float *out, uint32_t rows,
                 float *buf)
{
    const uint32_t n = rows * p->units;
    float *in_gate = buf, *forget = buf + n, *cell = buf + 2 * n, *out_gate = buf + 3 * n;
    gate(p, &p->gate[TM_LSTM_FORGET], x, h, rows, 0, forget);
    gate(p, &p->gate[TM_LSTM_INPUT], x, h, rows, 0, in_gate);
    gate(p, &p->gate[TM_LSTM_CELL], x, h, rows, 1, cell);
    gate(p, &p->gate[TM_LSTM_OUTPUT], x, h, rows, 0, out_gate);
    for (uint32_t i = 0; i < n; i++) {
        float cv = tm_clampf(forget[i] * c[i], -FLT_MAX, FLT_MAX) + tm_clampf(in_gate[i] * cell[i], -FLT_MAX, FLT_MAX);
        if (p->cell_clip > 0.0f) {
            /* std::max(std::min(clip, c), -clip), NaN included */
            const float below = cv < p->cell_clip ? cv : p->cell_clip;
            cv = below < -p->cell_clip ? -p->cell_clip : below;
        }
        c[i] = cv;
        h[i] = tm_clampf(tanhf(cv) * out_gate[i], -FLT_MAX, FLT_MAX);
        out[i] = h[i];
    }
}

typedef tm_lstm_f32_params_t lstm_params_t;
typedef float lstm_x_t;
typedef float lstm_c_t;
typedef float lstm_buf_t;
#include "lstm_sequence.h"

tm_status_t tm_lstm_f32(const void *params, uint8_t *arena)
{
    const tm_lstm_f32_params_t *p = params;
    const float *in = (const float *)(arena + p->in_offset);
    float *out = (float *)(arena + p->out_offset);
    float *hidden = (float *)(arena + p->hidden_offset);
    float *cell = (float *)(arena + p->cell_offset);
    float *buf = (float *)(arena + p->scratch_offset);
    const uint32_t n_state = p->batches * p->units;
    float *states[2] = {hidden, cell};
    for (int s = 0; s < 2; s++) {            /* TFLM's ResetVariableTensors: float state at 0 */
        uint8_t *ready = (uint8_t *)(states[s] + n_state);
        if (!*ready) {
            for (uint32_t i = 0; i < n_state; i++) {
                states[s][i] = 0.0f;
            }
            *ready = 1;
        }
    }
    lstm_sequence(p, in, hidden, cell, out, buf);
    return TM_OK;
}
