/* SPLIT / SPLIT_V: the input's bytes dealt out to the outputs along the axis (TFLM semantics: no
 * requantization). */
#include <string.h>

#include "split.h"

tm_status_t tm_split(const void *params, uint8_t *arena)
{
    const tm_split_params_t *p = params;
    const uint8_t *in = arena + p->in_offset;
    if (p->n_outputs > TM_SPLIT_MAX_OUTPUTS) {
        return TM_ERR_PARAM;
    }
    for (uint32_t o = 0; o < p->outer; o++) {
        for (uint32_t i = 0; i < p->n_outputs; i++) {
            memcpy(arena + p->out_offset[i] + (size_t)o * p->out_bytes[i], in, p->out_bytes[i]);
            in += p->out_bytes[i];
        }
    }
    return TM_OK;
}
