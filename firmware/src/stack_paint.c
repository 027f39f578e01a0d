/* Painting and scanning the stack region [_sstack, _estack) laid out by the linker script. */
#include "stack_paint.h"
#include <stdint.h>

#define STACK_PAINT_WORD   0xDEADBEEFu
/* Room below the painter's local for its own saved registers and anything the compiler spills. */
#define STACK_PAINT_MARGIN 64u

extern uint32_t _sstack[], _estack[];

__attribute__((noinline)) void stack_paint(void)
{
    /* The address of a local marks where this frame lives; everything well below it is free.
     * The loop keeps its pointer in a register, so it never paints over itself. */
    volatile uint32_t here = 0;
    uintptr_t end = ((uintptr_t)&here - STACK_PAINT_MARGIN) & ~(uintptr_t)7u;
    for (uint32_t *p = _sstack; (uintptr_t)p < end; p++) {
        *p = STACK_PAINT_WORD;
    }
}

uint32_t stack_high_water(void)
{
    const uint32_t *p = _sstack;
    while ((uintptr_t)p < (uintptr_t)_estack && *p == STACK_PAINT_WORD) {
        p++;
    }
    return (uint32_t)((uintptr_t)_estack - (uintptr_t)p);
}
