/* DEPTHWISE_CONV_2D int16x8: int16 activations (zero points 0), int8 weights, int64 bias: the reference
 * kernel (TFLM semantics). Output channel oc = ic * depth_multiplier + m: acc (64 bits) = sum over the
 * taps inside the image of x[ic] * w[oc], + bias[oc]; TFLM's 64-bit requantization, clamped. */
#include "depthwise_conv2d.h"
#include "tm_quant.h"
#include "window.h"

tm_status_t tm_depthwise_conv2d_s16(const void *params, uint8_t *arena)
{
    const tm_depthwise_conv2d_s16_params_t *p = params;
    const int in_w = p->in_w, in_c = p->in_c, out_c = p->out_c, mult = p->depth_multiplier;
    const int kernel_w = p->kernel_w, dil_w = p->dilation_w, dil_h = p->dilation_h;
    for (int b = 0; b < p->batches; b++) {
        const int16_t *in = (const int16_t *)(arena + p->in_offset) + b * p->in_h * in_w * in_c;
        int16_t *out = (int16_t *)(arena + p->out_offset) + b * p->out_h * p->out_w * out_c;
        for (int oy = 0; oy < p->out_h; oy++) {
            const int iy0 = oy * p->stride_h - p->pad_h;
            int ky_lo, ky_hi;
            tm_tap_range(iy0, dil_h, p->in_h, p->kernel_h, &ky_lo, &ky_hi);
            for (int ox = 0; ox < p->out_w; ox++) {
                const int ix0 = ox * p->stride_w - p->pad_w;
                int kx_lo, kx_hi;
                tm_tap_range(ix0, dil_w, in_w, kernel_w, &kx_lo, &kx_hi);
                int16_t *y = out + (oy * p->out_w + ox) * out_c;
                for (int ic = 0; ic < in_c; ic++) {
                    for (int m = 0; m < mult; m++) {
                        const int oc = ic * mult + m;
                        int64_t acc = 0;
                        for (int ky = ky_lo; ky < ky_hi; ky++) {
                            const int row = ((iy0 + dil_h * ky) * in_w + ix0) * in_c + ic;
                            const int8_t *w = p->weights + ky * kernel_w * out_c + oc;
                            for (int kx = kx_lo; kx < kx_hi; kx++) {
                                acc += (int32_t)in[row + dil_w * kx * in_c] * (int32_t)w[kx * out_c];
                            }
                        }
                        if (p->bias) {
                            acc += p->bias[oc];
                        }
                        int32_t r = tm_requantize64(acc, p->multiplier[oc], p->shift[oc]);
                        y[oc] = (int16_t)tm_clamp(r, p->act_min, p->act_max);
                    }
                }
            }
        }
    }
    return TM_OK;
}
