/* What the two console UART drivers share: the part of their set-up outside the UART itself. */
#ifndef CONSOLE_PORT_H
#define CONSOLE_PORT_H

#include <stdint.h>

/* Clocks the console's GPIO port and UART, and hands the TX/RX pins to the UART. */
void console_port_init(void);

/* Reads the status register until one of `mask`'s flags is set; `*last` is what it read last. A function
 * of its own whose first instruction is the poll (the value leaves through memory, not r0, which would
 * cost a move before the loop): every turn of the wait, the first included, starts at the loop's head,
 * which lets the emulator skip the turns until the flag is due (harness/backends/spin.py) from the first
 * poll on. The chip does the same either way. */
void console_wait_status(volatile uint32_t *status, uint32_t mask, uint32_t *last);

#endif
