/* Workload for `harness bench engine` (harness/bench.py): emulator speed, not board speed. Its own vector
 * table and startup, a polled console, and one command:
 *   run <n>   -> n passes of an int8 fully-connected layer with TFLM-style requantisation (loads from
 *               flash and SRAM, multiply-accumulates, 64-bit multiplies, saturation, loops), then
 *               `done <checksum> <cycles>` with the DWT CYCCNT delta
 * The mix and the block sizes are those of a plain-C int8 kernel built with -O2.
 */
#include <stdint.h>
#include "board.h"

#define REG(addr) (*(volatile uint32_t *)(addr))

#define RCC_APB1ENR REG(BOARD_RCC_BASE + 0x40u)
#define RCC_AHB1ENR REG(BOARD_RCC_BASE + 0x30u)
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
    main();
    for (;;) {}
}

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

static void read_line(char *buf, int cap) {
    int n = 0;
    for (;;) {
        while (!(UART_SR & UART_RXNE)) {}
        char c = (char)(UART_RDR & 0xFF);
        if (c == '\r') continue;
        if (c == '\n') break;
        if (n < cap - 1) buf[n++] = c;
    }
    buf[n] = 0;
}

/* ---------------------------------------------------------------- the workload */
#define IN 256
#define OUT 64

static const int8_t weights[OUT * IN] = {
#define W4(i) (int8_t)((i) * 37 + 11), (int8_t)((i) * 53 - 7), (int8_t)((i) * 19 + 3), (int8_t)((i) * 71 - 29)
#define W16(i) W4(i), W4(i + 1), W4(i + 2), W4(i + 3)
#define W64(i) W16(i), W16(i + 4), W16(i + 8), W16(i + 12)
#define W256(i) W64(i), W64(i + 16), W64(i + 32), W64(i + 48)
#define W1K(i) W256(i), W256(i + 64), W256(i + 128), W256(i + 192)
#define W4K(i) W1K(i), W1K(i + 256), W1K(i + 512), W1K(i + 768)
    W4K(0), W4K(1024), W4K(2048), W4K(3072)
};
static int32_t bias[OUT];
static int8_t input[IN];
static int8_t output[OUT];

static int32_t requantize(int32_t acc, int32_t multiplier, int shift) {
    int64_t prod = (int64_t)acc * multiplier;
    int32_t high = (int32_t)((prod + (1ll << 30)) >> 31);
    int32_t rounding = (1 << (shift - 1)) - (high < 0);
    return (high + rounding) >> shift;
}

__attribute__((noinline)) static void fully_connected(void) {
    for (int o = 0; o < OUT; o++) {
        int32_t acc = bias[o];
        const int8_t *w = &weights[o * IN];
        for (int i = 0; i < IN; i++) {
            acc += ((int32_t)input[i] + 128) * w[i];
        }
        int32_t v = requantize(acc, 1518500250, 9) - 128;
        output[o] = (int8_t)(v < -128 ? -128 : v > 127 ? 127 : v);
    }
}

static uint32_t run(uint32_t n) {
    uint32_t sum = 0;
    for (int i = 0; i < OUT; i++) bias[i] = i * 1000 - 30000;
    for (int i = 0; i < IN; i++) input[i] = (int8_t)(i * 7 - 100);
    for (uint32_t k = 0; k < n; k++) {
        fully_connected();
        for (int o = 0; o < OUT; o++) sum = sum * 31u + (uint8_t)output[o];
        input[k % IN] = output[k % OUT];
    }
    return sum;
}

int main(void) {
    static char line[32];
    console_init();
    DEMCR |= 1u << 24;
    DWT_LAR = 0xC5ACCE55u;
    DWT_CYCCNT = 0;
    DWT_CTRL |= 1u;
    puts_("engine_bench ready\r\n");
    for (;;) {
        read_line(line, sizeof line);
        if (line[0] == 'r' && line[1] == 'u' && line[2] == 'n' && line[3] == ' ') {
            uint32_t n = 0;
            for (const char *s = line + 4; *s >= '0' && *s <= '9'; s++) n = n * 10 + (uint32_t)(*s - '0');
            uint32_t t0 = DWT_CYCCNT;
            uint32_t sum = run(n);
            uint32_t t1 = DWT_CYCCNT;
            puts_("done ");
            put_u32(sum);
            putc_(' ');
            put_u32(t1 - t0);
            puts_("\r\n");
        } else {
            puts_("unknown\r\n");
        }
    }
}
