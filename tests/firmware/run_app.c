/* A user's application for `harness run` (tests/test_run.py): boots, prints a banner, runs work() five
 * times with a data-dependent loop, prints each pass and a line in the style of TFLM examples, then
 * leaves through Arm semihosting's SYS_EXIT (BKPT 0xAB) with ADP_Stopped_ApplicationExit.
 * Compile with -DSPIN to spin forever instead of exiting (a run that needs a cycle budget), with
 * -DCRASH to write to flash after the passes (a fault), with -DTIMER to start a timer the board
 * does not model (TIM12, as a HAL application's time base might), with -DSPIN_MMIO to spin reading RCC_CR
 * (a peripheral the engine models in Python: a Ctrl-C lands inside its callback). */
#include <stdint.h>
/* The shared base (startup, vectors, console, DWT) stands for the vendor startup and drivers a user's
 * project compiles next to its main.c; what keeps this a user's ELF is that tests/test_run.py builds
 * it with its own arm-none-eabi-gcc command and linker script, not with harness.build. */
#include "../../firmware/bare/bare.h"

volatile uint32_t sink;
volatile uint32_t base_turns = 100u;     /* read between the CYCCNT reads: work() cannot move out */

__attribute__((noinline)) uint32_t work(uint32_t n) {
    uint32_t acc = 1;
    for (uint32_t i = 0; i < n; i++) {
        acc = acc * 2654435761u + i;
        if (acc & 1u) acc ^= i << 3;
    }
    return acc;
}

__attribute__((noinline)) void semihosting_exit(void) {
    register uint32_t r0 __asm__("r0") = 0x18u;           /* SYS_EXIT */
    register uint32_t r1 __asm__("r1") = 0x20026u;        /* ADP_Stopped_ApplicationExit */
    __asm volatile("bkpt 0xab" : : "r"(r0), "r"(r1) : "memory");
}

int main(void) {
    console_init();
    cyccnt_start();
    console_puts("run_app " BOARD_NAME " ready\r\n");
    for (uint32_t pass = 0; pass < 5; pass++) {
        uint32_t t0 = DWT_CYCCNT;
        sink = work(base_turns + 50u * pass);
        uint32_t t1 = DWT_CYCCNT;
        console_puts("pass ");
        console_put_u32(pass);
        console_puts(" Inference took ");
        console_put_u32(t1 - t0);
        console_puts(" cycles\r\n");
    }
    console_puts("done\r\n");
#if defined(CRASH)
    *(volatile uint32_t *)(uintptr_t)vectors = 0;     /* flash is read-only: a fault */
#endif
#if defined(TIMER)
    *(volatile uint32_t *)0x40001800u = 1u;           /* TIM12_CR1.CEN (RM0390/RM0385: TIM12 at 0x40001800) */
#endif
#if defined(SPIN)
    for (;;) { sink++; }
#endif
#if defined(SPIN_MMIO)
    for (;;) { sink += *(volatile uint32_t *)0x40023800u; }      /* RCC_CR (RM0390/RM0385) */
#endif
    semihosting_exit();
    for (;;) {}
}
