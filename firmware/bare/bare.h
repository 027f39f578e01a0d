/* The bare-metal base the test firmwares (tests/firmware) and the engine benchmark
 * (firmware/bench/engine_bench.c) share, so each of them keeps only what it tests: reset, a vector
 * table of the 16 system exceptions, the console, numbers as text, command-line parsing and the DWT
 * cycle counter. The console is the harness firmware's own polled driver (firmware/src console*.c);
 * the startup is not: firmware/src/startup.c also sets the clock, enables the
 * M7 caches and moves VTOR, and these firmwares must start from the reset state they measure (the
 * cycle tests set the flash wait states themselves; hal_app sets its own clock tree and table).
 * Build with harness.build.BARE_SOURCES next to the firmware's own source. Board facts come from the
 * generated board.h only. */
#ifndef BARE_H
#define BARE_H
#include <stdint.h>
#include "board.h"
#include "../src/console.h"     /* console_init, console_putc/getc/puts: polled, 8N1 */

#define REG(addr) (*(volatile uint32_t *)(addr))

/* The registers more than one firmware reads directly (Armv7-M ARM B3.2, C1.8). */
#define SCB_CPACR  REG(BOARD_SCS_BASE + 0xD88u)
#define DEMCR      REG(BOARD_SCS_BASE + 0xDFCu)
#define DWT_CTRL   REG(BOARD_DWT_BASE + 0x000u)
#define DWT_CYCCNT REG(BOARD_DWT_BASE + 0x004u)
#define DWT_LAR    REG(BOARD_DWT_BASE + 0xFB0u)

/* CYCCNT from 0 and counting. Inline, not firmware/src's cycles_init(): the tests time code that runs
 * right after it (engine_probe's `cyccnt`, cycles_bench) and count on no call or return before their
 * first reading, on the M4 (an LDR right after one that loads its base stalls) and on the M7 model,
 * whose half cycles make a reading depend on the phase of everything run before it. */
static inline void cyccnt_start(void) {
    DEMCR |= 1u << 24;                  /* TRCENA: powers the DWT */
    DWT_LAR = 0xC5ACCE55u;              /* the M7's software lock (ignored on the M4) */
    DWT_CYCCNT = 0;
    DWT_CTRL |= 1u;                     /* CYCCNTENA */
}

typedef void (*bare_vector_t)(void);
/* firmware/bare/vectors.c: initial SP, Reset_Handler and the handlers below. A firmware that takes
 * interrupts (hal_app.c) leaves vectors.c out and defines a longer table of its own. */
extern const bare_vector_t vectors[];

/* Copies .data, clears .bss, gives the FPU full access (CP10, CP11), calls main(). */
void Reset_Handler(void);
/* Weak and each a loop of its own, so a firmware can take one over by defining it, and a fault
 * report names the handler the core entered. */
void NMI_Handler(void);
void HardFault_Handler(void);
void MemManage_Handler(void);
void BusFault_Handler(void);
void UsageFault_Handler(void);
void Default_Handler(void);

/* Numbers as text into `buf` (BARE_NUM_CHARS chars); returns where the text starts in it. Decimal
 * without leading zeros; hex as 0x and eight lowercase digits. */
#define BARE_NUM_CHARS 11
char *u32_text(char buf[BARE_NUM_CHARS], uint32_t v);
char *hex_text(char buf[BARE_NUM_CHARS], uint32_t v);
void console_put_u32(uint32_t v);
void console_put_hex(uint32_t v);

/* One line from the console without its \r\n, cut to cap - 1 chars; returns its length. */
int read_line(char *buf, int cap);
int starts_with(const char *s, const char *prefix);
int equals(const char *a, const char *b);
/* Leading decimal / lowercase hex digits; stops at the first other char. */
uint32_t parse_u32(const char *s);
uint32_t parse_hex(const char *s);

#endif
