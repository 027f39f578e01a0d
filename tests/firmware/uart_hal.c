/* A firmware whose console is driven the way ST's CubeHAL drives a UART (tests/test_disco.py), for a
 * vendor-style image on the 32F746G-DISCOVERY: the clock from the board's crystal when it has one (HSE,
 * PLL to the board's SYSCLK, over-drive, as SystemClock_Config does), the console UART set up as
 * HAL_UART_Init + HAL_UART_MspInit do (clocks, pins in their alternate function, BRR from the bus clock,
 * TE/RE/UE, then waiting for TEACK/REACK), transmit as HAL_UART_Transmit (poll TXE before every byte,
 * then TC), receive as HAL_UART_Receive_IT (RXNEIE, one byte per interrupt). Commands end with '%' (the
 * MLPerf Tiny host's terminator) or a newline and are answered from the receive interrupt, as a HAL
 * RxCpltCallback would; main ends in `for (;;) {}` (`b .`), or in a WFI loop when built with -DSLEEP, a WFE
 * loop with -DSLEEP_WFE.
 *   name%          "m-name-[uart_hal]" then "m-ready"
 *   echo <text>%   "echo <text>"
 *   peek%          "peek <word>": a load from TAG_ADDRESS (irq.h; a range the board leaves as a Tag), the
 *                  load not the first instruction of its block, for the warning's PC
 *   txtime <n>%    sends n bytes 'U' as HAL_UART_Transmit does: "txtime <cycles>", DWT CYCCNT from before
 *                  the first byte to TC read set after the last
 *   gaps%          "gaps <c1> <c2> <c3> <c4>": CYCCNT between the receive interrupts of this command's
 *                  five bytes
 *   us <loops>     "us <TIM2 ticks> <CYCCNT cycles>" around a busy loop of <loops> turns (TIM2 at 1 MHz)
 *   txit <n>%      (MBED_STYLE) sends n bytes 'U' by interrupt as HAL_UART_Transmit_IT does (TXEIE for
 *                  each byte, then TCIE for the end), sleeping meanwhile: "txit <cycles>" to TC
 * Built with -DMBED_STYLE it drives the chip as Mbed OS does instead: the clock from HSI (PLL to SYSCLK,
 * over-drive), TIM2 as the 1 MHz free-running us_ticker, serial_putc waiting for TXE only (no TC), the
 * receive interrupt filling a ring buffer that the main loop empties, sleeping in WFI while it is empty.
 * Every register address and bit comes from the generated board.h and irq.h (the .repl) or RM0385. */
#include <stdint.h>
#include "../../firmware/bare/bare.h"
#include "irq.h"

/* register offsets (RM0385 5.3, 4.4, 3.7); board.h names the console's enable registers RCC_<reg> */
#define RCC_CR 0x00u
#define RCC_PLLCFGR 0x04u
#define RCC_CFGR 0x08u
#define RCC_AHB1ENR 0x30u
#define RCC_APB1ENR 0x40u
#define RCC_APB2ENR 0x44u
#define PWR_CR 0x00u
#define PWR_CSR 0x04u
#define FLASH_ACR 0x00u

#define REG32(base, offset) REG((base) + (offset))
#define RCC(offset) REG32(BOARD_RCC_BASE, offset)
#define PWR(offset) REG32(BOARD_PWR_BASE, offset)
#define FLASH(offset) REG32(BOARD_FLASH_IF_BASE, offset)
#define NVIC_ISER(n) REG(BOARD_SCS_BASE + 0x100u + 4u * (n))

/* USART registers, RM0385 31.8 (the F7 layout) */
#define USART_CR1 REG(BOARD_CONSOLE_BASE + 0x00u)
#define USART_BRR REG(BOARD_CONSOLE_BASE + 0x0Cu)
#define USART_ISR REG(BOARD_CONSOLE_BASE + 0x1Cu)
#define USART_RDR REG(BOARD_CONSOLE_BASE + 0x24u)
#define USART_TDR REG(BOARD_CONSOLE_BASE + 0x28u)
#define CR1_UE (1u << 0)
#define CR1_RE (1u << 2)
#define CR1_TE (1u << 3)
#define CR1_RXNEIE (1u << 5)
#define CR1_TCIE (1u << 6)
#define CR1_TXEIE (1u << 7)
#define ISR_RXNE (1u << 5)
#define ISR_TC (1u << 6)
#define ISR_TXE (1u << 7)
#define ISR_TEACK (1u << 21)
#define ISR_REACK (1u << 22)

extern uint32_t _estack;
void USART_IRQHandler(void);
typedef void (*vector_t)(void);

__attribute__((section(".isr_vector"), used))
const vector_t vectors[16 + CONSOLE_IRQ + 1] = {
    [0] = (vector_t)&_estack, [1] = Reset_Handler, [2] = NMI_Handler, [3] = HardFault_Handler,
    [4] = MemManage_Handler, [5] = BusFault_Handler, [6] = UsageFault_Handler, [11] = Default_Handler,
    [12] = Default_Handler, [14] = Default_Handler, [15] = Default_Handler,
    [16 + CONSOLE_IRQ] = USART_IRQHandler,
};

static void wait_set(volatile uint32_t *reg, uint32_t mask) { while ((*reg & mask) != mask) {} }

static void SystemClock_Config(void) {
#if defined(BOARD_HSE_HZ) && !defined(MBED_STYLE)
    RCC(RCC_CR) |= 1u << 16;                                     /* HSEON: the board's crystal */
    wait_set(&RCC(RCC_CR), 1u << 17);                            /* HSERDY */
    uint32_t pllm = BOARD_HSE_HZ / 1000000u, source = 1u << 22;          /* 1 MHz in, PLLSRC = HSE */
#else
    uint32_t pllm = BOARD_HSI_HZ / 1000000u, source = 0;
#endif
    RCC(RCC_APB1ENR) |= 1u << 28;                           /* PWREN */
    (void)RCC(RCC_APB1ENR);
    PWR(PWR_CR) |= 3u << 14;                                     /* VOS scale 1 */
    uint32_t plln = 2u * (BOARD_SYSCLK_HZ / 1000000u);      /* VCO at 2 x SYSCLK, PLLP = 2 */
    RCC(RCC_PLLCFGR) = (RCC(RCC_PLLCFGR) & ~0x0F437FFFu) | pllm | (plln << 6) | source | ((uint32_t)BOARD_PLLQ << 24);
    RCC(RCC_CR) |= 1u << 24;                                     /* PLLON */
    wait_set(&RCC(RCC_CR), 1u << 25);                            /* PLLRDY */
    PWR(PWR_CR) |= 1u << 16;                                     /* ODEN */
    wait_set(&PWR(PWR_CSR), 1u << 16);                           /* ODRDY */
    PWR(PWR_CR) |= 1u << 17;                                     /* ODSWEN */
    wait_set(&PWR(PWR_CSR), 1u << 17);                           /* ODSWRDY */
    FLASH(FLASH_ACR) = (FLASH(FLASH_ACR) & ~0xFu) | (1u << 9) | (1u << 8) | BOARD_FLASH_WAIT_STATES;
    RCC(RCC_CFGR) = (RCC(RCC_CFGR) & ~0xFCF0u) | (5u << 10) | (4u << 13);   /* APB1 /4, APB2 /2 */
    RCC(RCC_CFGR) = (RCC(RCC_CFGR) & ~3u) | 2u;                       /* SW = PLL */
    while ((RCC(RCC_CFGR) & 0xCu) != 0x8u) {}                    /* SWS = PLL */
}

static void gpio_af(uint32_t gpio, unsigned pin) {
    REG(gpio + 0x00u) = (REG(gpio + 0x00u) & ~(3u << (2 * pin))) | (2u << (2 * pin));     /* MODER: AF */
    uint32_t afr = gpio + (pin < 8 ? 0x20u : 0x24u);
    REG(afr) = (REG(afr) & ~(0xFu << (4 * (pin % 8)))) | ((uint32_t)BOARD_CONSOLE_AF << (4 * (pin % 8)));
}

static void UART_Init(void) {
    RCC(BOARD_CONSOLE_RCC_ENR) |= 1u << BOARD_CONSOLE_RCC_BIT;
    RCC(BOARD_CONSOLE_GPIO_RCC_ENR) |= 1u << BOARD_CONSOLE_GPIO_RCC_BIT;
    RCC(BOARD_CONSOLE_RX_GPIO_RCC_ENR) |= 1u << BOARD_CONSOLE_RX_GPIO_RCC_BIT;
    (void)RCC(BOARD_CONSOLE_RCC_ENR);
    gpio_af(BOARD_CONSOLE_GPIO_BASE, BOARD_CONSOLE_TX_PIN);
    gpio_af(BOARD_CONSOLE_RX_GPIO_BASE, BOARD_CONSOLE_RX_PIN);
    USART_CR1 = 0;
    USART_BRR = (BOARD_CONSOLE_CLOCK_HZ + BOARD_CONSOLE_BAUD / 2u) / BOARD_CONSOLE_BAUD;   /* oversampling 16 */
    USART_CR1 = CR1_TE | CR1_RE | CR1_UE;
    wait_set(&USART_ISR, ISR_TEACK | ISR_REACK);            /* UART_CheckIdleState */
}

/* HAL_UART_Transmit: TXE before every byte, TC at the end (Mbed's serial_putc: TXE only) */
static void UART_Transmit(const char *s, uint32_t n) {
    for (uint32_t i = 0; i < n; i++) {
        while (!(USART_ISR & ISR_TXE)) {}
        USART_TDR = (uint8_t)s[i];
    }
#if !defined(MBED_STYLE)
    while (!(USART_ISR & ISR_TC)) {}
#endif
}

/* TIM2 (APB1, RM0385 table 1 and 25.4): Mbed's us_ticker, 32 bits at 1 MHz from TIMxCLK = 2 x PCLK1 */
#define TIM2_CR1 REG(0x40000000u)
#define TIM2_EGR REG(0x40000014u)
#define TIM2_CNT REG(0x40000024u)
#define TIM2_PSC REG(0x40000028u)
#define TIM2_ARR REG(0x4000002Cu)

static void us_ticker_init(void) {
    RCC(RCC_APB1ENR) |= 1u;                                      /* TIM2EN */
    (void)RCC(RCC_APB1ENR);
    TIM2_PSC = 2u * (BOARD_SYSCLK_HZ / 4u) / 1000000u - 1u;      /* APB1 / 4 (SystemClock_Config) */
    TIM2_ARR = 0xFFFFFFFFu;
    TIM2_EGR = 1u;                                               /* UG: load the prescaler */
    TIM2_CR1 = 1u;                                               /* CEN */
}

static void say(const char *s) {
    uint32_t n = 0;
    while (s[n]) n++;
    UART_Transmit(s, n);
    UART_Transmit("\r\n", 2);
}

static char line[64];
static volatile uint32_t length;
#if defined(MBED_STYLE)
static uint32_t transmit_it(const char *s, uint32_t n);
#endif
static uint32_t stamps[sizeof line];               /* CYCCNT at each received byte of the current line */


/* the word index is scaled and offset first, so the load sits inside its block, not at its start */
__attribute__((noinline)) uint32_t peek(uint32_t base, uint32_t index) {
    uint32_t offset = index * 4u + 4u;
    return REG(base + offset);
}

/* A NUL-terminated text through the HAL-style transmit. */
static void transmit_text(const char *t) {
    uint32_t k = 0;
    while (t[k]) k++;
    UART_Transmit(t, k);
}

/* n (at most 64) bytes 'U' to send */
static const char *us_bytes(uint32_t *n) {
    static char us[64];
    if (*n > sizeof us) *n = sizeof us;
    for (uint32_t i = 0; i < *n; i++) us[i] = 'U';
    return us;
}

static void command(void) {
    if (equals(line, "name")) {
        say("m-name-[uart_hal]");
        say("m-ready");
    } else if (starts_with(line, "echo ")) {
        say(line);
    } else if (starts_with(line, "txtime ")) {
        uint32_t n = parse_u32(line + 7);
        const char *us = us_bytes(&n);
        char buf[BARE_NUM_CHARS];
        uint32_t c0 = DWT_CYCCNT;
        UART_Transmit(us, n);
        uint32_t c1 = DWT_CYCCNT;
        UART_Transmit("txtime ", 7);
        say(u32_text(buf, c1 - c0));
    } else if (equals(line, "gaps")) {
        char buf[BARE_NUM_CHARS];
        UART_Transmit("gaps", 4);
        for (uint32_t i = 1; i < 5; i++) {
            UART_Transmit(" ", 1);
            transmit_text(u32_text(buf, stamps[i] - stamps[i - 1]));
        }
        say("");
#if defined(MBED_STYLE)
    } else if (starts_with(line, "txit ")) {
        uint32_t n = parse_u32(line + 5);
        const char *us = us_bytes(&n);
        char buf[BARE_NUM_CHARS];
        uint32_t cycles = transmit_it(us, n);
        UART_Transmit("txit ", 5);
        say(u32_text(buf, cycles));
#endif
    } else if (starts_with(line, "us ")) {
        uint32_t loops = parse_u32(line + 3);
        char buf[BARE_NUM_CHARS];
        uint32_t t0 = TIM2_CNT, c0 = DWT_CYCCNT;
        for (volatile uint32_t i = 0; i < loops; i++) {}
        uint32_t t1 = TIM2_CNT, c1 = DWT_CYCCNT;
        UART_Transmit("us ", 3);
        transmit_text(u32_text(buf, t1 - t0));
        UART_Transmit(" ", 1);
        say(u32_text(buf, c1 - c0));
    } else if (equals(line, "peek")) {
        char buf[BARE_NUM_CHARS];
        UART_Transmit("peek ", 5);
        say(hex_text(buf, peek(TAG_ADDRESS, 0u)));
    } else {
        say("unknown");
    }
}

static void receive(char c, uint32_t now) {
    stamps[length] = now;
    if (c == '%' || c == '\n' || c == '\r') {
        if (length) {
            line[length] = '\0';
            command();
        }
        length = 0;
    } else if (length < sizeof line - 1) {
        line[length++] = c;
    }
}

#if defined(MBED_STYLE)
/* the receive interrupt only queues (BufferedSerial); the main loop runs the commands */
static volatile char ring[256];
static volatile uint32_t ring_stamps[256];
static volatile uint8_t head, tail;
static const char *volatile tx_next;                 /* the interrupt-driven transmit (txit) */
static volatile uint32_t tx_left, tx_done;

void USART_IRQHandler(void) {
    uint32_t isr = USART_ISR, cr1 = USART_CR1;
    if (isr & ISR_RXNE) {
        uint32_t now = DWT_CYCCNT;
        ring_stamps[head] = now;
        ring[head] = (char)USART_RDR;
        head = (uint8_t)(head + 1u);
    }
    if ((cr1 & CR1_TXEIE) && (isr & ISR_TXE)) {         /* UART_Transmit_IT */
        USART_TDR = (uint8_t)*tx_next++;
        if (--tx_left == 0) USART_CR1 = (USART_CR1 & ~CR1_TXEIE) | CR1_TCIE;
    } else if ((cr1 & CR1_TCIE) && (isr & ISR_TC)) {  /* UART_EndTransmit_IT */
        USART_CR1 &= ~CR1_TCIE;
        tx_done = 1;
    }
}

static uint32_t transmit_it(const char *s, uint32_t n) {
    uint32_t c0 = DWT_CYCCNT;
    tx_next = s;
    tx_left = n;
    tx_done = 0;
    USART_CR1 |= CR1_TXEIE;
    while (!tx_done) { __asm volatile("wfi"); }
    return DWT_CYCCNT - c0;
}
#else
void USART_IRQHandler(void) {                               /* HAL: the RxCpltCallback runs the command */
    if (!(USART_ISR & ISR_RXNE)) return;
    uint32_t now = DWT_CYCCNT;
    receive((char)USART_RDR, now);
}
#endif

int main(void) {
    SystemClock_Config();
    UART_Init();
    cyccnt_start();
    us_ticker_init();                                       /* HAL: a TIM2 time base; Mbed: its us_ticker */
    say("uart_hal " BOARD_NAME " ready");
    NVIC_ISER(CONSOLE_IRQ / 32) = 1u << (CONSOLE_IRQ % 32);
    USART_CR1 |= CR1_RXNEIE;                                /* HAL_UART_Receive_IT */
#if defined(MBED_STYLE)
    for (;;) {
        __asm volatile("cpsid i" ::: "memory");          /* sleep_manager: check, then WFI with PRIMASK set */
        if (head == tail) __asm volatile("wfi");         /* (a pending interrupt still wakes it) */
        __asm volatile("cpsie i" ::: "memory");
        while (head != tail) {
            uint8_t k = tail;
            receive(ring[k], ring_stamps[k]);
            tail = (uint8_t)(k + 1u);
        }
    }
#elif defined(SLEEP_WFE)
    for (;;) { __asm volatile("wfe"); }
#elif defined(SLEEP)
    for (;;) { __asm volatile("wfi"); }
#else
    for (;;) {}
#endif
}
