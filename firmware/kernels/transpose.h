#ifndef TM_TRANSPOSE_H
#define TM_TRANSPOSE_H
#include "tm_runtime.h"

/* TRANSPOSE of elements of 1 or 4 bytes (int8, float32: moved unchanged, no requantization). The
 * planner gives the output's dimensions, outermost first, each with the input element stride that one
 * step along it takes (dimensions merged where they stay adjacent, unused leading ones of size 1). */
typedef struct {
    uint32_t in_offset, out_offset;
    uint32_t elem_bytes;
    uint32_t dims[5];
    uint32_t in_stride[5];
} tm_transpose_params_t;

tm_status_t tm_transpose(const void *params, uint8_t *arena);
#endif
