/* CONCATENATION, int8: the inputs' bytes copied unchanged, interleaved along the axis (TFLM semantics:
 * no requantization). */
#include <string.h>

#include "concatenation.h"

tm_status_t tm_concatenation_s8(const void *params, uint8_t *arena)
{
    const tm_concat_params_t *p = params;
    int8_t *out = (int8_t *)(arena + p->out_offset);
    if (p->n_inputs > TM_CONCAT_MAX_INPUTS) {
        return TM_ERR_PARAM;
    }
    for (uint32_t o = 0; o < p->outer; o++) {
        for (uint32_t i = 0; i < p->n_inputs; i++) {
            const int8_t *src = p->in_const[i] ? p->in_const[i] : (const int8_t *)(arena + p->in_offset[i]);
            memcpy(out, src + (size_t)o * p->in_bytes[i], p->in_bytes[i]);
            out += p->in_bytes[i];
        }
    }
    return TM_OK;
}
