/* Console driver for the F4 USART layout (SR/DR/BRR/CR1, RM0390 25.6), as on the NUCLEO-F446RE. */
#include "console.h"
#include "board.h"

#if defined(BOARD_CONSOLE_STM32_UART)
#include "console_port.h"
#include "stm32_regs.h"

#define UART(offset) REG32(BOARD_CONSOLE_BASE, offset)

void console_init(void)
{
    console_port_init();
    /* 16x oversampling: BRR is the clock divider in 12.4 fixed point, i.e. clock / baud rounded. */
    UART(F4_USART_BRR) = (BOARD_CONSOLE_CLOCK_HZ + BOARD_CONSOLE_BAUD / 2) / BOARD_CONSOLE_BAUD;
    UART(F4_USART_CR1) = F4_USART_CR1_UE | F4_USART_CR1_TE | F4_USART_CR1_RE;
}

void console_putc(char c)
{
    uint32_t status;
    console_wait_status(&UART(F4_USART_SR), F4_USART_SR_TXE, &status);
    UART(F4_USART_DR) = (uint8_t)c;
}

char console_getc(void)
{
    /* An overrun (bytes lost while we were busy) also stops reception; reading SR then DR clears
     * both ORE and RXNE, so waiting on either flag and then reading DR keeps the loop going. */
    uint32_t status;
    console_wait_status(&UART(F4_USART_SR), F4_USART_SR_RXNE | F4_USART_SR_ORE, &status);
    return (char)UART(F4_USART_DR);
}
#endif
