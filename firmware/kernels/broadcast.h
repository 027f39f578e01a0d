/* The broadcast loop of the elementwise binary kernels (ADD, SUB, MUL, MAXIMUM, MINIMUM, PRELU; every
 * dtype), written once: the planner collapses the output to 6 dimensions (elementwise.h) and gives each
 * input its element stride along each, 0 where it is broadcast; the output is written in order. */
#ifndef TM_BROADCAST_H
#define TM_BROADCAST_H
#include "tm_runtime.h"

/* Defines the kernel `name`: params_t is its parameter struct (elementwise.h), elem_t the element type of
 * both inputs and the output, and op(p, x, y) the output element of one input pair. An input is read from
 * flash (in*_const) when the planner set one, else from the arena. */
#define TM_BINARY_KERNEL(name, params_t, elem_t, op)                                                      \
    tm_status_t name(const void *params, uint8_t *arena)                                                  \
    {                                                                                                     \
        const params_t *p = params;                                                                       \
        const elem_t *a = p->in1_const ? (const elem_t *)p->in1_const : (const elem_t *)(arena + p->in1_offset); \
        const elem_t *b = p->in2_const ? (const elem_t *)p->in2_const : (const elem_t *)(arena + p->in2_offset); \
        elem_t *out = (elem_t *)(arena + p->out_offset);                                                  \
        const uint32_t *n = p->dims, *sa = p->in1_stride, *sb = p->in2_stride;                           \
        for (uint32_t i0 = 0; i0 < n[0]; i0++)                                                            \
        for (uint32_t i1 = 0; i1 < n[1]; i1++)                                                            \
        for (uint32_t i2 = 0; i2 < n[2]; i2++)                                                            \
        for (uint32_t i3 = 0; i3 < n[3]; i3++)                                                            \
        for (uint32_t i4 = 0; i4 < n[4]; i4++) {                                                          \
            const elem_t *x = a + i0 * sa[0] + i1 * sa[1] + i2 * sa[2] + i3 * sa[3] + i4 * sa[4];         \
            const elem_t *y = b + i0 * sb[0] + i1 * sb[1] + i2 * sb[2] + i3 * sb[3] + i4 * sb[4];         \
            for (uint32_t i5 = 0; i5 < n[5]; i5++) {                                                      \
                *out++ = (elem_t)op(p, x[i5 * sa[5]], y[i5 * sb[5]]);                                     \
            }                                                                                             \
        }                                                                                                 \
        return TM_OK;                                                                                     \
    }
#endif
