/* A user's application for `harness run` (tests/test_run.py): boots, prints a banner, runs work() five
 * times with a data-dependent loop, prints each pass and a line in the style of TFLM examples, then
 * leaves through Arm semihosting's SYS_EXIT (BKPT 0xAB) with ADP_Stopped_ApplicationExit.
 * Compile with -DSPIN to spin forever instead of exiting (a run that needs a cycle budget), with
 * -DCRASH to write to flash after the passes (a fault). */
#include <stdint.h>
#include "board.h"

#define REG(addr) (*(volatile uint32_t *)(addr))

#define RCC_APB1ENR REG(BOARD_RCC_BASE + 0x40u)
#define RCC_AHB1ENR REG(BOARD_RCC_BASE + 0x30u)
#define GPIO_MODER REG(BOARD_CONSOLE_GPIO_BASE + 0x00u)
#define GPIO_AFRL  REG(BOARD_CONSOLE_GPIO_BASE + 0x20u)
#define GPIO_AFRH  REG(BOARD_CONSOLE_GPIO_BASE + 0x24u)
#define FLASH_ACR  REG(BOARD_FLASH_IF_BASE + 0x00u)

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

#define SCB_CPACR  REG(BOARD_SCS_BASE + 0xD88u)
#define DEMCR      REG(BOARD_SCS_BASE + 0xDFCu)
#define DWT_CTRL   REG(BOARD_DWT_BASE + 0x000u)
#define DWT_CYCCNT REG(BOARD_DWT_BASE + 0x004u)
#define DWT_LAR    REG(BOARD_DWT_BASE + 0xFB0u)

extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _estack;
int main(void);
void Reset_Handler(void);
void Fault_Handler(void);

__attribute__((noinline)) void Fault_Handler(void) { for (;;) {} }

__attribute__((section(".isr_vector"), used))
void (*const vectors[16])(void) = {
    (void (*)(void))&_estack, Reset_Handler, Fault_Handler, Fault_Handler, Fault_Handler,
    Fault_Handler, Fault_Handler, 0, 0, 0, 0, Fault_Handler, Fault_Handler, 0, Fault_Handler, Fault_Handler,
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


volatile uint32_t sink;
volatile uint32_t base_turns = 100u;     /* read between the CYCCNT reads: work() cannot move out */

__attribute__((noinline)) uint32_t work(uint32_t n) {
    uint32_t acc = 1;
    for (uint32_t i = 0; i < n; i++) {
        acc = acc * 2654435761u + i;
        if (acc & 1u) acc ^= i << 3;
    }
    return acc;
}

__attribute__((noinline)) void semihosting_exit(void) {
    register uint32_t r0 __asm__("r0") = 0x18u;           /* SYS_EXIT */
    register uint32_t r1 __asm__("r1") = 0x20026u;        /* ADP_Stopped_ApplicationExit */
    __asm volatile("bkpt 0xab" : : "r"(r0), "r"(r1) : "memory");
}

int main(void) {
    console_init();
    DEMCR |= 1u << 24;
    DWT_LAR = 0xC5ACCE55u;
    DWT_CYCCNT = 0;
    DWT_CTRL |= 1u;
    puts_("run_app " BOARD_NAME " ready\r\n");
    for (uint32_t pass = 0; pass < 5; pass++) {
        uint32_t t0 = DWT_CYCCNT;
        sink = work(base_turns + 50u * pass);
        uint32_t t1 = DWT_CYCCNT;
        puts_("pass ");
        put_u32(pass);
        puts_(" Inference took ");
        put_u32(t1 - t0);
        puts_(" cycles\r\n");
    }
    puts_("done\r\n");
#if defined(CRASH)
    *(volatile uint32_t *)(uintptr_t)vectors = 0;     /* flash is read-only: a fault */
#endif
#if defined(SPIN)
    for (;;) { sink++; }
#endif
    semihosting_exit();
    for (;;) {}
}
