/* UNIDIRECTIONAL_SEQUENCE_LSTM, int8 activations with an int16 cell state: TFLM's integer LSTM semantics
 * (lstm.h). Sums are taken modulo 2^32, as TFLM's int32 accumulators wrap, so their order does not
 * matter; every requantization is tm_requantize with the planner's multipliers (harness/plan/ops/lstm.py). */
#include "lstm.h"
#include "lut_int16.h"
#include "tm_quant.h"

static int32_t sat16(int32_t v)
{
    return tm_clamp(v, INT16_MIN, INT16_MAX);
}

/* sum_i w[i] * (v[i] - zero_point), modulo 2^32 */
static int32_t dot_s8(const int8_t *w, const int8_t *v, uint32_t n, int32_t zero_point)
{
    uint32_t acc = 0;
    for (uint32_t i = 0; i < n; i++) {
        acc += (uint32_t)((int32_t)w[i] * ((int32_t)v[i] - zero_point));
    }
    return (int32_t)acc;
}

/* One gate over `rows` rows: each fully connected layer is requantized to Q3.12 and saturated to int16 on
 * its own (TFLM writes each into an int16 buffer), then their saturated sum goes through the activation. */
static void gate(const tm_lstm_s8_params_t *p, const tm_lstm_gate_s8_t *g, const int8_t *x, const int8_t *h,
                 uint32_t rows, int tanh, int16_t *out)
{
    const uint32_t n_in = p->input_size, units = p->units;
    for (uint32_t r = 0; r < rows; r++) {
        for (uint32_t u = 0; u < units; u++) {
            uint32_t acc = (uint32_t)dot_s8(g->in_weights + u * n_in, x + r * n_in, n_in, p->in_zero_point);
            acc += (uint32_t)g->bias[u];
            const int32_t from_x = sat16(tm_requantize((int32_t)acc, g->in_multiplier, g->in_shift));
            const int32_t from_h = sat16(tm_requantize(dot_s8(g->rec_weights + u * units, h + r * units, units,
                                                              p->hidden_zero_point),
                                                       g->rec_multiplier, g->rec_shift));
            const int32_t sum = sat16(from_x + from_h);
            /* the cell gate's tanh reads Q3.12: TFLM's LUT tanh with scale power -12, multiplier 3 */
            out[r * units + u] = (int16_t)(tanh ? tm_tanh16(sum, 3, 0) : tm_sigmoid16(sum));
        }
    }
}

/* One time step for `rows` rows: x [rows][input_size], h and c [rows][units] updated, out [rows][units]. */
static void step(const tm_lstm_s8_params_t *p, const int8_t *x, int8_t *h, int16_t *c, int8_t *out,
                 uint32_t rows, int16_t *buf)
{
    const uint32_t n = rows * p->units;
    int16_t *in_gate = buf, *forget = buf + n, *cell = buf + 2 * n, *out_gate = buf + 3 * n;
    /* every gate reads the previous step's h: h is written only once all four are computed */
    gate(p, &p->gate[TM_LSTM_FORGET], x, h, rows, 0, forget);
    gate(p, &p->gate[TM_LSTM_INPUT], x, h, rows, 0, in_gate);
    gate(p, &p->gate[TM_LSTM_CELL], x, h, rows, 1, cell);
    gate(p, &p->gate[TM_LSTM_OUTPUT], x, h, rows, 0, out_gate);
    for (uint32_t i = 0; i < n; i++) {
        /* c = forget * c + input * cell, each product requantized and saturated to int16 first */
        const int32_t kept = sat16(tm_requantize((int32_t)forget[i] * c[i], p->forget_multiplier, p->forget_shift));
        const int32_t added = sat16(tm_requantize((int32_t)in_gate[i] * cell[i], p->input_multiplier, p->input_shift));
        int32_t cv = sat16(kept + added);
        if (p->clip_enabled) {
            cv = tm_clamp(cv, -p->cell_clip, p->cell_clip);
        }
        c[i] = (int16_t)cv;
        /* h = output * tanh(c), on h's int8 scale and zero point */
        const int32_t t = tm_tanh16(cv, p->tanh_multiplier, p->tanh_shift);
        const int32_t hv = p->hidden_zero_point +
                           tm_requantize(t * out_gate[i], p->hidden_multiplier, p->hidden_shift);
        h[i] = (int8_t)tm_clamp(hv, INT8_MIN, INT8_MAX);
        out[i] = h[i];
    }
}

typedef tm_lstm_s8_params_t lstm_params_t;
typedef int8_t lstm_x_t;
typedef int16_t lstm_c_t;
typedef int16_t lstm_buf_t;
#include "lstm_sequence.h"

tm_status_t tm_lstm_s8(const void *params, uint8_t *arena)
{
    const tm_lstm_s8_params_t *p = params;
    const int8_t *in = (const int8_t *)(arena + p->in_offset);
    int8_t *out = (int8_t *)(arena + p->out_offset);
    int8_t *hidden = (int8_t *)(arena + p->hidden_offset);
    int16_t *cell = (int16_t *)(arena + p->cell_offset);
    int16_t *buf = (int16_t *)(arena + p->scratch_offset);
    const uint32_t n_state = p->batches * p->units;
    uint8_t *hidden_ready = (uint8_t *)(hidden + n_state);
    uint8_t *cell_ready = (uint8_t *)(cell + n_state);

    if (!*hidden_ready) {                /* TFLM's ResetVariableTensors: int8 state at its zero point */
        for (uint32_t i = 0; i < n_state; i++) {
            hidden[i] = (int8_t)p->hidden_zero_point;
        }
        *hidden_ready = 1;
    }
    if (!*cell_ready) {
        for (uint32_t i = 0; i < n_state; i++) {
            cell[i] = 0;
        }
        *cell_ready = 1;
    }
    lstm_sequence(p, in, hidden, cell, out, buf);
    return TM_OK;
}
