/* The 16 system exception vectors of the shared base (bare.h). Entry 0 is the initial SP the core
 * loads itself; 7-10 and 13 are reserved in ARMv7-M. No interrupt is enabled, so no IRQ entries. */
#include "bare.h"

extern uint32_t _estack;

__attribute__((section(".isr_vector"), used))
const bare_vector_t vectors[16] = {
    (bare_vector_t)&_estack, Reset_Handler, NMI_Handler, HardFault_Handler, MemManage_Handler,
    BusFault_Handler, UsageFault_Handler, 0, 0, 0, 0, Default_Handler, Default_Handler, 0,
    Default_Handler, Default_Handler,
};
