#ifndef TM_POOLING_H
#define TM_POOLING_H
#include "tm_runtime.h"

/* AVERAGE_POOL_2D / MAX_POOL_2D, int8 or int16 NHWC; input and output share one quantization. */
typedef struct {
    uint32_t in_offset;          /* arena offsets */
    uint32_t out_offset;
    uint16_t batches, in_h, in_w, channels, out_h, out_w;
    uint16_t filter_h, filter_w, stride_h, stride_w;
    uint16_t pad_h, pad_w;       /* padding before the first row / column */
    int16_t  act_min, act_max;   /* fused activation, in the output's integer domain */
} tm_pool_params_t;

tm_status_t tm_average_pool_2d_s8(const void *params, uint8_t *arena);
tm_status_t tm_max_pool_2d_s8(const void *params, uint8_t *arena);
tm_status_t tm_average_pool_2d_s16(const void *params, uint8_t *arena);
tm_status_t tm_max_pool_2d_s16(const void *params, uint8_t *arena);

/* AVERAGE_POOL_2D / MAX_POOL_2D, float32 NHWC. */
typedef struct {
    uint32_t in_offset;          /* arena offsets */
    uint32_t out_offset;
    uint16_t batches, in_h, in_w, channels, out_h, out_w;
    uint16_t filter_h, filter_w, stride_h, stride_w;
    uint16_t pad_h, pad_w;
    float    act_min, act_max;   /* fused activation */
} tm_pool_f32_params_t;

tm_status_t tm_average_pool_2d_f32(const void *params, uint8_t *arena);
tm_status_t tm_max_pool_2d_f32(const void *params, uint8_t *arena);

/* The window of output position `o` along one axis, clipped to [0, size): taps [*lo, *hi) of the filter;
 * returns the window's (unclipped) first input coordinate. */
static inline int32_t tm_pool_window(uint32_t o, uint16_t stride, uint16_t pad, uint16_t filter, uint16_t size,
                                     int32_t *lo, int32_t *hi)
{
    int32_t origin = (int32_t)o * stride - pad;
    *lo = origin < 0 ? -origin : 0;
    *hi = (int32_t)size - origin < (int32_t)filter ? (int32_t)size - origin : (int32_t)filter;
    return origin;
}
#endif
