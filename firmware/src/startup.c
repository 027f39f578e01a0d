/* Reset and exception entry: the vector table, the set-up C needs before main() (data, bss, FPU,
 * caches, cycle counter, clock, console), and the handlers for exceptions this firmware never
 * expects. No interrupt is ever enabled, so the table stops after the 16 system exceptions. */
#include <stdbool.h>
#include <stdint.h>
#include "board.h"
#include "clock.h"
#include "console.h"
#include "cycles.h"
#include "stack_paint.h"
#include "stm32_regs.h"

#define SCS(offset) REG32(BOARD_SCS_BASE, offset)

extern uint32_t _estack[], _sidata[], _sdata[], _edata[], _sbss[], _ebss[];
#if defined(BOARD_HAS_ITCM)
/* The hot kernels the planner placed in ITCM (harness/placement.py): run at _sitcm, loaded at _siitcm. */
extern uint32_t _siitcm[], _sitcm[], _eitcm[];
#endif
int main(void);

/* Set once the console works, so a fault before that does not wait forever on an unclocked UART. */
static bool console_up;

static __attribute__((noreturn)) void halt(const char *name)
{
    if (console_up) {
        console_puts("e-[fault ");
        console_puts(name);
        console_puts("]\r\n");
    }
    for (;;) {
    }
}

/* Weak, so a later module can take over an exception by defining the handler. */
#define DEFAULT_HANDLER(fn, name) \
    void fn(void) __attribute__((weak)); \
    void fn(void) { halt(name); }

DEFAULT_HANDLER(NMI_Handler, "NMI")
DEFAULT_HANDLER(HardFault_Handler, "HardFault")
DEFAULT_HANDLER(MemManage_Handler, "MemManage")
DEFAULT_HANDLER(BusFault_Handler, "BusFault")
DEFAULT_HANDLER(UsageFault_Handler, "UsageFault")
DEFAULT_HANDLER(SVC_Handler, "SVC")
DEFAULT_HANDLER(DebugMon_Handler, "DebugMon")
DEFAULT_HANDLER(PendSV_Handler, "PendSV")
DEFAULT_HANDLER(SysTick_Handler, "SysTick")

void Reset_Handler(void) __attribute__((noreturn));

/* Entry 0 is a data address and the rest are code: a union says so without casting one to the other. */
typedef union {
    uint32_t *stack_top;
    void (*handler)(void);
} vector_t;

/* aligned: VTOR needs the table on a 128-byte boundary. */
__attribute__((section(".isr_vector"), used, aligned(128)))
const vector_t vector_table[16] = {
    {.stack_top = _estack},   /* loaded into SP by the core itself */
    {.handler = Reset_Handler},
    {.handler = NMI_Handler},
    {.handler = HardFault_Handler},
    {.handler = MemManage_Handler},
    {.handler = BusFault_Handler},
    {.handler = UsageFault_Handler},
    {0}, {0}, {0}, {0},
    {.handler = SVC_Handler},
    {.handler = DebugMon_Handler},
    {0},
    {.handler = PendSV_Handler},
    {.handler = SysTick_Handler},
};

static void fpu_enable(void)
{
    /* Any FP instruction before this is a UsageFault; the barriers make it visible to the next one. */
    SCS(SCB_CPACR) |= SCB_CPACR_CP10_CP11_FULL;
    dsb();
    isb();
}

#if defined(BOARD_HAS_CACHE)
/* The M7's caches come out of reset in an unknown state: invalidate, then enable (Armv7-M ARM B2.2.7). */
static void caches_enable(void)
{
    SCS(SCB_ICIALLU) = 0;
    dsb();
    isb();
    SCS(SCB_CCR) |= SCB_CCR_IC;
    dsb();
    isb();

    SCS(SCB_CSSELR) = SCB_CSSELR_L1_DATA;
    dsb();
    uint32_t ccsidr = SCS(SCB_CCSIDR);
    uint32_t sets = SCB_CCSIDR_NUMSETS(ccsidr) + 1;
    uint32_t ways = SCB_CCSIDR_ASSOC(ccsidr) + 1;
    uint32_t set_shift = SCB_CCSIDR_LINESIZE(ccsidr) + 4;
    /* DCISW takes the way in its top bits: as many as the way number needs. */
    uint32_t way_shift = ways > 1 ? (uint32_t)__builtin_clz(ways - 1) : 0;
    for (uint32_t way = 0; way < ways; way++) {
        for (uint32_t set = 0; set < sets; set++) {
            SCS(SCB_DCISW) = (way << way_shift) | (set << set_shift);
        }
    }
    dsb();
    SCS(SCB_CCR) |= SCB_CCR_DC;
    dsb();
    isb();
}
#endif

void Reset_Handler(void)
{
    fpu_enable();
#if defined(BOARD_HAS_CACHE)
    caches_enable();
#endif
    /* The F7 boots through the ITCM alias of flash; point exceptions at the table as linked. */
    SCS(SCB_VTOR) = (uint32_t)(uintptr_t)vector_table;

    for (uint32_t *src = _sidata, *dst = _sdata; dst < _edata;) {
        *dst++ = *src++;
    }
    for (uint32_t *dst = _sbss; dst < _ebss;) {
        *dst++ = 0;
    }
#if defined(BOARD_HAS_ITCM)
    /* Nothing placed in ITCM has run yet: copy it before main. ITCM is not behind the L1 caches, so
     * a DSB (the copy done) and an ISB (no instruction fetched earlier) are all it
     * takes before the first fetch from it. */
    for (uint32_t *src = _siitcm, *dst = _sitcm; dst < _eitcm;) {
        *dst++ = *src++;
    }
    dsb();
    isb();
#endif
    stack_paint();
    cycles_init();
    clock_init();
    console_init();
    console_up = true;
    main();
    halt("main returned");
}
