/* DEPTHWISE_CONV_2D, int8 activations and weights, int32 bias: the reference kernel (TFLM semantics).
 * Output channel oc = ic * depth_multiplier + m: acc = sum over the taps inside the image of
 * (x[ic] + in_offset) * w[oc], + bias[oc]; requantized per output channel, + out zero point, clamped. */
#include "depthwise_conv2d.h"
#include "tm_quant.h"
#include "window.h"

tm_status_t tm_depthwise_conv2d_s8(const void *params, uint8_t *arena)
{
    const tm_depthwise_conv2d_params_t *p = params;
    const int in_w = p->in_w, in_c = p->in_c, out_c = p->out_c, mult = p->depth_multiplier;
    const int kernel_w = p->kernel_w, dil_w = p->dilation_w, dil_h = p->dilation_h;
    const int32_t in_zp = p->in_zero_point;
    for (int b = 0; b < p->batches; b++) {
        const int8_t *in = (const int8_t *)(arena + p->in_offset) + b * p->in_h * in_w * in_c;
        int8_t *out = (int8_t *)(arena + p->out_offset) + b * p->out_h * p->out_w * out_c;
        for (int oy = 0; oy < p->out_h; oy++) {
            const int iy0 = oy * p->stride_h - p->pad_h;
            int ky_lo, ky_hi;
            tm_tap_range(iy0, dil_h, p->in_h, p->kernel_h, &ky_lo, &ky_hi);
            for (int ox = 0; ox < p->out_w; ox++) {
                const int ix0 = ox * p->stride_w - p->pad_w;
                int kx_lo, kx_hi;
                tm_tap_range(ix0, dil_w, in_w, kernel_w, &kx_lo, &kx_hi);
                int8_t *y = out + (oy * p->out_w + ox) * out_c;
                for (int ic = 0; ic < in_c; ic++) {
                    for (int m = 0; m < mult; m++) {
                        const int oc = ic * mult + m;
                        int32_t acc = 0;
                        for (int ky = ky_lo; ky < ky_hi; ky++) {
                            /* index arithmetic in int: ix0 may be negative, the taps used are not */
                            const int row = ((iy0 + dil_h * ky) * in_w + ix0) * in_c + ic;
                            const int8_t *w = p->weights + ky * kernel_w * out_c + oc;
                            for (int kx = kx_lo; kx < kx_hi; kx++) {
                                acc += ((int32_t)in[row + dil_w * kx * in_c] + in_zp) * (int32_t)w[kx * out_c];
                            }
                        }
                        if (p->bias) {
                            acc += p->bias[oc];
                        }
                        acc = tm_requantize(acc, p->multiplier[oc], p->shift[oc]) + p->out_zero_point;
                        y[oc] = (int8_t)tm_clamp(acc, p->act_min, p->act_max);
                    }
                }
            }
        }
    }
    return TM_OK;
}
