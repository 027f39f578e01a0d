/* CONV_2D float32: the reference kernel (TFLM semantics and operation order). For each output:
 * total = 0, then + x * w over the taps inside the image (rows, then columns, then input channels),
 * then total + bias, clamped to the fused activation's range. */
#include "conv2d.h"
#include "float_ops.h"
#include "window.h"

tm_status_t tm_conv2d_f32(const void *params, uint8_t *arena)
{
    const tm_conv2d_f32_params_t *p = params;
    const int in_w = p->in_w, in_c = p->in_c, filter_c = p->filter_c, out_c = p->out_c;
    const int kernel_w = p->kernel_w, dil_w = p->dilation_w, dil_h = p->dilation_h;
    const int per_group = out_c / p->groups;
    const int filter_size = p->kernel_h * kernel_w * filter_c;
    for (int b = 0; b < p->batches; b++) {
        const float *in = (const float *)(arena + p->in_offset) + b * p->in_h * in_w * in_c;
        float *out = (float *)(arena + p->out_offset) + b * p->out_h * p->out_w * out_c;
        for (int oy = 0; oy < p->out_h; oy++) {
            const int iy0 = oy * p->stride_h - p->pad_h;
            int ky_lo, ky_hi;
            tm_tap_range(iy0, dil_h, p->in_h, p->kernel_h, &ky_lo, &ky_hi);
            for (int ox = 0; ox < p->out_w; ox++) {
                const int ix0 = ox * p->stride_w - p->pad_w;
                int kx_lo, kx_hi;
                tm_tap_range(ix0, dil_w, in_w, kernel_w, &kx_lo, &kx_hi);
                float *y = out + (oy * p->out_w + ox) * out_c;
                int group_c = 0, group_end = per_group;   /* first input channel, end output channel */
                for (int oc = 0; oc < out_c; oc++) {
                    const float *w_oc = p->weights + oc * filter_size;
                    if (oc == group_end) {
                        group_c += filter_c;
                        group_end += per_group;
                    }
                    float total = 0.0f;
                    for (int ky = ky_lo; ky < ky_hi; ky++) {
                        const float *in_row = in + (iy0 + dil_h * ky) * in_w * in_c + group_c;
                        const float *w_row = w_oc + ky * kernel_w * filter_c;
                        for (int kx = kx_lo; kx < kx_hi; kx++) {
                            const float *x = in_row + (ix0 + dil_w * kx) * in_c;
                            const float *w = w_row + kx * filter_c;
                            for (int c = 0; c < filter_c; c++) {
                                total += x[c] * w[c];
                            }
                        }
                    }
                    y[oc] = tm_clampf(total + (p->bias ? p->bias[oc] : 0.0f), p->act_min, p->act_max);
                }
            }
        }
    }
    return TM_OK;
}
