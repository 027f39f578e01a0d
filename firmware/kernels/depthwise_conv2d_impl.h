/* DEPTHWISE_CONV_2D's loop shape, written once for every dtype: a template, not a header of declarations.
 * depthwise_conv2d_s8.c, _s16.c and _f32.c each include it once, after giving the dtype's parts:
 *   DEPTHWISE_CONV2D_FN   the kernel's public name (depthwise_conv2d.h)
 *   dw_params_t its parameter struct, dw_x_t the input and output element, dw_w_t the weight element,
 *   dw_acc_t the sum (typedefs)
 *   DW_IN_OFFSET(p)          the offset added to each input element (-zero point; 0 where none)
 *   dw_product(x, w, off)    one tap's product, the input offset `off` applied to x
 *   dw_finish(p, acc, oc)    output channel oc's element from its sum: bias, requantization, clamp
 * Order (TFLM's reference kernels): batches, output rows, output columns, input channels ic, then the
 * depth multiplier's m (output channel oc = ic * depth_multiplier + m); for each output, the taps inside
 * the image row by row, then column by column (the float kernel's rounding depends on it). */
#include "window.h"

tm_status_t DEPTHWISE_CONV2D_FN(const void *params, uint8_t *arena)
{
    const dw_params_t *p = params;
    const int in_w = p->in_w, in_c = p->in_c, out_c = p->out_c, mult = p->depth_multiplier;
    const int kernel_w = p->kernel_w, dil_w = p->dilation_w, dil_h = p->dilation_h;
    const int32_t in_offset = DW_IN_OFFSET(p);
    for (int b = 0; b < p->batches; b++) {
        const dw_x_t *in = (const dw_x_t *)(arena + p->in_offset) + b * p->in_h * in_w * in_c;
        dw_x_t *out = (dw_x_t *)(arena + p->out_offset) + b * p->out_h * p->out_w * out_c;
        for (int oy = 0; oy < p->out_h; oy++) {
            const int iy0 = oy * p->stride_h - p->pad_h;
            int ky_lo, ky_hi;
            tm_tap_range(iy0, dil_h, p->in_h, p->kernel_h, &ky_lo, &ky_hi);
            for (int ox = 0; ox < p->out_w; ox++) {
                const int ix0 = ox * p->stride_w - p->pad_w;
                int kx_lo, kx_hi;
                tm_tap_range(ix0, dil_w, in_w, kernel_w, &kx_lo, &kx_hi);
                dw_x_t *y = out + (oy * p->out_w + ox) * out_c;
                for (int ic = 0; ic < in_c; ic++) {
                    for (int m = 0; m < mult; m++) {
                        const int oc = ic * mult + m;
                        dw_acc_t acc = 0;
                        for (int ky = ky_lo; ky < ky_hi; ky++) {
                            /* index arithmetic in int: ix0 may be negative, the taps used are not */
                            const int row = ((iy0 + dil_h * ky) * in_w + ix0) * in_c + ic;
                            const dw_w_t *w = p->weights + ky * kernel_w * out_c + oc;
                            for (int kx = kx_lo; kx < kx_hi; kx++) {
                                acc += dw_product(in[row + dil_w * kx * in_c], w[kx * out_c], in_offset);
                            }
                        }
                        y[oc] = dw_finish(p, acc, oc);
                    }
                }
            }
        }
    }
    return TM_OK;
}
