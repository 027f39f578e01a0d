/* TRANSPOSE: the output written in order, each element read from the input at the sum of its index times
 * the planner's strides. One loop nest per element size, so the innermost loop is a plain typed copy. */
#include "transpose.h"

#define TRANSPOSE_LOOPS(T)                                                                                  \
    do {                                                                                                    \
        const T *in = (const T *)(arena + p->in_offset);                                                    \
        T *out = (T *)(arena + p->out_offset);                                                              \
        const uint32_t *d = p->dims, *s = p->in_stride;                                                     \
        for (uint32_t i0 = 0; i0 < d[0]; i0++)                                                              \
            for (uint32_t i1 = 0; i1 < d[1]; i1++)                                                          \
                for (uint32_t i2 = 0; i2 < d[2]; i2++)                                                      \
                    for (uint32_t i3 = 0; i3 < d[3]; i3++) {                                                \
                        const T *src = in + i0 * s[0] + i1 * s[1] + i2 * s[2] + i3 * s[3];                  \
                        for (uint32_t i4 = 0; i4 < d[4]; i4++) {                                            \
                            *out++ = src[i4 * s[4]];                                                        \
                        }                                                                                   \
                    }                                                                                       \
    } while (0)

tm_status_t tm_transpose(const void *params, uint8_t *arena)
{
    const tm_transpose_params_t *p = params;
    switch (p->elem_bytes) {
    case 1:
        TRANSPOSE_LOOPS(uint8_t);
        return TM_OK;
    case 4:
        TRANSPOSE_LOOPS(uint32_t);     /* float32 as its bits: a copy, never an arithmetic on the value */
        return TM_OK;
    default:
        return TM_ERR_PARAM;
    }
}
