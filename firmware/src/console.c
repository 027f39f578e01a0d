/* The console code that does not depend on the UART's register layout: clocks and pin mux for
 * console_port_init(), and string output on top of each driver's console_putc(). */
#include "console.h"
#include "console_port.h"
#include "board.h"
#include "stm32_regs.h"

#define RCC(offset)  REG32(BOARD_RCC_BASE, offset)
static void pin_to_af(uint32_t gpio, unsigned pin, unsigned af)
{
    REG32(gpio, GPIO_MODER) = (REG32(gpio, GPIO_MODER) & ~(0x3u << (2 * pin))) | (GPIO_MODER_AF << (2 * pin));
    uint32_t afr = pin < 8 ? GPIO_AFRL : GPIO_AFRH;
    unsigned shift = 4 * (pin % 8);
    REG32(gpio, afr) = (REG32(gpio, afr) & ~(0xFu << shift)) | (af << shift);
}

void console_port_init(void)
{
    /* TX and RX may sit on two ports (the DISCO-F746NG's USART1: PA9 and PB7) */
    RCC(BOARD_CONSOLE_GPIO_RCC_ENR) |= 1u << BOARD_CONSOLE_GPIO_RCC_BIT;
    RCC(BOARD_CONSOLE_RX_GPIO_RCC_ENR) |= 1u << BOARD_CONSOLE_RX_GPIO_RCC_BIT;
    RCC(BOARD_CONSOLE_RCC_ENR) |= 1u << BOARD_CONSOLE_RCC_BIT;
    /* A peripheral ignores accesses for two cycles after its clock is enabled (RM0390 6.3.13). */
    (void)RCC(BOARD_CONSOLE_RCC_ENR);
    pin_to_af(BOARD_CONSOLE_GPIO_BASE, BOARD_CONSOLE_TX_PIN, BOARD_CONSOLE_AF);
    pin_to_af(BOARD_CONSOLE_RX_GPIO_BASE, BOARD_CONSOLE_RX_PIN, BOARD_CONSOLE_AF);
}

void console_wait_status(volatile uint32_t *status, uint32_t mask, uint32_t *last)
{
    uint32_t value;
    do {
        value = *status;
    } while ((value & mask) == 0);
    *last = value;
}

void console_write(const char *buf, size_t len)
{
    while (len-- > 0) {
        console_putc(*buf++);
    }
}

void console_puts(const char *s)
{
    while (*s != '\0') {
        console_putc(*s++);
    }
}
