/* TIM2 as a firmware's time base (tests/test_timers.py), from the reset clock (HSI, prescalers 1) or after
 * `clock`, with register addresses and bits from RM0385 (F7) / RM0390 (F446), which agree on all of them:
 *   clock <plln> [<hse>]     HSI / BOARD_PLLM * plln / 2 -> SYSCLK (or HSE at <hse> MHz / <hse> * plln / 2),
 *                            APB1 /4, APB2 /2, as clock.c does
 *   free <psc> <loops>      TIM2 free-running (ARR all ones) at timer clock / (psc + 1), read around a loop:
 *                            "free <cnt0> <cnt1> <cyccnt0> <cyccnt1>"
 *   update <psc> <arr> <n>  the update interrupt n times, the main loop in WFI: "update <count> <stamp0>
 *                            <stamp n-1>" (CYCCNT at each handler's entry)
 *   compare <psc> <arr> <ccr> <n>  channel 1's compare interrupt n times: "compare <count> <stamp0>
 *                            <stamp n-1>"
 *   opm <psc> <arr>         one-pulse mode: waits for CEN to clear, "opm <cr1> <cnt> <sr> <cyccnt0> <cyccnt1>"
 * The timer clock is the firmware's to know (HAL: 2 x PCLK1 when APB1 is divided): the host passes psc. */
#include <stdint.h>
#include "../../firmware/bare/bare.h"

#define RCC(off)   REG(BOARD_RCC_BASE + (off))
#define PWR(off)   REG(BOARD_PWR_BASE + (off))
#define FLASH_ACR  REG(BOARD_FLASH_IF_BASE + 0x00u)
#define NVIC_ISER0 REG(BOARD_SCS_BASE + 0x100u)
#define TIM2_BASE  0x40000000u             /* APB1, RM0385 table 1 / RM0390 table 1 */
#define TIM2(off)  REG(TIM2_BASE + (off))
#define TIM_CR1 0x00u
#define TIM_DIER 0x0Cu
#define TIM_SR 0x10u
#define TIM_EGR 0x14u
#define TIM_CCMR1 0x18u
#define TIM_CNT 0x24u
#define TIM_PSC 0x28u
#define TIM_ARR 0x2Cu
#define TIM_CCR1 0x34u
#define CR1_CEN 1u
#define CR1_OPM (1u << 3)
#define TIM2_IRQ 28u                        /* vector table position (both manuals) */
#define MAX_STAMPS 16u

extern uint32_t _estack;
void TIM2_IRQHandler(void);

__attribute__((section(".isr_vector"), used))
const bare_vector_t vectors[16 + TIM2_IRQ + 1] = {
    [0] = (bare_vector_t)&_estack, [1] = Reset_Handler, [2] = NMI_Handler, [3] = HardFault_Handler,
    [4] = MemManage_Handler, [5] = BusFault_Handler, [6] = UsageFault_Handler, [11] = Default_Handler,
    [12] = Default_Handler, [14] = Default_Handler, [15] = Default_Handler,
    [16 + TIM2_IRQ] = TIM2_IRQHandler,
};

static volatile uint32_t updates;
static volatile uint32_t stamps[MAX_STAMPS];

void TIM2_IRQHandler(void) {
    uint32_t now = DWT_CYCCNT;               /* first: the entry's time, before anything else runs */
    TIM2(TIM_SR) = 0;                        /* UIF is rc_w0: clear it, or the line stays high */
    if (updates < MAX_STAMPS) stamps[updates] = now;
    updates++;
}

static void wait_set(volatile uint32_t *reg, uint32_t bits) {
    while ((*reg & bits) != bits) {}
}

static void cmd_clock(uint32_t plln, uint32_t hse_mhz) {
    RCC(0x40u) |= 1u << 28;                                        /* APB1ENR.PWREN */
    (void)RCC(0x40u);
    uint32_t in = BOARD_PLLM;                                      /* HSI / PLLM */
    if (hse_mhz) {                                                 /* the board's crystal, 1 MHz into the PLL */
        RCC(0x00u) |= 1u << 16;                                    /* HSEON */
        wait_set(&RCC(0x00u), 1u << 17);                           /* HSERDY */
        in = hse_mhz | 1u << 22;                                   /* PLLM, PLLSRC = HSE */
    }
    RCC(0x04u) = (RCC(0x04u) & ~0x0F437FFFu) | in | (plln << 6) | ((uint32_t)BOARD_PLLQ << 24);  /* P = 2 */
    RCC(0x00u) |= 1u << 24;                                        /* PLLON */
    wait_set(&RCC(0x00u), 1u << 25);                               /* PLLRDY */
    PWR(0x00u) |= 1u << 16;                                        /* over-drive for 180/216 MHz */
    wait_set(&PWR(0x04u), 1u << 16);
    PWR(0x00u) |= 1u << 17;
    wait_set(&PWR(0x04u), 1u << 17);
    FLASH_ACR = (FLASH_ACR & ~0xFu) | BOARD_FLASH_WAIT_STATES;    /* wait states before the faster clock */
    RCC(0x08u) = (RCC(0x08u) & ~0xFCF0u) | (5u << 10) | (4u << 13);   /* HPRE /1, PPRE1 /4, PPRE2 /2 */
    RCC(0x08u) = (RCC(0x08u) & ~3u) | 2u;                          /* SW = PLL */
    while ((RCC(0x08u) & 0xCu) != 0x8u) {}                         /* SWS = PLL */
    console_puts("clock ok\r\n");
}

/* Stopped, prescaler and limit loaded by an update (PSC is preloaded: without UG it would only apply
 * after the first overflow), the update flag cleared. */
static void tim2_setup(uint32_t psc, uint32_t arr) {
    RCC(0x40u) |= 1u;                                              /* APB1ENR.TIM2EN */
    (void)RCC(0x40u);
    TIM2(TIM_CR1) = 0;
    TIM2(TIM_PSC) = psc;
    TIM2(TIM_ARR) = arr;
    TIM2(TIM_EGR) = 1u;                                            /* UG */
    TIM2(TIM_SR) = 0;
}

static void cmd_free(uint32_t psc, uint32_t loops) {
    tim2_setup(psc, 0xFFFFFFFFu);
    TIM2(TIM_CR1) = CR1_CEN;
    uint32_t c0 = DWT_CYCCNT, t0 = TIM2(TIM_CNT);
    for (volatile uint32_t i = 0; i < loops; i++) {}
    uint32_t t1 = TIM2(TIM_CNT), c1 = DWT_CYCCNT;
    TIM2(TIM_CR1) = 0;
    console_puts("free "); console_put_u32(t0); console_putc(' '); console_put_u32(t1);
    console_putc(' '); console_put_u32(c0); console_putc(' '); console_put_u32(c1); console_puts("\r\n");
}

/* The timer's interrupt (DIER = `dier`) n times, the main loop in WFI: "<name><count> <stamp0> <stamp n-1>"
 * (CYCCNT at each handler's entry) */
static void interrupts(const char *name, uint32_t dier, uint32_t n) {
    updates = 0;
    TIM2(TIM_DIER) = dier;
    NVIC_ISER0 = 1u << TIM2_IRQ;
    TIM2(TIM_CR1) = CR1_CEN;
    while (updates < n) { __asm__ volatile("wfi"); }
    TIM2(TIM_CR1) = 0;
    TIM2(TIM_DIER) = 0;
    uint32_t last = n <= MAX_STAMPS ? n - 1 : MAX_STAMPS - 1;
    console_puts(name); console_put_u32(updates); console_putc(' '); console_put_u32(stamps[0]);
    console_putc(' '); console_put_u32(stamps[last]); console_puts("\r\n");
}

static void cmd_update(uint32_t psc, uint32_t arr, uint32_t n) {
    tim2_setup(psc, arr);
    interrupts("update ", 1u, n);                                  /* UIE */
}

/* channel 1 in output compare (CCMR1.CC1S = 00, frozen), its interrupt n times */
static void cmd_compare(uint32_t psc, uint32_t arr, uint32_t ccr, uint32_t n) {
    tim2_setup(psc, arr);
    TIM2(TIM_CCMR1) = 0;
    TIM2(TIM_CCR1) = ccr;
    interrupts("compare ", 1u << 1, n);                            /* CC1IE */
}

static void cmd_opm(uint32_t psc, uint32_t arr) {
    tim2_setup(psc, arr);
    uint32_t c0 = DWT_CYCCNT;
    TIM2(TIM_CR1) = CR1_OPM | CR1_CEN;
    while (TIM2(TIM_CR1) & CR1_CEN) {}
    uint32_t c1 = DWT_CYCCNT;
    console_puts("opm "); console_put_u32(TIM2(TIM_CR1)); console_putc(' '); console_put_u32(TIM2(TIM_CNT));
    console_putc(' '); console_put_u32(TIM2(TIM_SR)); console_putc(' '); console_put_u32(c0);
    console_putc(' '); console_put_u32(c1); console_puts("\r\n");
}

/* the next decimal argument after `*s`'s space */
static uint32_t arg(const char **s) {
    while (**s && **s != ' ') (*s)++;
    while (**s == ' ') (*s)++;
    return parse_u32(*s);
}

int main(void) {
    static char line[64];
    cyccnt_start();
    console_init();
    console_puts("tim_bench " BOARD_NAME " ready\r\n");
    for (;;) {
        read_line(line, sizeof line);
        const char *p = line;
        if (starts_with(line, "clock ")) { uint32_t a = arg(&p); cmd_clock(a, arg(&p)); }
        else if (starts_with(line, "free ")) { uint32_t a = arg(&p); cmd_free(a, arg(&p)); }
        else if (starts_with(line, "update ")) { uint32_t a = arg(&p), b = arg(&p); cmd_update(a, b, arg(&p)); }
        else if (starts_with(line, "compare ")) {
            uint32_t a = arg(&p), b = arg(&p), c = arg(&p);
            cmd_compare(a, b, c, arg(&p));
        }
        else if (starts_with(line, "opm ")) { uint32_t a = arg(&p); cmd_opm(a, arg(&p)); }
        else { console_puts("unknown\r\n"); }
    }
}
