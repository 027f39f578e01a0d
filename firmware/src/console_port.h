/* What the two console UART drivers share: the part of their set-up outside the UART itself. */
#ifndef CONSOLE_PORT_H
#define CONSOLE_PORT_H

/* Clocks the console's GPIO port and UART, and hands the TX/RX pins to the UART. */
void console_port_init(void);

#endif
