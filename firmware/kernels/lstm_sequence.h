/* UNIDIRECTIONAL_SEQUENCE_LSTM's walk over the sequence, written once for both dtypes: a template, not a
 * header of declarations. lstm_s8.c and lstm_f32.c each include it once, after defining
 *   lstm_params_t  the kernel's parameter struct, lstm_x_t the input/hidden/output element,
 *   lstm_c_t       the cell state's element (int16 for int8 activations), lstm_buf_t the scratch element,
 *   step(p, x, h, c, out, rows, buf)   one time step of `rows` sequences.
 * Time-major input steps every batch row at once; batch-major input runs each row's sequence in turn
 * (TFLM's order: the states of one row never see another's). */
static void lstm_sequence(const lstm_params_t *p, const lstm_x_t *in, lstm_x_t *hidden, lstm_c_t *cell,
                          lstm_x_t *out, lstm_buf_t *buf)
{
    const uint32_t n_in = p->input_size, units = p->units;
    if (p->time_major) {
        for (uint32_t t = 0; t < p->steps; t++) {
            step(p, in + t * p->batches * n_in, hidden, cell, out + t * p->batches * units, p->batches, buf);
        }
        return;
    }
    for (uint32_t b = 0; b < p->batches; b++) {
        for (uint32_t t = 0; t < p->steps; t++) {
            const uint32_t row = b * p->steps + t;
            step(p, in + row * n_in, hidden + b * units, cell + b * units, out + row * units, 1, buf);
        }
    }
}
