/* Core clock cycles from the DWT cycle counter, extended to 64 bits in software.
 * Limit: CYCCNT is 32 bits, so cycles_now() must be called at least once per 2^32 cycles
 * (19.9 s at 216 MHz, 23.9 s at 180 MHz) or a wrap goes unseen. The inference loop calls it around
 * every inference, so a lap stays right as long as a single inference takes less than that. */
#ifndef CYCLES_H
#define CYCLES_H
#include <stdint.h>

/* Starts CYCCNT from zero. */
void cycles_init(void);
uint64_t cycles_now(void);
/* Microseconds at BOARD_SYSCLK_HZ, truncated to 32 bits as MLPerf Tiny's m-lap-us (wraps after 71 min). */
uint32_t cycles_to_us(uint64_t cycles);

#endif
