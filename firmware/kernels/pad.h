#ifndef TM_PAD_H
#define TM_PAD_H
#include "tm_runtime.h"

/* PAD / PADV2, int8: every shape is given as 5-D (leading dimensions of 1 without padding). */
typedef struct {
    uint32_t in_offset, out_offset;
    uint32_t in_dims[5];
    uint32_t out_dims[5];
    uint32_t before[5];          /* padding before each dimension; after = out - in - before */
    int8_t   pad_value;          /* the output's zero point, or PADV2's constant */
} tm_pad_params_t;

tm_status_t tm_pad_s8(const void *params, uint8_t *arena);

/* PAD / PADV2, float32: the same layout; the border is 0.0f (PAD) or PADV2's constant. */
typedef struct {
    uint32_t in_offset, out_offset;
    uint32_t in_dims[5];
    uint32_t out_dims[5];
    uint32_t before[5];
    float    pad_value;
} tm_pad_f32_params_t;

tm_status_t tm_pad_f32(const void *params, uint8_t *arena);
#endif
