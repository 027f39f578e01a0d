/* System clock set-up: the core leaves reset on the 16 MHz HSI; clock_init() brings it to
 * BOARD_SYSCLK_HZ, which every time figure (CYCCNT, microseconds, baud rate) assumes. */
#ifndef CLOCK_H
#define CLOCK_H

void clock_init(void);

#endif
