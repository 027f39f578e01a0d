/* The DWT cycle counter, and the software extension that makes it 64 bits wide. */
#include "cycles.h"
#include "board.h"
#include "div64.h"
#include "stm32_regs.h"

#define SCS(offset) REG32(BOARD_SCS_BASE, offset)
#define DWT(offset) REG32(BOARD_DWT_BASE, offset)

_Static_assert(BOARD_SYSCLK_HZ % 1000000u == 0 && BOARD_SYSCLK_HZ / 1000000u < 65536u,
               "cycles per microsecond must be a whole number below 2^16");

static uint32_t wraps;
static uint32_t last;

void cycles_init(void)
{
    /* The DWT is part of the debug block, which is unpowered until TRCENA is set. */
    SCS(SCB_DEMCR) |= SCB_DEMCR_TRCENA;
#if defined(BOARD_CORE_M7)
    /* The M7's DWT ignores writes from software until its lock is opened. */
    DWT(DWT_LAR) = DWT_LAR_KEY;
#endif
    DWT(DWT_CYCCNT) = 0;
    DWT(DWT_CTRL) |= DWT_CTRL_CYCCNTENA;
    wraps = 0;
    last = 0;
}

uint64_t cycles_now(void)
{
    uint32_t now = DWT(DWT_CYCCNT);
    if (now < last) {
        wraps++;
    }
    last = now;
    return ((uint64_t)wraps << 32) | now;
}

uint32_t cycles_to_us(uint64_t cycles)
{
    uint32_t rem;
    return (uint32_t)div64_small(cycles, BOARD_SYSCLK_HZ / 1000000u, &rem);
}
