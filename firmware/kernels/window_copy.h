#ifndef TM_WINDOW_COPY_H
#define TM_WINDOW_COPY_H
#include "tm_runtime.h"

/* A rectangle of rows copied between two arena tensors: patch-based inference (harness/plan/patch.py) cuts
 * a tile's input window out of a whole tensor, crops one tile from another, and pastes a tile's output into
 * the whole output. The planner works out every offset and stride; the kernel only moves bytes. */
typedef struct {
    uint32_t src_offset, dst_offset;   /* arena offsets of the rectangle's first byte */
    uint32_t src_stride, dst_stride;   /* bytes from one row to the next in each tensor */
    uint32_t rows, row_bytes;          /* the rectangle */
} tm_window_copy_params_t;

tm_status_t tm_window_copy(const void *params, uint8_t *arena);
#endif
