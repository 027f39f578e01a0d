/* The board's console UART (the ST-LINK virtual COM port on the Nucleos), polled, 8N1 at
 * BOARD_CONSOLE_BAUD. It is the only channel to the host, so nothing here uses interrupts. */
#ifndef CONSOLE_H
#define CONSOLE_H
#include <stddef.h>

void console_init(void);
void console_putc(char c);
/* Blocks until a byte arrives: the command loop has nothing else to do meanwhile. */
char console_getc(void);
void console_puts(const char *s);
void console_write(const char *buf, size_t len);

#endif
