/* AVERAGE_POOL_2D and MAX_POOL_2D, int8 NHWC: the reference kernels (TFLM semantics). The window is
 * clipped to the image; padded taps are skipped and not counted. */
#include "pooling.h"
#include "tm_quant.h"

tm_status_t tm_average_pool_2d_s8(const void *params, uint8_t *arena)
{
    const tm_pool_params_t *p = params;
    const int8_t *in = (const int8_t *)(arena + p->in_offset);
    int8_t *out = (int8_t *)(arena + p->out_offset);
    const uint32_t c_n = p->channels;
    for (uint32_t b = 0; b < p->batches; b++) {
        const int8_t *image = in + (size_t)b * p->in_h * p->in_w * c_n;
        for (uint32_t oy = 0; oy < p->out_h; oy++) {
            int32_t y0, y1;
            int32_t iy = tm_pool_window(oy, p->stride_h, p->pad_h, p->filter_h, p->in_h, &y0, &y1);
            for (uint32_t ox = 0; ox < p->out_w; ox++) {
                int32_t x0, x1;
                int32_t ix = tm_pool_window(ox, p->stride_w, p->pad_w, p->filter_w, p->in_w, &x0, &x1);
                if (y1 <= y0 || x1 <= x0) {
                    return TM_ERR_PARAM;     /* an empty window: TFLM fails the same way */
                }
                int32_t count = (y1 - y0) * (x1 - x0);
                for (uint32_t c = 0; c < c_n; c++) {
                    int32_t acc = 0;
                    for (int32_t fy = y0; fy < y1; fy++) {
                        const int8_t *px = image + ((size_t)(iy + fy) * p->in_w + (size_t)(ix + x0)) * c_n + c;
                        for (int32_t fx = x0; fx < x1; fx++, px += c_n) {
                            acc += *px;
                        }
                    }
                    /* Round half away from zero; C division truncates toward zero. */
                    acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
                    *out++ = (int8_t)tm_clamp(acc, p->act_min, p->act_max);
                }
            }
        }
    }
    return TM_OK;
}

tm_status_t tm_max_pool_2d_s8(const void *params, uint8_t *arena)
{
    const tm_pool_params_t *p = params;
    const int8_t *in = (const int8_t *)(arena + p->in_offset);
    int8_t *out = (int8_t *)(arena + p->out_offset);
    const uint32_t c_n = p->channels;
    for (uint32_t b = 0; b < p->batches; b++) {
        const int8_t *image = in + (size_t)b * p->in_h * p->in_w * c_n;
        for (uint32_t oy = 0; oy < p->out_h; oy++) {
            int32_t y0, y1;
            int32_t iy = tm_pool_window(oy, p->stride_h, p->pad_h, p->filter_h, p->in_h, &y0, &y1);
            for (uint32_t ox = 0; ox < p->out_w; ox++) {
                int32_t x0, x1;
                int32_t ix = tm_pool_window(ox, p->stride_w, p->pad_w, p->filter_w, p->in_w, &x0, &x1);
                for (uint32_t c = 0; c < c_n; c++) {
                    int32_t m = -128;
                    for (int32_t fy = y0; fy < y1; fy++) {
                        const int8_t *px = image + ((size_t)(iy + fy) * p->in_w + (size_t)(ix + x0)) * c_n + c;
                        for (int32_t fx = x0; fx < x1; fx++, px += c_n) {
                            m = *px > m ? *px : m;
                        }
                    }
                    *out++ = (int8_t)tm_clamp(m, p->act_min, p->act_max);
                }
            }
        }
    }
    return TM_OK;
}
