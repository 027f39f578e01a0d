#ifndef TM_LSTM_H
#define TM_LSTM_H
#include "tm_runtime.h"

/* UNIDIRECTIONAL_SEQUENCE_LSTM without peepholes, projection or layer norm (a Keras LSTM layer), as TFLM
 * runs it. Per time step, each gate g in (input, forget, cell, output) is
 *     g = act(FC(x_t, W_g) + bias_g + FC(h, R_g))         act: sigmoid; the cell gate's: tanh
 * then c = forget * c + input * cell, h = output * tanh(c), and h is the step's output row.
 * The hidden state h and the cell state c are variable tensors: they keep their value from one
 * inference to the next. Each lives in a persistent arena region the planner never reuses, followed by a
 * flag byte: the arena starts zeroed, and on the first run (flag 0) the kernel sets the state to TFLM's
 * initial value (the zero point for int8 hidden state, 0 otherwise) and the flag, as SVDF does.
 *
 * Rows: batch-major input [batches][steps][input_size] runs each batch's sequence in turn, one row per
 * step; time-major [steps][batches][input_size] runs all batches together, `batches` rows per step. */

/* int8 activations and weights, int32 biases, int16 cell state (TFLM's 8x8->16 LSTM). Each gate's two
 * fully connected layers requantize to Q3.12 (int16, saturated), their sum saturates to int16, the
 * activations are the 16-bit LUT ones (lut_int16.h) giving Q0.15. */
typedef struct {
    int32_t in_multiplier, in_shift;     /* FC(x) -> Q3.12 */
    int32_t rec_multiplier, rec_shift;   /* FC(h) -> Q3.12 */
    const int8_t  *in_weights;           /* [units][input_size] */
    const int8_t  *rec_weights;          /* [units][units] */
    const int32_t *bias;                 /* [units], added to FC(x) */
} tm_lstm_gate_s8_t;

enum { TM_LSTM_INPUT = 0, TM_LSTM_FORGET = 1, TM_LSTM_CELL = 2, TM_LSTM_OUTPUT = 3 };

typedef struct {
    uint32_t in_offset, out_offset;       /* arena offsets */
    uint32_t hidden_offset, cell_offset;  /* the state; each one's flag byte follows it */
    uint32_t scratch_offset;              /* 4 gate buffers of rows * units int16 */
    uint32_t batches, steps, input_size, units, time_major;
    int32_t  in_zero_point;
    int32_t  hidden_zero_point;
    tm_lstm_gate_s8_t gate[4];            /* TM_LSTM_INPUT .. TM_LSTM_OUTPUT */
    int32_t  forget_multiplier, forget_shift;   /* forget (Q0.15) x c -> c */
    int32_t  input_multiplier, input_shift;     /* input (Q0.15) x cell (Q0.15) -> c */
    int32_t  hidden_multiplier, hidden_shift;   /* tanh(c) (Q0.15) x output (Q0.15) -> h, int8 */
    int32_t  tanh_multiplier, tanh_shift;       /* c -> the LUT tanh's input (quant.py lstm_tanh_rescale) */
    int32_t  cell_clip;                         /* c clipped to [-clip, clip] when clip_enabled */
    int32_t  clip_enabled;
} tm_lstm_s8_params_t;

tm_status_t tm_lstm_s8(const void *params, uint8_t *arena);

/* float32: TFLM's reference float LSTM, in its operation order. */
typedef struct {
    const float *in_weights;     /* [units][input_size] */
    const float *rec_weights;    /* [units][units] */
    const float *bias;           /* [units] */
} tm_lstm_gate_f32_t;

typedef struct {
    uint32_t in_offset, out_offset, hidden_offset, cell_offset, scratch_offset;
    uint32_t batches, steps, input_size, units, time_major;
    tm_lstm_gate_f32_t gate[4];
    float    cell_clip;           /* > 0: c clipped to [-clip, clip] */
} tm_lstm_f32_params_t;

tm_status_t tm_lstm_f32(const void *params, uint8_t *arena);
#endif
