/* Microbenchmarks for the engine's cycle model (tests/test_cycles.py). Each benchmark is a hand-written
 * assembly function that reads DWT CYCCNT, runs a short instruction sequence and reads CYCCNT again;
 * it returns the difference. Around every sequence the measurement adds exactly
 *     ldr r2, [r0]   (the first read; preceded by a NOP, so neither pipelined nor stalled)   2 cycles
 *     nop                                                                                  1 cycle
 *     <sequence>
 *     nop                                                                                  1 cycle
 *     ldr r3, [r0]   (the second read: CYCCNT counts the cycles completed before it)
 * so a benchmark reports its sequence's cycles + 4 on the Cortex-M4.
 * Register use inside a benchmark: r0 = &DWT_CYCCNT, r1 = a word-aligned scratch buffer whose first
 * word points to itself (for load chains), r2/r3 = the two readings.
 *
 * Commands, one per line:
 *   bench        -> one line `<name> <cycles>` per benchmark, then `end`
 *   acr <hex>    -> writes FLASH_ACR (wait states, accelerator), then `ok`
 *   ccr <hex>    -> invalidates the I-cache, writes SCB CCR (IC: bit 17, DC: bit 16), then `ok`
 *   icache       -> `icache <same> <same> <spread> <spread>`: the instruction-cache benchmarks, twice each
 *   dcache       -> `dcache <few> <few> <thrash> <thrash>`: the data-cache benchmarks, twice each
 */
#include <stdint.h>
#include "../../firmware/bare/bare.h"     /* startup, vectors, console, DWT: the shared base */

#define FLASH_ACR  REG(BOARD_FLASH_IF_BASE + 0x00u)
#define SCB_CCR    REG(BOARD_SCS_BASE + 0xD14u)
#define SCB_ICIALLU REG(BOARD_SCS_BASE + 0xF50u)

/* ---------------------------------------------------------------- benchmarks
 * BEGIN: function entry, saves what the benchmark may clobber. T0: word-aligns (padding NOPs run
 * before the first reading), then NOP, first reading, NOP. T1: NOP, second reading, return the
 * difference. T0_LINE aligns to a 16-byte flash line instead of a word. */
__asm__(
    ".syntax unified\n"
    ".thumb\n"
    ".macro BEGIN name\n"
    "  .section .text.\\name,\"ax\",%progbits\n"
    "  .p2align 4\n"
    "  .global \\name\n"
    "  .type \\name, %function\n"
    "  .thumb_func\n"
    "\\name:\n"
    "  push {r4-r11, lr}\n"
    ".endm\n"
    ".macro T0\n"
    "  .p2align 2\n"
    "  nop.n\n"
    "  ldr.n r2, [r0]\n"
    "  nop.n\n"
    ".endm\n"
    ".macro T0_LINE\n"
    "  .p2align 4\n"
    "  nop.n\n"
    "  ldr.n r2, [r0]\n"
    "  nop.n\n"
    ".endm\n"
    ".macro T1 name\n"
    "  nop.n\n"
    "  ldr.n r3, [r0]\n"
    "  subs r0, r3, r2\n"
    "  pop {r4-r11, pc}\n"
    "  .size \\name, . - \\name\n"
    ".endm\n"

    /* leaf functions for the call benchmarks; their first instructions are 16-bit */
    "  .section .text.bench_leaf,\"ax\",%progbits\n"
    "  .p2align 2\n"
    "  .type bench_leaf, %function\n"
    "  .thumb_func\n"
    "bench_leaf:\n"
    "  bx lr\n"
    "  .size bench_leaf, . - bench_leaf\n"
    "  .type bench_leaf_frame, %function\n"
    "  .thumb_func\n"
    "bench_leaf_frame:\n"
    "  push {r4, lr}\n"
    "  pop {r4, pc}\n"
    "  .size bench_leaf_frame, . - bench_leaf_frame\n"

    "BEGIN bench_empty\n"
    "  T0\n"
    "  T1 bench_empty\n"

    "BEGIN bench_smlad16\n"
    "  movs r4, #0\n  movs r5, #3\n  movs r6, #5\n"
    "  T0\n"
    "  .rept 16\n  smlad r4, r5, r6, r4\n  .endr\n"
    "  T1 bench_smlad16\n"

    "BEGIN bench_smlal8\n"
    "  movs r4, #0\n  movs r5, #0\n  movs r6, #3\n  movs r7, #5\n"
    "  T0\n"
    "  .rept 8\n  smlal r4, r5, r6, r7\n  .endr\n"
    "  T1 bench_smlal8\n"

    "BEGIN bench_mul_mla\n"
    "  movs r5, #3\n  movs r6, #5\n  movs r7, #0\n"
    "  T0\n"
    "  .rept 4\n  mul r4, r5, r6\n  .endr\n"
    "  .rept 4\n  mla r7, r5, r6, r7\n  .endr\n"
    "  T1 bench_mul_mla\n"

    "BEGIN bench_ldr_indep8\n"
    "  T0\n"
    "  ldr r4, [r1, #4]\n  ldr r5, [r1, #8]\n  ldr r6, [r1, #12]\n  ldr r7, [r1, #16]\n"
    "  ldr.w r8, [r1, #20]\n  ldr.w r9, [r1, #24]\n  ldr.w r10, [r1, #28]\n  ldr.w r11, [r1, #32]\n"
    "  T1 bench_ldr_indep8\n"

    "BEGIN bench_ldr_dep8\n"
    "  mov r4, r1\n"
    "  T0\n"
    "  .rept 8\n  ldr r4, [r4]\n  .endr\n"
    "  T1 bench_ldr_dep8\n"

    "BEGIN bench_ldr_wb4\n"
    "  mov r5, r1\n"
    "  T0\n"
    "  .rept 4\n  ldr r6, [r5], #4\n  .endr\n"
    "  T1 bench_ldr_wb4\n"

    "BEGIN bench_ldr_str4\n"
    "  T0\n"
    "  .rept 4\n  ldr r4, [r1, #4]\n  str r4, [r1, #64]\n  .endr\n"
    "  T1 bench_ldr_str4\n"

    "BEGIN bench_str4\n"
    "  movs r4, #7\n"
    "  T0\n"
    "  str r4, [r1, #64]\n  str r4, [r1, #68]\n  str r4, [r1, #72]\n  str r4, [r1, #76]\n"
    "  T1 bench_str4\n"

    "BEGIN bench_str_reg2\n"
    "  movs r4, #7\n  movs r5, #64\n"
    "  T0\n"
    "  str r4, [r1, r5]\n  str r4, [r1, r5]\n"
    "  T1 bench_str_reg2\n"

    "BEGIN bench_ldr_strreg\n"
    "  movs r5, #64\n"
    "  T0\n"
    "  ldr r4, [r1, #4]\n  str r4, [r1, r5]\n"
    "  T1 bench_ldr_strreg\n"

    "BEGIN bench_agu_stall\n"
    "  mov r4, r1\n"
    "  T0\n"
    "  adds r4, r4, #4\n  ldr r5, [r4]\n"
    "  T1 bench_agu_stall\n"

    "BEGIN bench_ldm4\n"
    "  T0\n"
    "  ldm r1, {r4-r7}\n"
    "  T1 bench_ldm4\n"

    "BEGIN bench_ldm8\n"
    "  T0\n"
    "  ldm r1, {r4-r11}\n"
    "  T1 bench_ldm8\n"

    "BEGIN bench_stm8\n"
    "  add r12, r1, #64\n"
    "  T0\n"
    "  stm r12, {r4-r11}\n"
    "  T1 bench_stm8\n"

    "BEGIN bench_push_pop4\n"
    "  T0\n"
    "  push {r4-r7}\n  pop {r4-r7}\n"
    "  T1 bench_push_pop4\n"

    "BEGIN bench_ldrd\n"
    "  T0\n"
    "  ldrd r4, r5, [r1, #8]\n"
    "  T1 bench_ldrd\n"

    "BEGIN bench_loop10\n"
    "  movs r4, #10\n"
    "  T0\n"
    "1:\n  subs r4, r4, #1\n  bne 1b\n"
    "  T1 bench_loop10\n"

    "BEGIN bench_b_fwd\n"
    "  T0\n"
    "  b.n 1f\n  nop.n\n1:\n"
    "  T1 bench_b_fwd\n"

    /* after T0 the sequence starts at a word address + 2: B (+2), skipped NOP (+4), target (+6) */
    "BEGIN bench_b_unaligned_wide\n"
    "  T0\n"
    "  b.n 1f\n  nop.n\n1:\n  add.w r4, r4, #1\n"
    "  T1 bench_b_unaligned_wide\n"

    "BEGIN bench_b_aligned_wide\n"
    "  T0\n"
    "  b.n 1f\n  nop.n\n  nop.n\n1:\n  add.w r4, r4, #1\n"
    "  T1 bench_b_aligned_wide\n"

    "BEGIN bench_call_ret\n"
    "  T0\n"
    "  bl bench_leaf\n"
    "  T1 bench_call_ret\n"

    "BEGIN bench_call_frame\n"
    "  T0\n"
    "  bl bench_leaf_frame\n"
    "  T1 bench_call_frame\n"

    "BEGIN bench_it_folded\n"
    "  movs r4, #0\n  movs r5, #0\n"
    "  T0\n"
    "  adds.n r4, r4, #1\n  it eq\n  addeq.n r5, r5, #1\n"
    "  T1 bench_it_folded\n"

    "BEGIN bench_it_unfolded\n"
    "  movs r4, #0\n  movs r5, #0\n"
    "  T0\n"
    "  adds.w r4, r4, #1\n  it eq\n  addeq.n r5, r5, #1\n"
    "  T1 bench_it_unfolded\n"

    "BEGIN bench_sdiv\n"
    "  movs r5, #100\n  movs r6, #7\n"
    "  T0\n"
    "  sdiv r4, r5, r6\n"
    "  T1 bench_sdiv\n"

    "BEGIN bench_vadd8\n"
    "  vmov.f32 s1, #1.0\n  vmov.f32 s2, #2.0\n"
    "  T0\n"
    "  .rept 8\n  vadd.f32 s0, s1, s2\n  .endr\n"
    "  T1 bench_vadd8\n"

    "BEGIN bench_vmul_vmla\n"
    "  vmov.f32 s1, #1.0\n  vmov.f32 s2, #2.0\n"
    "  T0\n"
    "  .rept 4\n  vmul.f32 s0, s1, s2\n  .endr\n"
    "  .rept 4\n  vmla.f32 s3, s1, s2\n  .endr\n"
    "  T1 bench_vmul_vmla\n"

    "BEGIN bench_vdiv_vsqrt\n"
    "  vmov.f32 s1, #1.0\n  vmov.f32 s2, #2.0\n"
    "  T0\n"
    "  vdiv.f32 s0, s1, s2\n  vsqrt.f32 s3, s2\n"
    "  T1 bench_vdiv_vsqrt\n"

    "BEGIN bench_vldr4\n"
    "  T0\n"
    "  vldr s0, [r1, #4]\n  vldr s1, [r1, #8]\n  vldr s2, [r1, #12]\n  vldr s3, [r1, #16]\n"
    "  T1 bench_vldr4\n"

    "BEGIN bench_vldm4\n"
    "  T0\n"
    "  vldmia r1, {s0-s3}\n"
    "  T1 bench_vldm4\n"

    /* 32 NOPs over whole flash lines, for the wait-state model */
    "BEGIN bench_nops32\n"
    "  T0_LINE\n"
    "  .rept 32\n  nop.n\n  .endr\n"
    "  T1 bench_nops32\n"
    /* ---------------------------------------------------------------- instruction cache benchmarks
     * Eight rounds of calls to three leaf functions (`bx lr`). In `calls_same` the three leaves start at
     * 8 KB boundaries: on the Cortex-M7's 2-way L1 I-cache (4 KB: 64 sets, 16 KB: 256 sets of 32-byte lines)
     * they map to one set, three lines for two ways. In `calls_spread` they sit in three consecutive lines.
     * Both benchmark functions start 1 KB past an 8 KB boundary (sets 32-33), so their own lines stay out of
     * the leaves' sets; they are the same instructions at the same offsets. */
    ".macro LEAF name, pad\n"
    "  .section .text.\\name,\"ax\",%progbits\n"
    "  .p2align 13\n"
    "  .if \\pad\n  .space \\pad\n  .endif\n"
    "  .type \\name, %function\n"
    "  .thumb_func\n"
    "\\name:\n"
    "  bx lr\n"
    "  .size \\name, . - \\name\n"
    ".endm\n"
    ".macro CALLS name, a, b, c\n"
    "  .section .text.\\name,\"ax\",%progbits\n"
    "  .p2align 13\n"
    "  .space 1024\n"
    "  .global \\name\n"
    "  .type \\name, %function\n"
    "  .thumb_func\n"
    "\\name:\n"
    "  push {r4-r11, lr}\n"
    "  movs r4, #8\n"
    "  T0\n"
    "1:\n  bl \\a\n  bl \\b\n  bl \\c\n  subs r4, r4, #1\n  bne 1b\n"
    "  T1 \\name\n"
    ".endm\n"
    "LEAF icache_same0, 0\n"
    "LEAF icache_same1, 0\n"
    "LEAF icache_same2, 0\n"
    "LEAF icache_spread0, 512\n"
    "  .p2align 5\n"
    "  .type icache_spread1, %function\n"
    "  .thumb_func\n"
    "icache_spread1:\n  bx lr\n"
    "  .p2align 5\n"
    "  .type icache_spread2, %function\n"
    "  .thumb_func\n"
    "icache_spread2:\n  bx lr\n"
    "CALLS icache_calls_same, icache_same0, icache_same1, icache_same2\n"
    "CALLS icache_calls_spread, icache_spread0, icache_spread1, icache_spread2\n"
    ".purgem LEAF\n.purgem CALLS\n"
    /* ---------------------------------------------------------------- data cache benchmarks
     * Loads from a constant table in the flash (.rodata), 4 KB aligned. `dcache_few`: 4 rounds of 4 loads
     * from 4 lines 32 bytes apart (distinct lines for 16- and 32-byte lines; they fit every cache).
     * `dcache_thrash`: 2 rounds of 9 loads from 9 lines 4 KB apart: one set of the M7's 4-way D-cache on
     * both sizes (32 sets of 4 KB / 128 sets of 16 KB: 4 KB is a multiple of both set strides), one line
     * more than the F446's 8-line ART data cache, so with LRU every load misses. The table's address is
     * built with MOVW/MOVT, not loaded from a literal pool (itself a data read from the flash). */
    "  .section .rodata.dcache_table,\"a\",%progbits\n"
    "  .p2align 12\n"
    "dcache_table:\n"
    "  .space 9 * 4096\n"
    "BEGIN dcache_few\n"
    "  movw r5, #:lower16:dcache_table\n"
    "  movt r5, #:upper16:dcache_table\n"
    "  movs r4, #4\n"
    "  T0\n"
    "1:\n  ldr r6, [r5]\n  ldr r6, [r5, #32]\n  ldr r6, [r5, #64]\n  ldr r6, [r5, #96]\n"
    "  subs r4, r4, #1\n  bne 1b\n"
    "  T1 dcache_few\n"
    "BEGIN dcache_thrash\n"
    "  movw r5, #:lower16:dcache_table\n"
    "  movt r5, #:upper16:dcache_table\n"
    "  movs r4, #2\n"
    "  T0\n"
    "1:\n  mov r7, r5\n"
    "  .rept 9\n  ldr r6, [r7]\n  add.w r7, r7, #4096\n  .endr\n"
    "  subs r4, r4, #1\n  bne 1b\n"
    "  T1 dcache_thrash\n"
    ".purgem BEGIN\n.purgem T0\n.purgem T0_LINE\n.purgem T1\n"
    ".text\n"
);

typedef uint32_t (*bench_fn)(volatile uint32_t *cyccnt, uint32_t *buf);

#define BENCHES(X) X(empty) X(smlad16) X(smlal8) X(mul_mla) X(ldr_indep8) X(ldr_dep8) X(ldr_wb4) \
    X(ldr_str4) X(str4) X(str_reg2) X(ldr_strreg) X(agu_stall) X(ldm4) X(ldm8) X(stm8) X(push_pop4) \
    X(ldrd) X(loop10) X(b_fwd) X(b_unaligned_wide) X(b_aligned_wide) X(call_ret) X(call_frame) \
    X(it_folded) X(it_unfolded) X(sdiv) X(vadd8) X(vmul_vmla) X(vdiv_vsqrt) X(vldr4) X(vldm4) X(nops32)

#define DECLARE(name) uint32_t bench_##name(volatile uint32_t *cyccnt, uint32_t *buf);
BENCHES(DECLARE)

static const struct { const char *name; bench_fn fn; } benches[] = {
#define ENTRY(name) {#name, bench_##name},
    BENCHES(ENTRY)
};

static uint32_t scratch[64] __attribute__((aligned(8)));

/* On the M7 model (half-cycle ticks, CYCCNT = ticks / 2 rounded down) a difference of two readings also
 * depends on the half-cycle phase at the first one, i.e. on every instruction run since reset: changing
 * the code that runs before a benchmark can move its reading by one cycle, not its ticks. The M7 bounds
 * in tests/test_cycles.py hold for the phase this firmware gives `empty` (a whole cycle). */
static void cmd_bench(void) {
    cyccnt_start();
    for (unsigned i = 0; i < sizeof benches / sizeof benches[0]; i++) {
        for (int k = 0; k < 64; k++) scratch[k] = (uint32_t)k;
        scratch[0] = (uint32_t)&scratch[0];    /* a chain of loads that ends where it starts */
        uint32_t cycles = benches[i].fn(&DWT_CYCCNT, scratch);
        console_puts(benches[i].name);
        console_putc(' ');
        console_put_u32(cycles);
        console_puts("\r\n");
    }
    console_puts("end\r\n");
}

uint32_t icache_calls_same(volatile uint32_t *cyccnt, uint32_t *buf);
uint32_t icache_calls_spread(volatile uint32_t *cyccnt, uint32_t *buf);
uint32_t dcache_few(volatile uint32_t *cyccnt, uint32_t *buf);
uint32_t dcache_thrash(volatile uint32_t *cyccnt, uint32_t *buf);

/* `icache` / `dcache`: a pair of cache benchmarks, each run twice (cold, warm); `<name> <a> <a> <b> <b>`. */
static void cmd_pair(const char *name, bench_fn first, bench_fn second) {
    cyccnt_start();
    console_puts(name);
    bench_fn fns[] = {first, second};
    for (unsigned i = 0; i < 2; i++) {
        for (unsigned pass = 0; pass < 2; pass++) {
            console_putc(' ');
            console_put_u32(fns[i](&DWT_CYCCNT, scratch));
        }
    }
    console_puts("\r\n");
}

int main(void) {
    static char line[64];
    console_init();
    console_puts("cycles_bench " BOARD_NAME " ready\r\n");
    for (;;) {
        read_line(line, sizeof line);
        if (starts_with(line, "bench")) cmd_bench();
        else if (starts_with(line, "icache")) cmd_pair("icache", icache_calls_same, icache_calls_spread);
        else if (starts_with(line, "dcache")) cmd_pair("dcache", dcache_few, dcache_thrash);
        else if (starts_with(line, "ccr ")) {
            /* the M7's I-cache comes out of reset in an unknown state: invalidate, then write CCR */
            SCB_ICIALLU = 0;
            __asm__ volatile("dsb\n isb" ::: "memory");
            SCB_CCR = parse_hex(line + 4);
            __asm__ volatile("dsb\n isb" ::: "memory");
            console_puts("ok\r\n");
        }
        else if (starts_with(line, "acr ")) {
            FLASH_ACR = parse_hex(line + 4);
            (void)FLASH_ACR;
            console_puts("ok\r\n");
        } else { console_puts("unknown\r\n"); }
    }
}
