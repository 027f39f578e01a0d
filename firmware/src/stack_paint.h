/* Stack high-water measurement: the stack is filled with a known word at reset, and the deepest
 * word no longer holding it shows how far the stack has ever grown. */
#ifndef STACK_PAINT_H
#define STACK_PAINT_H
#include <stdint.h>

/* Call once, early, from a shallow frame: paints from the stack's lowest address up to a little
 * below the caller's own frame. */
void stack_paint(void);
/* Bytes between the top of the stack and the deepest overwritten word. */
uint32_t stack_high_water(void);

#endif
