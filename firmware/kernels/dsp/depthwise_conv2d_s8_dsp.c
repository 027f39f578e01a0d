/* DEPTHWISE_CONV_2D int8, depth multiplier 1, for the DSP extension: see depthwise_conv2d_dsp.h.
 * Bit-exact with tm_depthwise_conv2d_s8: per channel the same products (x + offset) * w over the taps
 * inside the image, summed in int32 starting from the bias (sums wrap modulo 2^32 either way), then the
 * one shared requantization (tm_quant.h). x + offset lies in [-255, 255], so it fits the int16 halves. */
#include "depthwise_conv2d_dsp.h"
#include "tm_acle.h"
#include "tm_quant.h"
#include "window.h"

/* The requantization constants in locals: the output stores are int8_t, which may alias anything, so
 * fields read through `p` would be read again after every store. */
typedef struct {
    const int32_t *mult;
    const int8_t *shift;
    int32_t zp, lo, hi;
} dw_requant_t;

static inline int8_t dw_out(const dw_requant_t *q, int32_t acc, int c)
{
    acc = tm_requantize(acc, q->mult[c], q->shift[c]) + q->zp;
    return (int8_t)tm_clamp(acc, q->lo, q->hi);
}

tm_status_t tm_depthwise_conv2d_s8_dsp(const void *params, uint8_t *arena)
{
    const tm_depthwise_conv2d_params_t *p = params;
    const int in_w = p->in_w, ch = p->in_c, kernel_w = p->kernel_w;
    const int dil_w = p->dilation_w, dil_h = p->dilation_h;
    const int32_t zp = p->in_zero_point;
    const uint32_t zp2 = ((uint32_t)zp & 0xFFFFu) | ((uint32_t)zp << 16);    /* the offset in both halves */
    const int row_step = dil_h * in_w * ch, tap_step = dil_w * ch;
    const int w_row = kernel_w * ch;
    const dw_requant_t rq = {p->multiplier, p->shift, p->out_zero_point, p->act_min, p->act_max};
    const int32_t *const bias = p->bias;
    const int8_t *const weights = p->weights;
    const int in_h = p->in_h, out_h = p->out_h, out_w = p->out_w, kernel_h = p->kernel_h;
    const int stride_h = p->stride_h, stride_w = p->stride_w, pad_h = p->pad_h, pad_w = p->pad_w;
    for (int b = 0; b < p->batches; b++) {
        const int8_t *in = (const int8_t *)(arena + p->in_offset) + b * in_h * in_w * ch;
        int8_t *out = (int8_t *)(arena + p->out_offset) + b * out_h * out_w * ch;
        for (int oy = 0; oy < out_h; oy++) {
            const int iy0 = oy * stride_h - pad_h;
            int ky_lo, ky_hi;
            tm_tap_range(iy0, dil_h, in_h, kernel_h, &ky_lo, &ky_hi);
            for (int ox = 0; ox < out_w; ox++) {
                const int ix0 = ox * stride_w - pad_w;
                int kx_lo, kx_hi;
                tm_tap_range(ix0, dil_w, in_w, kernel_w, &kx_lo, &kx_hi);
                int8_t *y = out + (oy * out_w + ox) * ch;
                /* the first tap inside the image, for channel 0; index arithmetic in int (ix0 may be < 0) */
                const int8_t *x0 = in + ((iy0 + dil_h * ky_lo) * in_w + ix0 + dil_w * kx_lo) * ch;
                const int8_t *w0 = weights + ky_lo * w_row + kx_lo * ch;
                const int rows = ky_hi - ky_lo, cols = kx_hi - kx_lo;
                int c = 0;
                for (; c + 4 <= ch; c += 4) {
                    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
                    if (bias) {
                        a0 = bias[c];
                        a1 = bias[c + 1];
                        a2 = bias[c + 2];
                        a3 = bias[c + 3];
                    }
                    const int8_t *xr = x0 + c, *wr = w0 + c;
#define TM_DW_TAP(x, w)                                                                             \
    do {                                                                                            \
        const uint32_t xv = tm_ld32(x), wv = tm_ld32(w);                                            \
        const uint32_t x02 = tm_sadd16(tm_sxtb16(xv), zp2), x13 = tm_sadd16(tm_sxtb16_ror8(xv), zp2); \
        const uint32_t w02 = tm_sxtb16(wv), w13 = tm_sxtb16_ror8(wv);                               \
        a0 = tm_smlabb(x02, w02, a0);                                                               \
        a2 = tm_smlatt(x02, w02, a2);                                                               \
        a1 = tm_smlabb(x13, w13, a1);                                                               \
        a3 = tm_smlatt(x13, w13, a3);                                                               \
    } while (0)
                    if (rows == 3 && cols == 3) {
                        /* a 3x3 window wholly inside the image (the zoo's depthwise layers, away from
                         * the border): the nine taps unrolled, no loop overhead */
                        for (int ky = 0; ky < 3; ky++, xr += row_step, wr += w_row) {
                            TM_DW_TAP(xr, wr);
                            TM_DW_TAP(xr + tap_step, wr + ch);
                            TM_DW_TAP(xr + 2 * tap_step, wr + 2 * ch);
                        }
                    } else {
                        for (int ky = 0; ky < rows; ky++, xr += row_step, wr += w_row) {
                            const int8_t *x = xr, *w = wr;
                            for (int kx = 0; kx < cols; kx++, x += tap_step, w += ch) {
                                TM_DW_TAP(x, w);
                            }
                        }
                    }
#undef TM_DW_TAP
                    y[c] = dw_out(&rq, a0, c);
                    y[c + 1] = dw_out(&rq, a1, c + 1);
                    y[c + 2] = dw_out(&rq, a2, c + 2);
                    y[c + 3] = dw_out(&rq, a3, c + 3);
                }
                for (; c < ch; c++) {           /* the last in_c % 4 channels, one at a time */
                    int32_t acc = bias ? bias[c] : 0;
                    const int8_t *xr = x0 + c, *wr = w0 + c;
                    for (int ky = 0; ky < rows; ky++, xr += row_step, wr += w_row) {
                        for (int kx = 0; kx < cols; kx++) {
                            acc += ((int32_t)xr[kx * tap_step] + zp) * (int32_t)wr[kx * ch];
                        }
                    }
                    y[c] = dw_out(&rq, acc, c);
                }
            }
        }
    }
    return TM_OK;
}
