/* CONV_2D's loop shape, written once for every dtype: a template, not a header of declarations.
 * conv2d_s8.c, conv2d_s16.c and conv2d_f32.c each include it once, after giving the dtype's parts:
 *   CONV2D_FN       the kernel's public name (conv2d.h)
 *   conv2d_params_t its parameter struct, conv2d_x_t the input and output element, conv2d_w_t the weight
 *                   element, conv2d_acc_t the sum (typedefs)
 *   CONV2D_IN_OFFSET(p)          the offset added to each input element (-zero point; 0 where none)
 *   conv2d_product(x, w, off)    one tap's product, the input offset `off` applied to x
 *   conv2d_finish(p, acc, oc)    output channel oc's element from its sum: bias, requantization, clamp
 * Order (TFLM's reference kernels): batches, output rows, output columns, output channels; for each
 * output, the taps inside the image row by row, column by column, input channels innermost (the float
 * kernel's rounding depends on it). Taps outside the image are skipped. Groups: output channel oc reads
 * input channels [g * filter_c, (g + 1) * filter_c) of its group g = oc / (out_c / groups). */
#include "window.h"

tm_status_t CONV2D_FN(const void *params, uint8_t *arena)
{
    const conv2d_params_t *p = params;
    const int in_w = p->in_w, in_c = p->in_c, filter_c = p->filter_c, out_c = p->out_c;
    const int kernel_w = p->kernel_w, dil_w = p->dilation_w, dil_h = p->dilation_h;
    const int per_group = out_c / p->groups;
    const int filter_size = p->kernel_h * kernel_w * filter_c;
    const int32_t in_offset = CONV2D_IN_OFFSET(p);
    for (int b = 0; b < p->batches; b++) {
        const conv2d_x_t *in = (const conv2d_x_t *)(arena + p->in_offset) + b * p->in_h * in_w * in_c;
        conv2d_x_t *out = (conv2d_x_t *)(arena + p->out_offset) + b * p->out_h * p->out_w * out_c;
        for (int oy = 0; oy < p->out_h; oy++) {
            const int iy0 = oy * p->stride_h - p->pad_h;
            int ky_lo, ky_hi;
            tm_tap_range(iy0, dil_h, p->in_h, p->kernel_h, &ky_lo, &ky_hi);
            for (int ox = 0; ox < p->out_w; ox++) {
                const int ix0 = ox * p->stride_w - p->pad_w;
                int kx_lo, kx_hi;
                tm_tap_range(ix0, dil_w, in_w, kernel_w, &kx_lo, &kx_hi);
                conv2d_x_t *y = out + (oy * p->out_w + ox) * out_c;
                int group_c = 0, group_end = per_group;   /* first input channel, end output channel */
                for (int oc = 0; oc < out_c; oc++) {
                    const conv2d_w_t *w_oc = p->weights + oc * filter_size;
                    if (oc == group_end) {          /* the next group: its own slice of input channels */
                        group_c += filter_c;
                        group_end += per_group;
                    }
#ifdef CONV2D_BLOCK4
                    /* Four output channels of one group at once: each input element is loaded once for
                     * four products (1.25 loads per product instead of 2). Each sum still adds its own
                     * taps in the order above, so the float rounding is unchanged. */
                    if (oc + 4 <= group_end) {
                        conv2d_acc_t acc0 = 0, acc1 = 0, acc2 = 0, acc3 = 0;
                        for (int ky = ky_lo; ky < ky_hi; ky++) {
                            const conv2d_x_t *in_row = in + (iy0 + dil_h * ky) * in_w * in_c + group_c;
                            const conv2d_w_t *w_row = w_oc + ky * kernel_w * filter_c;
                            for (int kx = kx_lo; kx < kx_hi; kx++) {
                                const conv2d_x_t *x = in_row + (ix0 + dil_w * kx) * in_c;
                                const conv2d_w_t *w = w_row + kx * filter_c;
                                for (int c = 0; c < filter_c; c++) {
                                    const conv2d_x_t xc = x[c];
                                    acc0 += conv2d_product(xc, w[c], in_offset);
                                    acc1 += conv2d_product(xc, w[c + filter_size], in_offset);
                                    acc2 += conv2d_product(xc, w[c + 2 * filter_size], in_offset);
                                    acc3 += conv2d_product(xc, w[c + 3 * filter_size], in_offset);
                                }
                            }
                        }
                        y[oc] = conv2d_finish(p, acc0, oc);
                        y[oc + 1] = conv2d_finish(p, acc1, oc + 1);
                        y[oc + 2] = conv2d_finish(p, acc2, oc + 2);
                        y[oc + 3] = conv2d_finish(p, acc3, oc + 3);
                        oc += 3;
                        continue;
                    }
#endif
                    conv2d_acc_t acc = 0;
                    for (int ky = ky_lo; ky < ky_hi; ky++) {
                        const conv2d_x_t *in_row = in + (iy0 + dil_h * ky) * in_w * in_c + group_c;
                        const conv2d_w_t *w_row = w_oc + ky * kernel_w * filter_c;
                        for (int kx = kx_lo; kx < kx_hi; kx++) {
                            const conv2d_x_t *x = in_row + (ix0 + dil_w * kx) * in_c;
                            const conv2d_w_t *w = w_row + kx * filter_c;
                            for (int c = 0; c < filter_c; c++) {
                                acc += conv2d_product(x[c], w[c], in_offset);
                            }
                        }
                    }
                    y[oc] = conv2d_finish(p, acc, oc);
                }
            }
        }
    }
    return TM_OK;
}
