/* CONV_2D int8 for the DSP extension: see conv2d_dsp.h. Bit-exact with tm_conv2d_s8: the same products
 * summed in int32 (sums wrap modulo 2^32 either way, so the order does not matter), the bias added, then
 * the one shared requantization (tm_quant.h). */
#include "conv2d_dsp.h"
#include "tm_acle.h"
#include "tm_quant.h"
/* The firmware build's board header (generated from the board's .repl) names the core: the M7 dual-issues
 * loads with MACs, so the M4's grouped-load schedule below is for the M4 only. */
#if defined(__has_include)
#if __has_include("board.h")
#include "board.h"
#endif
#endif
#include "rq_batch_dsp.h"     /* after board.h: it names the core */

/* One output pixel's taps as int16 (x + input offset; 0 outside the image), written into slot `slot` of
 * the pair buffer: per group of 4 taps k..k+3, 4 values of pixel 0 then 4 of pixel 1, each in the order
 * k, k+2, k+1, k+3 -- the order SXTB16 and SXTB16 ROR 8 unpack a word of 4 int8 weights in. */
static void im2col(const tm_conv2d_dsp_params_t *p, const int8_t *in, int oy, int ox, int16_t *buf, int slot)
{
    static const uint8_t pos[4] = {0, 2, 1, 3};
    const int in_c = p->in_c, zp = p->in_zero_point;
    int16_t *d = buf + 4 * slot;
    const int iy0 = oy * p->stride_h - p->pad_h, ix0 = ox * p->stride_w - p->pad_w;
    if (p->kernel_h == 1 && p->kernel_w == 1 && (in_c & 3) == 0 && iy0 >= 0 && ix0 >= 0) {
        /* one tap inside the image (1x1, no padding: pointwise): whole words, SXTB16 + SADD16 */
        const uint32_t zp2 = ((uint32_t)zp & 0xFFFFu) | ((uint32_t)zp << 16);
        const int8_t *x = in + (iy0 * p->in_w + ix0) * in_c;
        for (int c = 0; c < in_c; c += 4, d += 8) {
            const uint32_t v = tm_ld32(x + c);
            const uint32_t even = tm_sadd16(tm_sxtb16(v), zp2), odd = tm_sadd16(tm_sxtb16_ror8(v), zp2);
            __builtin_memcpy(d, &even, 4);
            __builtin_memcpy(d + 2, &odd, 4);
        }
        return;
    }
    int j = 0;
    for (int ky = 0; ky < p->kernel_h; ky++) {
        const int iy = iy0 + ky * p->dilation_h;
        for (int kx = 0; kx < p->kernel_w; kx++) {
            const int ix = ix0 + kx * p->dilation_w;
            const int inside = iy >= 0 && iy < p->in_h && ix >= 0 && ix < p->in_w;
            const int8_t *x = in + (iy * p->in_w + ix) * in_c;
            for (int c = 0; c < in_c; c++) {
                d[pos[j]] = (int16_t)(inside ? x[c] + zp : 0);
                if (++j == 4) {
                    j = 0;
                    d += 8;
                }
            }
        }
    }
    for (; j != 0 && j < 4; j++) {
        d[pos[j]] = 0;
    }
}

/* The pixel's taps with nothing to compute (a missing second pixel): zeros. */
static void zero_slot(int16_t *buf, int slot, uint32_t groups)
{
    for (uint32_t g = 0; g < groups; g++) {
        uint32_t *d = (uint32_t *)(buf + 8 * g + 4 * slot);
        d[0] = 0;
        d[1] = 0;
    }
}

/* The inner kernel: for `pairs` consecutive output channel pairs (their weights contiguous, 8 * groups
 * bytes each), 2 pixels x 2 channels over `groups` groups of 4 taps, 8 SMLADs per group; the raw sums go
 * to acc[4 * pair + 0..3] (channel 2j pixel 0, pixel 1; channel 2j+1 pixel 0, pixel 1), so acc[2c + p]
 * is channel c's pixel p; the bias is added by the caller.
 *
 * On the DSP targets it is hand-scheduled assembly, because the Cortex-M4 pipelines a load only right
 * after another load (TRM 3.3.2: a run of N LDRs costs N + 1, a load after anything else 2): each group's
 * six loads (four im2col words, two weight words) are issued as one run and the pointers advance by the
 * post-indexed forms inside that run, so a group is 7 cycles of loads + 4 SXTB16 + 8 SMLAD = 19 cycles for
 * 16 MACs, and the loop's compare-and-branch (3) is paid once per four groups. GCC's schedule of the same
 * C interleaved loads with the MACs and spilled a register (~1.58 cycles/MAC against this loop's 1.23).
 * Doing a whole batch of channel pairs per call keeps the call, register save and restore out of the
 * per-pair cost (~40 cycles per 4 outputs when it was called per pair). All 14 allocatable registers are
 * used: r4-r7 the sums (in acc's order), r8-r11 the im2col words, r12/lr the weight words, r3 the
 * unpacked low halves; col, weight bytes per pair, acc and the pair count live in the frame. The portable C below is the host
 * build's and the Cortex-M7's, with the same results: the M7 issues a load together with a MAC or SXTB16,
 * so GCC's interleaved schedule of that C suits it better than the M4's runs of loads. */
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP && defined(__thumb2__) && !defined(BOARD_CORE_M7)
/* One group: im2col words at COL1..COL3 and LAST_COL, weights at W1 and LAST_W; the last load of each
 * is post-indexed where its pointer advances. */
#define TM_MM_GROUP_ASM(COL1, COL2, COL3, LAST_COL, W1, LAST_W) \
    "ldr r9, " COL1 "\n\t"                                      \
    "ldr r10, " COL2 "\n\t"                                     \
    "ldr r11, " COL3 "\n\t"                                     \
    "ldr r8, " LAST_COL "\n\t"                                  \
    "ldr lr, " W1 "\n\t"                                        \
    "ldr r12, " LAST_W "\n\t"                                   \
    "sxtb16 r3, r12\n\t"                                        \
    "sxtb16 r12, r12, ror #8\n\t"                               \
    "smlad r4, r8, r3, r4\n\t"                                  \
    "smlad r4, r9, r12, r4\n\t"                                 \
    "smlad r5, r10, r3, r5\n\t"                                 \
    "smlad r5, r11, r12, r5\n\t"                                \
    "sxtb16 r3, lr\n\t"                                         \
    "sxtb16 lr, lr, ror #8\n\t"                                 \
    "smlad r6, r8, r3, r6\n\t"                                  \
    "smlad r6, r9, lr, r6\n\t"                                  \
    "smlad r7, r10, r3, r7\n\t"                                 \
    "smlad r7, r11, lr, r7\n\t"
static void __attribute__((naked, noinline)) tm_mm_2x2(const int16_t *col, const int8_t *w, uint32_t groups,
                                                       int32_t *acc, uint32_t pairs)
{
    (void)col; (void)w; (void)groups; (void)acc; (void)pairs;
    __asm__ volatile(
        "lsls r2, r2, #3\n\t"                        /* weight bytes per channel pair */
        "push {r0, r2-r11, lr}\n\t"                  /* [sp] col, [sp+4] bytes, [sp+8] acc, [sp+48] pairs */
        "4:\n\t"
        "ldr r0, [sp]\n\t"
        "ldr r2, [sp, #4]\n\t"
        "movs r4, #0\n\t"
        "movs r5, #0\n\t"
        "movs r6, #0\n\t"
        "movs r7, #0\n\t"
        "tst r2, #8\n\t"                             /* groups % 2: one group on its own */
        "add.w r2, r1, r2\n\t"                       /* this pair's end of weights; flags kept */
        "beq 1f\n\t"
        TM_MM_GROUP_ASM("[r0, #4]", "[r0, #8]", "[r0, #12]", "[r0], #16", "[r1, #4]", "[r1], #8")
        "1:\n\t"
        "ldr r3, [sp, #4]\n\t"
        "tst r3, #16\n\t"                            /* groups % 4 >= 2: two groups */
        "beq 5f\n\t"
        TM_MM_GROUP_ASM("[r0, #4]", "[r0, #8]", "[r0, #12]", "[r0], #32", "[r1, #4]", "[r1], #16")
        TM_MM_GROUP_ASM("[r0, #-12]", "[r0, #-8]", "[r0, #-4]", "[r0, #-16]", "[r1, #-4]", "[r1, #-8]")
        "5:\n\t"
        "cmp r1, r2\n\t"
        "beq 3f\n\t"
        ".p2align 2\n"
        "2:\n\t"                                      /* four groups per pass */
        TM_MM_GROUP_ASM("[r0, #4]", "[r0, #8]", "[r0, #12]", "[r0], #64", "[r1, #4]", "[r1], #32")
        TM_MM_GROUP_ASM("[r0, #-44]", "[r0, #-40]", "[r0, #-36]", "[r0, #-48]", "[r1, #-20]", "[r1, #-24]")
        TM_MM_GROUP_ASM("[r0, #-28]", "[r0, #-24]", "[r0, #-20]", "[r0, #-32]", "[r1, #-12]", "[r1, #-16]")
        TM_MM_GROUP_ASM("[r0, #-12]", "[r0, #-8]", "[r0, #-4]", "[r0, #-16]", "[r1, #-4]", "[r1, #-8]")
        "cmp r1, r2\n\t"
        "bne 2b\n"
        "3:\n\t"
        "ldr r3, [sp, #8]\n\t"
        "stm r3!, {r4-r7}\n\t"
        "str r3, [sp, #8]\n\t"
        "ldr r3, [sp, #48]\n\t"
        "subs r3, r3, #1\n\t"
        "str r3, [sp, #48]\n\t"                      /* the callee's own argument slot (AAPCS) */
        "bne 4b\n\t"
        "pop {r0, r2-r11, pc}\n\t");
}
#undef TM_MM_GROUP_ASM
#else
static void __attribute__((noinline)) TM_NO_LDRD_PAIRING tm_mm_2x2(const int16_t *col, const int8_t *w, uint32_t groups, int32_t *acc, uint32_t pairs)
{
    for (uint32_t p = 0; p < pairs; p++, acc += 4) {
        int32_t a00 = 0, a01 = 0, a10 = 0, a11 = 0;
        const int16_t *x = col;
        const int8_t *const end = w + 8 * groups;
#define TM_MM_GROUP                                                     \
    do {                                                                \
        const uint32_t x0a = tm_ld32(x), x0b = tm_ld32(x + 2);          \
        const uint32_t x1a = tm_ld32(x + 4), x1b = tm_ld32(x + 6);      \
        const uint32_t wa = tm_ld32(w), wb = tm_ld32(w + 4);            \
        x += 8;                                                         \
        w += 8;                                                         \
        uint32_t lo = tm_sxtb16(wa), hi = tm_sxtb16_ror8(wa);           \
        a00 = tm_smlad(x0a, lo, a00);                                   \
        a00 = tm_smlad(x0b, hi, a00);                                   \
        a10 = tm_smlad(x1a, lo, a10);                                   \
        a10 = tm_smlad(x1b, hi, a10);                                   \
        lo = tm_sxtb16(wb);                                             \
        hi = tm_sxtb16_ror8(wb);                                        \
        a01 = tm_smlad(x0a, lo, a01);                                   \
        a01 = tm_smlad(x0b, hi, a01);                                   \
        a11 = tm_smlad(x1a, lo, a11);                                   \
        a11 = tm_smlad(x1b, hi, a11);                                   \
    } while (0)
        if (groups & 1) {
            TM_MM_GROUP;
        }
        while (w != end) {      /* two groups per pass: the loop's own cost over 16 SMLADs */
            TM_MM_GROUP;
            TM_MM_GROUP;
        }
#undef TM_MM_GROUP
        acc[0] = a00;
        acc[1] = a10;
        acc[2] = a01;
        acc[3] = a11;
    }
}
#endif

/* What every output channel pair needs, gathered once per call. */
typedef struct {
    const int8_t *weights;
    const int32_t *bias, *mult;     /* bounded 0/1: bias never NULL (the planner emits zeros for a conv
                                     * without); bounded 2: both NULL, the records `rq` hold them */
    const int8_t *shift;
    const int32_t *rq;              /* bounded == 2: per-channel records, the arrays above unused */
    int out_c;
    uint32_t groups;
    int32_t zp, lo, hi;
    int bounded;
} conv_out_t;

/* Channel pairs whose sums are gathered per call of the inner kernel (16 bytes each, on the stack). */
#define TM_CONV_PAIRS 32

/* The record form with the full int8 clamp on the M4: the sums interleaved, acc[2c + pixel]. */
#ifdef TM_RQ_BATCH_FULL_ASM
TM_RQ_BATCH_FULL(rq_batch_full, 8, 4)
#endif

/* Channels c0 .. c1 - 1 of both pixels from their raw sums (acc[2 * (c - c0) + pixel]): bias, the one
 * requantization (tm_quant.h: tm_requantize, tm_requantize_bounded or, bounded == 2, tm_requantize_rq with
 * the per-channel records), output offset, clamp. `bounded` and `full` (the clamp is the whole int8
 * range: one SSAT) are constants at each call site, so each is its own loop. */
static inline __attribute__((always_inline)) void requantize_batch(const conv_out_t *o, const int32_t *a,
                                                                   int c0, int c1, int8_t *y0, int8_t *y1,
                                                                   int bounded, int full)
{
#ifdef TM_RQ_BATCH_FULL_ASM
    if (bounded == 2 && full) {
        rq_batch_full(a, o->rq + TM_RQ_WORDS * c0, y0 + c0, y1, (uint32_t)(c1 - c0));
        return;
    }
#endif
    if (bounded == 2) {          /* the output offset is in the record */
        tm_rq_batch(a, 2, 1, o->rq + TM_RQ_WORDS * c0, y0 + c0, y1, c1 - c0, o->lo, o->hi, full);
        return;
    }
    const int32_t *bias = o->bias + c0, *mult = o->mult + c0;
    const int8_t *shift = o->shift + c0;
    const int32_t *const end = a + 2 * (c1 - c0);
    const int32_t zp = o->zp, lo = full ? -128 : o->lo, hi = full ? 127 : o->hi;
    y0 += c0;
    for (; a != end; a += 2) {
        const int32_t b = *bias++, m = *mult++;
        const int s = *shift++;
        const int32_t r0 = bounded ? tm_requantize_bounded(a[0] + b, m, s) : tm_requantize(a[0] + b, m, s);
        const int32_t r1 = bounded ? tm_requantize_bounded(a[1] + b, m, s) : tm_requantize(a[1] + b, m, s);
        *y0++ = (int8_t)(full ? tm_sat8(r0 + zp) : tm_clamp(r0 + zp, lo, hi));
        *y1++ = (int8_t)(full ? tm_sat8(r1 + zp) : tm_clamp(r1 + zp, lo, hi));
    }
}

/* All output channels of one pixel pair from its im2col buffer; `two` = 0 when there is only pixel 0
 * (its outputs then go to a scratch row): per batch of channel pairs, the inner kernel's sums, then their
 * requantization. Out of line and free of the caller's variable-length buffer, so it needs no frame
 * pointer. */
static void __attribute__((noinline)) conv_pair(const conv_out_t *o, const int16_t *buf, int8_t *y0, int two)
{
    const int8_t *w = o->weights;
    const int out_c = o->out_c;
    const uint32_t groups = o->groups;
    int32_t acc[4 * TM_CONV_PAIRS];
    int8_t spare[2 * TM_CONV_PAIRS];
    for (int c0 = 0; c0 < out_c; c0 += 2 * TM_CONV_PAIRS) {
        const int pairs = (out_c - c0 + 1) / 2 < TM_CONV_PAIRS ? (out_c - c0 + 1) / 2 : TM_CONV_PAIRS;
        const int c1 = c0 + 2 * pairs < out_c ? c0 + 2 * pairs : out_c;
        tm_mm_2x2(buf, w, groups, acc, (uint32_t)pairs);
        w += 8 * groups * (uint32_t)pairs;
        int8_t *y1 = two ? y0 + out_c + c0 : spare;
        if (o->bounded == 2 && o->lo == -128 && o->hi == 127) {
            requantize_batch(o, acc, c0, c1, y0, y1, 2, 1);
        } else if (o->bounded == 2) {
            requantize_batch(o, acc, c0, c1, y0, y1, 2, 0);
        } else if (o->bounded && o->lo == -128 && o->hi == 127) {
            requantize_batch(o, acc, c0, c1, y0, y1, 1, 1);
        } else if (o->bounded) {
            requantize_batch(o, acc, c0, c1, y0, y1, 1, 0);
        } else {
            requantize_batch(o, acc, c0, c1, y0, y1, 0, 0);
        }
    }
}

tm_status_t tm_conv2d_s8_dsp(const void *params, uint8_t *arena)
{
    const tm_conv2d_dsp_params_t *p = params;
    const int out_c = p->out_c, out_w = p->out_w;
    const uint32_t groups = p->depth / 4;
    const int per_image = p->out_h * out_w;
    const int n_pix = p->batches * per_image;
    const int8_t *in0 = (const int8_t *)(arena + p->in_offset);
    int8_t *out = (int8_t *)(arena + p->out_offset);
    /* The im2col buffer of a pixel pair, 4 * depth bytes, on the stack: counted in the stack high-water the
     * check reports and not in the arena, which stays the plan TFLM's reference kernels would need. The
     * planner bounds depth (harness/plan/optimize.py). */
    uint32_t words[p->depth];
    int16_t *buf = (int16_t *)words;
    const conv_out_t o = {p->weights, p->bias, p->multiplier, p->shift, p->rq, out_c, groups,
                          p->out_zero_point, p->act_min, p->act_max, p->bounded};
    const int in_image = p->in_h * p->in_w * p->in_c;
    for (int pix = 0; pix < n_pix; pix += 2) {
        const int two = pix + 1 < n_pix;
        for (int s = 0; s < 1 + two; s++) {
            const int q = pix + s, b = q / per_image, r = q % per_image;
            im2col(p, in0 + b * in_image, r / out_w, r % out_w, buf, s);
        }
        if (!two) {
            zero_slot(buf, 1, groups);
        }
        conv_pair(&o, buf, out + pix * out_c, two);
    }
    return TM_OK;
}
