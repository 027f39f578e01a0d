#ifndef TM_CONCATENATION_H
#define TM_CONCATENATION_H
#include "tm_runtime.h"

#define TM_CONCAT_MAX_INPUTS 10

/* CONCATENATION of any element type (the kernel copies bytes; its name keeps the int8 suffix): for each
 * of `outer` slices, each input's in_bytes[i] bytes in turn (the product of its size along the axis, of
 * the dimensions after it and of the element size). An input is read from the arena at
 * in_offset[i], or from flash through in_const[i] when that is set (a constant). */
typedef struct {
    uint32_t out_offset;
    uint32_t n_inputs;
    uint32_t outer;
    uint32_t in_bytes[TM_CONCAT_MAX_INPUTS];
    uint32_t in_offset[TM_CONCAT_MAX_INPUTS];
    const int8_t *in_const[TM_CONCAT_MAX_INPUTS];
} tm_concat_params_t;

tm_status_t tm_concatenation_s8(const void *params, uint8_t *arena);
#endif
