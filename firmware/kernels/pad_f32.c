/* PAD / PADV2, float32: the input copied unchanged into the middle of the output, the border filled with
 * one value (TFLM semantics). */
#include <string.h>

#include "pad.h"

static int inside(uint32_t o, uint32_t before, uint32_t in_dim)
{
    return o >= before && o - before < in_dim;
}

static float *fill(float *out, float value, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        out[i] = value;
    }
    return out + n;
}

tm_status_t tm_pad_f32(const void *params, uint8_t *arena)
{
    const tm_pad_f32_params_t *p = params;
    const float *in = (const float *)(arena + p->in_offset);
    float *out = (float *)(arena + p->out_offset);
    const uint32_t *id = p->in_dims, *od = p->out_dims, *bf = p->before;
    const uint32_t after = od[4] - id[4] - bf[4];
    for (uint32_t o0 = 0; o0 < od[0]; o0++) {
        for (uint32_t o1 = 0; o1 < od[1]; o1++) {
            for (uint32_t o2 = 0; o2 < od[2]; o2++) {
                for (uint32_t o3 = 0; o3 < od[3]; o3++) {
                    if (!(inside(o0, bf[0], id[0]) && inside(o1, bf[1], id[1]) && inside(o2, bf[2], id[2]) &&
                          inside(o3, bf[3], id[3]))) {
                        out = fill(out, p->pad_value, od[4]);
                        continue;
                    }
                    size_t src = (((size_t)(o0 - bf[0]) * id[1] + (o1 - bf[1])) * id[2] + (o2 - bf[2])) * id[3] +
                                 (o3 - bf[3]);
                    out = fill(out, p->pad_value, bf[4]);
                    memcpy(out, in + src * id[4], id[4] * sizeof(float));
                    out = fill(out + id[4], p->pad_value, after);
                }
            }
        }
    }
    return TM_OK;
}
