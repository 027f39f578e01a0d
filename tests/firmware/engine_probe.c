/* Test firmware for the emulated board engine (tests/test_engine.py): its own vector table and startup,
 * a polled console on the board's console UART, and one command per line:
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
#include "board.h"

#define REG(addr) (*(volatile uint32_t *)(addr))

#define RCC_AHB1ENR REG(BOARD_RCC_BASE + 0x30u)
#define RCC_APB1ENR REG(BOARD_RCC_BASE + 0x40u)
#define RCC_CR      REG(BOARD_RCC_BASE + 0x00u)

#define GPIO_MODER REG(BOARD_CONSOLE_GPIO_BASE + 0x00u)
#define GPIO_AFRL  REG(BOARD_CONSOLE_GPIO_BASE + 0x20u)
#define GPIO_AFRH  REG(BOARD_CONSOLE_GPIO_BASE + 0x24u)

#if defined(BOARD_CONSOLE_STM32_UART)
#define UART_SR   REG(BOARD_CONSOLE_BASE + 0x00u)
#define UART_RDR  REG(BOARD_CONSOLE_BASE + 0x04u)
#define UART_TDR  REG(BOARD_CONSOLE_BASE + 0x04u)
#define UART_BRR  REG(BOARD_CONSOLE_BASE + 0x08u)
#define UART_CR1  REG(BOARD_CONSOLE_BASE + 0x0Cu)
#define UART_ENABLE ((1u << 13) | (1u << 3) | (1u << 2))
#elif defined(BOARD_CONSOLE_STM32F7_USART)
#define UART_CR1  REG(BOARD_CONSOLE_BASE + 0x00u)
#define UART_BRR  REG(BOARD_CONSOLE_BASE + 0x0Cu)
#define UART_SR   REG(BOARD_CONSOLE_BASE + 0x1Cu)
#define UART_RDR  REG(BOARD_CONSOLE_BASE + 0x24u)
#define UART_TDR  REG(BOARD_CONSOLE_BASE + 0x28u)
#define UART_ENABLE ((1u << 0) | (1u << 3) | (1u << 2))
#else
#error "no console UART layout"
#endif
#define UART_TXE  (1u << 7)
#define UART_RXNE (1u << 5)

#define SYST_CSR REG(BOARD_SCS_BASE + 0x010u)
#define SYST_RVR REG(BOARD_SCS_BASE + 0x014u)
#define SYST_CVR REG(BOARD_SCS_BASE + 0x018u)
#define SCB_CPUID  REG(BOARD_SCS_BASE + 0xD00u)
#define SCB_CLIDR  REG(BOARD_SCS_BASE + 0xD78u)
#define SCB_CCSIDR REG(BOARD_SCS_BASE + 0xD80u)
#define SCB_CSSELR REG(BOARD_SCS_BASE + 0xD84u)
#define SCB_CPACR  REG(BOARD_SCS_BASE + 0xD88u)
#define DEMCR      REG(BOARD_SCS_BASE + 0xDFCu)
#define DWT_CTRL   REG(BOARD_DWT_BASE + 0x000u)
#define DWT_CYCCNT REG(BOARD_DWT_BASE + 0x004u)
#define DWT_LAR    REG(BOARD_DWT_BASE + 0xFB0u)

extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _estack;
int main(void);

void Reset_Handler(void);
void NMI_Handler(void);
void HardFault_Handler(void);
void MemManage_Handler(void);
void BusFault_Handler(void);
void UsageFault_Handler(void);
void Default_Handler(void);

__attribute__((noinline)) void NMI_Handler(void) { for (;;) {} }
__attribute__((noinline)) void HardFault_Handler(void) { for (;;) {} }
void MemManage_Handler(void) { for (;;) {} }
void BusFault_Handler(void) { for (;;) {} }
void UsageFault_Handler(void) { for (;;) {} }
void Default_Handler(void) { for (;;) {} }

__attribute__((section(".isr_vector"), used))
void (*const vectors[16])(void) = {
    (void (*)(void))&_estack, Reset_Handler, NMI_Handler, HardFault_Handler, MemManage_Handler,
    BusFault_Handler, UsageFault_Handler, 0, 0, 0, 0, Default_Handler, Default_Handler, 0,
    Default_Handler, Default_Handler,
};

void Reset_Handler(void) {
    uint32_t *src = &_sidata, *dst = &_sdata;
    while (dst < &_edata) *dst++ = *src++;
    for (dst = &_sbss; dst < &_ebss; dst++) *dst = 0;
    SCB_CPACR |= (0xFu << 20);              /* CP10, CP11: the FPU */
    __asm volatile("dsb\n isb" ::: "memory");
    main();
    for (;;) {}
}

/* ---------------------------------------------------------------- console */
static void console_init(void) {
    BOARD_CONSOLE_GPIO_RCC_ENR |= 1u << BOARD_CONSOLE_GPIO_RCC_BIT;
    BOARD_CONSOLE_RCC_ENR |= 1u << BOARD_CONSOLE_RCC_BIT;
    const uint32_t pins[2] = {BOARD_CONSOLE_TX_PIN, BOARD_CONSOLE_RX_PIN};
    for (int i = 0; i < 2; i++) {
        uint32_t pin = pins[i];
        GPIO_MODER = (GPIO_MODER & ~(3u << (2 * pin))) | (2u << (2 * pin));
        volatile uint32_t *afr = pin < 8 ? &GPIO_AFRL : &GPIO_AFRH;
        uint32_t shift = 4 * (pin & 7);
        *afr = (*afr & ~(0xFu << shift)) | ((uint32_t)BOARD_CONSOLE_AF << shift);
    }
    UART_BRR = (BOARD_CONSOLE_CLOCK_HZ + BOARD_CONSOLE_BAUD / 2) / BOARD_CONSOLE_BAUD;
    UART_CR1 = UART_ENABLE;
}

static void putc_(char c) {
    while (!(UART_SR & UART_TXE)) {}
    UART_TDR = (uint8_t)c;
}

static void puts_(const char *s) {
    while (*s) putc_(*s++);
}

static void put_u32(uint32_t v) {
    char buf[11];
    int i = 10;
    buf[i] = 0;
    do { buf[--i] = (char)('0' + v % 10); v /= 10; } while (v);
    puts_(&buf[i]);
}

static void put_hex(uint32_t v) {
    puts_("0x");
    for (int i = 7; i >= 0; i--) putc_("0123456789abcdef"[(v >> (4 * i)) & 0xF]);
}

static char getc_(void) {
    while (!(UART_SR & UART_RXNE)) {}
    return (char)(UART_RDR & 0xFF);
}

static int read_line(char *buf, int cap) {
    int n = 0;
    for (;;) {
        char c = getc_();
        if (c == '\r') continue;
        if (c == '\n') break;
        if (n < cap - 1) buf[n++] = c;
    }
    buf[n] = 0;
    return n;
}

static int starts_with(const char *s, const char *prefix) {
    while (*prefix) if (*s++ != *prefix++) return 0;
    return 1;
}

static int equals(const char *a, const char *b) {
    while (*a && *a == *b) { a++; b++; }
    return *a == *b;
}

static uint32_t parse_u32(const char *s) {
    uint32_t v = 0;
    while (*s >= '0' && *s <= '9') v = v * 10 + (uint32_t)(*s++ - '0');
    return v;
}

/* ---------------------------------------------------------------- commands */
static void cyccnt_enable(void) {
    DEMCR |= 1u << 24;                     /* TRCENA */
    DWT_LAR = 0xC5ACCE55u;                 /* M7 software lock */
    DWT_CYCCNT = 0;
    DWT_CTRL |= 1u;
}

static void cmd_cyccnt(void) {
    cyccnt_enable();
    uint32_t a = DWT_CYCCNT;
    __asm volatile("nop\n nop\n nop\n nop\n nop" ::: "memory");
    uint32_t b = DWT_CYCCNT;
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
    puts_("cyccnt ");
    put_u32(a); putc_(' '); put_u32(b); putc_(' '); put_u32(c); putc_(' '); put_u32(d); putc_(' ');
    put_u32(e); putc_(' '); put_hex(f); putc_(' '); put_u32(g); putc_(' '); put_u32(h); putc_(' ');
    put_hex((uint32_t)post); putc_(' ');
    put_hex(i); putc_(' '); put_u32(j); putc_(' '); put_hex((uint32_t)multi);
    puts_("\r\n");
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
    puts_("systick ");
    put_u32(v1); putc_(' '); put_u32(v2); putc_(' '); put_u32(wrapped); putc_(' '); put_u32(v3);
    puts_("\r\n");
}

static void cmd_loop(uint32_t n) {
    cyccnt_enable();
    uint32_t t0 = DWT_CYCCNT;
    uint32_t x = 1;
    for (uint32_t i = 0; i < n; i++) {
        x = x * 1664525u + 1013904223u;
        x ^= x >> 13;
    }
    uint32_t t1 = DWT_CYCCNT;
    puts_("loop ");
    put_hex(x); putc_(' '); put_u32(t1 - t0);
    puts_("\r\n");
}

static int8_t buffer[1024];

static void cmd_mem(uint32_t n) {
    cyccnt_enable();
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
    puts_("mem ");
    put_hex((uint32_t)acc); putc_(' '); put_u32(t1 - t0);
    puts_("\r\n");
}

static void cmd_info(void) {
    SCB_CSSELR = 0;                        /* level 1 data cache */
    __asm volatile("dsb" ::: "memory");
    puts_("info ");
    put_hex(SCB_CPUID); putc_(' '); put_hex(SCB_CLIDR); putc_(' '); put_hex(SCB_CCSIDR); putc_(' ');
    put_hex(RCC_CR); puts_("\r\n");
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
        put_u32(REG(BOARD_RAM_BASE + BOARD_RAM_SIZE));
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
        put_u32(recurse(0));
    } else if (equals(what, "ldrd")) {
        uint32_t a, b;
        __asm volatile("ldrd %0, %1, [%2]" : "=&r"(a), "=&r"(b) : "r"(BOARD_RAM_BASE + 2u) : "memory");
        put_u32(a + b);
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
    puts_("survived\r\n");
}

int main(void) {
    static char line[128];
    console_init();
    puts_("engine_probe " BOARD_NAME " ready\r\n");
    for (;;) {
        read_line(line, sizeof line);
        if (equals(line, "ping")) puts_("pong\r\n");
        else if (starts_with(line, "echo ")) { puts_(line + 5); puts_("\r\n"); }
        else if (starts_with(line, "fault ")) cmd_fault(line + 6);
        else if (equals(line, "spin")) { for (;;) { __asm volatile(""); } }
        else if (equals(line, "cyccnt")) cmd_cyccnt();
        else if (equals(line, "systick")) cmd_systick();
        else if (starts_with(line, "loop ")) cmd_loop(parse_u32(line + 5));
        else if (starts_with(line, "mem ")) cmd_mem(parse_u32(line + 4));
        else if (equals(line, "info")) cmd_info();
        else if (equals(line, "hints")) { __asm volatile("wfe\n yield\n sev" ::: "memory"); puts_("hinted\r\n"); }
        else if (equals(line, "wfi")) { __asm volatile("wfi" ::: "memory"); puts_("woke\r\n"); }
        else { puts_("unknown "); puts_(line); puts_("\r\n"); }
    }
}
