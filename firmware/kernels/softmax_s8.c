/* SOFTMAX, int8 input, int8 or int16 output: TFLM's reference fixed-point kernel semantics. */
#include "softmax.h"
#include "tm_quant.h"

/* exp(beta * input_scale * diff) in Q0, for diff = x - row max >= diff_min. */
static int32_t scaled_exp(const tm_softmax_params_t *p, int32_t diff)
{
    int32_t rescaled = tm_sat_rounding_doubling_high_mul(
        (int32_t)((uint32_t)diff << p->input_left_shift), p->input_multiplier);   /* Q5.26 */
    return tm_fx_exp_on_negative_values(rescaled, 5);
}

static void softmax_row(const tm_softmax_params_t *p, const int8_t *x, void *out, int out_bits)
{
    int32_t max = INT8_MIN;
    for (uint32_t c = 0; c < p->depth; c++) {
        max = x[c] > max ? x[c] : max;
    }
    int32_t sum = 0;                                       /* Q12.19 */
    for (uint32_t c = 0; c < p->depth; c++) {
        int32_t diff = x[c] - max;
        if (diff >= p->diff_min) {
            sum += tm_rounding_divide_by_pot(scaled_exp(p, diff), 12);
        }
    }
    /* sum = 2^bits_over_unit * (1 + f) with f in [0, 1): 1/sum = 2^-bits_over_unit / (1 + f). */
    int headroom = __builtin_clz((uint32_t)sum);          /* sum >= exp(0) > 0 */
    int bits_over_unit = 12 - headroom;
    int32_t f = (int32_t)(((uint32_t)sum << headroom) - (1u << 31));
    int32_t reciprocal = tm_fx_one_over_one_plus_x(f);
    int exponent = bits_over_unit + 31 - out_bits;
    int32_t out_min = out_bits == 8 ? INT8_MIN : INT16_MIN;
    int32_t out_max = out_bits == 8 ? INT8_MAX : INT16_MAX;
    for (uint32_t c = 0; c < p->depth; c++) {
        int32_t diff = x[c] - max;
        int32_t v = out_min;
        if (diff >= p->diff_min) {
            int32_t prob = tm_sat_rounding_doubling_high_mul(reciprocal, scaled_exp(p, diff));
            v = tm_clamp(tm_rounding_divide_by_pot(prob, exponent) + out_min, out_min, out_max);
        }
        if (out_bits == 8) {
            ((int8_t *)out)[c] = (int8_t)v;
        } else {
            ((int16_t *)out)[c] = (int16_t)v;
        }
    }
}

tm_status_t tm_softmax_s8(const void *params, uint8_t *arena)
{
    const tm_softmax_params_t *p = params;
    const int8_t *in = (const int8_t *)(arena + p->in_offset);
    int8_t *out = (int8_t *)(arena + p->out_offset);
    for (uint32_t r = 0; r < p->rows; r++) {
        softmax_row(p, in + r * p->depth, out + r * p->depth, 8);
    }
    return TM_OK;
}

tm_status_t tm_softmax_s8_s16(const void *params, uint8_t *arena)
{
    const tm_softmax_params_t *p = params;
    const int8_t *in = (const int8_t *)(arena + p->in_offset);
    int16_t *out = (int16_t *)(arena + p->out_offset);
    for (uint32_t r = 0; r < p->rows; r++) {
        softmax_row(p, in + r * p->depth, out + r * p->depth, 16);
    }
    return TM_OK;
}

/* A 513-entry Q0.15 table over the int16 range: segment value >> 7, linear interpolation on the low
 * 7 bits, rounded. */
static int16_t lut_lookup(const int16_t *lut, int32_t value)
{
    int32_t index = 256 + (value >> 7);
    int32_t offset = value & 0x7f;
    int16_t slope = (int16_t)(lut[index + 1] - lut[index]);
    return (int16_t)(lut[index] + ((slope * offset + 64) >> 7));
}

tm_status_t tm_softmax_s16(const void *params, uint8_t *arena)
{
    const tm_softmax_s16_params_t *p = params;
    for (uint32_t r = 0; r < p->rows; r++) {
        const int16_t *x = (const int16_t *)(arena + p->in_offset) + r * p->depth;
        int16_t *out = (int16_t *)(arena + p->out_offset) + r * p->depth;
        int32_t max = INT16_MIN;
        for (uint32_t c = 0; c < p->depth; c++) {
            max = x[c] > max ? x[c] : max;
        }
        /* exp(x - max) in Q0.15, kept in the output, and their sum */
        int32_t sum = 0;
        for (uint32_t c = 0; c < p->depth; c++) {
            int32_t scaled = tm_requantize(x[c] - max, p->input_multiplier, p->input_shift);
            out[c] = lut_lookup(p->exp_lut, tm_clamp(scaled + 32767, INT16_MIN, INT16_MAX));
            sum += out[c];
        }
        /* sum = 2^k (1 + f): 1 / (1 + f) from the table, with f recentred to [-32768, 32767] */
        int headroom = __builtin_clz((uint32_t)sum);      /* sum >= exp(0) > 0 */
        int32_t shifted = (int32_t)((((int64_t)sum << (headroom - 1)) + (1 << 13)) >> 14);
        int32_t reciprocal = lut_lookup(p->one_over_one_plus_x_lut,
                                        tm_clamp(shifted - ((1 << 15) + (1 << 16)), INT16_MIN, INT16_MAX));
        int right_shift = 31 - headroom;
        int64_t round = (int64_t)1 << (right_shift - 1);
        for (uint32_t c = 0; c < p->depth; c++) {
            int32_t v = (int32_t)(((int64_t)out[c] * reciprocal + round) >> right_shift);
            out[c] = (int16_t)tm_clamp(v, 0, INT16_MAX);
        }
    }
    return TM_OK;
}
