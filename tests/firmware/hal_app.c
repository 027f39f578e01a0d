/* Test firmware written the way STM32 HAL applications are (tests/test_hal.py): a clock tree set up with
 * ready-flag waits (SystemClock_Config), SysTick at 1 kHz driving uwTick (HAL_InitTick, HAL_GetTick,
 * HAL_Delay), interrupt-driven UART transmit (HAL_UART_Transmit_IT: TXE then TC interrupts through the
 * NVIC), GPIO writes through BSRR, and exception probes. Commands, one per line on the console:
 *   delay <n>      HAL_Delay(n) from a tick edge: "delay <ticks> <cycles>" (DWT CYCCNT delta)
 *   wfidelay <n>   the same, sleeping in WFI between ticks
 *   say <text>     <text>, sent by the UART interrupt
 *   gpio           "gpio <odr after set> <odr after reset> <idr>"
 *   frame          PendSV pended with known r0-r3/r12: what its handler found on the stack
 *   nest           PendSV (lowest priority) pends SysTick (highest): SysTick preempts it
 *   mask           PRIMASK and BASEPRI hold a pended PendSV back until they are lowered
 *   fault <what>   bus | udf | usage-udf | bkpt | trp-unaligned | trp-div0: the firmware's own fault
 *                  handlers print the status (trp-*: CCR.UNALIGN_TRP / DIV_0_TRP set, UsageFault enabled)
 *   rxirq          "rx ready", then the next line is received by RXNE interrupts: "got <line> <length>"
 *   quiet          an unaligned LDR and a divide by zero with the CCR traps off: "quiet <word> <quotient>"
 *   semi <text>    <text> through semihosting SYS_WRITE0
 *   exit <n>       semihosting SYS_EXIT_EXTENDED with code n
 *   ids            "ids <uid0> <uid1> <uid2> <flash KB> <DBGMCU_IDCODE>", as HAL_GetUIDw0.. / HAL_GetDEVID do
 *   tim12          starts TIM12 (a peripheral the board does not model) and reads its counter
 *   irqspin <rvr>  the same, polling a flag the handler sets instead of WFI (c0 h0 h1 m, m after the loop)
 *   irqtime <rvr>  VTOR moved to a RAM copy whose SysTick vector is SysTick_Timing; SysTick (TICKINT,
 *                  reload rvr) started from a CYCCNT reading c0, WFI until it interrupts:
 *                  "irqtime c0 h0 h1 m", h0/h1 the handler's first and last CYCCNT reads, m main's first
 *                  read after the return; then the HAL tick is restored
 * CONSOLE_IRQ (the console UART's NVIC line), UID_BASE, FLASHSIZE_BASE, DBGMCU_BASE and TIM12_BASE come from
 * the board's .repl through the generated irq.h. */
#include <stdint.h>
#include "../../firmware/bare/bare.h"     /* startup, polled console, parsing, DWT: the shared base */
#include "irq.h"

#define RCC_CR      REG(BOARD_RCC_BASE + 0x00u)
#define RCC_PLLCFGR REG(BOARD_RCC_BASE + 0x04u)
#define RCC_CFGR    REG(BOARD_RCC_BASE + 0x08u)
#define RCC_AHB1ENR REG(BOARD_RCC_BASE + 0x30u)
#define RCC_APB1ENR REG(BOARD_RCC_BASE + 0x40u)
#define PWR_CR      REG(BOARD_PWR_BASE + 0x00u)
#define PWR_CSR     REG(BOARD_PWR_BASE + 0x04u)
#define FLASH_ACR   REG(BOARD_FLASH_IF_BASE + 0x00u)

#define GPIO_IDR   REG(BOARD_CONSOLE_GPIO_BASE + 0x10u)
#define GPIO_ODR   REG(BOARD_CONSOLE_GPIO_BASE + 0x14u)
#define GPIO_BSRR  REG(BOARD_CONSOLE_GPIO_BASE + 0x18u)

#if defined(BOARD_CONSOLE_STM32_UART)
#define UART_SR   REG(BOARD_CONSOLE_BASE + 0x00u)
#define UART_RDR  REG(BOARD_CONSOLE_BASE + 0x04u)
#define UART_TDR  REG(BOARD_CONSOLE_BASE + 0x04u)
#define UART_CR1  REG(BOARD_CONSOLE_BASE + 0x0Cu)
#elif defined(BOARD_CONSOLE_STM32F7_USART)
#define UART_CR1  REG(BOARD_CONSOLE_BASE + 0x00u)
#define UART_SR   REG(BOARD_CONSOLE_BASE + 0x1Cu)
#define UART_RDR  REG(BOARD_CONSOLE_BASE + 0x24u)
#define UART_TDR  REG(BOARD_CONSOLE_BASE + 0x28u)
#endif
#define UART_TXEIE (1u << 7)
#define UART_TCIE  (1u << 6)
#define UART_TXE  (1u << 7)
#define UART_TC   (1u << 6)
#define UART_RXNE (1u << 5)

#define SYST_CSR   REG(BOARD_SCS_BASE + 0x010u)
#define SYST_RVR   REG(BOARD_SCS_BASE + 0x014u)
#define SYST_CVR   REG(BOARD_SCS_BASE + 0x018u)
#define NVIC_ISER(n) REG(BOARD_SCS_BASE + 0x100u + 4u * (n))
#define NVIC_IPR8(n) (*(volatile uint8_t *)(BOARD_SCS_BASE + 0x400u + (n)))
#define SCB_ICSR   REG(BOARD_SCS_BASE + 0xD04u)
#define SCB_VTOR   REG(BOARD_SCS_BASE + 0xD08u)
#define SCB_SHPR3  REG(BOARD_SCS_BASE + 0xD20u)
#define SCB_CCR    REG(BOARD_SCS_BASE + 0xD14u)
#define SCB_SHCSR  REG(BOARD_SCS_BASE + 0xD24u)
#define SCB_CFSR   REG(BOARD_SCS_BASE + 0xD28u)
#define SCB_HFSR   REG(BOARD_SCS_BASE + 0xD2Cu)
#define SCB_BFAR   REG(BOARD_SCS_BASE + 0xD38u)
#define ICSR_PENDSVSET (1u << 28)
#define ICSR_PENDSTSET (1u << 26)

extern uint32_t _estack;
void SysTick_Handler(void);
void PendSV_Handler(void);
void USART_IRQHandler(void);

/* Its own table, not the base's vectors.c: the console UART's interrupt line comes after the 16 system
 * vectors. Reset_Handler and Default_Handler are the base's; HardFault and UsageFault are taken over below. */
#define VECTORS (16 + 64)
typedef void (*vector_t)(void);
static vector_t const *vector_table(void);

__attribute__((section(".isr_vector"), used))
const vector_t vectors[VECTORS] = {
    [0] = (vector_t)&_estack, [1] = Reset_Handler, [2] = Default_Handler, [3] = HardFault_Handler,
    [4] = Default_Handler, [5] = Default_Handler, [6] = UsageFault_Handler, [11] = Default_Handler,
    [12] = Default_Handler, [14] = PendSV_Handler, [15] = SysTick_Handler,
    [16 + CONSOLE_IRQ] = USART_IRQHandler,
};
static vector_t const *vector_table(void) { return vectors; }

/* ---------------------------------------------------------------- HAL-style clock and tick */
uint32_t SystemCoreClock = BOARD_HSI_HZ;
static volatile uint32_t uwTick;

static void wait_set(volatile uint32_t *reg, uint32_t mask) { while ((*reg & mask) != mask) {} }

static void SystemClock_Config(void) {
    RCC_CR |= 1u;                                           /* HSION */
    wait_set(&RCC_CR, 1u << 1);                             /* HSIRDY */
    RCC_APB1ENR |= 1u << 28;                                /* PWREN */
    (void)RCC_APB1ENR;
    PWR_CR |= 3u << 14;                                     /* VOS scale 1 */
    RCC_PLLCFGR = (RCC_PLLCFGR & ~0x0F437FFFu) | (BOARD_PLLM << 0) | (BOARD_PLLN << 6)
        | ((BOARD_PLLP / 2u - 1u) << 16) | ((uint32_t)BOARD_PLLQ << 24);
    RCC_CR |= 1u << 24;                                     /* PLLON */
    wait_set(&RCC_CR, 1u << 25);                            /* PLLRDY */
    PWR_CR |= 1u << 16;                                     /* ODEN */
    wait_set(&PWR_CSR, 1u << 16);                           /* ODRDY */
    PWR_CR |= 1u << 17;                                     /* ODSWEN */
    wait_set(&PWR_CSR, 1u << 17);                           /* ODSWRDY */
    FLASH_ACR = (FLASH_ACR & ~0xFu) | (1u << 9) | (1u << 8) | BOARD_FLASH_WAIT_STATES;
    while ((FLASH_ACR & 0xFu) != BOARD_FLASH_WAIT_STATES) {}
    RCC_CFGR = (RCC_CFGR & ~0xFCF0u) | (5u << 10) | (4u << 13);   /* APB1 /4, APB2 /2 */
    RCC_CFGR = (RCC_CFGR & ~3u) | 2u;                       /* SW = PLL */
    while ((RCC_CFGR & 0xCu) != 0x8u) {}                    /* SWS = PLL */
    SystemCoreClock = BOARD_SYSCLK_HZ;
}

static void HAL_InitTick(void) {
    SYST_RVR = SystemCoreClock / 1000u - 1u;
    SYST_CVR = 0;
    SCB_SHPR3 = (SCB_SHPR3 & 0x00FFFFFFu) | (0xF0u << 24);  /* SysTick: lowest priority, as the HAL */
    SYST_CSR = 7u;                                          /* CLKSOURCE core, TICKINT, ENABLE */
}

void SysTick_Handler(void) { uwTick++; }
static uint32_t HAL_GetTick(void) { return uwTick; }

static void HAL_Delay(uint32_t ms, int sleep) {
    uint32_t start = HAL_GetTick();
    while (HAL_GetTick() - start < ms) {
        if (sleep) __asm volatile("wfi");
    }
}

/* ---------------------------------------------------------------- UART: polled receive, IT transmit */
static const char *volatile tx_ptr;
static volatile uint32_t tx_left;
static volatile int tx_busy;

/* the base's polled console (UE, TE, RE), with its interrupt line open in the NVIC */
static void console_irq_init(void) {
    console_init();
    NVIC_IPR8(CONSOLE_IRQ) = 0x40;
    NVIC_ISER(CONSOLE_IRQ / 32) = 1u << (CONSOLE_IRQ % 32);
}

#define UART_RXNEIE (1u << 5)
static volatile char rx_buf[64];
static volatile uint32_t rx_n, rx_done;

void USART_IRQHandler(void) {
    uint32_t sr = UART_SR, cr1 = UART_CR1;
    if ((sr & UART_RXNE) && (cr1 & UART_RXNEIE)) {     /* HAL_UART_Receive_IT: a byte per interrupt */
        char c = (char)(UART_RDR & 0xFF);
        if (c == '\n') {
            rx_buf[rx_n] = 0;
            rx_done = 1;
            UART_CR1 &= ~UART_RXNEIE;
        } else if (c != '\r' && rx_n < sizeof rx_buf - 1) {
            rx_buf[rx_n++] = c;
        }
    }
    if ((sr & UART_TXE) && (cr1 & UART_TXEIE)) {
        UART_TDR = (uint8_t)*tx_ptr++;
        if (--tx_left == 0) UART_CR1 = (UART_CR1 & ~UART_TXEIE) | UART_TCIE;
    } else if ((sr & UART_TC) && (cr1 & UART_TCIE)) {
        UART_CR1 &= ~UART_TCIE;
        tx_busy = 0;
    }
}

static void transmit_it(const char *s, uint32_t n) {
    while (tx_busy) {}
    if (!n) return;
    tx_ptr = s;
    tx_left = n;
    tx_busy = 1;
    UART_CR1 |= UART_TXEIE;
}

static char out[160];
static uint32_t out_n;

static void put(const char *s) { while (*s && out_n < sizeof out - 2) out[out_n++] = *s++; }
static void put_u32(uint32_t v) { char buf[BARE_NUM_CHARS]; put(u32_text(buf, v)); }
static void put_hex(uint32_t v) { char buf[BARE_NUM_CHARS]; put(hex_text(buf, v)); }
static void send(void) {               /* the line in `out`, by interrupt; waits until it is out */
    out[out_n++] = '\r';
    out[out_n++] = '\n';
    transmit_it(out, out_n);
    while (tx_busy) {}
    out_n = 0;
}

/* ---------------------------------------------------------------- exception probes */
static volatile uint32_t pendsv_frame[8], pendsv_sp, pendsv_lr, pendsv_ipsr, pendsv_runs, expected_pc;
static volatile uint32_t nest_mode, systick_in_pendsv_icsr, systick_lr, ticks_seen_in_pendsv, fp_clobber;

void pendsv_c(uint32_t *frame, uint32_t lr) {
    for (int i = 0; i < 8; i++) pendsv_frame[i] = frame[i];
    pendsv_sp = (uint32_t)frame;
    pendsv_lr = lr;
    uint32_t ipsr;
    __asm volatile("mrs %0, ipsr" : "=r"(ipsr));
    pendsv_ipsr = ipsr;
    pendsv_runs++;
    if (fp_clobber) {
        uint32_t zero = 0;
        __asm volatile("vmov s0, %0\n vmov s15, %0" :: "r"(zero) : "s0", "s15");
    }
    if (nest_mode) {
        uint32_t before = uwTick;
        SCB_ICSR = ICSR_PENDSTSET;          /* SysTick has a higher priority: it preempts at once */
        __asm volatile("dsb\n isb" ::: "memory");
        ticks_seen_in_pendsv = uwTick - before;
    }
}

__attribute__((naked)) void PendSV_Handler(void) {
    /* the frame is on the stack EXC_RETURN names: bit 2 set = the process stack */
    __asm volatile("tst lr, #4\n ite eq\n mrseq r0, msp\n mrsne r0, psp\n"
                   "mov r1, lr\n push {r4, lr}\n bl pendsv_c\n pop {r4, pc}\n");
}

static void cmd_frame(void) {
    pendsv_runs = 0;
    __asm volatile(
        "ldr r7, =1f\n"
        "str r7, [%[exp]]\n"
        "ldr r0, =0x10101010\n"
        "ldr r1, =0x21212121\n"
        "ldr r2, =0x32323232\n"
        "ldr r3, =0x43434343\n"
        "ldr r12, =0x5c5c5c5c\n"
        "str %[bit], [%[icsr]]\n"
        "1: nop\n"
        :
        : [exp] "r"(&expected_pc), [bit] "r"(ICSR_PENDSVSET), [icsr] "r"(&SCB_ICSR)
        : "r0", "r1", "r2", "r3", "r7", "r12", "memory");
    put("frame");
    for (int i = 0; i < 8; i++) { put(" "); put_hex(pendsv_frame[i]); }
    put(" sp="); put_hex(pendsv_sp); put(" lr="); put_hex(pendsv_lr); put(" ipsr="); put_u32(pendsv_ipsr);
    put(" expected="); put_hex(expected_pc & ~1u); put(" runs="); put_u32(pendsv_runs);
    send();
}

static uint32_t process_stack[64] __attribute__((aligned(8)));

/* thread mode on the process stack (CONTROL.SPSEL), as an RTOS task runs: PendSV stacks on PSP and
 * returns there through EXC_RETURN 0xFFFFFFFD */
static void cmd_psp(void) {
    uint32_t top = (uint32_t)&process_stack[64], psp_after, control_after, msp_before, msp_after;
    __asm volatile("mrs %0, msp" : "=r"(msp_before));
    __asm volatile(
        "msr psp, %[top]\n"
        "movs r0, #2\n"
        "msr control, r0\n"
        "isb\n"
        "ldr r0, =0x10101010\n"
        "str %[bit], [%[icsr]]\n"
        "dsb\n isb\n"
        "mrs %[psp], psp\n"
        "mrs %[ctl], control\n"
        "movs r0, #0\n"
        "msr control, r0\n"
        "isb\n"
        : [psp] "=&r"(psp_after), [ctl] "=&r"(control_after)
        : [top] "r"(top), [bit] "r"(ICSR_PENDSVSET), [icsr] "r"(&SCB_ICSR)
        : "r0", "r1", "r2", "r3", "r12", "lr", "memory");
    __asm volatile("mrs %0, msp" : "=r"(msp_after));
    put("psp "); put_hex(pendsv_lr); put(" "); put_hex(top - pendsv_sp); put(" "); put_hex(pendsv_frame[0]);
    put(" "); put_hex(top - psp_after); put(" "); put_hex(control_after & 3); put(" ");
    put_u32(msp_before == msp_after);
    send();
}

/* FP registers live across an exception whose handler uses them: CONTROL.FPCA makes the frame the
 * extended one (EXC_RETURN 0xFFFFFFE9) and the return restores S0-S15 */
static void cmd_fpframe(void) {
    uint32_t a = 0x3F800000u, b = 0x40490FDBu, x, y;
    fp_clobber = 1;
    __asm volatile(
        "vmov s0, %[a]\n"
        "vmov s15, %[b]\n"
        "str %[bit], [%[icsr]]\n"
        "dsb\n isb\n"
        "vmov %[x], s0\n"
        "vmov %[y], s15\n"
        : [x] "=&r"(x), [y] "=&r"(y)
        : [a] "r"(a), [b] "r"(b), [bit] "r"(ICSR_PENDSVSET), [icsr] "r"(&SCB_ICSR)
        : "s0", "s15", "memory");
    fp_clobber = 0;
    put("fpframe "); put_hex(pendsv_lr); put(" "); put_hex(x); put(" "); put_hex(y);
    send();
}

static void cmd_nest(void) {
    uint32_t shpr3 = SCB_SHPR3;
    SCB_SHPR3 = (0x00u << 24) | (0xF0u << 16);  /* SysTick highest, PendSV lowest */
    nest_mode = 1;
    SCB_ICSR = ICSR_PENDSVSET;
    __asm volatile("dsb\n isb" ::: "memory");
    nest_mode = 0;
    SCB_SHPR3 = shpr3;
    put("nest "); put_u32(ticks_seen_in_pendsv);
    send();
}

static void cmd_mask(void) {
    pendsv_runs = 0;
    __asm volatile("cpsid i" ::: "memory");
    SCB_ICSR = ICSR_PENDSVSET;
    __asm volatile("dsb\n isb" ::: "memory");
    uint32_t held_primask = pendsv_runs;
    uint32_t icsr = SCB_ICSR;
    __asm volatile("cpsie i\n isb" ::: "memory");
    uint32_t after_primask = pendsv_runs;
    /* BASEPRI 0x80 holds back PendSV at priority 0xF0 */
    uint32_t shpr3 = SCB_SHPR3;
    SCB_SHPR3 = (shpr3 & 0xFF00FFFFu) | (0xF0u << 16);
    uint32_t bp = 0x80;
    __asm volatile("msr basepri, %0\n isb" :: "r"(bp) : "memory");
    SCB_ICSR = ICSR_PENDSVSET;
    __asm volatile("dsb\n isb" ::: "memory");
    uint32_t held_basepri = pendsv_runs;
    bp = 0;
    __asm volatile("msr basepri, %0\n isb" :: "r"(bp) : "memory");
    uint32_t after_basepri = pendsv_runs;
    SCB_SHPR3 = shpr3;
    put("mask "); put_u32(held_primask); put(" "); put_u32(after_primask); put(" ");
    put_hex(icsr & ICSR_PENDSVSET); put(" "); put_u32(held_basepri); put(" "); put_u32(after_basepri);
    send();
}

/* the console is polled here: no interrupt can run in a fault handler */
void HardFault_Handler(void) {
    console_puts("hardfault cfsr="); console_put_hex(SCB_CFSR);
    console_puts(" hfsr="); console_put_hex(SCB_HFSR);
    console_puts(" bfar="); console_put_hex(SCB_BFAR);
    console_puts("\r\n");
    for (;;) {}
}

void UsageFault_Handler(void) {
    console_puts("usagefault cfsr="); console_put_hex(SCB_CFSR);
    console_puts("\r\n");
    for (;;) {}
}

volatile uint32_t irq_times[2];

/* SysTick handler for `irqtime`: CYCCNT at its first and last instructions, then SysTick off. */
__attribute__((naked)) void SysTick_Timing(void) {
    __asm volatile(
        "ldr r0, =0xE0001004\n"          /* DWT_CYCCNT */
        "ldr r1, [r0]\n"                 /* h0 */
        "ldr r2, =irq_times\n"
        "str r1, [r2]\n"
        "ldr r3, =0xE000E010\n"          /* SYST_CSR */
        "movs r1, #0\n"
        "str r1, [r3]\n"
        "ldr r1, [r0]\n"                 /* h1 */
        "str r1, [r2, #4]\n"
        "bx lr\n");
}

static vector_t ram_vectors[VECTORS] __attribute__((aligned(512)));

static void cmd_irqtime(uint32_t reload, int spin) {
    for (int i = 0; i < VECTORS; i++) ram_vectors[i] = vectors[i];
    ram_vectors[15] = SysTick_Timing;
    SYST_CSR = 0;
    SCB_VTOR = (uint32_t)ram_vectors;
    SYST_RVR = reload;
    SYST_CVR = 0;
    __asm volatile("dsb\n isb" ::: "memory");
    uint32_t c0, m;
    irq_times[0] = 0;
    if (spin) {
        /* running code: polls the handler's mark (LDR, CMP, BEQ: one 5-cycle block per turn on the M4) */
        __asm volatile(
            "ldr r0, =0xE0001004\n"
            "ldr r1, =0xE000E010\n"
            "movs r2, #7\n"
            "ldr %[c0], [r0]\n"
            "str r2, [r1]\n"
            "1: ldr r3, [%[mark]]\n"
            "cmp r3, #0\n"
            "beq 1b\n"
            "ldr %[m], [r0]\n"
            : [c0] "=&r"(c0), [m] "=&r"(m)
            : [mark] "r"(&irq_times[0])
            : "r0", "r1", "r2", "r3", "cc", "memory");
    } else {
        __asm volatile(
            "ldr r0, =0xE0001004\n"
            "ldr r1, =0xE000E010\n"
            "movs r2, #7\n"                  /* ENABLE, TICKINT, core clock */
            "ldr %[c0], [r0]\n"
            "str r2, [r1]\n"
            "wfi\n"
            "ldr %[m], [r0]\n"
            : [c0] "=&r"(c0), [m] "=&r"(m)
            :
            : "r0", "r1", "r2", "r3", "memory");
    }
    SCB_VTOR = (uint32_t)vector_table();
    HAL_InitTick();
    put("irqtime "); put_u32(c0); put(" "); put_u32(irq_times[0]); put(" "); put_u32(irq_times[1]);
    put(" "); put_u32(m);
    send();
}

static void cmd_fault(const char *what) {
    if (equals(what, "bus")) {
        (void)REG(BOARD_RAM_BASE + BOARD_RAM_SIZE);          /* just past the end of RAM */
    } else if (equals(what, "udf")) {
        __asm volatile("udf #7");
    } else if (equals(what, "usage-udf")) {
        SCB_SHCSR |= 1u << 18;                              /* USGFAULTENA */
        __asm volatile("dsb\n isb\n udf #9" ::: "memory");
    } else if (equals(what, "trp-unaligned") || equals(what, "trp-div0")) {
        SCB_SHCSR |= 1u << 18;                              /* USGFAULTENA */
        SCB_CCR |= what[4] == 'u' ? 1u << 3 : 1u << 4;      /* UNALIGN_TRP / DIV_0_TRP */
        __asm volatile("dsb\n isb" ::: "memory");
        if (what[4] == 'u') {
            uint32_t v;
            __asm volatile("ldr %0, [%1]" : "=r"(v) : "r"(BOARD_RAM_BASE + 1u) : "memory");
        } else {
            int32_t q, zero = 0, n = 7;
            __asm volatile("sdiv %0, %1, %2" : "=r"(q) : "r"(n), "r"(zero));
        }
    } else if (equals(what, "bkpt")) {
        __asm volatile("bkpt #1");
    }
}

static void semihost(uint32_t op, void *arg) {
    register uint32_t r0 __asm("r0") = op;
    register void *r1 __asm("r1") = arg;
    __asm volatile("bkpt #0xab" : "+r"(r0) : "r"(r1) : "memory");
}

int main(void) {
    SCB_VTOR = (uint32_t)vector_table();
    __asm volatile("dsb\n isb" ::: "memory");
    SystemClock_Config();
    HAL_InitTick();
    console_irq_init();
    cyccnt_start();
    put("hal_app " BOARD_NAME " ready");
    send();
    char line[96];
    for (;;) {
        read_line(line, sizeof line);
        if (starts_with(line, "delay ") || starts_with(line, "wfidelay ")) {
            int sleep = line[0] == 'w';
            uint32_t n = parse_u32(line + (sleep ? 9 : 6));
            uint32_t t0 = HAL_GetTick();
            while (HAL_GetTick() == t0) {}                  /* start on a tick edge */
            uint32_t c0 = DWT_CYCCNT, k0 = HAL_GetTick();
            HAL_Delay(n, sleep);
            uint32_t c1 = DWT_CYCCNT, k1 = HAL_GetTick();
            put("delay "); put_u32(k1 - k0); put(" "); put_u32(c1 - c0);
            send();
        } else if (starts_with(line, "say ")) {
            put(line + 4);
            send();
        } else if (equals(line, "gpio")) {
            GPIO_BSRR = 1u << 5;
            uint32_t set = GPIO_ODR;
            GPIO_BSRR = 1u << (16 + 5);
            uint32_t reset = GPIO_ODR;
            GPIO_BSRR = 1u << 7;
            put("gpio "); put_hex(set); put(" "); put_hex(reset); put(" "); put_hex(GPIO_IDR);
            send();
        } else if (equals(line, "frame")) {
            cmd_frame();
        } else if (equals(line, "rxirq")) {
            /* the next line arrives through RXNE interrupts while the CPU sleeps in WFI */
            rx_n = 0;
            rx_done = 0;
            UART_CR1 |= UART_RXNEIE;
            put("rx ready");
            send();
            while (!rx_done) __asm volatile("wfi");
            put("got ");
            put((const char *)rx_buf);
            put(" "); put_u32(rx_n);
            send();
        } else if (equals(line, "fpframe")) {
            cmd_fpframe();
        } else if (equals(line, "psp")) {
            cmd_psp();
        } else if (equals(line, "nest")) {
            cmd_nest();
        } else if (equals(line, "mask")) {
            cmd_mask();
        } else if (starts_with(line, "fault ")) {
            cmd_fault(line + 6);
        } else if (starts_with(line, "semi ")) {
            static char text[96];
            int i = 0;
            for (const char *p = line + 5; *p && i < 92; p++) text[i++] = *p;
            text[i++] = '\n';
            text[i] = 0;
            semihost(0x04, text);
        } else if (equals(line, "ids")) {
            put("ids");
            for (int i = 0; i < 3; i++) { put(" "); put_hex(REG(UID_BASE + 4u * i)); }
            put(" "); put_u32(*(volatile uint16_t *)(FLASHSIZE_BASE));
            put(" "); put_hex(REG(DBGMCU_BASE));
            send();
        } else if (starts_with(line, "irqtime ")) {
            cmd_irqtime(parse_u32(line + 8), 0);
        } else if (starts_with(line, "irqspin ")) {
            cmd_irqtime(parse_u32(line + 8), 1);
        } else if (equals(line, "quiet")) {
            uint32_t v;
            int32_t q, zero = 0, n = 7;
            REG(BOARD_RAM_BASE + 0u) = 0x44332211u;
            REG(BOARD_RAM_BASE + 4u) = 0x88776655u;
            __asm volatile("ldr %0, [%1]" : "=r"(v) : "r"(BOARD_RAM_BASE + 1u) : "memory");
            __asm volatile("sdiv %0, %1, %2" : "=r"(q) : "r"(n), "r"(zero));
            put("quiet "); put_hex(v); put(" "); put_u32((uint32_t)q);
            send();
        } else if (equals(line, "tim12")) {
            REG(TIM12_BASE + 0x00u) = 1u;                    /* CR1.CEN */
            put("tim12 "); put_u32(REG(TIM12_BASE + 0x24u));  /* CNT */
            send();
        } else if (starts_with(line, "exit ")) {
            static uint32_t block[2];
            block[0] = 0x20026;                             /* ADP_Stopped_ApplicationExit */
            block[1] = parse_u32(line + 5);
            semihost(0x20, block);
        } else {
            put("?");
            send();
        }
    }
}
