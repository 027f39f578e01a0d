#ifndef TM_MEAN_H
#define TM_MEAN_H
#include "tm_runtime.h"

/* MEAN, int8. The planner splits the input into up to 3 kept groups of dimensions (the output, in order)
 * and up to 2 reduced groups, each a (size, element stride) pair; unused groups have size 1. */
typedef struct {
    uint32_t in_offset, out_offset;
    uint32_t outer_dims[3], outer_stride[3];
    uint32_t inner_dims[2], inner_stride[2];
    int32_t  sum_offset;         /* -input_zero_point * N */
    int32_t  out_zero_point;
    int32_t  multiplier;         /* input_scale / output_scale / N, TFLM's folding */
    int8_t   shift;
} tm_mean_params_t;

tm_status_t tm_mean_s8(const void *params, uint8_t *arena);

/* MEAN float32 (TFLM's reference order): each output's reduced elements summed from 0.0f in input order,
 * then divided by their count (as a float). Groups as above. */
typedef struct {
    uint32_t in_offset, out_offset;
    uint32_t outer_dims[3], outer_stride[3];
    uint32_t inner_dims[2], inner_stride[2];
    float    count;
} tm_mean_f32_params_t;

tm_status_t tm_mean_f32(const void *params, uint8_t *arena);
#endif
