#ifndef TM_GATHER_H
#define TM_GATHER_H
#include "tm_runtime.h"

/* GATHER of any element type (rows of inner_bytes copied unchanged): for each batch, outer index and
 * coordinate k, the input row [batch, outer, positions[batch * coords + k]]. The input and the positions
 * are read from flash through in_const / pos_const when set (constants), else from the arena. A position
 * outside [0, axis_size) ends the inference with TM_ERR_PARAM, as TFLM's gather fails. */
typedef struct {
    uint32_t in_offset;
    const int8_t *in_const;
    uint32_t pos_offset;
    const int32_t *pos_const;
    uint32_t out_offset;
    uint32_t batches, outer, axis_size, coords;
    uint32_t inner_bytes;
} tm_gather_params_t;

tm_status_t tm_gather(const void *params, uint8_t *arena);
#endif
