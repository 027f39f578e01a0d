#ifndef TM_SPLIT_H
#define TM_SPLIT_H
#include "tm_runtime.h"

#define TM_SPLIT_MAX_OUTPUTS 16

/* SPLIT / SPLIT_V of any element type (bytes copied unchanged): for each of `outer` slices of the input,
 * out_bytes[i] bytes in turn to each output i (its size along the axis times the dimensions after it
 * times the element size) -- CONCATENATION in reverse. */
typedef struct {
    uint32_t in_offset;
    uint32_t n_outputs;
    uint32_t outer;
    uint32_t out_bytes[TM_SPLIT_MAX_OUTPUTS];
    uint32_t out_offset[TM_SPLIT_MAX_OUTPUTS];
} tm_split_params_t;

tm_status_t tm_split(const void *params, uint8_t *arena);
#endif
