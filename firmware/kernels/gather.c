/* GATHER: rows of the input copied to the output in the positions' order (TFLM semantics: no
 * requantization; out-of-range positions fail). */
#include <string.h>

#include "gather.h"

tm_status_t tm_gather(const void *params, uint8_t *arena)
{
    const tm_gather_params_t *p = params;
    const uint8_t *in = p->in_const ? (const uint8_t *)p->in_const : arena + p->in_offset;
    const int32_t *pos = p->pos_const ? p->pos_const : (const int32_t *)(arena + p->pos_offset);
    uint8_t *out = arena + p->out_offset;
    const size_t slice = (size_t)p->axis_size * p->inner_bytes;      /* one (batch, outer) of the input */
    for (uint32_t b = 0; b < p->batches; b++) {
        const int32_t *bpos = pos + (size_t)b * p->coords;
        for (uint32_t o = 0; o < p->outer; o++) {
            const uint8_t *src = in + ((size_t)b * p->outer + o) * slice;
            for (uint32_t k = 0; k < p->coords; k++) {
                if (bpos[k] < 0 || (uint32_t)bpos[k] >= p->axis_size) {
                    return TM_ERR_PARAM;
                }
                memcpy(out, src + (size_t)bpos[k] * p->inner_bytes, p->inner_bytes);
                out += p->inner_bytes;
            }
        }
    }
    return TM_OK;
}
