/* PAD / PADV2, int8: the input copied unchanged into the middle of the output, the border filled with
 * one value (TFLM semantics). Rows along the innermost dimension are filled with memset/memcpy. */
#include <string.h>

#include "pad.h"

static int inside(uint32_t o, uint32_t before, uint32_t in_dim)
{
    return o >= before && o - before < in_dim;
}

tm_status_t tm_pad_s8(const void *params, uint8_t *arena)
{
    const tm_pad_params_t *p = params;
    const int8_t *in = (const int8_t *)(arena + p->in_offset);
    int8_t *out = (int8_t *)(arena + p->out_offset);
    const uint32_t *id = p->in_dims, *od = p->out_dims, *bf = p->before;
    const uint32_t row = od[4];
    const uint32_t after = od[4] - id[4] - bf[4];
    for (uint32_t o0 = 0; o0 < od[0]; o0++) {
        for (uint32_t o1 = 0; o1 < od[1]; o1++) {
            for (uint32_t o2 = 0; o2 < od[2]; o2++) {
                for (uint32_t o3 = 0; o3 < od[3]; o3++) {
                    if (!(inside(o0, bf[0], id[0]) && inside(o1, bf[1], id[1]) && inside(o2, bf[2], id[2]) &&
                          inside(o3, bf[3], id[3]))) {
                        memset(out, p->pad_value, row);
                        out += row;
                        continue;
                    }
                    size_t src = (((size_t)(o0 - bf[0]) * id[1] + (o1 - bf[1])) * id[2] + (o2 - bf[2])) * id[3] +
                                 (o3 - bf[3]);
                    memset(out, p->pad_value, bf[4]);
                    memcpy(out + bf[4], in + src * id[4], id[4]);
                    memset(out + bf[4] + id[4], p->pad_value, after);
                    out += row;
                }
            }
        }
    }
    return TM_OK;
}
