#ifndef TM_POOLING_H
#define TM_POOLING_H
#include "tm_runtime.h"

/* AVERAGE_POOL_2D / MAX_POOL_2D, int8 NHWC; input and output share one quantization. */
typedef struct {
    uint32_t in_offset;          /* arena offsets */
    uint32_t out_offset;
    uint16_t batches, in_h, in_w, channels, out_h, out_w;
    uint16_t filter_h, filter_w, stride_h, stride_w;
    uint16_t pad_h, pad_w;       /* padding before the first row / column */
    int8_t   act_min, act_max;   /* fused activation, in the output's integer domain */
} tm_pool_params_t;

tm_status_t tm_average_pool_2d_s8(const void *params, uint8_t *arena);
tm_status_t tm_max_pool_2d_s8(const void *params, uint8_t *arena);
#endif
