#ifndef TM_REDUCE_MAX_H
#define TM_REDUCE_MAX_H
#include "tm_runtime.h"

/* REDUCE_MAX, int8 or float32 (the same bytes out as in: TFLM does not requantize). The planner splits
 * the input into up to 3 kept groups of dimensions (the output, in order) and up to 2 reduced groups,
 * each a (size, element stride) pair, as for MEAN; unused groups have size 1. */
typedef struct {
    uint32_t in_offset, out_offset;
    uint32_t outer_dims[3], outer_stride[3];
    uint32_t inner_dims[2], inner_stride[2];
} tm_reduce_max_params_t;

tm_status_t tm_reduce_max_s8(const void *params, uint8_t *arena);
tm_status_t tm_reduce_max_f32(const void *params, uint8_t *arena);
#endif
