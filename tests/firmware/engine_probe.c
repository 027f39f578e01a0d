/* Test firmware for the emulated board engine (tests/test_engine.py): startup, vector table and polled
 * console from the shared base (firmware/bare), and one command per line:
 *   ping                 -> pong
 *   echo <text>          -> <text>
 *   fault ram-write | ram-read | flash-write | udf | fetch | handler | nocp | stack | noncode
 *         | ldrd | strd | ldm | stm  (at BOARD_RAM_BASE + 2)
 *   spin                 -> never answers
 *   cyccnt               -> DWT CYCCNT read at several places, including mid-block and inside an IT block
 *   systick              -> SysTick values read back
 *   loop <n> / mem <n>   -> an ALU / a load-store loop of n iterations, with the CYCCNT delta
 *   info                 -> identification registers
 *   hints                -> WFE, YIELD, SEV, then `hinted`
 *   wfi                  -> WFI (no interrupt ever comes), then `woke`
 */
#include <stdint.h>
#include "../../firmware/bare/bare.h"     /* startup, vectors, console, parsing, DWT: the shared base */

#define RCC_CR     REG(BOARD_RCC_BASE + 0x00u)
#define SYST_CSR   REG(BOARD_SCS_BASE + 0x010u)
#define SYST_RVR   REG(BOARD_SCS_BASE + 0x014u)
#define SYST_CVR   REG(BOARD_SCS_BASE + 0x018u)
#define SCB_CPUID  REG(BOARD_SCS_BASE + 0xD00u)
#define SCB_CLIDR  REG(BOARD_SCS_BASE + 0xD78u)
#define SCB_CCSIDR REG(BOARD_SCS_BASE + 0xD80u)
#define SCB_CSSELR REG(BOARD_SCS_BASE + 0xD84u)

/* ---------------------------------------------------------------- commands */
static void cmd_cyccnt(void) {
    cyccnt_start();
    uint32_t a, b;
    /* a and b five NOPs apart, whatever the compiler schedules around them: the leading NOP keeps the
     * load of `a` from pairing with or waiting on the instruction before it (an LDR: 2 cycles on the M4) */
    __asm volatile("nop\n ldr %[a], [%[cyc]]\n nop\n nop\n nop\n nop\n nop\n ldr %[b], [%[cyc]]"
                   : [a] "=&r"(a), [b] "=&r"(b) : [cyc] "r"(&DWT_CYCCNT) : "memory");
    volatile uint32_t sink = 0;
    for (uint32_t i = 0; i < 100; i++) sink += i;
    uint32_t c = DWT_CYCCNT;
    uint32_t d = DWT_CYCCNT;
    uint32_t e, f, g, h;
    uint32_t zero = 0;
    volatile uint32_t *post = &DWT_CYCCNT;
    /* inside an IT block, a double load (CTRL, CYCCNT) and a post-indexed load */
    __asm volatile(
        "cmp %[zero], #0\n"
        "itt eq\n"
        "ldreq %[e], [%[cyc]]\n"
        "addeq %[e], %[e], #0\n"
        "ldrd %[f], %[g], [%[ctrl]]\n"
        "ldr %[h], [%[post]], #4\n"
        : [e] "=&r"(e), [f] "=&r"(f), [g] "=&r"(g), [h] "=&r"(h), [post] "+r"(post)
        : [zero] "r"(zero), [cyc] "r"(&DWT_CYCCNT), [ctrl] "r"(&DWT_CTRL)
        : "cc", "memory");
    /* a load-multiple with writeback: CTRL then CYCCNT */
    uint32_t i, j;
    volatile uint32_t *multi = &DWT_CTRL;
    __asm volatile(
        "ldm %[multi]!, {r4, r5}\n"
        "mov %[i], r4\n"
        "mov %[j], r5\n"
        : [i] "=r"(i), [j] "=r"(j), [multi] "+r"(multi)
        :
        : "r4", "r5", "memory");
    console_puts("cyccnt ");
    console_put_u32(a); console_putc(' '); console_put_u32(b); console_putc(' '); console_put_u32(c); console_putc(' '); console_put_u32(d); console_putc(' ');
    console_put_u32(e); console_putc(' '); console_put_hex(f); console_putc(' '); console_put_u32(g); console_putc(' '); console_put_u32(h); console_putc(' ');
    console_put_hex((uint32_t)post); console_putc(' ');
    console_put_hex(i); console_putc(' '); console_put_u32(j); console_putc(' '); console_put_hex((uint32_t)multi);
    console_puts("\r\n");
}

static void cmd_systick(void) {
    SYST_RVR = 999;
    SYST_CVR = 0;
    SYST_CSR = 5;                          /* core clock, enabled, no interrupt */
    uint32_t v1 = SYST_CVR;
    uint32_t v2 = SYST_CVR;
    uint32_t wrapped = 0;
    while (!(SYST_CSR & (1u << 16))) wrapped++;
    uint32_t v3 = SYST_CVR;
    SYST_CSR = 0;
    console_puts("systick ");
    console_put_u32(v1); console_putc(' '); console_put_u32(v2); console_putc(' '); console_put_u32(wrapped); console_putc(' '); console_put_u32(v3);
    console_puts("\r\n");
}

static void cmd_loop(uint32_t n) {
    cyccnt_start();
    uint32_t t0 = DWT_CYCCNT;
    uint32_t x = 1;
    for (uint32_t i = 0; i < n; i++) {
        x = x * 1664525u + 1013904223u;
        x ^= x >> 13;
    }
    uint32_t t1 = DWT_CYCCNT;
    console_puts("loop ");
    console_put_hex(x); console_putc(' '); console_put_u32(t1 - t0);
    console_puts("\r\n");
}

static int8_t buffer[1024];

static void cmd_mem(uint32_t n) {
    cyccnt_start();
    for (int i = 0; i < 1024; i++) buffer[i] = (int8_t)(i * 7);
    uint32_t t0 = DWT_CYCCNT;
    int32_t acc = 0;
    for (uint32_t k = 0; k < n; k++) {
        const int8_t *p = buffer;
        for (int i = 0; i < 1024; i += 4) {
            acc += p[i] * p[i + 1] + p[i + 2] * p[i + 3];
        }
        buffer[k & 1023] = (int8_t)acc;
    }
    uint32_t t1 = DWT_CYCCNT;
    console_puts("mem ");
    console_put_hex((uint32_t)acc); console_putc(' '); console_put_u32(t1 - t0);
    console_puts("\r\n");
}

static void cmd_info(void) {
    SCB_CSSELR = 0;                        /* level 1 data cache */
    __asm volatile("dsb" ::: "memory");
    console_puts("info ");
    console_put_hex(SCB_CPUID); console_putc(' '); console_put_hex(SCB_CLIDR); console_putc(' '); console_put_hex(SCB_CCSIDR); console_putc(' ');
    console_put_hex(RCC_CR); console_puts("\r\n");
}

/* recursion with a frame the compiler cannot drop, deeper than any stack: runs below the stack limit */
static volatile uint32_t recurse_depth = 0xFFFFFFFFu;
__attribute__((noinline)) uint32_t recurse(uint32_t n) {
    volatile uint32_t pad[16];
    pad[n & 15u] = n;
    if (n >= recurse_depth) return pad[0];
    return recurse(n + 1u) + pad[(n + 1u) & 15u];
}

/* data in flash, not code: a branch here is a branch to non-code (the halfwords would decode as NOPs) */
const uint16_t noncode_blob[8] = {0xBF00, 0xBF00, 0xBF00, 0xBF00, 0xBF00, 0xBF00, 0xBF00, 0x4770};

__attribute__((noinline)) static void cmd_fault(const char *what) {
    if (equals(what, "ram-write")) {
        REG(BOARD_RAM_BASE + BOARD_RAM_SIZE) = 0x12345678u;
    } else if (equals(what, "ram-read")) {
        console_put_u32(REG(BOARD_RAM_BASE + BOARD_RAM_SIZE));
    } else if (equals(what, "flash-write")) {
        REG(BOARD_FLASH_BASE + BOARD_FLASH_SIZE - 4u) = 0xCAFEu;
    } else if (equals(what, "udf")) {
        __asm volatile("udf #7");
    } else if (equals(what, "fetch")) {
        void (*f)(void) = (void (*)(void))(BOARD_FLASH_BASE + BOARD_FLASH_SIZE + 1u);
        f();
    } else if (equals(what, "handler")) {
        HardFault_Handler();
    } else if (equals(what, "nocp")) {
        SCB_CPACR &= ~(0xFu << 20);         /* CP10, CP11: no access */
        __asm volatile("dsb\n isb\n vadd.f32 s0, s0, s1" ::: "memory");
    } else if (equals(what, "stack")) {
        console_put_u32(recurse(0));
    } else if (equals(what, "ldrd")) {
        uint32_t a, b;
        __asm volatile("ldrd %0, %1, [%2]" : "=&r"(a), "=&r"(b) : "r"(BOARD_RAM_BASE + 2u) : "memory");
        console_put_u32(a + b);
    } else if (equals(what, "strd")) {
        __asm volatile("strd %0, %1, [%2]" :: "r"(1u), "r"(2u), "r"(BOARD_RAM_BASE + 2u) : "memory");
    } else if (equals(what, "ldm")) {
        uint32_t base = BOARD_RAM_BASE + 2u;
        __asm volatile("ldm %0, {r4, r5}" :: "r"(base) : "r4", "r5", "memory");
    } else if (equals(what, "stm")) {
        uint32_t base = BOARD_RAM_BASE + 2u;
        __asm volatile("stm %0, {r4, r5}" :: "r"(base) : "memory");
    } else if (equals(what, "noncode")) {
        void (*f)(void) = (void (*)(void))((uint32_t)noncode_blob | 1u);
        f();
    }
    console_puts("survived\r\n");
}

int main(void) {
    static char line[128];
    console_init();
    console_puts("engine_probe " BOARD_NAME " ready\r\n");
    for (;;) {
        read_line(line, sizeof line);
        if (equals(line, "ping")) console_puts("pong\r\n");
        else if (starts_with(line, "echo ")) { console_puts(line + 5); console_puts("\r\n"); }
        else if (starts_with(line, "fault ")) cmd_fault(line + 6);
        else if (equals(line, "spin")) { for (;;) { __asm volatile(""); } }
        else if (equals(line, "cyccnt")) cmd_cyccnt();
        else if (equals(line, "systick")) cmd_systick();
        else if (starts_with(line, "loop ")) cmd_loop(parse_u32(line + 5));
        else if (starts_with(line, "mem ")) cmd_mem(parse_u32(line + 4));
        else if (equals(line, "info")) cmd_info();
        else if (equals(line, "hints")) { __asm volatile("wfe\n yield\n sev" ::: "memory"); console_puts("hinted\r\n"); }
        else if (equals(line, "wfi")) { __asm volatile("wfi" ::: "memory"); console_puts("woke\r\n"); }
        else { console_puts("unknown "); console_puts(line); console_puts("\r\n"); }
    }
}
