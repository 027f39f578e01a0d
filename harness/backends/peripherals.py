"""Peripheral models of the emulated board: one class per Renode class name (MODELS at the end). Offsets
are each model's own architectural register offsets; bases and sizes come from the Board (.repl). A model
talks to the engine only through the hooks the engine offers (now(), now_cycles(), console_*,
request_stop(), fetch_config_changed(), cyccnt_read())."""
from __future__ import annotations

from fractions import Fraction
from typing import TYPE_CHECKING

from harness.backends import clocks
from harness.board import Peripheral

if TYPE_CHECKING:
    from harness.backends.emulated import EmulatedBoard


def size_mask(size: int) -> int:
    return (1 << (8 * size)) - 1


class RegisterFile:
    """Word registers that read back what was written; subclasses give some of them behaviour.
    Byte and halfword accesses are served from the containing word."""
    size = 0x400                   # address window when the .repl gives none
    exact_pages: tuple[int, ...] = ()   # offsets of pages whose accesses need the exact instruction count
    resets: dict[int, int] = {}

    def __init__(self, engine: "EmulatedBoard", periph: Peripheral):
        self.engine = engine
        self.board = engine.board
        self.name = periph.name
        self.cls = periph.cls
        self.base = periph.base
        self.props = periph.props
        self.regs: dict[int, int] = dict(self.reset_values())

    def reset_values(self) -> dict[int, int]:
        return dict(self.resets)

    def stored(self, off: int) -> int:
        return self.regs.get(off, 0)

    def store(self, off: int, value: int, mask: int = 0xFFFFFFFF) -> None:
        self.regs[off] = (self.regs.get(off, 0) & ~mask) | (value & mask)

    def read(self, off: int, size: int) -> int:
        if (off & 3) + size > 4:
            return sum(self.read(off + i, 1) << (8 * i) for i in range(size))
        return (self.read32(off & ~3) >> (8 * (off & 3))) & size_mask(size)

    def write(self, off: int, size: int, value: int) -> None:
        if (off & 3) + size > 4:
            for i in range(size):
                self.write(off + i, 1, value >> (8 * i))
            return
        shift = 8 * (off & 3)
        mask = size_mask(size) << shift
        self.write32(off & ~3, (value << shift) & mask, mask)

    def read32(self, off: int) -> int:
        return self.stored(off)

    def write32(self, off: int, value: int, mask: int) -> None:
        self.store(off, value, mask)


class Stm32f4Rcc(RegisterFile):
    """Miscellaneous.STM32F4_RCC: reset values, and every oscillator/PLL READY bit reads as its ON bit,
    CFGR.SWS reads as CFGR.SW. The F7 RCC has the same layout for these registers. The clock tree
    (clocks.py) follows PLLCFGR, CFGR and DCKCFGR(1): each APB bus's timer kernel clock is kept as a count of
    its edges over the modelled cycles, continuous across a prescaler change, for the timers (timers.py)."""
    CR, PLLCFGR, CFGR, BDCR, CSR = 0x00, 0x04, 0x08, 0x70, 0x74
    DCKCFGR = clocks.DCKCFGR
    resets = {CR: 0x0000_0083, PLLCFGR: 0x2400_3010, 0x30: 0x0010_0000, CSR: 0x0E00_0000,
              0x84: 0x2400_3000, 0x88: 0x2400_3000}
    # (ON bit, READY bit): HSI, HSE, PLL, PLLI2S, PLLSAI in CR; LSE in BDCR; LSI in CSR
    READY = {CR: ((0, 1), (16, 17), (24, 25), (26, 27), (28, 29)), BDCR: ((0, 1),), CSR: ((0, 1),)}

    def __init__(self, engine, periph):
        super().__init__(engine, periph)
        clock = self.board.facts.get("clock", {})
        self.hsi = int(clock.get("hsi", 16_000_000))
        self.hse = int(clock["hse"]) if "hse" in clock else None
        # per APB bus: (edge offset, TIMxCLK / HCLK); edges(t) = offset + floor(t * ratio)
        self._tclk = {bus: (0, clocks.timer_ratio(self.regs, bus)) for bus in (1, 2)}
        self._warned: set[int] = set()
        self._time = (0, Fraction(0))       # (cycle count, board seconds at it) at the last HCLK change

    def hclk(self) -> Fraction:
        """HCLK = SYSCLK / HPRE; the board's nominal clock stands in for an HSE it does not state."""
        return Fraction(self.sysclk() or self.board.clock_hz, clocks.ahb_div(self.stored(self.CFGR)))

    def seconds(self, t: int) -> Fraction:
        c0, s0 = self._time
        return s0 + (t - c0) / self.hclk()

    def sysclk(self) -> int | None:
        return clocks.sysclk(self.regs, self.hsi, self.hse)

    def timer_edges(self, bus: int, t: int) -> int:
        off, ratio = self._tclk[bus]
        return off + t * ratio.numerator // ratio.denominator

    def cycle_of_edge(self, bus: int, edge: int) -> int:
        """The first cycle count at which `edge` edges have passed."""
        off, ratio = self._tclk[bus]
        return -(-(edge - off) * ratio.denominator // ratio.numerator)

    def check_sysclk(self) -> None:
        """A firmware whose SYSCLK is not the board's nominal clock: one named warning per frequency.
        Cycles stay cycles; what changes is how long one lasts."""
        hz, nominal = self.sysclk(), self.board.clock_hz
        if hz == nominal or (hz or 0) in self._warned:
            return
        self._warned.add(hz or 0)
        if hz is None:                  # the HSE's frequency is a board fact this .repl does not state
            self.engine.warnings.append(f"clock: firmware runs SYSCLK from HSE, whose frequency {self.board.name} "
                                        f"does not state (`//! clock: hse=`); the timers follow its prescalers")
            return
        self.engine.warnings.append(f"clock: firmware runs SYSCLK at {hz / 1e6:g} MHz, the board's nominal is "
                                    f"{nominal / 1e6:g} MHz; modelled time follows the firmware")

    def read32(self, off):
        value = self.stored(off)
        for on, rdy in self.READY.get(off, ()):
            value = (value & ~(1 << rdy)) | (((value >> on) & 1) << rdy)
        if off == self.CFGR:
            value = (value & ~0xC) | ((value & 0x3) << 2)
        return value

    def write32(self, off, value, mask):
        if off not in (self.CFGR, self.PLLCFGR, self.DCKCFGR):
            super().write32(off, value, mask)
            return
        t = self.engine.now_cycles(after=True)
        before = {bus: self.timer_edges(bus, t) for bus in (1, 2)}
        self._time = (t, self.seconds(t))           # time so far at the old HCLK
        sw_before = self.stored(self.CFGR) & 3
        super().write32(off, value, mask)
        for bus in (1, 2):
            ratio = clocks.timer_ratio(self.regs, bus)
            self._tclk[bus] = (before[bus] - t * ratio.numerator // ratio.denominator, ratio)
        if off == self.CFGR and self.stored(self.CFGR) & 3 != sw_before and self.stored(self.CFGR) & 3:
            self.check_sysclk()         # switched to HSE or a PLL (HSI is a firmware's transit clock)
        self.engine.request_interrupt_check()      # the timers' next update moved


class Stm32Pwr(RegisterFile):
    """Miscellaneous.STM32_PWR (F4) and the F7 PWR (Renode: Python.PythonPeripheral): CR/CR1 at 0x00,
    CSR/CSR1 at 0x04 where ODRDY (16) and ODSWRDY (17) read as CR.ODEN/ODSWEN and VOSRDY (14) reads 1."""
    CR, CSR = 0x00, 0x04
    ODEN, ODSWEN, VOSRDY = 1 << 16, 1 << 17, 1 << 14
    resets = {CR: 0x0000_C000}

    def read32(self, off):
        if off == self.CSR:
            cr = self.stored(self.CR)
            return (self.stored(off) & ~(self.ODEN | self.ODSWEN)) | (cr & (self.ODEN | self.ODSWEN)) | self.VOSRDY
        return super().read32(off)


class Stm32FlashController(RegisterFile):
    """MTD.STM32F4_FlashController: ACR (0x00) reads back as written; `latency` keeps the wait states,
    `accelerated` says whether the ART instruction cache is on (F4 ICEN / F7 ARTEN, both bit 9), `prefetch`
    whether PRFTEN (bit 8) is, `data_cache` whether the F4's ART data cache is (DCEN, bit 10; reserved on
    the F7, whose data side is the M7's D-cache). A write to ACR changes the cycle model's memory system."""
    ACR, CR, OPTCR = 0x00, 0x10, 0x14
    PRFTEN, ART_ON, DCEN = 1 << 8, 1 << 9, 1 << 10
    resets = {CR: 0x8000_0000, OPTCR: 0x0FFF_AAED}

    @property
    def latency(self) -> int:
        return self.stored(self.ACR) & 0xF

    @property
    def prefetch(self) -> bool:
        return bool(self.stored(self.ACR) & self.PRFTEN)

    @property
    def accelerated(self) -> bool:
        return bool(self.stored(self.ACR) & self.ART_ON)

    @property
    def data_cache(self) -> bool:
        return bool(self.stored(self.ACR) & self.DCEN)

    def write32(self, off, value, mask):
        super().write32(off, value, mask)
        if off == self.ACR:
            self.engine.fetch_config_changed()


class Stm32Gpio(RegisterFile):
    """GPIOPort.STM32_GPIOPort: MODER/PUPDR reset values from the .repl; BSRR sets and resets ODR; IDR
    reads what ODR drives (no pin is driven from outside)."""
    MODER, PUPDR, IDR, ODR, BSRR = 0x00, 0x0C, 0x10, 0x14, 0x18

    def reset_values(self):
        values = {}
        for off, prop in ((self.MODER, "modeResetValue"), (self.PUPDR, "pullUpPullDownResetValue")):
            if prop in self.props:
                values[off] = int(self.props[prop].strip('"'), 0)
        return values

    def read32(self, off):
        if off == self.IDR:
            return self.stored(self.ODR) & 0xFFFF
        if off == self.BSRR:
            return 0
        return super().read32(off)

    def write32(self, off, value, mask):
        if off == self.BSRR:
            value &= mask
            odr = self.stored(self.ODR)
            self.store(self.ODR, (odr & ~(value >> 16)) | (value & 0xFFFF), 0xFFFF)
            return
        if off == self.IDR:
            return
        super().write32(off, value, mask)


class Dwt(RegisterFile):
    """Miscellaneous.DWT: CTRL (0x00) bit 0 CYCCNTENA, CYCCNT (0x04) = modelled cycles completed since it
    was enabled or written (engine.now_cycles(); instructions when cost accounting is off, as in Renode
    with frequency = MIPS), exact to the instruction; LAR (0xFB0) write-only, LSR (0xFB4) shows the M7's
    software lock. Other registers store. The DEMCR.TRCENA gate and the M7 lock are shown, not enforced
    (Renode does not enforce them either). Every CYCCNT read is logged in engine.cyccnt_reads."""
    size = 0x1000
    exact_pages = (0x000,)
    CTRL, CYCCNT, LAR, LSR = 0x000, 0x004, 0xFB0, 0xFB4
    CYCCNTENA = 1
    UNLOCK = 0xC5ACCE55
    resets = {CTRL: 0x4000_0000}

    def __init__(self, engine, periph):
        super().__init__(engine, periph)
        self._value = 0          # CYCCNT at cycle count _t0
        self._t0: int | None = None  # None: not counting
        self._locked = engine.board.core == "m7"

    def cyccnt(self, now: int) -> int:
        if self._t0 is None:
            return self._value
        return (self._value + now - self._t0) & 0xFFFFFFFF

    def read32(self, off):
        if off == self.CYCCNT:
            value = self.cyccnt(self.engine.now_cycles())
            self.engine.cyccnt_read(value)
            return value
        if off == self.LAR:
            return 0
        if off == self.LSR:
            return (0b11 if self._locked else 0b01) if self.board.core == "m7" else 0
        return super().read32(off)

    def write32(self, off, value, mask):
        after = self.engine.now_cycles(after=True)     # the store completes with this instruction
        if off == self.CYCCNT:
            self._value = (self.cyccnt(after) & ~mask) | (value & mask)
            if self._t0 is not None:
                self._t0 = after
            return
        if off == self.LAR:
            self._locked = (value & mask) != self.UNLOCK
            return
        if off == self.LSR:
            return
        if off == self.CTRL:
            was = bool(self.stored(off) & self.CYCCNTENA)
            super().write32(off, value, mask)
            now_on = bool(self.stored(off) & self.CYCCNTENA)
            if now_on and not was:
                self._t0 = after
            elif was and not now_on:
                self._value, self._t0 = self.cyccnt(after), None
            return
        super().write32(off, value, mask)


class SystemControlSpace(RegisterFile):
    """IRQControllers.NVIC, modelled as the whole System Control Space (0xE000E000 + 0x1000):
    SysTick (0x10..0x1C) counts modelled cycles exactly (CLKSOURCE 0 = core clock / 8, as on STM32); NVIC
    enable/pending set/clear pairs; SCB CPUID (per core), VTOR, AIRCR (SYSRESETREQ stops the run), CCR,
    CPACR, the cache identification registers from the board's `cache:` facts (zero without them), cache
    maintenance writes ignored; a write to CCR (I-cache enable) changes the flash fetch penalty of the
    cycle model; everything else stores. The NVIC and the exception registers of the SCB (ICSR, SHPR,
    SHCSR, the fault status registers, STIR) belong to the engine's exception model (exceptions.py);
    SysTick pends its exception at the wrap when TICKINT is set (`systick_sample`, `systick_next_wrap`)."""
    size = 0x1000
    # SysTick and the NVIC enable/pending registers (0x000 page), the SCB (0xC00 page: ICSR, SHPR, STIR):
    # a store there may make an exception take effect at once, so it is performed at the exact instruction
    exact_pages = (0x000, 0xC00)
    SYST_CSR, SYST_RVR, SYST_CVR, SYST_CALIB = 0x010, 0x014, 0x018, 0x01C
    CPUID, VTOR, AIRCR, CCR = 0xD00, 0xD08, 0xD0C, 0xD14
    CLIDR, CTR, CCSIDR, CSSELR, CPACR = 0xD78, 0xD7C, 0xD80, 0xD84, 0xD88
    DEMCR, STIR, FPCCR = 0xDFC, 0xF00, 0xF34
    CACHE_MAINTENANCE = range(0xF50, 0xF7C, 4)
    CCR_IC = 1 << 17                                        # CCR.IC: instruction cache enable (M7)
    CCR_DC = 1 << 16                                        # CCR.DC: data cache enable (M7)
    CPUIDS = {"m4": 0x410F_C241, "m7": 0x411F_C270}       # r0p1 / r1p0; a board fact `cpu: cpuid=` wins
    CCR_RESET = {"m4": 0x0000_0200, "m7": 0x0004_0200}
    M7_ICACHE_WAYS = 2                                      # Cortex-M7: 2-way I-cache, D-cache ways from facts
    STM32_EXTERNAL_CLOCK_DIV = 8                            # STM32: SysTick external clock = HCLK / 8

    def __init__(self, engine, periph):
        super().__init__(engine, periph)
        self._st_value = 0                    # SysTick value at _st_t0
        self._st_wraps = 0                    # 1 -> 0 transitions up to _st_t0
        self._st_t0 = 0
        self._st_flag_base = 0                # wraps already reported through COUNTFLAG
        self._st_irq_base = 0                 # wraps already turned into a SysTick exception

    def reset_values(self):
        core = self.board.core
        values = {self.CCR: self.CCR_RESET[core], self.VTOR: self.board.flash.base, self.FPCCR: 0xC000_0000}
        values[self.SYST_CALIB] = (1 << 30) | ((self.board.clock_hz // self.STM32_EXTERNAL_CLOCK_DIV // 100 - 1)
                                               & 0xFFFFFF)
        return values

    # -- identification
    def cpuid(self) -> int:
        fact = self.board.facts.get("cpu", {}).get("cpuid")
        return int(fact, 0) if fact else self.CPUIDS[self.board.core]

    def _cache(self) -> dict[str, str] | None:
        return self.board.facts.get("cache")

    def ccsidr(self) -> int:
        cache = self._cache()
        sel = self.stored(self.CSSELR)
        if not cache or (sel >> 1) & 7:
            return 0
        line = int(cache["line"])
        if sel & 1:
            size, ways = int(cache["icache"]), self.M7_ICACHE_WAYS
        else:
            size, ways = int(cache["dcache"]), int(cache["ways"])
        sets = size // (ways * line)
        line_field = (line // 4).bit_length() - 1 - 2        # log2(words per line) - 2
        return (0xF << 28) | ((sets - 1) << 13) | ((ways - 1) << 3) | line_field

    # -- SysTick: a down-counter on the cycle count
    def _systick_at(self, now: int) -> tuple[int, int]:
        """(current value, wraps so far) at cycle count `now`."""
        csr = self.stored(self.SYST_CSR)
        if not csr & 1:
            return self._st_value, self._st_wraps
        div = 1 if csr & 4 else self.STM32_EXTERNAL_CLOCK_DIV
        ticks = max(0, now - self._st_t0) // div
        v0, reload = self._st_value, self.stored(self.SYST_RVR) & 0xFFFFFF
        if ticks < v0 or ticks == 0:
            return v0 - ticks, self._st_wraps
        wraps = self._st_wraps + (1 if v0 > 0 else 0)       # reached 0 from 1
        after_zero = ticks - v0 - 1                        # ticks since it stood at 0 (-1: stands at 0)
        if after_zero < 0 or reload == 0:
            return 0, wraps
        period = reload + 1
        return reload - after_zero % period, wraps + (after_zero + 1) // period

    def systick_sample(self, now: int) -> bool:
        """True when SysTick wrapped since the last sample with TICKINT set: its exception pends."""
        wraps = self._systick_at(now)[1]
        fired = wraps > self._st_irq_base and bool(self.stored(self.SYST_CSR) & 2)
        self._st_irq_base = max(self._st_irq_base, wraps)
        return fired

    def systick_next_wrap(self) -> int | None:
        """The cycle count of the next wrap not sampled yet, when it raises the exception (ENABLE and
        TICKINT); None when none will come."""
        csr = self.stored(self.SYST_CSR)
        if csr & 3 != 3:
            return None
        div = 1 if csr & 4 else self.STM32_EXTERNAL_CLOCK_DIV
        v0, reload = self._st_value, self.stored(self.SYST_RVR) & 0xFFFFFF
        n = self._st_irq_base + 1 - self._st_wraps          # the n-th wrap after the settle point
        if v0 > 0:
            if n > 1 and reload == 0:
                return None
            k = v0 + (reload + 1) * (n - 1)
        else:
            if reload == 0:
                return None
            k = (reload + 1) * n
        return self._st_t0 + k * div

    def _systick_settle(self, t: int) -> None:
        self._st_value, self._st_wraps = self._systick_at(t)
        self._st_t0 = t

    def read32(self, off):
        if off == self.SYST_CSR:
            value, wraps = self._systick_at(self.engine.now_cycles())
            flag = wraps > self._st_flag_base
            self._st_flag_base = wraps
            return (self.stored(off) & 0x7) | (flag << 16)
        if off == self.SYST_CVR:
            return self._systick_at(self.engine.now_cycles())[0]
        if self.engine.exceptions.owns(off):
            return 0 if off == self.STIR else self.engine.exceptions.read32(off)
        if off == self.CPUID:
            return self.cpuid()
        if off == self.AIRCR:
            return 0xFA05_0000 | (self.stored(off) & 0x8700)
        if off == self.CLIDR:
            return 0x0900_0003 if self._cache() else 0
        if off == self.CTR:
            return 0x8303_C003 if self._cache() else 0
        if off == self.CCSIDR:
            return self.ccsidr()
        if off == self.STIR or off in self.CACHE_MAINTENANCE:
            return 0
        return super().read32(off)

    def write32(self, off, value, mask):
        value &= mask
        if off in (self.SYST_CSR, self.SYST_RVR, self.SYST_CVR):
            after = self.engine.now_cycles(after=True)
            if self.systick_sample(after):          # wraps up to now pend under the old settings
                self.engine.exceptions.pend(15)
            self._systick_settle(after)
            if off == self.SYST_CVR:
                self._st_value = 0
                self._st_flag_base = self._st_wraps
            elif off == self.SYST_CSR:
                self.store(off, value & 0x7, mask & 0x7)
            else:
                self.store(off, value & 0xFFFFFF, mask)
            return
        if self.engine.exceptions.owns(off):
            self.engine.exceptions.write32(off, value, mask)
            return
        if off in (self.CPUID, self.CLIDR, self.CTR, self.CCSIDR, self.SYST_CALIB) \
                or off in self.CACHE_MAINTENANCE:
            return                                          # read-only or maintenance: nothing to keep
        if off == self.CCR:
            super().write32(off, value, mask)
            self.engine.fetch_config_changed()
            self.engine.ccr_changed(self.stored(off))
            return
        if off == self.CPACR:
            super().write32(off, value, mask)
            self.engine.fpu_config_changed()
            return
        if off == self.AIRCR:
            if mask & 0xFFFF0000 and (value >> 16) != 0x05FA:
                return                                      # wrong VECTKEY: the write is ignored
            self.store(off, value & 0x8700, mask & 0x8700)
            self.engine.exceptions.set_prigroup(self.stored(off))
            if value & (1 << 2):
                self.engine.request_stop("sysreset")
            return
        super().write32(off, value, mask)


MODELS: dict[str, type[RegisterFile]] = {
    "Miscellaneous.STM32F4_RCC": Stm32f4Rcc,
    "Miscellaneous.STM32_PWR": Stm32Pwr,
    "Python.PythonPeripheral": Stm32Pwr,      # our F7 boards use it only for PWR (Renode's flipflop.py)
    "MTD.STM32F4_FlashController": Stm32FlashController,
    "GPIOPort.STM32_GPIOPort": Stm32Gpio,
    "Miscellaneous.DWT": Dwt,
    "IRQControllers.NVIC": SystemControlSpace,
    "Timers.STM32F4_RTC": RegisterFile,
}

# timers.py and uart.py build on RegisterFile above, so they are imported once that exists
from harness.backends.timers import Stm32Timer  # noqa: E402
from harness.backends.uart import Stm32f7Usart, Stm32Uart  # noqa: E402

MODELS.update({"Timers.STM32_Timer": Stm32Timer, "UART.STM32_UART": Stm32Uart, "UART.STM32F7_USART": Stm32f7Usart})
