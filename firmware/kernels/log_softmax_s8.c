/* LOG_SOFTMAX, int8: TFLM's reference fixed-point semantics (log_softmax.h describes the steps). */
#include "log_softmax.h"
#include "tm_quant.h"

enum { DIFF_BITS = 5, SUM_BITS = 12, OUT_BITS = 4 };     /* Q5.26 diffs and log, Q12.19 sum, [-16, 0) out */

static void log_softmax_row(const tm_log_softmax_params_t *p, const int8_t *x, int8_t *out)
{
    int32_t max = INT8_MIN;
    for (uint32_t c = 0; c < p->depth; c++) {
        max = x[c] > max ? x[c] : max;
    }
    int32_t sum = 0;                                           /* Q12.19; wraps as TFLM's does */
    for (uint32_t c = 0; c < p->depth; c++) {
        const int32_t diff = x[c] - max;
        if (diff >= p->diff_min) {
            const int32_t scaled = tm_requantize(diff, p->input_multiplier, p->input_left_shift);
            sum = (int32_t)((uint32_t)sum +
                            (uint32_t)tm_rounding_divide_by_pot(tm_fx_exp_on_negative_values(scaled, DIFF_BITS),
                                                                SUM_BITS));
        }
    }
    /* the row maximum contributes exp(0), so sum >= 1 and its log is >= 0 */
    const int32_t log_sum = tm_fx_log(sum, SUM_BITS, DIFF_BITS);
    /* the most negative Q5.26 value plus the log sum, back in the input's scale: diffs at or below it
     * would overflow the subtraction below */
    const int32_t lowest = (int32_t)((uint32_t)log_sum + (uint32_t)INT32_MIN);
    const int32_t reverse = tm_requantize(lowest, p->reverse_multiplier, p->reverse_shift);
    const int32_t threshold = p->diff_min - 1 > reverse ? p->diff_min - 1 : reverse;
    for (uint32_t c = 0; c < p->depth; c++) {
        const int32_t diff = x[c] - max;
        int32_t v = INT8_MIN;
        if (diff > threshold) {
            const int32_t scaled = tm_requantize(diff, p->input_multiplier, p->input_left_shift);
            const int32_t q = (int32_t)((uint32_t)scaled - (uint32_t)log_sum);
            v = tm_clamp(tm_rounding_divide_by_pot(q, 31 - DIFF_BITS - OUT_BITS) + INT8_MAX, INT8_MIN, INT8_MAX);
        }
        out[c] = (int8_t)v;
    }
}

tm_status_t tm_log_softmax_s8(const void *params, uint8_t *arena)
{
    const tm_log_softmax_params_t *p = params;
    const int8_t *in = (const int8_t *)(arena + p->in_offset);
    int8_t *out = (int8_t *)(arena + p->out_offset);
    for (uint32_t r = 0; r < p->rows; r++) {
        log_softmax_row(p, in + r * p->depth, out + r * p->depth);
    }
    return TM_OK;
}
