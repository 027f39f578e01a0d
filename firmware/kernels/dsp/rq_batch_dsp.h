/* The per-channel record requantization (tm_quant.h: tm_requantize_rq) of a batch of output channels of
 * two pixels, shared by the conv/FC and depthwise DSP kernels. The kernels keep their sums in different
 * layouts, so a batch is described by where channel c's sums are: pixel 0 at a[c * STEP], pixel 1
 * PIX1 words after it (conv: interleaved, STEP 2 and PIX1 1; depthwise: per pixel, STEP 1). Outputs go
 * to y0[c] and y1[c]; a channel's two outputs share its record. */
#ifndef TM_RQ_BATCH_DSP_H
#define TM_RQ_BATCH_DSP_H
#include "tm_quant.h"

/* v clamped to [-128, 127]: one SSAT on the DSP targets (GCC does not find it in the compares). */
static inline int32_t tm_sat8(int32_t v)
{
#if defined(__ARM_FEATURE_SAT) && __ARM_FEATURE_SAT
    return __ssat(v, 8);
#else
    return tm_clamp(v, -128, 127);
#endif
}

/* The batch in C (the host, the M7, and any clamp short of the int8 range); `full`: the clamp is the
 * whole int8 range (one SSAT), a constant at each call site. */
static inline __attribute__((always_inline)) void tm_rq_batch(const int32_t *a, int step, int pix1, const int32_t *rq,
                                                              int8_t *y0, int8_t *y1, int n, int32_t lo,
                                                              int32_t hi, int full)
{
    for (const int32_t *const stop = a + step * n; a != stop; a += step, rq += TM_RQ_WORDS) {
        const int32_t r0 = tm_requantize_rq(a[0], rq), r1 = tm_requantize_rq(a[pix1], rq);
        *y0++ = (int8_t)(full ? tm_sat8(r0) : tm_clamp(r0, lo, hi));
        *y1++ = (int8_t)(full ? tm_sat8(r1) : tm_clamp(r1, lo, hi));
    }
}

/* TM_RQ_BATCH_FULL(name, STEP_BYTES, PIX1_BYTES) defines, on the M4, `void name(const int32_t *a, const
 * int32_t *rq, int8_t *y0, int8_t *y1, uint32_t n)` for n >= 1 channels with the full int8 clamp (every
 * conv, FC and depthwise op of the zoo): written out because GCC's schedule of the C loop breaks the loads
 * into short runs (an LDRD and a run of four, 8 cycles) and pays the loop's compare and branch per
 * channel. Here one run of six loads (the two sums, the four record words: 7 cycles, TRM 3.3.2), 2 ADD +
 * 2 ADD ASR #31 + 2 SMMLAR + 2 ASR + 2 SSAT + 2 STRB = 19 cycles per channel (two outputs), two channels
 * per pass under one compare-and-branch. Registers: r4/r5 the sums then the results, r6-r9 the record,
 * r10 the first pixel's x'. Elsewhere TM_RQ_BATCH_FULL_ASM is not defined and the kernels use
 * tm_rq_batch. */
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP && defined(__thumb2__) && !defined(BOARD_CORE_M7)
_Static_assert(TM_RQ_WORDS == 4 && TM_RQ_BIAS2 == 0 && TM_RQ_MULT == 1 && TM_RQ_ADDEND == 2 && TM_RQ_RIGHT == 3,
               "the assembly reads the record words in tm_quant.h's order");
#define TM_RQ_STR_(x) #x
#define TM_RQ_STR(x) TM_RQ_STR_(x)
#define TM_RQ_CHANNEL_ASM(STEP_BYTES, PIX1_BYTES)          \
    "ldr r5, [r0, #" TM_RQ_STR(PIX1_BYTES) "]\n\t"          \
    "ldr r4, [r0], #" TM_RQ_STR(STEP_BYTES) "\n\t"          \
    "ldr r7, [r1, #4]\n\t"                                  \
    "ldr r8, [r1, #8]\n\t"                                  \
    "ldr r9, [r1, #12]\n\t"                                 \
    "ldr r6, [r1], #16\n\t"                                 \
    "add.w r10, r6, r4, lsl #1\n\t"                         \
    "add.w r6, r6, r5, lsl #1\n\t"                          \
    "add.w r4, r8, r10, asr #31\n\t"                        \
    "add.w r5, r8, r6, asr #31\n\t"                         \
    "smmlar r4, r10, r7, r4\n\t"                            \
    "smmlar r5, r6, r7, r5\n\t"                             \
    "asr.w r4, r4, r9\n\t"                                  \
    "asr.w r5, r5, r9\n\t"                                  \
    "ssat r4, #8, r4\n\t"                                   \
    "ssat r5, #8, r5\n\t"                                   \
    "strb r4, [r2], #1\n\t"                                 \
    "strb r5, [r3], #1\n\t"
#define TM_RQ_BATCH_FULL(name, STEP_BYTES, PIX1_BYTES)                                                     \
    static void __attribute__((naked, noinline)) name(const int32_t *a, const int32_t *rq, int8_t *y0,      \
                                                      int8_t *y1, uint32_t n)                              \
    {                                                                                                      \
        (void)a; (void)rq; (void)y0; (void)y1; (void)n;                                                    \
        __asm__ volatile(                                                                                  \
            "push {r4-r10, lr}\n\t"          /* n at [sp, #32] */                                          \
            "ldr lr, [sp, #32]\n\t"                                                                        \
            "mov.w r12, #" TM_RQ_STR(STEP_BYTES) "\n\t"                                                    \
            "mla r12, lr, r12, r0\n\t"       /* end of the sums */                                         \
            "lsls lr, lr, #31\n\t"           /* n odd: one channel on its own */                           \
            "beq 2f\n\t"                                                                                   \
            TM_RQ_CHANNEL_ASM(STEP_BYTES, PIX1_BYTES)                                                      \
            "cmp r0, r12\n\t"                                                                              \
            "beq 3f\n"                                                                                     \
            ".p2align 2\n"                                                                                 \
            "2:\n\t"                                                                                       \
            TM_RQ_CHANNEL_ASM(STEP_BYTES, PIX1_BYTES)                                                      \
            TM_RQ_CHANNEL_ASM(STEP_BYTES, PIX1_BYTES)                                                      \
            "cmp r0, r12\n\t"                                                                              \
            "bne 2b\n"                                                                                     \
            "3:\n\t"                                                                                       \
            "pop {r4-r10, pc}\n\t");                                                                       \
    }
#define TM_RQ_BATCH_FULL_ASM 1
#endif
#endif
