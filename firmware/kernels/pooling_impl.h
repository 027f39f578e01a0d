/* AVERAGE_POOL_2D's and MAX_POOL_2D's loop shape, written once for both ops and every dtype: a template,
 * not a header of declarations. pooling_s8.c, pooling_s16.c and pooling_f32.c each include it once, after
 * giving the dtype's parts:
 *   POOL_SUFFIX   the dtype's name suffix: the kernels are tm_average_pool_2d_<suffix> and
 *                 tm_max_pool_2d_<suffix> (pooling.h)
 *   pool_params_t its parameter struct, pool_x_t the element, pool_acc_t the sum and the running max
 *                 (typedefs)
 *   POOL_LOWEST              the running max's start: the element type's lowest value
 *   pool_average(acc, count) a window's average from its sum and tap count (TFLM's rounding)
 *   pool_clamp(p, v)         the output element: v clamped to the fused activation's range
 * Order (TFLM's reference kernels): batches, output rows, output columns, channels; for each output, the
 * window's taps inside the image row by row (the float average's rounding depends on it). Padded taps
 * are skipped and not counted. */

/* Both ops' loops; `max` is a constant at each call, so each kernel is compiled without the other's code. */
static inline __attribute__((always_inline)) tm_status_t pool(const pool_params_t *p, uint8_t *arena, int max)
{
    const pool_x_t *in = (const pool_x_t *)(arena + p->in_offset);
    pool_x_t *out = (pool_x_t *)(arena + p->out_offset);
    const uint32_t c_n = p->channels;
    for (uint32_t b = 0; b < p->batches; b++) {
        const pool_x_t *image = in + (size_t)b * p->in_h * p->in_w * c_n;
        for (uint32_t oy = 0; oy < p->out_h; oy++) {
            int32_t y0, y1;
            int32_t iy = tm_pool_window(oy, p->stride_h, p->pad_h, p->filter_h, p->in_h, &y0, &y1);
            for (uint32_t ox = 0; ox < p->out_w; ox++) {
                int32_t x0, x1;
                int32_t ix = tm_pool_window(ox, p->stride_w, p->pad_w, p->filter_w, p->in_w, &x0, &x1);
                if (!max && (y1 <= y0 || x1 <= x0)) {
                    return TM_ERR_PARAM;     /* an empty window: TFLM's average fails the same way */
                }
                const pool_acc_t count = (pool_acc_t)((y1 - y0) * (x1 - x0));
                for (uint32_t c = 0; c < c_n; c++) {
                    pool_acc_t acc = max ? POOL_LOWEST : 0;
                    for (int32_t fy = y0; fy < y1; fy++) {
                        const pool_x_t *px = image + ((size_t)(iy + fy) * p->in_w + (size_t)(ix + x0)) * c_n + c;
                        for (int32_t fx = x0; fx < x1; fx++, px += c_n) {
                            /* max keeps the first of equal values (std::max) */
                            acc = max ? (*px > acc ? *px : acc) : acc + *px;
                        }
                    }
                    if (!max) {
                        acc = pool_average(acc, count);
                    }
                    *out++ = pool_clamp(p, acc);
                }
            }
        }
    }
    return TM_OK;
}

#define POOL_PASTE_(a, b) a##b
#define POOL_PASTE(a, b) POOL_PASTE_(a, b)      /* expands POOL_SUFFIX first */

tm_status_t POOL_PASTE(tm_average_pool_2d_, POOL_SUFFIX)(const void *params, uint8_t *arena)
{
    return pool(params, arena, 0);
}

tm_status_t POOL_PASTE(tm_max_pool_2d_, POOL_SUFFIX)(const void *params, uint8_t *arena)
{
    return pool(params, arena, 1);
}
