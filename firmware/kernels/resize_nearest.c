/* RESIZE_NEAREST_NEIGHBOR: each output pixel a copy of the input pixel the planner's tables name (TFLM
 * semantics: the values are not requantized). */
#include <string.h>

#include "resize.h"

tm_status_t tm_resize_nearest(const void *params, uint8_t *arena)
{
    const tm_resize_nearest_params_t *p = params;
    const uint8_t *in = arena + p->in_offset;
    uint8_t *out = arena + p->out_offset;
    for (uint32_t b = 0; b < p->batches; b++, in += p->in_batch_bytes) {
        for (uint32_t y = 0; y < p->out_h; y++) {
            const uint8_t *row = in + p->row_offset[y];
            for (uint32_t x = 0; x < p->out_w; x++) {
                memcpy(out, row + p->col_offset[x], p->pixel_bytes);
                out += p->pixel_bytes;
            }
        }
    }
    return TM_OK;
}
