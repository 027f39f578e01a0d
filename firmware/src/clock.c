/* HSI -> main PLL -> SYSCLK at BOARD_SYSCLK_HZ, in the order RM0390 5.1.4 / RM0385 4.1.4 require for
 * over-drive: scale 1 while the PLL is off, PLL on, over-drive on, more flash wait states, bus
 * prescalers, and only then the switch. Each step waits on the flag that says it took effect. */
#include "clock.h"
#include "board.h"
#include "stm32_regs.h"

#define RCC(offset)   REG32(BOARD_RCC_BASE, offset)
#define PWR(offset)   REG32(BOARD_PWR_BASE, offset)
#define FLASH(offset) REG32(BOARD_FLASH_IF_BASE, offset)

/* PPRE encoding: 0xx is /1, 100../111 are /2../16. */
#define PPRE_BITS(div) ((div) == 1 ? 0u : (div) == 2 ? 4u : (div) == 4 ? 5u : (div) == 8 ? 6u : 7u)

_Static_assert(BOARD_HSI_HZ / BOARD_PLLM * BOARD_PLLN / BOARD_PLLP == BOARD_SYSCLK_HZ,
               "board PLL factors do not give BOARD_SYSCLK_HZ");
_Static_assert(BOARD_PLLP == 2 || BOARD_PLLP == 4 || BOARD_PLLP == 6 || BOARD_PLLP == 8, "PLLP must be 2/4/6/8");
_Static_assert(BOARD_APB1_DIV == 1 || BOARD_APB1_DIV == 2 || BOARD_APB1_DIV == 4 || BOARD_APB1_DIV == 8
               || BOARD_APB1_DIV == 16, "APB1 divider must be a power of two up to 16");
_Static_assert(BOARD_APB2_DIV == 1 || BOARD_APB2_DIV == 2 || BOARD_APB2_DIV == 4 || BOARD_APB2_DIV == 8
               || BOARD_APB2_DIV == 16, "APB2 divider must be a power of two up to 16");

#if defined(BOARD_CORE_M7)
#define FLASH_ACCELERATOR (FLASH_ACR_PRFTEN | FLASH_ACR_F7_ARTEN)
#else
#define FLASH_ACCELERATOR (FLASH_ACR_PRFTEN | FLASH_ACR_F4_ICEN | FLASH_ACR_F4_DCEN)
#endif

static void wait_bits(volatile uint32_t *reg, uint32_t mask, uint32_t value)
{
    while ((*reg & mask) != value) {
    }
}

void clock_init(void)
{
    RCC(RCC_CR) |= RCC_CR_HSION;
    wait_bits(&RCC(RCC_CR), RCC_CR_HSIRDY, RCC_CR_HSIRDY);

    /* The PWR registers ignore writes until their clock runs; the read-back lets the enable land. */
    RCC(RCC_APB1ENR) |= RCC_APB1ENR_PWREN;
    (void)RCC(RCC_APB1ENR);
    /* VOS may only change while the PLL is off; it takes effect when the PLL starts. */
    PWR(PWR_CR) = (PWR(PWR_CR) & ~PWR_CR_VOS_MASK) | PWR_CR_VOS_SCALE1;

    /* The source bit is left clear by the mask: the PLL runs from HSI. */
    RCC(RCC_PLLCFGR) = (RCC(RCC_PLLCFGR) & ~RCC_PLLCFGR_MASK)
        | ((uint32_t)BOARD_PLLM << RCC_PLLCFGR_M_POS) | ((uint32_t)BOARD_PLLN << RCC_PLLCFGR_N_POS)
        | ((uint32_t)(BOARD_PLLP / 2 - 1) << RCC_PLLCFGR_P_POS) | ((uint32_t)BOARD_PLLQ << RCC_PLLCFGR_Q_POS);
    RCC(RCC_CR) |= RCC_CR_PLLON;
    wait_bits(&RCC(RCC_CR), RCC_CR_PLLRDY, RCC_CR_PLLRDY);

    /* 180 MHz (F446) and 216 MHz (F7) are only reachable with the regulator in over-drive. */
    PWR(PWR_CR) |= PWR_CR_ODEN;
    wait_bits(&PWR(PWR_CSR), PWR_CSR_ODRDY, PWR_CSR_ODRDY);
    PWR(PWR_CR) |= PWR_CR_ODSWEN;
    wait_bits(&PWR(PWR_CSR), PWR_CSR_ODSWRDY, PWR_CSR_ODSWRDY);

    /* Wait states before the faster clock, and read back: the new latency must be in force first. */
    FLASH(FLASH_ACR) = (FLASH(FLASH_ACR) & ~FLASH_ACR_LATENCY_MASK) | FLASH_ACCELERATOR
        | (uint32_t)BOARD_FLASH_WAIT_STATES;
    wait_bits(&FLASH(FLASH_ACR), FLASH_ACR_LATENCY_MASK, (uint32_t)BOARD_FLASH_WAIT_STATES);

    /* AHB at SYSCLK; APB1/APB2 divided so they stay within their limits once SYSCLK switches. */
    RCC(RCC_CFGR) = (RCC(RCC_CFGR) & ~RCC_CFGR_PRE_MASK)
        | (PPRE_BITS(BOARD_APB1_DIV) << RCC_CFGR_PPRE1_POS) | (PPRE_BITS(BOARD_APB2_DIV) << RCC_CFGR_PPRE2_POS);
    RCC(RCC_CFGR) = (RCC(RCC_CFGR) & ~RCC_CFGR_SW_MASK) | RCC_CFGR_SW_PLL;
    wait_bits(&RCC(RCC_CFGR), RCC_CFGR_SW_MASK << RCC_CFGR_SWS_POS, RCC_CFGR_SW_PLL << RCC_CFGR_SWS_POS);
}
