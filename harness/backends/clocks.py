"""The STM32F4/F7 clock tree as far as the core, SysTick and the timers need it, read from the RCC's
registers as the firmware programmed them (RM0390 6.2 / RM0385 5.2 "Clocks", the RCC_PLLCFGR, RCC_CFGR and
RCC_DCKCFGR(1) register descriptions; the F4 and F7 share these fields and offsets).

Modelled cycles are core cycles, i.e. HCLK cycles. What a timer needs is therefore not a frequency but the
ratio of its kernel clock to HCLK, which depends only on the APB prescaler and TIMPRE; the absolute SYSCLK
only says how long a cycle lasts (the warning when it is not the board's nominal clock)."""
from __future__ import annotations

from fractions import Fraction

PLLCFGR, CFGR, DCKCFGR = 0x04, 0x08, 0x8C
PLLSRC_HSE = 1 << 22
TIMPRE = 1 << 24                       # RCC_DCKCFGR(1).TIMPRE
SW_HSI, SW_HSE, SW_PLL, SW_PLLR = 0, 1, 2, 3    # CFGR.SW; 3 is PLL_R on the F446 (RM0390), reserved on the F7

# CFGR.HPRE: 0xxx /1, 1000../1111 /2 /4 /8 /16 /64 /128 /256 /512 (no /32)
_HPRE = {8: 2, 9: 4, 10: 8, 11: 16, 12: 64, 13: 128, 14: 256, 15: 512}


def ahb_div(cfgr: int) -> int:
    return _HPRE.get((cfgr >> 4) & 0xF, 1)


def apb_div(cfgr: int, bus: int) -> int:
    """CFGR.PPRE1 (bits 12:10) / PPRE2 (15:13): 0xx /1, 100 /2, 101 /4, 110 /8, 111 /16."""
    field = (cfgr >> (10 if bus == 1 else 13)) & 7
    return 1 if field < 4 else 2 << (field - 4)


def pll_out(pllcfgr: int, hsi: int, hse: int | None, output: str = "P") -> int | None:
    """The main PLL's P (or, F446, R) output: source / PLLM * PLLN / PLLP. None when it runs from an HSE
    whose frequency the board does not state, or PLLM is 0 (a setting the RM forbids)."""
    source = hse if pllcfgr & PLLSRC_HSE else hsi
    m, n = pllcfgr & 0x3F, (pllcfgr >> 6) & 0x1FF
    if source is None or m == 0:
        return None
    div = 2 * (((pllcfgr >> 16) & 3) + 1) if output == "P" else (pllcfgr >> 28) & 7
    return source * n // m // div if div else None


def sysclk(rcc_regs: dict[int, int], hsi: int, hse: int | None) -> int | None:
    """SYSCLK from CFGR.SW (the switch is immediate in the model, so SWS follows SW)."""
    cfgr, pllcfgr = rcc_regs.get(CFGR, 0), rcc_regs.get(PLLCFGR, 0)
    sw = cfgr & 3
    if sw == SW_HSI:
        return hsi
    if sw == SW_HSE:
        return hse
    return pll_out(pllcfgr, hsi, hse, "P" if sw == SW_PLL else "R")


def timer_ratio(rcc_regs: dict[int, int], bus: int) -> Fraction:
    """TIMxCLK / HCLK for the timers on APB`bus`. RM0390 / RM0385 clock tree: with TIMPRE = 0 the timer
    clock is PCLKx when the APB prescaler is 1, else 2 x PCLKx; with TIMPRE = 1 (the F7's DCKCFGR1, the
    F446's DCKCFGR) it is HCLK when the prescaler is 1, 2 or 4, else 4 x PCLKx."""
    cfgr = rcc_regs.get(CFGR, 0)
    div = apb_div(cfgr, bus)
    if rcc_regs.get(DCKCFGR, 0) & TIMPRE:
        return Fraction(1) if div <= 4 else Fraction(4, div)
    return Fraction(1) if div == 1 else Fraction(2, div)
