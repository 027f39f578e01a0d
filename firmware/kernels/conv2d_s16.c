/* CONV_2D int16x8: int16 activations (zero points 0), int8 weights: the reference kernel (TFLM semantics).
 * acc = sum over the taps inside the image of x * w, + bias; requantized per output channel and clamped.
 * TFLM's accumulator and requantization depend on the bias type (conv2d.h): 64-bit with an int64 bias,
 * else 32-bit. The sum is formed in 64 bits either way; the 32-bit case keeps its low 32 bits, which is
 * the wrapped int32 sum. */
#include "conv2d.h"
#include "tm_quant.h"
#include "window.h"

tm_status_t tm_conv2d_s16(const void *params, uint8_t *arena)
{
    const tm_conv2d_s16_params_t *p = params;
    const int in_w = p->in_w, in_c = p->in_c, filter_c = p->filter_c, out_c = p->out_c;
    const int kernel_w = p->kernel_w, dil_w = p->dilation_w, dil_h = p->dilation_h;
    const int per_group = out_c / p->groups;
    const int filter_size = p->kernel_h * kernel_w * filter_c;
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
                int group_c = 0, group_end = per_group;   /* first input channel, end output channel */
                for (int oc = 0; oc < out_c; oc++) {
                    const int8_t *w_oc = p->weights + oc * filter_size;
                    if (oc == group_end) {
                        group_c += filter_c;
                        group_end += per_group;
                    }
                    int64_t acc = 0;
                    for (int ky = ky_lo; ky < ky_hi; ky++) {
                        const int16_t *in_row = in + (iy0 + dil_h * ky) * in_w * in_c + group_c;
                        const int8_t *w_row = w_oc + ky * kernel_w * filter_c;
                        for (int kx = kx_lo; kx < kx_hi; kx++) {
                            const int16_t *x = in_row + (ix0 + dil_w * kx) * in_c;
                            const int8_t *w = w_row + kx * filter_c;
                            for (int c = 0; c < filter_c; c++) {
                                acc += (int32_t)x[c] * (int32_t)w[c];
                            }
                        }
                    }
                    int32_t r;
                    if (p->wide_acc) {
                        if (p->bias) {
                            acc += p->bias[oc];
                        }
                        r = tm_requantize64(acc, p->multiplier[oc], p->shift[oc]);
                    } else {
                        uint32_t acc32 = (uint32_t)acc + (p->bias32 ? (uint32_t)p->bias32[oc] : 0u);
                        r = tm_requantize((int32_t)acc32, p->multiplier[oc], p->shift[oc]);
                    }
                    y[oc] = (int16_t)tm_clamp(r, p->act_min, p->act_max);
                }
            }
        }
    }
    return TM_OK;
}
