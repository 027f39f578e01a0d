/* Window copy for patch-based inference: one memcpy per row (see window_copy.h). */
#include <string.h>

#include "window_copy.h"

tm_status_t tm_window_copy(const void *params, uint8_t *arena)
{
    const tm_window_copy_params_t *p = params;
    const uint8_t *src = arena + p->src_offset;
    uint8_t *dst = arena + p->dst_offset;
    for (uint32_t r = 0; r < p->rows; r++) {
        memcpy(dst, src, p->row_bytes);
        src += p->src_stride;
        dst += p->dst_stride;
    }
    return TM_OK;
}
