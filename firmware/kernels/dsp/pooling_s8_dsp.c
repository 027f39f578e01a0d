/* AVERAGE_POOL_2D int8 for the DSP extension: see pooling_dsp.h. Bit-exact with tm_average_pool_2d_s8:
 * the same integer sums (no int16 half can overflow for a window of <= 256 taps, which the planner
 * guarantees), then the same rounding division and clamp. */
#include "pooling_dsp.h"
#include "tm_acle.h"
#include "tm_quant.h"

static inline int8_t avg_out(int32_t acc, int32_t count, int32_t lo, int32_t hi)
{
    /* Round half away from zero; C division truncates toward zero (as the reference kernel). */
    acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
    return (int8_t)tm_clamp(acc, lo, hi);
}

tm_status_t tm_average_pool_2d_s8_dsp(const void *params, uint8_t *arena)
{
    const tm_pool_params_t *p = params;
    const int8_t *in = (const int8_t *)(arena + p->in_offset);
    int8_t *out = (int8_t *)(arena + p->out_offset);
    const int c_n = p->channels, in_w = p->in_w;
    const int32_t lo = p->act_min, hi = p->act_max;
    for (int b = 0; b < p->batches; b++) {
        const int8_t *image = in + b * p->in_h * in_w * c_n;
        for (int oy = 0; oy < p->out_h; oy++) {
            int32_t y0, y1;
            const int32_t iy = tm_pool_window(oy, p->stride_h, p->pad_h, p->filter_h, p->in_h, &y0, &y1);
            for (int ox = 0; ox < p->out_w; ox++) {
                int32_t x0, x1;
                const int32_t ix = tm_pool_window(ox, p->stride_w, p->pad_w, p->filter_w, in_w, &x0, &x1);
                if (y1 <= y0 || x1 <= x0) {
                    return TM_ERR_PARAM;     /* an empty window: TFLM fails the same way */
                }
                const int32_t count = (y1 - y0) * (x1 - x0);
                const int8_t *first = image + ((iy + y0) * in_w + ix + x0) * c_n;
                const int row_step = in_w * c_n, cols = x1 - x0, rows = y1 - y0;
                int c = 0;
                for (; c + 4 <= c_n; c += 4) {
                    uint32_t s02 = 0, s13 = 0;              /* channel sums c, c+2 and c+1, c+3 in int16 halves */
                    const int8_t *row = first + c;
                    for (int fy = 0; fy < rows; fy++, row += row_step) {
                        const int8_t *px = row;
                        for (int fx = 0; fx < cols; fx++, px += c_n) {
                            const uint32_t v = tm_ld32(px);
                            s02 = tm_sadd16(s02, tm_sxtb16(v));
                            s13 = tm_sadd16(s13, tm_sxtb16_ror8(v));
                        }
                    }
                    out[0] = avg_out((int16_t)(s02 & 0xFFFFu), count, lo, hi);
                    out[1] = avg_out((int16_t)(s13 & 0xFFFFu), count, lo, hi);
                    out[2] = avg_out((int16_t)(s02 >> 16), count, lo, hi);
                    out[3] = avg_out((int16_t)(s13 >> 16), count, lo, hi);
                    out += 4;
                }
                for (; c < c_n; c++) {                  /* the last channels % 4, one at a time */
                    int32_t acc = 0;
                    const int8_t *row = first + c;
                    for (int fy = 0; fy < rows; fy++, row += row_step) {
                        for (int fx = 0; fx < cols; fx++) {
                            acc += row[fx * c_n];
                        }
                    }
                    *out++ = avg_out(acc, count, lo, hi);
                }
            }
        }
    }
    return TM_OK;
}
