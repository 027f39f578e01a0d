/* HARD_SWISH, int8 and float32: hard_swish(x) = x * relu6(x + 3) / 6, TFLM's reference semantics.
 *
 * int8 (TFLM's 16-bit fixed-point arithmetic, bit for bit): with v = x - zp_in and s_in, s_out the scales,
 * - hires = v * 2^7: the input on the scale s_in / 128, filling 16 bits (|v| <= 255);
 * - pre = hires times the Q15 output multiplier, rounded: hires * (s_in / 128) / s_out, still to be
 *   divided by 2^-out_exponent;
 * - relu = hires rescaled so that the real value 3 is 2^15: hires * (s_in / 128) / (3 / 2^15), i.e. x / 3
 *   in Q15, saturated to [-1, 1). The relu multiplier m * 2^e is applied as a saturating left shift by
 *   e - 1, the Q15 multiply, and a last saturating shift by 1 (a value the first shift saturates is still
 *   >= 2^14 after the multiply, so the last shift saturates it again: the early saturation never shows,
 *   and the multiply sees as many of the input's bits as fit), or for e < 0 the multiply and a rounding
 *   right shift by -e;
 * - (relu + 2^15) / 2 maps [-1, 1) to [0, 1): relu6(x + 3) / 6 in Q15;
 * - their product, truncated (not rounded), divided by 2^-out_exponent with rounding, plus zp_out, clamped
 *   to int8.
 * TFLM computes in int16_t, we in int32_t: the same values, as none leaves the int16 range unsaturated:
 * |hires| <= 32640, so |pre| <= 32639, the product of pre and relu in [0, 1) is smaller still, and adding
 * a zero point in [-128, 127] stays within [-32768, 32767]. */
#include "activation.h"
#include "quant_int16.h"
#include "tm_quant.h"

tm_status_t tm_hard_swish_s8(const void *params, uint8_t *arena)
{
    const tm_hard_swish_params_t *p = params;
    const int8_t *in = (const int8_t *)(arena + p->in_offset);
    int8_t *out = (int8_t *)(arena + p->out_offset);
    const int e = p->relu_exponent;
    for (uint32_t i = 0; i < p->count; i++) {
        int32_t hires = ((int32_t)in[i] - p->in_zero_point) * 128;
        int32_t pre = tm_rounding_doubling_high_mul16(hires, p->out_multiplier);
        int32_t relu = hires;
        if (e > 0) {
            relu = tm_sat_shift_left16(relu, e - 1);
        }
        relu = tm_rounding_doubling_high_mul16(relu, p->relu_multiplier);
        if (e > 0) {
            relu = tm_sat_shift_left16(relu, 1);
        } else if (e < 0) {
            relu = tm_rounding_divide_by_pot(relu, -e);
        }
        relu = (relu + (1 << 15)) >> 1;
        int32_t y = tm_rounding_divide_by_pot(tm_doubling_high_mul16(relu, pre), -p->out_exponent);
        out[i] = (int8_t)tm_clamp(y + p->out_zero_point, INT8_MIN, INT8_MAX);
    }
    return TM_OK;
}

tm_status_t tm_hard_swish_f32(const void *params, uint8_t *arena)
{
    const tm_hard_swish_f32_params_t *p = params;
    const float *in = (const float *)(arena + p->in_offset);
    float *out = (float *)(arena + p->out_offset);
    for (uint32_t i = 0; i < p->count; i++) {
        /* TFLM's order: the clamp as max then min (a NaN sum becomes 0), the product, then / 6 */
        float x = in[i];
        float t = x + 3.0f;
        t = 0.0f < t ? t : 0.0f;
        t = t < 6.0f ? t : 6.0f;
        out[i] = x * t / 6.0f;
    }
    return TM_OK;
}
