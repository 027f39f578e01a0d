/* DEPTHWISE_CONV_2D int8, depth multiplier 1, for the DSP extension: see depthwise_conv2d_dsp.h.
 * Bit-exact with tm_depthwise_conv2d_s8: per channel the same int32 sum, bias + sum (x + offset) * w over
 * the taps inside the image (sums wrap modulo 2^32 either way, so the order and the split below do not
 * matter), then the one shared requantization (tm_quant.h).
 *
 * 3x3 windows (<= DW_WINDOW_MAX_CH channels, any stride and dilation: every depthwise layer of the zoo's
 * DS-CNNs and MicroNets) fold the input offset out of the taps: sum (x + offset) * w = sum x * w +
 * offset * sum w, and the planner stores bias + offset * sum w per channel (`bias_inside`), so the taps
 * are SXTB16 and SMLAxy only. A window the border cuts is copied to the stack with the input zero point in
 * the taps outside (x + offset = 0 there), so it takes the same path. Other shapes go pixel by pixel over
 * the taps inside the image, the offset added to the input (SADD16; x + offset lies in [-255, 255], so it
 * fits the int16 halves), from the bias. The weights are int16 already (the planner widened them), so no
 * tap unpacks a weight. */
#include <string.h>

#include "depthwise_conv2d_dsp.h"
#include "tm_acle.h"
#include "tm_quant.h"
#include "window.h"
/* The firmware build's board header (generated from the board's .repl) names the core: the M4 and the
 * M7 get differently ordered MAC loops (dw_mac3x3). */
#if defined(__has_include)
#if __has_include("board.h")
#include "board.h"
#endif
#endif
#include "rq_batch_dsp.h"     /* after board.h: it names the core */

/* What every pixel needs, gathered once per call; in a struct passed by pointer so the per-pixel
 * functions take few arguments. */
typedef struct {
    const int16_t *weights;
    const int32_t *bias, *bias_inside, *mult;
    const int8_t *shift;
    const int32_t *rq;              /* bounded 2: the records of the inside sums */
    int32_t zp, out_zp, lo, hi;
    int ch, taps, kernel_w, bounded;
    int tap_step, row_step;         /* input bytes between horizontally / vertically adjacent taps */
} dw_ctx_t;

/* One output: the one requantization (the bounded form where the planner proved its precondition;
 * `bounded` is a constant at every call site), output offset, clamp. */
static inline __attribute__((always_inline)) int8_t dw_out(const dw_ctx_t *k, int32_t acc, int c, int bounded)
{
    const int32_t r = bounded ? tm_requantize_bounded(acc, k->mult[c], k->shift[c])
                              : tm_requantize(acc, k->mult[c], k->shift[c]);
    return (int8_t)tm_clamp(r + k->out_zp, k->lo, k->hi);
}

/* One tap of 4 channels: the input word unpacked to (c, c+2) and (c+1, c+3) int16 halves, `ADJ` applied
 * to both (the input offset, or nothing), times the tap's two int16 weight words. */
#define DW_TAP(X, W, ADJ)                                                            \
    do {                                                                             \
        const uint32_t xv_ = tm_ld32(X);                                             \
        const uint32_t w02_ = tm_ld32(W), w13_ = tm_ld32((W) + 2);                   \
        const uint32_t x02_ = ADJ(tm_sxtb16(xv_)), x13_ = ADJ(tm_sxtb16_ror8(xv_));  \
        a0 = tm_smlabb(x02_, w02_, a0);                                              \
        a2 = tm_smlatt(x02_, w02_, a2);                                              \
        a1 = tm_smlabb(x13_, w13_, a1);                                              \
        a3 = tm_smlatt(x13_, w13_, a3);                                              \
    } while (0)
#define DW_NO_ADJ(v) (v)

/* The last in_c % 4 channels of one pixel, one at a time, over the taps [ky_lo, ky_hi) x [kx_lo, kx_hi)
 * inside the image; x0 is channel 0 of tap (ky_lo, kx_lo), taps ts bytes apart, rows rs. */
static void dw_tail(const dw_ctx_t *k, const int8_t *x0, int ts, int rs, int8_t *y, int ky_lo, int ky_hi,
                    int kx_lo, int kx_hi, int bounded)
{
    static const uint8_t pos[4] = {0, 2, 1, 3};     /* where channel c % 4 sits in its group's tap */
    for (int c = k->ch & ~3; c < k->ch; c++) {
        const int16_t *w = k->weights + (c >> 2) * k->taps * 4 + pos[c & 3];
        int32_t acc = k->bias[c];
        const int8_t *xr = x0 + c;
        for (int ky = ky_lo; ky < ky_hi; ky++, xr += rs) {
            for (int kx = kx_lo; kx < kx_hi; kx++) {
                acc += ((int32_t)xr[(kx - kx_lo) * ts] + k->zp) * w[(ky * k->kernel_w + kx) * 4];
            }
        }
        y[c] = dw_out(k, acc, c, bounded);
    }
}

/* One output pixel whose window the border cuts (or of a shape without its own inside path): the taps
 * [ky_lo, ky_hi) x [kx_lo, kx_hi), input offset added to each, from the bias. */
static inline __attribute__((always_inline)) void dw_pixel_cut(const dw_ctx_t *k, const int8_t *x0, int8_t *y,
                                                               int ky_lo, int ky_hi, int kx_lo, int kx_hi,
                                                               int bounded)
{
    const uint32_t zp2 = ((uint32_t)k->zp & 0xFFFFu) | ((uint32_t)k->zp << 16);   /* the offset in both halves */
#define DW_ADD_ZP(v) tm_sadd16((v), zp2)
    const int16_t *wg = k->weights + (ky_lo * k->kernel_w + kx_lo) * 4;
    for (int c = 0; c + 4 <= k->ch; c += 4, wg += 4 * k->taps) {
        int32_t a0 = k->bias[c], a1 = k->bias[c + 1], a2 = k->bias[c + 2], a3 = k->bias[c + 3];
        const int8_t *xr = x0 + c;
        const int16_t *wr = wg;
        for (int ky = ky_lo; ky < ky_hi; ky++, xr += k->row_step, wr += 4 * k->kernel_w) {
            const int8_t *x = xr;
            const int16_t *w = wr;
            for (int kx = kx_lo; kx < kx_hi; kx++, x += k->tap_step, w += 4) {
                DW_TAP(x, w, DW_ADD_ZP);
            }
        }
        y[c] = dw_out(k, a0, c, bounded);
        y[c + 1] = dw_out(k, a1, c + 1, bounded);
        y[c + 2] = dw_out(k, a2, c + 2, bounded);
        y[c + 3] = dw_out(k, a3, c + 3, bounded);
    }
#undef DW_ADD_ZP
    if (k->ch & 3) {
        dw_tail(k, x0, k->tap_step, k->row_step, y, ky_lo, ky_hi, kx_lo, kx_hi, bounded);
    }
}

/* That path in a bounded and a generic copy (the requantization form is fixed per op). */
static void __attribute__((noinline)) dw_cut_b(const dw_ctx_t *k, const int8_t *x0, int8_t *y, int ky_lo,
                                               int ky_hi, int kx_lo, int kx_hi)
{
    dw_pixel_cut(k, x0, y, ky_lo, ky_hi, kx_lo, kx_hi, 1);
}
static void __attribute__((noinline)) dw_cut_g(const dw_ctx_t *k, const int8_t *x0, int8_t *y, int ky_lo,
                                               int ky_hi, int kx_lo, int kx_hi)
{
    dw_pixel_cut(k, x0, y, ky_lo, ky_hi, kx_lo, kx_hi, 0);
}

/* The raw sums of a 3x3 window for `groups` groups of 4 channels: x is channel 0 of tap (0, 0) (taps ts
 * bytes apart in a row, rows rs bytes apart), w the groups' int16 weights (36 halves each); sum x * w of
 * channels 4g .. 4g+3 goes to acc[4g] .. acc[4g+3] (no bias, no input offset).
 *
 * On the DSP targets it is hand-scheduled assembly. The M4 pipelines a load only right after another load (TRM
 * 3.3.2: a run of N LDRs costs N + 1, a load after anything else 2), and GCC's schedule of the C below,
 * all nine taps of a group unrolled, spilled most of the weights to the stack and isolated every load
 * (~13 cycles/MAC with the requantization, measured). Here each tap is one run of three loads (input word, two weight words; 4
 * cycles), 2 SXTB16 and 4 SMLAxy: 10 cycles per 4 MACs; the first tap's SMULxy start the sums. Registers:
 * r0 the group's input, r8 the row, r2 ts (2 ts as r2 LSL 1), r9 rs, r1 the weights, r3 acc, r4-r7 the
 * sums (channels c, c+1, c+2, c+3), r10/r11 the input halves, r12/lr the weight words; the end of the
 * input in the frame. The M7 takes the same registers in another order (DW_GROUP_M7 below: 1.4 cycles/MAC
 * in its model, against 2.1 for the M4's order and 2.5 for GCC's schedule of the C). The portable C is the
 * host build's. */
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP && defined(__thumb2__)
/* One tap: input word at XADDR, weights at [r1, #WOFF] and [r1, #WOFF+4]; MAC a multiply-accumulate
 * (smla) or a multiply (smul) for the first tap; EXTRA one instruction after the loads (a pointer
 * advance placed where no load depends on it next). */
#if defined(BOARD_CORE_M7)
/* The M7 issues a load together with an SXTB16 or a MAC (not two loads, nor two MACs, nor an
 * instruction using the one before's result), so there each tap's MACs are interleaved with the next
 * tap's loads and unpacking: almost every instruction pairs with the one before, ~4.5 cycles per tap in
 * the engine's M7 model against 8 for the M4's order below (the M4 pipelines only runs of loads, so it
 * keeps that one). r10 and r11 swap roles from tap to tap: one holds this tap's low halves and then
 * receives the next tap's input word, the other this tap's high halves and then the next tap's low
 * halves. Generated: tap k's row advance (add r8) comes before its loads of the next row's first tap. */
#define DW_GROUP_M7 \
    "ldr r10, [r0], #4\n\t" \
    "ldr lr, [r1, #4]\n\t" \
    "sxtb16 r11, r10\n\t" \
    "ldr r12, [r1], #72\n\t" \
    "smulbb r4, r11, r12\n\t" \
    "sxtb16 r10, r10, ror #8\n\t" \
    "smultt r6, r11, r12\n\t" \
    "ldr r11, [r8, r2]\n\t" \
    "smulbb r5, r10, lr\n\t" \
    "ldr r12, [r1, #-64]\n\t" \
    "smultt r7, r10, lr\n\t" \
    "sxtb16 r10, r11\n\t" \
    "ldr lr, [r1, #-60]\n\t" \
    "smlabb r4, r10, r12, r4\n\t" \
    "sxtb16 r11, r11, ror #8\n\t" \
    "smlatt r6, r10, r12, r6\n\t" \
    "ldr r10, [r8, r2, lsl #1]\n\t" \
    "smlabb r5, r11, lr, r5\n\t" \
    "ldr r12, [r1, #-56]\n\t" \
    "smlatt r7, r11, lr, r7\n\t" \
    "sxtb16 r11, r10\n\t" \
    "ldr lr, [r1, #-52]\n\t" \
    "add r8, r8, r9\n\t" \
    "smlabb r4, r11, r12, r4\n\t" \
    "sxtb16 r10, r10, ror #8\n\t" \
    "smlatt r6, r11, r12, r6\n\t" \
    "ldr r11, [r8]\n\t" \
    "smlabb r5, r10, lr, r5\n\t" \
    "ldr r12, [r1, #-48]\n\t" \
    "smlatt r7, r10, lr, r7\n\t" \
    "sxtb16 r10, r11\n\t" \
    "ldr lr, [r1, #-44]\n\t" \
    "smlabb r4, r10, r12, r4\n\t" \
    "sxtb16 r11, r11, ror #8\n\t" \
    "smlatt r6, r10, r12, r6\n\t" \
    "ldr r10, [r8, r2]\n\t" \
    "smlabb r5, r11, lr, r5\n\t" \
    "ldr r12, [r1, #-40]\n\t" \
    "smlatt r7, r11, lr, r7\n\t" \
    "sxtb16 r11, r10\n\t" \
    "ldr lr, [r1, #-36]\n\t" \
    "smlabb r4, r11, r12, r4\n\t" \
    "sxtb16 r10, r10, ror #8\n\t" \
    "smlatt r6, r11, r12, r6\n\t" \
    "ldr r11, [r8, r2, lsl #1]\n\t" \
    "smlabb r5, r10, lr, r5\n\t" \
    "ldr r12, [r1, #-32]\n\t" \
    "smlatt r7, r10, lr, r7\n\t" \
    "sxtb16 r10, r11\n\t" \
    "ldr lr, [r1, #-28]\n\t" \
    "add r8, r8, r9\n\t" \
    "smlabb r4, r10, r12, r4\n\t" \
    "sxtb16 r11, r11, ror #8\n\t" \
    "smlatt r6, r10, r12, r6\n\t" \
    "ldr r10, [r8]\n\t" \
    "smlabb r5, r11, lr, r5\n\t" \
    "ldr r12, [r1, #-24]\n\t" \
    "smlatt r7, r11, lr, r7\n\t" \
    "sxtb16 r11, r10\n\t" \
    "ldr lr, [r1, #-20]\n\t" \
    "smlabb r4, r11, r12, r4\n\t" \
    "sxtb16 r10, r10, ror #8\n\t" \
    "smlatt r6, r11, r12, r6\n\t" \
    "ldr r11, [r8, r2]\n\t" \
    "smlabb r5, r10, lr, r5\n\t" \
    "ldr r12, [r1, #-16]\n\t" \
    "smlatt r7, r10, lr, r7\n\t" \
    "sxtb16 r10, r11\n\t" \
    "ldr lr, [r1, #-12]\n\t" \
    "smlabb r4, r10, r12, r4\n\t" \
    "sxtb16 r11, r11, ror #8\n\t" \
    "smlatt r6, r10, r12, r6\n\t" \
    "ldr r10, [r8, r2, lsl #1]\n\t" \
    "smlabb r5, r11, lr, r5\n\t" \
    "ldr r12, [r1, #-8]\n\t" \
    "smlatt r7, r11, lr, r7\n\t" \
    "sxtb16 r11, r10\n\t" \
    "ldr lr, [r1, #-4]\n\t" \
    "smlabb r4, r11, r12, r4\n\t" \
    "sxtb16 r10, r10, ror #8\n\t" \
    "smlatt r6, r11, r12, r6\n\t" \
    "smlabb r5, r10, lr, r5\n\t" \
    "smlatt r7, r10, lr, r7\n\t"
#else
#define DW_TAP_ASM(XADDR, WOFF, WOFF4, MUL, ACC4, ACC5, ACC6, ACC7, EXTRA) \
    "ldr r10, " XADDR "\n\t"                                            \
    "ldr r12, [r1, #" WOFF "]\n\t"                                      \
    "ldr lr, [r1, #" WOFF4 "]\n\t"                                      \
    EXTRA                                                               \
    "sxtb16 r11, r10\n\t"                                               \
    "sxtb16 r10, r10, ror #8\n\t"                                       \
    MUL "bb r4, r11, r12" ACC4 "\n\t"                                   \
    MUL "tt r6, r11, r12" ACC6 "\n\t"                                   \
    MUL "bb r5, r10, lr" ACC5 "\n\t"                                    \
    MUL "tt r7, r10, lr" ACC7 "\n\t"
#define DW_TAP_MLA(XADDR, WOFF, WOFF4, EXTRA) DW_TAP_ASM(XADDR, WOFF, WOFF4, "smla", ", r4", ", r5", ", r6", ", r7", EXTRA)
/* The group's first tap: its loads advance r0 (the group's input, 4 bytes) and r1 (its weights, 72 bytes)
 * post-indexed, the last of the run, so the other taps' weights are at negative offsets. */
#define DW_TAP0_ASM                             \
    "ldr r10, [r0], #4\n\t"                    \
    "ldr lr, [r1, #4]\n\t"                     \
    "ldr r12, [r1], #72\n\t"                   \
    "sxtb16 r11, r10\n\t"                      \
    "sxtb16 r10, r10, ror #8\n\t"              \
    "smulbb r4, r11, r12\n\t"                  \
    "smultt r6, r11, r12\n\t"                  \
    "smulbb r5, r10, lr\n\t"                   \
    "smultt r7, r10, lr\n\t"
#endif
static void __attribute__((naked, noinline)) dw_mac3x3(const int8_t *x, const int16_t *w, int32_t *acc,
                                                       uint32_t groups, int ts, int rs)
{
    (void)x; (void)w; (void)acc; (void)groups; (void)ts; (void)rs;
    __asm__ volatile(
        "push {r4-r11, lr}\n\t"                      /* ts at [sp, #36], rs at [sp, #40] */
        "add r12, r0, r3, lsl #2\n\t"                /* the end of the input: 4 bytes per group */
        "mov r3, r2\n\t"
        "ldr r2, [sp, #36]\n\t"
        "ldr r9, [sp, #40]\n\t"
        "sub sp, sp, #8\n\t"                          /* [sp]: the end (the frame stays 8-byte aligned) */
        "str r12, [sp]\n\t"
        "mov r8, r0\n\t"
        "1:\n\t"
#if defined(BOARD_CORE_M7)
        DW_GROUP_M7
#else
        DW_TAP0_ASM
        DW_TAP_MLA("[r8, r2]", "-64", "-60", "")
        DW_TAP_MLA("[r8, r2, lsl #1]", "-56", "-52", "add r8, r8, r9\n\t")
        DW_TAP_MLA("[r8]", "-48", "-44", "")
        DW_TAP_MLA("[r8, r2]", "-40", "-36", "")
        DW_TAP_MLA("[r8, r2, lsl #1]", "-32", "-28", "add r8, r8, r9\n\t")
        DW_TAP_MLA("[r8]", "-24", "-20", "")
        DW_TAP_MLA("[r8, r2]", "-16", "-12", "")
        DW_TAP_MLA("[r8, r2, lsl #1]", "-8", "-4", "")
#endif
        "ldr r10, [sp]\n\t"
        "mov r8, r0\n\t"
        "stm r3!, {r4-r7}\n\t"
        "cmp r0, r10\n\t"
        "bne 1b\n\t"
        "add sp, sp, #8\n\t"
        "pop {r4-r11, pc}\n\t");
}
#undef DW_TAP_MLA
#undef DW_TAP0_ASM
#undef DW_TAP_ASM
#undef DW_GROUP_M7
#else
static void __attribute__((noinline)) TM_NO_LDRD_PAIRING dw_mac3x3(const int8_t *x, const int16_t *w,
                                                                  int32_t *acc, uint32_t groups, int ts, int rs)
{
    for (uint32_t g = 0; g < groups; g++, x += 4, w += 36, acc += 4) {
        int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        const int8_t *xr = x;
        for (int ky = 0; ky < 3; ky++, xr += rs) {
            DW_TAP(xr, w + 12 * ky, DW_NO_ADJ);
            DW_TAP(xr + ts, w + 12 * ky + 4, DW_NO_ADJ);
            DW_TAP(xr + 2 * ts, w + 12 * ky + 8, DW_NO_ADJ);
        }
        acc[0] = a0;
        acc[1] = a1;
        acc[2] = a2;
        acc[3] = a3;
    }
}
#endif

/* Groups of 4 channels whose sums are gathered per call of dw_mac3x3, and output pixels per pass: the
 * sums of a pass are (DW_PIX + 1) x 4 x DW_GROUPS int32 (2.2 KB) on the stack. 28 groups take the
 * MicroNets' depthwise layers (84, 112 channels) in one batch: half the calls of 16 (-0.1 cycles/MAC). */
#define DW_GROUPS 28
#define DW_PIX 4
/* Windows cut by the border that a pass copies to the stack (DW_SLOTS x 9 x ch bytes), and the channels
 * up to which the 3x3 path is taken (larger ones take dw_pixel_cut). */
#define DW_SLOTS 2
#define DW_WINDOW_MAX_CH 256

/* Where a 3x3 window's inputs are: channel 0 of tap (0, 0), taps ts bytes apart in a row, rows rs. */
typedef struct {
    const int8_t *x;
    int ts, rs;
} dw_win_t;

/* Channels c0 .. c0 + n - 1 of two output pixels from their raw sums (acc[i], acc[i + 4 * DW_GROUPS]):
 * bias_inside, the requantization, output offset, clamp. Both pixels share the channel's constants
 * (loaded, and the part of the requantization that depends on the shift alone derived, once: GCC merges
 * the two inlined requantizations' common part). `bounded` and `full` (the clamp is the whole int8
 * range: one SSAT) are constants at each call site. */
static inline __attribute__((always_inline)) void dw_requant(const dw_ctx_t *k, const int32_t *acc, int c0, int n,
                                                             int8_t *y0, int8_t *y1, int bounded, int full)
{
    const int32_t *bias = k->bias_inside + c0, *mult = k->mult + c0;
    const int8_t *shift = k->shift + c0;
    const int32_t zp = k->out_zp, lo = full ? -128 : k->lo, hi = full ? 127 : k->hi;
    y0 += c0;
    y1 += c0;
#if defined(BOARD_CORE_M7)
    /* two channels per pass on the M7, whose dual issue overlaps them (3.24 against 3.42 cycles/MAC on
     * kws_micronet_s's 84-channel layers); on the M4 the unrolled loop spills more (5.98 -> 6.13) */
#pragma GCC unroll 2
#endif
    for (const int32_t *a = acc, *end = acc + n; a != end; a++) {
        const int32_t b = *bias++, m = *mult++;
        const int s = *shift++;
        const int32_t v0 = a[0] + b, v1 = a[4 * DW_GROUPS] + b;
        const int32_t r0 = bounded ? tm_requantize_bounded(v0, m, s) : tm_requantize(v0, m, s);
        const int32_t r1 = bounded ? tm_requantize_bounded(v1, m, s) : tm_requantize(v1, m, s);
        *y0++ = (int8_t)(full ? tm_sat8(r0 + zp) : tm_clamp(r0 + zp, lo, hi));
        *y1++ = (int8_t)(full ? tm_sat8(r1 + zp) : tm_clamp(r1 + zp, lo, hi));
    }
}

static void __attribute__((noinline)) dw_requant_bf(const dw_ctx_t *k, const int32_t *acc, int c0, int n,
                                                    int8_t *y0, int8_t *y1)
{
    dw_requant(k, acc, c0, n, y0, y1, 1, 1);
}
static void __attribute__((noinline)) dw_requant_b(const dw_ctx_t *k, const int32_t *acc, int c0, int n,
                                                   int8_t *y0, int8_t *y1)
{
    dw_requant(k, acc, c0, n, y0, y1, 1, 0);
}
static void __attribute__((noinline)) dw_requant_g(const dw_ctx_t *k, const int32_t *acc, int c0, int n,
                                                   int8_t *y0, int8_t *y1)
{
    dw_requant(k, acc, c0, n, y0, y1, 0, 0);
}

/* The record form (tm_quant.h's tm_requantize_rq, the output offset in the record): channel c's sums at
 * acc[c] and acc[c + 4 * DW_GROUPS]. */
#ifdef TM_RQ_BATCH_FULL_ASM
TM_RQ_BATCH_FULL(dw_rq_batch_full, 4, 16 * DW_GROUPS)
#endif
static void __attribute__((noinline)) dw_requant_rq(const dw_ctx_t *k, const int32_t *acc, int c0, int n,
                                                    int8_t *y0, int8_t *y1, int full)
{
    const int32_t *rq = k->rq + TM_RQ_WORDS * c0;
#ifdef TM_RQ_BATCH_FULL_ASM
    if (full) {
        dw_rq_batch_full(acc, rq, y0 + c0, y1 + c0, (uint32_t)n);
        return;
    }
#endif
    if (full) {
        tm_rq_batch(acc, 1, 4 * DW_GROUPS, rq, y0 + c0, y1 + c0, n, -128, 127, 1);
    } else {
        tm_rq_batch(acc, 1, 4 * DW_GROUPS, rq, y0 + c0, y1 + c0, n, k->lo, k->hi, 0);
    }
}

/* np consecutive output pixels (the first at y) of 3x3 windows whose every tap holds an input (the
 * image, or a copy with the zero point where the border cuts the window): per batch of channel groups
 * the raw sums of every pixel, then their requantization; the in_c % 4 tail channels from the bias,
 * offset added. */
static void __attribute__((noinline)) dw_pass(const dw_ctx_t *k, const dw_win_t *win, int np, int8_t *y)
{
    const int groups = k->ch >> 2, ch = k->ch;
    int32_t acc[(DW_PIX + 1) * 4 * DW_GROUPS];     /* + 1: a copy of an odd last pixel's sums */
    const int full = k->lo == -128 && k->hi == 127;
    for (int g0 = 0; g0 < groups; g0 += DW_GROUPS) {
        const int n = groups - g0 < DW_GROUPS ? groups - g0 : DW_GROUPS;
        for (int q = 0; q < np; q++) {
            dw_mac3x3(win[q].x + 4 * g0, k->weights + 36 * g0, acc + q * 4 * DW_GROUPS, (uint32_t)n, win[q].ts,
                      win[q].rs);
        }
        /* pixel pairs; an odd last pixel is requantized as both of a pair, into the same bytes */
        for (int q = 0; q < np; q += 2) {
            const int32_t *a = acc + q * 4 * DW_GROUPS;
            int8_t *y0 = y + q * ch, *y1 = q + 1 < np ? y0 + ch : y0;
            if (q + 1 == np) {
                memcpy(acc + (q + 1) * 4 * DW_GROUPS, a, sizeof(int32_t) * 4 * (size_t)n);
            }
            if (k->bounded == 2) {
                dw_requant_rq(k, a, 4 * g0, 4 * n, y0, y1, full);
            } else if (k->bounded && full) {
                dw_requant_bf(k, a, 4 * g0, 4 * n, y0, y1);
            } else if (k->bounded) {
                dw_requant_b(k, a, 4 * g0, 4 * n, y0, y1);
            } else {
                dw_requant_g(k, a, 4 * g0, 4 * n, y0, y1);
            }
        }
    }
    if (ch & 3) {
        for (int q = 0; q < np; q++) {
            dw_tail(k, win[q].x, win[q].ts, win[q].rs, y + q * ch, 0, 3, 0, 3, k->bounded);
        }
    }
}

/* The window at (iy0, ix0) of image `in` copied to `d` (9 ch bytes), every tap outside the image holding
 * the input zero point (x + offset = 0 there: the same sums as skipping those taps). *zp_taps: the taps
 * (bit ky * 3 + kx) of `d` known to hold the zero point already, from the slot's previous window: those
 * are not written again (the border cuts the same side of most windows). */
static dw_win_t dw_copy(const tm_depthwise_conv2d_dsp_params_t *p, const dw_ctx_t *k, const int8_t *in, int iy0,
                        int ix0, int8_t *d, uint32_t *zp_taps)
{
    const int ch = k->ch, in_h = p->in_h, in_w = p->in_w;
    int8_t *const buf = d;
    uint32_t zp_now = 0;
    for (int ky = 0, bit = 1; ky < 3; ky++) {
        const int iy = iy0 + ky * p->dilation_h;
        for (int kx = 0; kx < 3; kx++, d += ch, bit <<= 1) {
            const int ix = ix0 + kx * p->dilation_w;
            if (iy >= 0 && iy < in_h && ix >= 0 && ix < in_w) {
                memcpy(d, in + (iy * in_w + ix) * ch, (size_t)ch);
            } else {
                if (!(*zp_taps & (uint32_t)bit)) {
                    memset(d, -k->zp, (size_t)ch);
                }
                zp_now |= (uint32_t)bit;
            }
        }
    }
    *zp_taps = zp_now;
    return (dw_win_t){buf, ch, 3 * ch};
}

/* The 3x3 path, ch <= DW_WINDOW_MAX_CH: the output pixels in row-major order (across rows and batches:
 * they are consecutive in the output) gathered into passes of up to DW_PIX; a pass ends early when a
 * window the border cuts finds no free copy slot. */
static void dw_3x3(const tm_depthwise_conv2d_dsp_params_t *p, const dw_ctx_t *k, uint8_t *arena)
{
    const int ch = k->ch, in_h = p->in_h, in_w = p->in_w;
    const int ext_h = 2 * p->dilation_h, ext_w = 2 * p->dilation_w;     /* the window's extent - 1 */
    const int8_t *in = (const int8_t *)(arena + p->in_offset);
    int8_t *y = (int8_t *)(arena + p->out_offset);
    uint32_t words[(DW_SLOTS * 9 * ch + 3) / 4];          /* the window copies */
    int8_t *const slots = (int8_t *)words;
    dw_win_t win[DW_PIX];
    uint32_t zp_taps[DW_SLOTS] = {0};                      /* per slot: its taps holding the zero point */
    int np = 0, used = 0;
    for (int b = 0; b < p->batches; b++, in += in_h * in_w * ch) {
        for (int oy = 0, iy0 = -p->pad_h; oy < p->out_h; oy++, iy0 += p->stride_h) {
            const int rows_in = iy0 >= 0 && iy0 + ext_h < in_h;
            for (int ox = 0, ix0 = -p->pad_w; ox < p->out_w; ox++, ix0 += p->stride_w) {
                const int inside = rows_in && ix0 >= 0 && ix0 + ext_w < in_w;
                if (np == DW_PIX || (!inside && used == DW_SLOTS)) {
                    dw_pass(k, win, np, y);
                    y += np * ch;
                    np = used = 0;
                }
                if (inside) {
                    win[np++] = (dw_win_t){in + (iy0 * in_w + ix0) * ch, k->tap_step, k->row_step};
                } else {
                    win[np++] = dw_copy(p, k, in, iy0, ix0, slots + 9 * ch * used, &zp_taps[used]);
                    used++;
                }
            }
        }
    }
    if (np) {
        dw_pass(k, win, np, y);
    }
}
#undef DW_TAP
#undef DW_NO_ADJ

tm_status_t tm_depthwise_conv2d_s8_dsp(const void *params, uint8_t *arena)
{
    const tm_depthwise_conv2d_dsp_params_t *p = params;
    const int in_w = p->in_w, in_h = p->in_h, ch = p->in_c;
    const int kernel_h = p->kernel_h, kernel_w = p->kernel_w, dil_h = p->dilation_h, dil_w = p->dilation_w;
    const int bounded = p->bounded, three = kernel_h == 3 && kernel_w == 3;
    const dw_ctx_t k = {p->weights, p->bias, p->bias_inside, p->multiplier, p->shift, p->rq,
                        p->in_zero_point, p->out_zero_point, p->act_min, p->act_max,
                        ch, kernel_h * kernel_w, kernel_w, bounded, dil_w * ch, dil_h * in_w * ch};
    if (three && ch <= DW_WINDOW_MAX_CH) {
        dw_3x3(p, &k, arena);
        return TM_OK;
    }
    const int out_h = p->out_h, out_w = p->out_w;
    for (int b = 0; b < p->batches; b++) {
        const int8_t *in = (const int8_t *)(arena + p->in_offset) + b * in_h * in_w * ch;
        int8_t *y = (int8_t *)(arena + p->out_offset) + b * out_h * out_w * ch;
        for (int oy = 0; oy < out_h; oy++) {
            const int iy0 = oy * p->stride_h - p->pad_h;
            int ky_lo, ky_hi;
            tm_tap_range(iy0, dil_h, in_h, kernel_h, &ky_lo, &ky_hi);
            for (int ox = 0; ox < out_w; ox++, y += ch) {
                const int ix0 = ox * p->stride_w - p->pad_w;
                int kx_lo, kx_hi;
                tm_tap_range(ix0, dil_w, in_w, kernel_w, &kx_lo, &kx_hi);
                /* the first tap inside the image, for channel 0; index arithmetic in int (ix0 may be < 0) */
                const int8_t *x0 = in + ((iy0 + dil_h * ky_lo) * in_w + ix0 + dil_w * kx_lo) * ch;
                if (bounded) {
                    dw_cut_b(&k, x0, y, ky_lo, ky_hi, kx_lo, kx_hi);
                } else {
                    dw_cut_g(&k, x0, y, ky_lo, ky_hi, kx_lo, kx_hi);
                }
            }
        }
    }
    return TM_OK;
}
