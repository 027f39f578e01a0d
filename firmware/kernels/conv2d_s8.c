/* CONV_2D, int8 activations and weights, int32 bias: the reference kernel (TFLM semantics).
 * acc = sum over the taps inside the image of (x + in_offset) * w, + bias; then requantized per output
 * channel, + out zero point, clamped to the fused activation's range. */
#include "conv2d.h"
#include "tm_quant.h"
#include "window.h"

tm_status_t tm_conv2d_s8(const void *params, uint8_t *arena)
{
    const tm_conv2d_params_t *p = params;
    const int in_w = p->in_w, in_c = p->in_c, filter_c = p->filter_c, out_c = p->out_c;
    const int kernel_w = p->kernel_w, dil_w = p->dilation_w, dil_h = p->dilation_h;
    const int per_group = out_c / p->groups;
    const int filter_size = p->kernel_h * kernel_w * filter_c;
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
                int group_c = 0, group_end = per_group;   /* first input channel, end output channel */
                for (int oc = 0; oc < out_c; oc++) {
                    const int8_t *w_oc = p->weights + oc * filter_size;
                    if (oc == group_end) {          /* the next group: its own slice of input channels */
                        group_c += filter_c;
                        group_end += per_group;
                    }
                    int32_t acc = 0;
                    for (int ky = ky_lo; ky < ky_hi; ky++) {
                        const int8_t *in_row = in + (iy0 + dil_h * ky) * in_w * in_c + group_c;
                        const int8_t *w_row = w_oc + ky * kernel_w * filter_c;
                        for (int kx = kx_lo; kx < kx_hi; kx++) {
                            const int8_t *x = in_row + (ix0 + dil_w * kx) * in_c;
                            const int8_t *w = w_row + kx * filter_c;
                            for (int c = 0; c < filter_c; c++) {
                                acc += ((int32_t)x[c] + in_zp) * (int32_t)w[c];
                            }
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
    return TM_OK;
}
