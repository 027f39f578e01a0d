/* Console driver for the F7 USART layout (ISR/ICR/RDR/TDR, RM0385 31.8), as on the F7 Nucleos. */
#include "console.h"
#include "board.h"

#if defined(BOARD_CONSOLE_STM32F7_USART)
#include "console_port.h"
#include "stm32_regs.h"

#define UART(offset) REG32(BOARD_CONSOLE_BASE, offset)

void console_init(void)
{
    console_port_init();
    /* 16x oversampling: BRR is simply clock / baud, rounded. */
    UART(F7_USART_BRR) = (BOARD_CONSOLE_CLOCK_HZ + BOARD_CONSOLE_BAUD / 2) / BOARD_CONSOLE_BAUD;
    UART(F7_USART_CR1) = F7_USART_CR1_UE | F7_USART_CR1_TE | F7_USART_CR1_RE;
}

void console_putc(char c)
{
    uint32_t status;
    console_wait_status(&UART(F7_USART_ISR), F7_USART_ISR_TXE, &status);
    UART(F7_USART_TDR) = (uint8_t)c;
}

char console_getc(void)
{
    for (;;) {
        uint32_t isr;
        console_wait_status(&UART(F7_USART_ISR), F7_USART_ISR_RXNE | F7_USART_ISR_ORE, &isr);
        /* Unlike the F4, reading RDR does not clear an overrun; a set ORE would be left standing. */
        if (isr & F7_USART_ISR_ORE) {
            UART(F7_USART_ICR) = F7_USART_ICR_ORECF;
        }
        if (isr & F7_USART_ISR_RXNE) {
            return (char)UART(F7_USART_RDR);
        }
    }
}
#endif
