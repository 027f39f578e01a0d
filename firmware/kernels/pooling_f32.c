/* AVERAGE_POOL_2D and MAX_POOL_2D, float32 NHWC: the reference kernels (TFLM semantics and operation
 * order). The window is clipped to the image; padded taps are skipped and not counted. Average: the taps
 * summed row by row from 0.0f, divided by their count; max: from -FLT_MAX, keeping the first of equal
 * values (std::max). Both then clamped to the fused activation's range. */
#include <float.h>

#include "float_ops.h"
#include "pooling.h"

tm_status_t tm_average_pool_2d_f32(const void *params, uint8_t *arena)
{
    const tm_pool_f32_params_t *p = params;
    const float *in = (const float *)(arena + p->in_offset);
    float *out = (float *)(arena + p->out_offset);
    const uint32_t c_n = p->channels;
    for (uint32_t b = 0; b < p->batches; b++) {
        const float *image = in + (size_t)b * p->in_h * p->in_w * c_n;
        for (uint32_t oy = 0; oy < p->out_h; oy++) {
            int32_t y0, y1;
            int32_t iy = tm_pool_window(oy, p->stride_h, p->pad_h, p->filter_h, p->in_h, &y0, &y1);
            for (uint32_t ox = 0; ox < p->out_w; ox++) {
                int32_t x0, x1;
                int32_t ix = tm_pool_window(ox, p->stride_w, p->pad_w, p->filter_w, p->in_w, &x0, &x1);
                if (y1 <= y0 || x1 <= x0) {
                    return TM_ERR_PARAM;     /* an empty window (impossible with SAME or VALID padding) */
                }
                const float count = (float)((y1 - y0) * (x1 - x0));
                for (uint32_t c = 0; c < c_n; c++) {
                    float total = 0.0f;
                    for (int32_t fy = y0; fy < y1; fy++) {
                        const float *px = image + ((size_t)(iy + fy) * p->in_w + (size_t)(ix + x0)) * c_n + c;
                        for (int32_t fx = x0; fx < x1; fx++, px += c_n) {
                            total += *px;
                        }
                    }
                    *out++ = tm_clampf(total / count, p->act_min, p->act_max);
                }
            }
        }
    }
    return TM_OK;
}

tm_status_t tm_max_pool_2d_f32(const void *params, uint8_t *arena)
{
    const tm_pool_f32_params_t *p = params;
    const float *in = (const float *)(arena + p->in_offset);
    float *out = (float *)(arena + p->out_offset);
    const uint32_t c_n = p->channels;
    for (uint32_t b = 0; b < p->batches; b++) {
        const float *image = in + (size_t)b * p->in_h * p->in_w * c_n;
        for (uint32_t oy = 0; oy < p->out_h; oy++) {
            int32_t y0, y1;
            int32_t iy = tm_pool_window(oy, p->stride_h, p->pad_h, p->filter_h, p->in_h, &y0, &y1);
            for (uint32_t ox = 0; ox < p->out_w; ox++) {
                int32_t x0, x1;
                int32_t ix = tm_pool_window(ox, p->stride_w, p->pad_w, p->filter_w, p->in_w, &x0, &x1);
                for (uint32_t c = 0; c < c_n; c++) {
                    float m = -FLT_MAX;
                    for (int32_t fy = y0; fy < y1; fy++) {
                        const float *px = image + ((size_t)(iy + fy) * p->in_w + (size_t)(ix + x0)) * c_n + c;
                        for (int32_t fx = x0; fx < x1; fx++, px += c_n) {
                            m = m < *px ? *px : m;
                        }
                    }
                    *out++ = tm_clampf(m, p->act_min, p->act_max);
                }
            }
        }
    }
    return TM_OK;
}
