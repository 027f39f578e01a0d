"""The built-in emulated board: a Cortex-M4/M7 in Unicorn with the board's exact memory map and models of
the peripherals its .repl names, built only from the Board object (harness/board.py).

Two clocks are kept, both natively (native/blockcount.c, a block hook registered through ctypes):
- `instructions`, the executed-instruction count (what Renode reports), exact: when emulation stops
  inside a block, the part of the block that did not run is taken back;
- `cycles`, modelled cycles from a per-core cost table (cycles.py, cycles_m4.py, cycles_m7.py): each
  translated block is priced once with capstone, the hook adds the price at every entry, settles
  conditional branches at the next entry and adds flash wait states while the firmware has the flash
  accelerator / instruction cache off. DWT CYCCNT and SysTick count these cycles. docs/cycle-model.md
  describes the model; `profile=True` adds exact per-function totals.

Two mechanisms keep the counts exact where the firmware can see them:
- Stops asked for by a peripheral (a console line is complete, the firmware waits for input) take effect
  at the next block boundary, where the PC and the count are exact, and never re-execute anything.
- Peripheral pages holding counters (DWT CYCCNT, SysTick) are left unmapped. An access there stops the
  CPU at the exact instruction (Unicorn restores the PC for memory faults); the engine then performs that
  one load or store itself against the model, with the exact counts (the cycles of the instructions of
  the current block before it included), and resumes after it. Everything else is an ordinary
  `mmio_map` callback.

Anything outside the regions and the modelled peripherals stays unmapped, so the CPU faults on it.
"""
from __future__ import annotations

import bisect
import ctypes
import hashlib
import os
import subprocess
from collections import deque
from pathlib import Path

from unicorn import Uc, UcError
from unicorn import unicorn_const as UC
from unicorn import arm_const as A
import unicorn.unicorn_py3.unicorn as _ucmod

from harness.backends import BoardFault, BoardHang, BoardIdle
from harness.backends.cycles import BlockCoster, CoreModel, CostMemo, core_model, elf_code_ranges, is_branch
from harness.board import Board, Peripheral
from harness.build import CACHE
from harness.errors import HarnessError

__all__ = ["EmulatedBoard", "BoardFault", "BoardHang", "BoardIdle", "MODELS", "RegisterFile"]

NATIVE_SRC = Path(__file__).resolve().parent / "native" / "blockcount.c"
UNTIL = 0xFFFFFFFE          # an address no firmware executes: emu_start's end marker
IDLE_GAP = 256              # two empty receiver polls at most this many instructions apart: a wait loop
MAX_IDLE_RETURNS = 1 << 20  # guard against a resume loop that makes no progress

_CPU_MODELS = {"m4": A.UC_CPU_ARM_CORTEX_M4, "m7": A.UC_CPU_ARM_CORTEX_M7}
_REPORT_REGS = [(f"r{i}", getattr(A, f"UC_ARM_REG_R{i}")) for i in range(13)] + [
    ("sp", A.UC_ARM_REG_SP), ("lr", A.UC_ARM_REG_LR), ("pc", A.UC_ARM_REG_PC), ("xpsr", A.UC_ARM_REG_XPSR)]
_FAULT_VECTORS = {2: "NMI", 3: "HardFault", 4: "MemManage", 5: "BusFault", 6: "UsageFault"}


# --------------------------------------------------------------------------------------------------
# Native block counter

class _Header(ctypes.Structure):
    """Mirror of bc_header in native/blockcount.c."""
    _fields_ = [("count", ctypes.c_uint64), ("limit", ctypes.c_uint64), ("cur_addr", ctypes.c_uint64),
                ("cur_size", ctypes.c_uint32), ("cur_n", ctypes.c_uint32), ("stopped", ctypes.c_uint32),
                ("trap_hit", ctypes.c_uint32), ("blocks", ctypes.c_uint64), ("unknown", ctypes.c_uint64),
                ("ntraps", ctypes.c_uint32), ("pad", ctypes.c_uint32), ("traps", ctypes.c_uint64 * 8),
                ("ticks", ctypes.c_uint64), ("prev_end", ctypes.c_uint64), ("pad4", ctypes.c_uint64),
                ("cost_calls", ctypes.c_uint64), ("cycles_on", ctypes.c_uint32), ("cur_seq", ctypes.c_uint32),
                ("pend_taken", ctypes.c_uint32), ("pend_flags", ctypes.c_uint32),
                ("flash_penalty", ctypes.c_uint32), ("mispredict", ctypes.c_uint32),
                ("cost_error", ctypes.c_uint32), ("profile_on", ctypes.c_uint32), ("slow", ctypes.c_uint32),
                ("pad3", ctypes.c_uint32)]


class _Cost(ctypes.Structure):
    """Mirror of bc_cost in native/blockcount.c."""
    _fields_ = [("cost_seq", ctypes.c_uint32), ("cost_branch", ctypes.c_uint32), ("lines_seq", ctypes.c_uint32),
                ("lines_branch", ctypes.c_uint32), ("taken", ctypes.c_uint32), ("flags", ctypes.c_uint32),
                ("func", ctypes.c_uint32)]


class _ProfileSlot(ctypes.Structure):
    """Mirror of bc_prof in native/blockcount.c."""
    _fields_ = [("instructions", ctypes.c_uint64), ("ticks", ctypes.c_uint64)]


_PRICER = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_uint64, ctypes.c_uint32, ctypes.POINTER(_Cost))
NOSEQ = (1 << 64) - 1        # prev_end when the next block cannot be entered sequentially
PRED_SIZE = 1 << 12          # the native branch predictor's table (PRED_BITS)


_LIB: ctypes.CDLL | None = None


def native_library() -> ctypes.CDLL:
    """Compile native/blockcount.c with the host compiler (once per source version) and load it."""
    global _LIB
    if _LIB is not None:
        return _LIB
    src = NATIVE_SRC.read_bytes()
    key = hashlib.sha256(src).hexdigest()[:16]
    out_dir = CACHE / "native"
    so = out_dir / f"blockcount-{key}.so"
    if not so.is_file():
        out_dir.mkdir(parents=True, exist_ok=True)
        cc = os.environ.get("CC", "cc")
        tmp = so.with_suffix(f".{os.getpid()}.tmp")
        proc = subprocess.run([cc, "-O2", "-shared", "-fPIC", "-Wall", "-Wextra", "-o", str(tmp), str(NATIVE_SRC)],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise HarnessError(f"cannot build the native instruction counter with {cc}:\n{proc.stderr.strip()}")
        os.replace(tmp, so)
    lib = ctypes.CDLL(str(so))
    lib.bc_new.restype = ctypes.c_void_p
    lib.bc_new.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    lib.bc_count_at.restype = ctypes.c_uint64
    lib.bc_count_at.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint64]
    lib.bc_remaining.restype = ctypes.c_uint32
    lib.bc_remaining.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint64]
    lib.bc_reset.argtypes = [ctypes.c_void_p]
    lib.bc_free.argtypes = [ctypes.c_void_p]
    lib.bc_set_pricer.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    lib.bc_forget_prices.argtypes = [ctypes.c_void_p]
    lib.bc_set_profile.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint32]
    lib.bc_settings.argtypes = [ctypes.c_void_p]
    lib.bc_header_size.restype = ctypes.c_uint32
    lib.bc_cost_size.restype = ctypes.c_uint32
    lib.bc_max_traps.restype = ctypes.c_uint32
    if lib.bc_header_size() != ctypes.sizeof(_Header) or lib.bc_max_traps() != len(_Header().traps) \
            or lib.bc_cost_size() != ctypes.sizeof(_Cost):
        raise HarnessError(f"{so}: header layout does not match emulated._Header / _Cost")
    _LIB = lib
    return lib


def _fn_addr(fn) -> int:
    return ctypes.cast(fn, ctypes.c_void_p).value


# --------------------------------------------------------------------------------------------------
# Peripheral models: one class per Renode class name (MODELS at the end of this section). Offsets are
# each model's own architectural register offsets; bases and sizes come from the Board.

def _mask(size: int) -> int:
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
        return (self.read32(off & ~3) >> (8 * (off & 3))) & _mask(size)

    def write(self, off: int, size: int, value: int) -> None:
        if (off & 3) + size > 4:
            for i in range(size):
                self.write(off + i, 1, value >> (8 * i))
            return
        shift = 8 * (off & 3)
        mask = _mask(size) << shift
        self.write32(off & ~3, (value << shift) & mask, mask)

    def read32(self, off: int) -> int:
        return self.stored(off)

    def write32(self, off: int, value: int, mask: int) -> None:
        self.store(off, value, mask)


class _StmUart(RegisterFile):
    """Polled STM32 U(S)ART. TX is always ready; RX is the engine's console queue when this UART is the
    board's console. Transmit and receive follow the UE/TE/RE enables, as on the chip."""
    SR = RDR = TDR = CR1 = 0
    UE = 0
    TE, RE = 1 << 3, 1 << 2
    TXE, TC, RXNE = 1 << 7, 1 << 6, 1 << 5

    def __init__(self, engine, periph):
        super().__init__(engine, periph)
        self.console = engine.board.console.uart == periph.name
        self.output = bytearray()           # what a non-console UART sent

    def _on(self, bit: int) -> bool:
        cr1 = self.stored(self.CR1)
        return bool(cr1 & self.UE) and bool(cr1 & bit)

    def _rx_ready(self) -> bool:
        return self.console and self._on(self.RE) and self.engine.console_rx_pending()

    def status(self) -> int:
        return self.TXE | self.TC | (self.RXNE if self._rx_ready() else 0)

    def read32(self, off):
        if off == self.SR:
            value = self.status()
            if self.console:
                self.engine.console_polled(bool(value & self.RXNE))
            return value
        if off == self.RDR:
            return self.engine.console_rx_pop() if self._rx_ready() else 0
        return super().read32(off)

    def write32(self, off, value, mask):
        if off == self.TDR:
            if self._on(self.TE):
                if self.console:
                    self.engine.console_tx(value & 0xFF)
                else:
                    self.output.append(value & 0xFF)
            return
        if off == self.SR:
            return                          # flags are computed; clearing them changes nothing here
        super().write32(off, value, mask)


class Stm32Uart(_StmUart):
    """UART.STM32_UART, the F4 layout: SR 0x00, DR 0x04, BRR 0x08, CR1 0x0C (UE bit 13)."""
    SR, RDR, TDR, CR1 = 0x00, 0x04, 0x04, 0x0C
    UE = 1 << 13


class Stm32f7Usart(_StmUart):
    """UART.STM32F7_USART: CR1 0x00 (UE bit 0), BRR 0x0C, ISR 0x1C, ICR 0x20, RDR 0x24, TDR 0x28.
    ISR also shows TEACK/REACK, which the ST HAL waits for."""
    CR1, ISR, ICR, RQR = 0x00, 0x1C, 0x20, 0x18
    SR, RDR, TDR = ISR, 0x24, 0x28
    UE = 1 << 0
    TEACK, REACK = 1 << 21, 1 << 22

    def status(self):
        value = super().status()
        if self._on(self.TE):
            value |= self.TEACK
        if self._on(self.RE):
            value |= self.REACK
        return value

    def write32(self, off, value, mask):
        if off in (self.ICR, self.RQR):
            return                          # write-1-to-clear / request bits: nothing latched to clear
        super().write32(off, value, mask)


class Stm32f4Rcc(RegisterFile):
    """Miscellaneous.STM32F4_RCC: reset values, and every oscillator/PLL READY bit reads as its ON bit,
    CFGR.SWS reads as CFGR.SW. The F7 RCC has the same layout for these registers."""
    CR, PLLCFGR, CFGR, BDCR, CSR = 0x00, 0x04, 0x08, 0x70, 0x74
    resets = {CR: 0x0000_0083, PLLCFGR: 0x2400_3010, 0x30: 0x0010_0000, CSR: 0x0E00_0000,
              0x84: 0x2400_3000, 0x88: 0x2400_3000}
    # (ON bit, READY bit): HSI, HSE, PLL, PLLI2S, PLLSAI in CR; LSE in BDCR; LSI in CSR
    READY = {CR: ((0, 1), (16, 17), (24, 25), (26, 27), (28, 29)), BDCR: ((0, 1),), CSR: ((0, 1),)}

    def read32(self, off):
        value = self.stored(off)
        for on, rdy in self.READY.get(off, ()):
            value = (value & ~(1 << rdy)) | (((value >> on) & 1) << rdy)
        if off == self.CFGR:
            value = (value & ~0xC) | ((value & 0x3) << 2)
        return value


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
    `accelerated` says whether the ART instruction cache is on (F4 ICEN / F7 ARTEN, both bit 9). A write
    to ACR changes the flash fetch penalty of the cycle model."""
    ACR, CR, OPTCR = 0x00, 0x10, 0x14
    ART_ON = 1 << 9
    resets = {CR: 0x8000_0000, OPTCR: 0x0FFF_AAED}

    @property
    def latency(self) -> int:
        return self.stored(self.ACR) & 0xF

    @property
    def accelerated(self) -> bool:
        return bool(self.stored(self.ACR) & self.ART_ON)

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
    cycle model; everything else stores. No exception is ever taken (Unicorn has no exception entry):
    TICKINT and pending interrupts are recorded only."""
    size = 0x1000
    exact_pages = (0x000,)
    SYST_CSR, SYST_RVR, SYST_CVR, SYST_CALIB = 0x010, 0x014, 0x018, 0x01C
    SET_CLEAR = {0x100: (0x100, True), 0x180: (0x100, False), 0x200: (0x200, True), 0x280: (0x200, False)}
    CPUID, VTOR, AIRCR, CCR = 0xD00, 0xD08, 0xD0C, 0xD14
    CLIDR, CTR, CCSIDR, CSSELR, CPACR = 0xD78, 0xD7C, 0xD80, 0xD84, 0xD88
    DEMCR, STIR, FPCCR = 0xDFC, 0xF00, 0xF34
    CACHE_MAINTENANCE = range(0xF50, 0xF7C, 4)
    CCR_IC = 1 << 17                                        # CCR.IC: instruction cache enable (M7)
    CPUIDS = {"m4": 0x410F_C241, "m7": 0x411F_C270}       # r0p1 / r1p0; a board fact `cpu: cpuid=` wins
    CCR_RESET = {"m4": 0x0000_0200, "m7": 0x0004_0200}
    M7_ICACHE_WAYS = 2                                      # Cortex-M7: 2-way I-cache, D-cache ways from facts
    STM32_EXTERNAL_CLOCK_DIV = 8                            # STM32: SysTick external clock = HCLK / 8

    def __init__(self, engine, periph):
        super().__init__(engine, periph)
        self._enabled_bits = [0] * 16         # NVIC ISER/ICER words
        self._pending_bits = [0] * 16
        self._st_value = 0                    # SysTick value at _st_t0
        self._st_wraps = 0                    # 1 -> 0 transitions up to _st_t0
        self._st_t0 = 0
        self._st_flag_base = 0                # wraps already reported through COUNTFLAG

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
        for base, (group, _) in self.SET_CLEAR.items():
            if base <= off < base + 0x40:
                bits = self._enabled_bits if group == 0x100 else self._pending_bits
                return bits[(off - base) // 4]
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
            self._systick_settle(after)
            if off == self.SYST_CVR:
                self._st_value = 0
                self._st_flag_base = self._st_wraps
            elif off == self.SYST_CSR:
                self.store(off, value & 0x7, mask & 0x7)
            else:
                self.store(off, value & 0xFFFFFF, mask)
            return
        for base, (group, setting) in self.SET_CLEAR.items():
            if base <= off < base + 0x40:
                bits = self._enabled_bits if group == 0x100 else self._pending_bits
                i = (off - base) // 4
                bits[i] = bits[i] | value if setting else bits[i] & ~value
                return
        if off in (self.CPUID, self.CLIDR, self.CTR, self.CCSIDR, self.STIR, self.SYST_CALIB) \
                or off in self.CACHE_MAINTENANCE:
            return                                          # read-only or maintenance: nothing to keep
        if off == self.CCR:
            super().write32(off, value, mask)
            self.engine.fetch_config_changed()
            return
        if off == self.AIRCR:
            if mask & 0xFFFF0000 and (value >> 16) != 0x05FA:
                return                                      # wrong VECTKEY: the write is ignored
            self.store(off, value & 0x8700, mask & 0x8700)
            if value & (1 << 2):
                self.engine.request_stop("sysreset")
            return
        super().write32(off, value, mask)


MODELS: dict[str, type[RegisterFile]] = {
    "UART.STM32_UART": Stm32Uart,
    "UART.STM32F7_USART": Stm32f7Usart,
    "Miscellaneous.STM32F4_RCC": Stm32f4Rcc,
    "Miscellaneous.STM32_PWR": Stm32Pwr,
    "Python.PythonPeripheral": Stm32Pwr,      # our F7 boards use it only for PWR (Renode's flipflop.py)
    "MTD.STM32F4_FlashController": Stm32FlashController,
    "GPIOPort.STM32_GPIOPort": Stm32Gpio,
    "Miscellaneous.DWT": Dwt,
    "IRQControllers.NVIC": SystemControlSpace,
    "Timers.STM32F4_RTC": RegisterFile,
}


# --------------------------------------------------------------------------------------------------
# ELF image

class _Image:
    def __init__(self, path: Path):
        from elftools.elf.elffile import ELFFile
        self.path = Path(path)
        self.segments: list[tuple[int, bytes]] = []
        self.symbols: dict[str, int] = {}
        funcs, objects = [], []
        with open(self.path, "rb") as f:
            elf = ELFFile(f)
            if elf["e_machine"] != "EM_ARM":
                raise HarnessError(f"{self.path}: not an ARM ELF")
            for seg in elf.iter_segments():
                if seg["p_type"] == "PT_LOAD" and seg["p_filesz"] > 0:
                    self.segments.append((seg["p_paddr"], seg.data()[:seg["p_filesz"]]))
            symtab = elf.get_section_by_name(".symtab")
            for sym in (symtab.iter_symbols() if symtab else ()):
                if not sym.name or sym["st_shndx"] == "SHN_UNDEF" or sym.name.startswith("$"):
                    continue
                kind, value, size = sym["st_info"]["type"], sym["st_value"], sym["st_size"]
                if kind == "STT_FUNC":
                    value &= ~1
                    funcs.append((value, size, sym.name))
                elif kind == "STT_OBJECT":
                    objects.append((value, size, sym.name))
                self.symbols.setdefault(sym.name, value)
        self._tables = [sorted(funcs), sorted(objects)]
        self.functions: list[tuple[int, int, str]] = self._tables[0]   # (start, size, name), by address
        self._starts = [[s[0] for s in t] for t in self._tables]

    def symbol_at(self, addr: int) -> str | None:
        for table, starts in zip(self._tables, self._starts):
            i = bisect.bisect_right(starts, addr) - 1
            while i >= 0 and table[i][0] <= addr:
                start, size, name = table[i]
                if addr < start + max(size, 1):
                    return name if addr == start else f"{name}+0x{addr - start:x}"
                if start + size <= addr and size:
                    break
                i -= 1
        return None


# --------------------------------------------------------------------------------------------------
# Cycle model: one block coster per (ELF, core, flash), shared by the engines that run it, so a block
# is decoded and priced once per process

_MEMOS: dict[tuple, CostMemo] = {}


def _coster_for(engine: "EmulatedBoard") -> BlockCoster:
    board, path = engine.board, engine.elf_path.resolve()
    st = path.stat()
    flash = board.flash
    if "cache" in board.facts:
        line = int(board.facts["cache"]["line"])        # fetches from flash go through the L1 I-cache
    else:
        line = int(board.fact("flash", "line", "16"))
    key = (str(path), st.st_mtime_ns, st.st_size, board.core, flash.base, flash.end, line)
    memo = _MEMOS.get(key)
    if memo is None:
        if len(_MEMOS) >= 16:
            _MEMOS.pop(next(iter(_MEMOS)))
        memo = _MEMOS[key] = CostMemo(elf_code_ranges(path))
    return BlockCoster(engine.model, engine.read_code, (flash.base, flash.end), line, memo)


# --------------------------------------------------------------------------------------------------
# The board

class EmulatedBoard:
    """A board built from `board` (harness.board.Board) running `elf_path`.

    `write()` queues bytes for the console receiver; `read_line()` runs the CPU until the console has
    sent a complete line. `instructions` is the exact executed-instruction count since reset, `cycles`
    the modelled cycle count (`cycles=False`: no cost accounting, `cycles` stays 0 and DWT CYCCNT counts
    instructions).
    """

    def __init__(self, board: Board, elf_path: str | Path, *, budget: int = 2_000_000_000,
                 reference_counter: bool = False, cycles: bool = True, profile: bool = False):
        self.board = board
        self.elf_path = Path(elf_path)
        self.budget = int(budget)      # instructions the firmware may run after the host's last input
        self._budget_from = 0
        self._budget_limit = self.budget
        self.reference_counter = reference_counter   # tests: count again with a per-instruction Python hook
        self.image = _Image(self.elf_path)
        self._lib = native_library()
        self._state = self._lib.bc_new(_fn_addr(_ucmod.uclib.uc_mem_read), _fn_addr(_ucmod.uclib.uc_emu_stop))
        if not self._state:
            raise HarnessError("out of memory for the instruction counter")
        self._hdr = _Header.from_address(self._state)
        self.uc: Uc | None = None
        self.model: CoreModel = core_model(board.core)
        self._tpc = self.model.ticks_per_cycle
        self.coster = _coster_for(self)
        self._price_error: BaseException | None = None
        self._pricer = _PRICER(self._price)              # kept alive as long as the engine
        self._lib.bc_set_pricer(self._state, ctypes.cast(self._pricer, ctypes.c_void_p))
        self._hdr.cycles_on = 1 if cycles else 0
        self._hdr.mispredict = self.model.mispredict_ticks
        # per-function profile: slot 0 for code outside every ELF function, then one per function
        self._funcs = [(start, size, name) for start, size, name in self.image.functions if size]
        self._func_starts = [f[0] for f in self._funcs]
        self._prof = None
        if profile:
            if not cycles:
                raise HarnessError("a profile needs cycle accounting")
            if len(self._funcs) + 1 > 0xFFFF:
                raise HarnessError(f"{self.elf_path}: too many functions to profile")
            self._prof = (_ProfileSlot * (len(self._funcs) + 1))()
            self._lib.bc_set_profile(self._state, ctypes.addressof(self._prof), len(self._prof))
            self._hdr.profile_on = 1
        self._lib.bc_settings(self._state)
        self.reset()

    def __del__(self):
        state = getattr(self, "_state", None)
        if state:
            self.uc = None
            self._state = None
            self._lib.bc_free(state)

    # ---------------------------------------------------------------- reset
    def reset(self) -> None:
        """A fresh engine: the board's regions and peripherals, the ELF loaded at its load addresses,
        SP and PC from the vector table at the flash base."""
        self._budget_from = 0
        self.uc = None
        self._lib.bc_reset(self._state)
        self._lib.bc_forget_prices(self._state)
        uc = Uc(UC.UC_ARCH_ARM, UC.UC_MODE_THUMB)
        try:
            uc.ctl_set_cpu_model(_CPU_MODELS[self.board.core])
        except KeyError:
            raise HarnessError(f"{self.board.name}: no emulated CPU for core {self.board.core!r}") from None
        self.uc = uc
        self.page = uc.ctl_get_page_size()
        for r in self.board.regions:
            if r.base % self.page or r.size % self.page:
                raise HarnessError(f"{self.board.name}: region {r.name} is not aligned to the "
                                   f"{self.page}-byte emulator page")
            perms = UC.UC_PROT_READ | UC.UC_PROT_EXEC | (0 if r.readonly else UC.UC_PROT_WRITE)
            uc.mem_map(r.base, r.size, perms)
            if r.readonly:
                uc.mem_write(r.base, b"\xff" * r.size)     # erased flash
        self._build_peripherals()
        self._load_image()

        # console and run state
        self._rx: deque[int] = deque()
        self._out = bytearray()              # console bytes not yet returned as lines
        self._lines: deque[str] = deque()    # complete lines not yet returned
        self._history: deque[str] = deque(maxlen=200)
        self._last_empty_poll: int | None = None
        self._stop_reason: str | None = None
        self._exact_now: int | None = None
        self._exact_ticks: tuple[int, int] | None = None    # (before, after) the performed instruction
        self._exact_pc = 0
        self._penalty_then: tuple[int, int] | None = None   # (count in a block, flash penalty it was charged)
        self._stopped_penalty = 0                           # ... of the block the last take-back was in
        self._price_error = None
        self.cyccnt_reads: deque[tuple[int, int, int, int, int]] = deque(maxlen=256)
        self._bad_access: tuple[int, int, int, int] | None = None
        self._dead: BoardFault | None = None
        self.reference_count = 0
        self.reference_ticks = 0             # reference runs: modelled ticks summed per instruction
        self._ref_prev = None                # ... the instruction executed last
        self._ref_before = 0                 # ... ticks before the instruction reported last
        self._ref_predictor: dict[int, int] = {}
        self._ref_settled = False
        self._it_pending: list[int] = []
        # reference runs, per exact-page access: (pc, address, is_store, exact count, reference count,
        # start of the block the access is in, exact ticks before it, reference ticks before and after it)
        self.exact_log: list[tuple[int, int, bool, int, int, int, int, int, int]] = []
        self.trapped_accesses = 0            # loads/stores the engine performed for the CPU (exact pages)

        # hooks: the native block counter, invalid accesses (faults and exact pages)
        hh = ctypes.c_size_t()
        err = _ucmod.uclib.uc_hook_add(uc._uch, ctypes.byref(hh), UC.UC_HOOK_BLOCK,
                                       ctypes.c_void_p(_fn_addr(self._lib.bc_block_hook_predicted
                                                                if self._hdr.mispredict else self._lib.bc_block_hook)),
                                       ctypes.c_void_p(self._state), ctypes.c_uint64(1), ctypes.c_uint64(0))
        if err != UC.UC_ERR_OK:
            raise HarnessError(f"cannot register the native block hook: {UcError(err)}")
        self._block_hook = hh.value
        uc.hook_add(UC.UC_HOOK_MEM_INVALID, self._on_invalid)
        if self.reference_counter:
            uc.hook_add(UC.UC_HOOK_CODE, self._on_code)

        # fault handlers from the vector table: reaching one stops the run
        traps: dict[int, list[str]] = {}
        for index, name in _FAULT_VECTORS.items():
            addr = self._vector(index) & ~1
            if addr and self._mapped(addr):
                traps.setdefault(addr, []).append(name)
        self._trap_names = list(traps.items())
        for i, (addr, _) in enumerate(self._trap_names):
            self._hdr.traps[i] = addr
        self._hdr.ntraps = len(self._trap_names)

        self.fetch_config_changed()

        sp, pc = self._vector(0), self._vector(1)
        if not pc & 1:
            raise HarnessError(f"{self.elf_path}: reset vector 0x{pc:08x} is not a Thumb address")
        uc.reg_write(A.UC_ARM_REG_MSP, sp)
        uc.reg_write(A.UC_ARM_REG_SP, sp)
        self._pc = pc & ~1

    def _build_peripherals(self) -> None:
        uc, page = self.uc, self.page
        self.peripherals: dict[str, RegisterFile] = {}
        self._exact_page: dict[int, RegisterFile] = {}     # page base -> model, for trapped accesses
        windows = []
        for p in self.board.peripherals.values():
            if p.base is None:
                continue                                    # the CPU: not on the bus
            model_cls = MODELS.get(p.cls)
            if model_cls is None:
                raise HarnessError(f"{self.board.path}: no emulator model for {p.name} ({p.cls})")
            model = model_cls(self, p)
            size = -(-max(p.size or 0, model_cls.size) // page) * page
            if p.base % page:
                raise HarnessError(f"{self.board.path}: {p.name} at 0x{p.base:08x} is not page-aligned")
            windows.append((p.base, p.base + size, p.name))
            self.peripherals[p.name] = model
            exact = {off for off in model_cls.exact_pages}
            start = None
            for off in range(0, size, page):
                if off in exact:
                    self._exact_page[p.base + off] = model
                    if start is not None:
                        self._mmio(model, start, off)
                        start = None
                elif start is None:
                    start = off
            if start is not None:
                self._mmio(model, start, size)
        spans = sorted(windows + [(r.base, r.end, r.name) for r in self.board.regions])
        for a, b in zip(spans, spans[1:]):
            if b[0] < a[1]:
                raise HarnessError(f"{self.board.path}: {a[2]} and {b[2]} share an emulator page")

    def _mmio(self, model: RegisterFile, start: int, end: int) -> None:
        base = model.base + start

        def read(uc, offset, size, _):
            return model.read(start + offset, size)

        def write(uc, offset, size, value, _):
            model.write(start + offset, size, value)

        self.uc.mmio_map(base, end - start, read, None, write, None)

    def _load_image(self) -> None:
        for addr, data in self.image.segments:
            end = addr + len(data)
            if not any(r.base <= addr and end <= r.end for r in self.board.regions):
                raise HarnessError(f"{self.elf_path}: segment 0x{addr:08x}..0x{end:08x} is not inside one "
                                   f"memory region of {self.board.name}")
            self.uc.mem_write(addr, bytes(data))

    def _vector(self, index: int) -> int:
        return int.from_bytes(self.uc.mem_read(self.board.flash.base + 4 * index, 4), "little")

    def _mapped(self, addr: int) -> bool:
        return any(r.contains(addr) for r in self.board.regions)

    # ---------------------------------------------------------------- public API
    @property
    def instructions(self) -> int:
        """Executed instructions since reset (exact whenever the CPU is stopped)."""
        return self._hdr.count

    @property
    def cycles(self) -> int:
        """Modelled cycles since reset (exact whenever the CPU is stopped); 0 without cost accounting."""
        return self._hdr.ticks // self._tpc

    @property
    def cycle_accounting(self) -> bool:
        return bool(self._hdr.cycles_on)

    def write(self, data: bytes) -> None:
        """Queue bytes into the console UART receiver. Each input gives the firmware a fresh budget: a
        hang is a command that never finishes, however long the session before it."""
        self._rx.extend(bytes(data))
        self._budget_from = self.instructions

    def read_line(self, max_instructions: int | None = None) -> str:
        """Run until the console has sent a complete line and return it without its line ending.
        Raises BoardIdle when the firmware waits for input instead, BoardHang past the budget (or past
        `max_instructions` for this call) and BoardFault on a fault."""
        if self._lines:
            return self._lines.popleft()
        if self._dead is not None:
            raise self._dead
        limit = self._budget_limit = self._budget_from + self.budget
        if max_instructions is not None:
            limit = min(limit, self.instructions + int(max_instructions))
        try:
            reason = self._run(limit)
        except BoardFault:
            if self._lines:                 # lines sent before the fault come first; the fault stays
                return self._lines.popleft()
            raise
        if self._lines:
            return self._lines.popleft()
        if reason == "idle":
            verdict = f"IDLE firmware waits for input, the console receiver is empty (pc {self._at(self._pc)})"
            raise BoardIdle(self._report_text("idle", verdict), self._report("idle", verdict))
        if reason in ("budget", "timeout"):
            if reason == "budget":
                verdict = f"HANG instruction budget of {self.budget} exhausted since the last input"
            else:
                verdict = f"TIMEOUT no complete line within {max_instructions} instructions"
            kind = "hang" if reason == "budget" else "timeout"
            pc = self._pc
            verdict += f" (pc {self._at(pc)})"
            raise BoardHang(self._report_text(kind, verdict), self._report(kind, verdict))
        if reason == "wfi":
            verdict = f"HANG firmware waits for an interrupt (WFI) and the emulator delivers none " \
                      f"(pc {self._at(self._pc)})"
            raise BoardHang(self._report_text("wfi", verdict), self._report("wfi", verdict))
        if reason == "sysreset":
            verdict = f"FAULT firmware requested a system reset (AIRCR.SYSRESETREQ) (pc {self._at(self._pc)})"
            self._dead = BoardFault(self._report_text("reset", verdict), self._report("reset", verdict))
            raise self._dead
        raise HarnessError(f"internal: run stopped for {reason!r} without a line")

    def uart_tail(self, n: int = 20) -> list[str]:
        """The last `n` console lines, the unfinished one included."""
        lines = list(self._history)
        if self._out:
            lines.append(self._decode(bytes(self._out)))
        return lines[-n:] if n else []

    @property
    def pending_output(self) -> str:
        """Console text after the last complete line (e.g. a prompt)."""
        return self._decode(bytes(self._out))

    def symbol_at(self, addr: int) -> str:
        """'func+0x12' from the ELF symbol table, '' when no symbol covers `addr`."""
        name = self.image.symbol_at(addr)
        return name or ""

    def _at(self, addr: int) -> str:
        """'0x08000124 main+0x1c' (the symbol part only when there is one)."""
        sym = self.symbol_at(addr)
        return f"0x{addr:08x} {sym}" if sym else f"0x{addr:08x}"

    def symbol(self, name: str) -> int:
        try:
            return self.image.symbols[name]
        except KeyError:
            raise HarnessError(f"{self.elf_path}: no symbol {name!r}") from None

    @property
    def pc(self) -> int:
        return self._pc

    def reg(self, name: str) -> int:
        return self.uc.reg_read(getattr(A, f"UC_ARM_REG_{name.upper()}"))

    def read_memory(self, addr: int, size: int) -> bytes:
        return bytes(self.uc.mem_read(addr, size))

    def read_code(self, addr: int, size: int) -> bytes:
        return bytes(self.uc.mem_read(addr, size))

    # ---------------------------------------------------------------- hooks for the models
    def now(self) -> int:
        """Instructions completed before the one accessing a peripheral: exact for the exact pages, the
        count at the start of the current block elsewhere."""
        if self._exact_now is not None:
            return self._exact_now
        return self._hdr.count - self._hdr.cur_n

    def now_cycles(self, after: bool = False) -> int:
        """Modelled cycles completed before the instruction accessing a peripheral (`after`: with it),
        exact for the exact pages, the count at the start of the current block elsewhere. Without cost
        accounting: instructions, as now()."""
        if not self._hdr.cycles_on:
            return self.now() + (1 if after else 0)
        if self._exact_ticks is not None:
            return self._exact_ticks[1 if after else 0] // self._tpc
        return (self._hdr.ticks - self._current_price()) // self._tpc

    def cyccnt_read(self, value: int) -> None:
        """The firmware read DWT CYCCNT: log (pc, lr, value, instructions, cycles) for the harness."""
        pc = self._exact_pc if self._exact_now is not None else self.uc.reg_read(A.UC_ARM_REG_PC)
        self.cyccnt_reads.append((pc, self.uc.reg_read(A.UC_ARM_REG_LR), value, self.now(), self.now_cycles()))

    def counts_between_reads(self, cycles: int) -> tuple[int, int] | None:
        """(instructions, cycles) executed between the latest two DWT CYCCNT reads (in
        `cyccnt_reads`) that were `cycles` modelled cycles apart, e.g. the firmware's own timing of an
        inference; None when no such pair was logged. Gives the exact instruction count of what the
        firmware timed."""
        reads = list(self.cyccnt_reads)
        for j in range(len(reads) - 1, 0, -1):
            for i in range(j - 1, -1, -1):
                if reads[j][4] - reads[i][4] == cycles:
                    return reads[j][3] - reads[i][3], cycles
        return None

    def fetch_config_changed(self) -> None:
        """The firmware switched the flash accelerator or the instruction cache, or changed the flash
        latency: flash fetches cost `latency` cycles per line while neither cache is on. The block
        running now was charged with the old penalty: remember it for a take-back in that block."""
        hdr = self._hdr
        penalty = self._fetch_penalty()
        if penalty != hdr.flash_penalty:
            if self._penalty_then is None or self._penalty_then[0] != hdr.count:
                self._penalty_then = (hdr.count, hdr.flash_penalty)
            hdr.flash_penalty = penalty
            self._lib.bc_settings(self._state)

    def _fetch_penalty(self) -> int:
        flash = next((m for m in self.peripherals.values() if isinstance(m, Stm32FlashController)), None)
        scs = next((m for m in self.peripherals.values() if isinstance(m, SystemControlSpace)), None)
        if flash is None or not self.board.facts.get("flash"):
            return 0
        if "cache" in self.board.facts:          # code runs from the AXIM flash address: the L1 I-cache
            cached = scs is not None and bool(scs.stored(SystemControlSpace.CCR) & SystemControlSpace.CCR_IC)
        else:
            cached = self.board.fact("flash", "accelerator", "none") == "art" and flash.accelerated
        return 0 if cached else flash.latency * self._tpc

    def request_stop(self, reason: str) -> None:
        """Stop at the next block boundary (the rest of the current block still runs)."""
        if self._stop_reason is None:
            self._stop_reason = reason
        self._hdr.limit = 0

    def console_rx_pending(self) -> bool:
        return bool(self._rx)

    def console_rx_pop(self) -> int:
        return self._rx.popleft() if self._rx else 0

    def console_tx(self, byte: int) -> None:
        self._last_empty_poll = None
        self._out.append(byte)
        if byte == 0x0A:
            text = self._decode(bytes(self._out[:-1]).rstrip(b"\r"))
            self._out.clear()
            self._lines.append(text)
            self._history.append(text)
            self.request_stop("line")

    def console_polled(self, has_data: bool) -> None:
        """The firmware read the receiver status. Two empty polls close together, with no line waiting
        to be returned and nothing sent in between, mean it waits for input."""
        if has_data:
            self._last_empty_poll = None
            return
        now = self.now()
        last, self._last_empty_poll = self._last_empty_poll, now
        if last is not None and now - last <= IDLE_GAP and not self._lines:
            self.request_stop("idle")

    @staticmethod
    def _decode(data: bytes) -> str:
        return data.decode("utf-8", errors="replace")

    # ---------------------------------------------------------------- running
    def _on_invalid(self, uc, access, address, size, value, _):
        self._bad_access = (access, address, size, value)
        return False

    def _on_code(self, uc, address, size, _):
        """Reference counter (tests): one per instruction Unicorn reports. Unicorn does not report an
        instruction of an IT block whose condition fails, yet the CPU executes it (as a no-op, taking
        its issue slot), so those are added from the IT instruction's mask."""
        if self._hdr.stopped:
            return                       # the block hook stopped the run: this instruction will not run
        pending = self._it_pending
        if pending:
            inside = pending[0] <= address <= pending[-1]
            while pending and (pending[0] < address or not inside):
                self._ref_exec(pending.pop(0))   # skipped: its condition failed
                self.reference_count += 1
            if pending and pending[0] == address:
                pending.pop(0)
        self._ref_exec(address)
        self.reference_count += 1
        if size == 2:
            hw = int.from_bytes(uc.mem_read(address, 2), "little")
            if hw & 0xFF00 == 0xBF00 and hw & 0x000F:            # IT: mask in the low four bits
                count = 4 - ((hw & 0xF) & -(hw & 0xF)).bit_length() + 1
                insns = self._disassembler().disasm(bytes(uc.mem_read(address + 2, 16)), address + 2, count)
                self._it_pending = [i.address for i in insns]

    def _ref_exec(self, address: int) -> None:
        """Reference cycle count: the cost model applied instruction by instruction, with the previous
        executed instruction as context, the taken-branch extra and predictor settled on the spot."""
        if not self._hdr.cycles_on:
            return
        insn = self.coster.instruction(address)
        prev = self._ref_prev
        seq = prev is not None and prev.end == address
        self._ref_settle(address)
        self._ref_before = self.reference_ticks
        pred = prev if seq else None
        self.reference_ticks += self.model.cost(insn, pred) \
            + self.coster.line_start(insn, pred) * self._hdr.flash_penalty
        self._ref_prev = insn
        self._ref_settled = False

    def _ref_settle(self, address: int) -> None:
        """Reference count: the instruction at `address` comes next; if the one before it was a
        conditional branch, it was taken unless `address` follows it (once per branch)."""
        prev = self._ref_prev
        if prev is None or self._ref_settled or not (prev.cond and is_branch(prev)):
            return
        self._ref_settled = True
        taken = prev.end != address
        if taken:
            self.reference_ticks += self.model.taken_extra(prev)
        if self.model.mispredict_ticks:
            slot = (prev.end >> 1) & (PRED_SIZE - 1)       # as pred_slot() in blockcount.c
            ctr = self._ref_predictor.get(slot)
            if ctr is None:
                ctr = 2 if prev.target is not None and prev.target <= prev.addr else 1
            if (ctr >= 2) != taken:
                self.reference_ticks += self.model.mispredict_ticks
            self._ref_predictor[slot] = min(ctr + 1, 3) if taken else max(ctr - 1, 0)

    # ---------------------------------------------------------------- cycle accounting
    def _price(self, addr: int, size: int, out) -> int:
        """Native hook callback: price the block (addr, size) for the native table (once per block)."""
        try:
            block = self.coster.cost(addr, size)
            c = out.contents
            c.cost_seq, c.lines_seq = block.total(seq=True)
            c.cost_branch, c.lines_branch = block.total(seq=False)
            c.taken, c.flags = block.taken, block.flags
            c.func = self._func_index(addr) if self._prof is not None else 0
            return 0
        except BaseException as e:          # noqa: BLE001 - reported after emu_start returns
            self._price_error = e
            return -1

    def _func_index(self, addr: int) -> int:
        """Profile slot of the function containing `addr` (0: none)."""
        i = bisect.bisect_right(self._func_starts, addr) - 1
        if i >= 0 and addr < self._funcs[i][0] + self._funcs[i][1]:
            return i + 1
        return 0

    def profile(self) -> list[dict]:
        """Per-function totals since reset (profile=True): name, instructions, ticks, cycles, the most
        expensive first. Exact: the sums over all entries equal `instructions` and the tick total,
        `cycles` of an entry is ticks / ticks_per_cycle (a fraction on the M7 model)."""
        if self._prof is None:
            raise HarnessError("this engine was not started with profile=True")
        out = []
        for i, slot in enumerate(self._prof):
            if slot.instructions or slot.ticks:
                name = self._funcs[i - 1][2] if i else "(outside any function)"
                out.append({"function": name, "instructions": slot.instructions, "ticks": slot.ticks,
                            "cycles": slot.ticks / self._tpc})
        return sorted(out, key=lambda d: (-d["ticks"], d["function"]))

    def _profile_add(self, addr: int, instructions: int, ticks: int) -> None:
        if self._prof is not None:
            slot = self._prof[self._func_index(addr)]
            slot.instructions += instructions
            slot.ticks += ticks

    def _current_block(self):
        """The price of the block the CPU is in (memoised; checked against the code bytes)."""
        return self.coster.cost(self._hdr.cur_addr, self._hdr.cur_size)

    def _current_penalty(self) -> int:
        """The flash penalty the current block was charged with."""
        then = self._penalty_then
        if then is not None and then[0] == self._hdr.count:
            return then[1]
        return self._hdr.flash_penalty

    def _current_price(self) -> int:
        """Ticks charged for the current block at its entry (the previous block's branch excluded)."""
        hdr = self._hdr
        if not hdr.cur_size:
            return 0
        ticks, lines = self._current_block().total(bool(hdr.cur_seq))
        return ticks + lines * self._current_penalty()

    def _take_back(self, pc: int) -> None:
        """Emulation stopped with the CPU at `pc`: take back the instructions and the ticks of the
        current block from `pc` on, which did not run, so that both counts are exact."""
        hdr = self._hdr
        remaining = self._lib.bc_remaining(self._state, self.uc._uch, pc)
        if not remaining:
            return
        self._stopped_penalty = self._current_penalty()
        if hdr.cycles_on:
            if pc == hdr.cur_addr:        # the block did not run at all: undo its entry (not the branch to it)
                ticks = self._current_price()
                hdr.prev_end = hdr.cur_addr if hdr.cur_seq else NOSEQ
            else:
                ticks = self._current_block().suffix(pc, bool(hdr.cur_seq), self._current_penalty())
                hdr.prev_end = pc
            hdr.ticks -= ticks
            hdr.pend_flags = hdr.pend_taken = 0   # the block's last instruction did not run
            self._profile_add(hdr.cur_addr, -remaining, -ticks)
        hdr.count -= remaining

    def _ticks_of_insn_at(self, pc: int) -> int:
        """Ticks of the instruction at `pc` (in the current block, the CPU standing at it after a
        take-back), as the block's price charges it."""
        hdr = self._hdr
        block = self._current_block()
        k = block.index(pc)
        if k is None:
            raise HarnessError(f"internal: 0x{pc:08x} is not an instruction of the block at 0x{hdr.cur_addr:08x}")
        return block.cost_at(k, hdr.prev_end == pc if k == 0 else True, self._stopped_penalty)

    def _run(self, limit: int) -> str:
        """Run until something asks to stop; returns the reason ('line', 'idle', 'budget', 'timeout',
        'sysreset'), raises BoardFault on a fault."""
        uc, hdr, lib = self.uc, self._hdr, self._lib
        self._stop_reason = None
        idle_returns = 0
        while True:
            hdr.limit = limit
            hdr.stopped = 0
            hdr.trap_hit = 0
            self._bad_access = None
            start_count, start_pc = hdr.count, self._pc
            try:
                uc.emu_start(self._pc | 1, UNTIL)
                err = None
            except UcError as e:
                err = e
            pc = uc.reg_read(A.UC_ARM_REG_PC)
            if hdr.cost_error:
                hdr.cost_error = 0
                raise HarnessError(f"internal: the cycle model cannot price a block: {self._price_error!r}") \
                    from self._price_error
            self._take_back(pc)                     # what did not run of the current block
            self._pc = pc
            if self.reference_counter and hdr.cycles_on:
                self._ref_settle(pc)                # the CPU stands at pc: a branch before it is settled
            if hdr.unknown:
                raise HarnessError("internal: Unicorn reported a block without a size; the count is inexact")
            if err is None:
                if hdr.trap_hit:
                    raise self._handler_fault(hdr.trap_hit - 1)
                if self._stop_reason is not None:
                    return self._stop_reason
                if hdr.stopped:
                    return "budget" if limit == self._budget_limit else "timeout"
                if self._hint_before(pc) == "wfi":
                    return "wfi"            # sleeps until an interrupt, and none is ever delivered
                # Unicorn returned by itself for another reason: carry on, unless nothing moves
                idle_returns = idle_returns + 1 if (hdr.count, pc) == (start_count, start_pc) else 0
                if idle_returns > MAX_IDLE_RETURNS:
                    raise HarnessError(f"internal: emulation makes no progress at 0x{pc:08x}")
                continue
            if err.errno == UC.UC_ERR_INSN_INVALID and self._hint_before(pc) in ("wfe", "yield"):
                continue                    # Unicorn stops after these hints; on the chip they fall through
            access = self._bad_access
            if access is not None and err.errno in (UC.UC_ERR_READ_UNMAPPED, UC.UC_ERR_WRITE_UNMAPPED):
                page = access[1] - access[1] % self.page
                model = self._exact_page.get(page)
                if model is not None:
                    self._perform(pc, access)
                    if self._stop_reason is not None:
                        return self._stop_reason
                    if hdr.count > limit:
                        return "budget" if limit == self._budget_limit else "timeout"
                    continue
            raise self._fault(err, pc)

    _HINTS = {0xBF10: "yield", 0xBF20: "wfe", 0xBF30: "wfi"}
    _WIDE_HINTS = {0xF3AF8001: "yield", 0xF3AF8002: "wfe", 0xF3AF8003: "wfi"}

    def _hint_before(self, pc: int) -> str | None:
        """'wfi', 'wfe' or 'yield' when the instruction just before `pc` is that hint."""
        try:
            hw = int.from_bytes(self.uc.mem_read(pc - 2, 2), "little")
            first, second = (int.from_bytes(self.uc.mem_read(pc - 4 + i, 2), "little") for i in (0, 2))
        except UcError:
            return None
        if hw in self._HINTS:
            return self._HINTS[hw]
        return self._WIDE_HINTS.get((first << 16) | second)

    # ---------------------------------------------------------------- exact-page accesses
    _cs = None

    @classmethod
    def _disassembler(cls):
        if cls._cs is None:
            import capstone
            cs = capstone.Cs(capstone.CS_ARCH_ARM, capstone.CS_MODE_THUMB | capstone.CS_MODE_MCLASS)
            cs.detail = True
            cls._cs = cs
        return cls._cs

    def _decode_insn(self, pc: int):
        code = bytes(self.uc.mem_read(pc, 4))
        return next(self._disassembler().disasm(code, pc, 1), None)

    def _perform(self, pc: int, access: tuple[int, int, int, int]) -> None:
        """The instruction at `pc` touched an exact page and was stopped before it took effect. Perform
        it against the models with the exact instruction and cycle counts (the current block's tail
        from `pc` has been taken back; the instruction's own cycles are charged as its block priced
        them), then step past it."""
        import capstone.arm as C
        insn = self._decode_insn(pc)
        if insn is None:
            raise HarnessError(f"internal: cannot decode the instruction at 0x{pc:08x}")
        uc = self.uc
        regs = _capstone_regs()

        def reg(r):
            if r == C.ARM_REG_PC:
                return (pc + 4) & ~3
            return uc.reg_read(regs[r])

        loads = {C.ARM_INS_LDR: (4, False), C.ARM_INS_LDRH: (2, False), C.ARM_INS_LDRB: (1, False),
                 C.ARM_INS_LDRSH: (2, True), C.ARM_INS_LDRSB: (1, True), C.ARM_INS_LDRD: (4, False)}
        stores = {C.ARM_INS_STR: 4, C.ARM_INS_STRH: 2, C.ARM_INS_STRB: 1, C.ARM_INS_STRD: 4}
        multiple = {C.ARM_INS_LDM: (False, True), C.ARM_INS_LDMDB: (False, False),
                    C.ARM_INS_STM: (True, True), C.ARM_INS_STMDB: (True, False)}
        ops = list(insn.operands)
        writes: list[tuple[int, int]] = []          # (unicorn register, value)
        accesses: list[tuple[int, int, bool, int]] = []  # (address, size, is_store, value or dest reg)
        hdr = self._hdr
        ticks = self._ticks_of_insn_at(pc) if hdr.cycles_on else 0
        self._exact_now = hdr.count
        self._exact_ticks = (hdr.ticks, hdr.ticks + ticks)
        self._exact_pc = pc
        if self.reference_counter:
            self.exact_log.append((pc, access[1], access[0] == UC.UC_MEM_WRITE_UNMAPPED, self._exact_now,
                                   self.reference_count, hdr.cur_addr, hdr.ticks, self._ref_before,
                                   self.reference_ticks))
        try:
            if insn.id in loads or insn.id in stores:
                size = loads[insn.id][0] if insn.id in loads else stores[insn.id]
                mem_i = next(i for i, o in enumerate(ops) if o.type == C.ARM_OP_MEM)
                data_regs = [o.reg for o in ops[:mem_i]]
                mem = ops[mem_i].mem
                base = reg(mem.base)
                if insn.post_index:
                    extra = ops[mem_i + 1]
                    step = extra.imm if extra.type == C.ARM_OP_IMM else reg(extra.reg)
                    if extra.type != C.ARM_OP_IMM and extra.subtracted:
                        step = -step
                    addr, new_base = base, base + step
                else:
                    offset = mem.disp
                    if mem.index:
                        offset = reg(mem.index) << (ops[mem_i].shift.value if ops[mem_i].shift.type else 0)
                        if ops[mem_i].subtracted:
                            offset = -offset
                    addr = new_base = (base + offset) & 0xFFFFFFFF
                for k, r in enumerate(data_regs):
                    accesses.append((addr + 4 * k, size, insn.id in stores, r))
                if insn.writeback:
                    writes.append((regs[mem.base], new_base & 0xFFFFFFFF))
                signed = loads.get(insn.id, (0, False))[1]
            elif insn.id in multiple:
                is_store, up = multiple[insn.id]
                base_reg, reglist = ops[0].reg, [o.reg for o in ops[1:]]
                base = reg(base_reg)
                start = base if up else base - 4 * len(reglist)
                for k, r in enumerate(reglist):
                    accesses.append((start + 4 * k, 4, is_store, r))
                if insn.writeback:
                    writes.append((regs[base_reg], (base + (4 if up else -4) * len(reglist)) & 0xFFFFFFFF))
                signed = False
            else:
                raise HarnessError(f"the emulator cannot perform `{insn.mnemonic} {insn.op_str}` at 0x{pc:08x} "
                                   f"({self.symbol_at(pc)}) on a peripheral register")
            if accesses[0][0] & 0xFFFFFFFF != access[1]:
                raise HarnessError(f"internal: `{insn.mnemonic} {insn.op_str}` at 0x{pc:08x}: computed address "
                                   f"0x{accesses[0][0]:08x}, the CPU accessed 0x{access[1]:08x}")
            loaded: list[tuple[int, int]] = []
            for addr, size, is_store, r in accesses:
                addr &= 0xFFFFFFFF
                model = self._exact_page.get(addr - addr % self.page)
                if model is None:
                    raise HarnessError(f"the emulator cannot perform `{insn.mnemonic} {insn.op_str}` at "
                                       f"0x{pc:08x}: it spans 0x{addr:08x} outside the peripheral page")
                if is_store:
                    model.write(addr - model.base, size, reg(r) & _mask(size))
                else:
                    value = model.read(addr - model.base, size)
                    if signed and value >> (8 * size - 1):
                        value -= 1 << (8 * size)
                    loaded.append((r, value & 0xFFFFFFFF))
        finally:
            self._exact_now = None
            self._exact_ticks = None
        self.trapped_accesses += 1
        for r, value in loaded:
            if r == C.ARM_REG_PC:
                raise HarnessError(f"the emulator cannot load the PC from a peripheral (0x{pc:08x})")
            writes.append((regs[r], value))
        for uc_reg, value in writes:
            uc.reg_write(uc_reg, value)
        _advance_itstate(uc)
        self._pc = pc + insn.size
        hdr.count += 1
        if hdr.cycles_on:
            hdr.ticks += ticks
            hdr.prev_end = pc + insn.size         # the next block follows it sequentially
            self._profile_add(hdr.cur_addr, 1, ticks)

    # ---------------------------------------------------------------- reports
    def _registers(self) -> dict[str, int]:
        return {name: self.uc.reg_read(r) for name, r in _REPORT_REGS}

    def _report(self, kind: str, verdict: str, address: int | None = None) -> dict:
        pc = self._pc
        return {"kind": kind, "verdict": verdict, "pc": pc, "symbol": self.symbol_at(pc), "address": address,
                "instructions": self.instructions, "cycles": self.cycles, "registers": self._registers(),
                "uart_tail": self.uart_tail(20), "board": self.board.name, "elf": str(self.elf_path)}

    def _report_text(self, kind: str, verdict: str, address: int | None = None, extra: list[str] = ()) -> str:
        pc = self._pc
        lines = [verdict, f"  pc           {self._at(pc)}"]
        insn = self._safe_disasm(pc)
        if insn:
            lines.append(f"  instruction  {insn}")
        if address is not None:
            where = self._describe(address)
            lines.append(f"  address      0x{address:08x}" + (f"  ({where})" if where else ""))
        lines.extend(extra)
        regs = self._registers()
        names = list(regs)
        for i in range(0, len(names), 4):
            lines.append("  " + "  ".join(f"{n:>4} 0x{regs[n]:08x}" for n in names[i:i + 4]))
        lines.append(f"  instructions {self.instructions}")
        if self._hdr.cycles_on:
            lines.append(f"  cycles       {self.cycles} (modelled)")
        tail = self.uart_tail(20)
        lines.append(f"  console, last {len(tail)} lines:" if tail else "  console: nothing sent")
        lines.extend(f"  | {t}" for t in tail)
        return "\n".join(lines)

    def _safe_disasm(self, pc: int) -> str | None:
        try:
            insn = self._decode_insn(pc)
        except Exception:
            return None
        if insn is None:
            try:
                return "undecodable " + self.read_memory(pc, 4).hex()
            except UcError:
                return None
        return f"{insn.mnemonic} {insn.op_str}".strip()

    def _describe(self, addr: int) -> str:
        for r in self.board.regions:
            if r.contains(addr):
                return f"{r.name}+0x{addr - r.base:x}" + (", read-only" if r.readonly else "")
        for m in self.peripherals.values():
            if m.base <= addr < m.base + max(self.board.peripherals[m.name].size or 0, type(m).size):
                return f"{m.name}+0x{addr - m.base:x}"
        below = [r for r in self.board.regions if r.end <= addr]
        if below:
            r = max(below, key=lambda r: r.end)
            if addr - r.end < 0x10000:
                return f"{addr - r.end} bytes past the end of {r.name}" if addr > r.end else f"just past the end of {r.name}"
        return "not in the memory map"

    def _fault(self, err: UcError, pc: int) -> BoardFault:
        access = self._bad_access
        address = access[1] if access else None
        kinds = {
            UC.UC_ERR_READ_UNMAPPED: ("read-unmapped", "read from unmapped address"),
            UC.UC_ERR_WRITE_UNMAPPED: ("write-unmapped", "write to unmapped address"),
            UC.UC_ERR_FETCH_UNMAPPED: ("fetch-unmapped", "fetch from unmapped address"),
            UC.UC_ERR_WRITE_PROT: ("write-readonly", "write to read-only"),
            UC.UC_ERR_READ_PROT: ("read-protected", "read from protected"),
            UC.UC_ERR_FETCH_PROT: ("fetch-protected", "fetch from non-executable"),
            UC.UC_ERR_READ_UNALIGNED: ("read-unaligned", "unaligned read at"),
            UC.UC_ERR_WRITE_UNALIGNED: ("write-unaligned", "unaligned write at"),
            UC.UC_ERR_FETCH_UNALIGNED: ("fetch-unaligned", "unaligned fetch at"),
        }
        extra: list[str] = []
        if err.errno in kinds:
            kind, what = kinds[err.errno]
            if address is None:
                address = pc
            if kind in ("write-readonly", "read-protected", "fetch-protected"):
                region = next((r.name for r in self.board.regions if r.contains(address)), None)
                where = f"{region} at" if region else "memory at"
                if region is None:
                    model = next((m for m in self.peripherals.values()
                                  if m.base <= address < m.base + 0x1000), None)
                    where = f"peripheral {model.name} at" if model else where
                verdict = f"FAULT {what} {where} 0x{address:08x}"
            else:
                verdict = f"FAULT {what} 0x{address:08x}"
            if access:
                extra.append(f"  access       {access[2]} bytes" + (f", value 0x{access[3] & 0xFFFFFFFF:x}"
                                                                    if access[0] in (UC.UC_MEM_WRITE_UNMAPPED,
                                                                                     UC.UC_MEM_WRITE_PROT) else ""))
        elif err.errno == UC.UC_ERR_INSN_INVALID:
            kind, address = "undefined-instruction", pc
            verdict = f"FAULT undefined instruction at 0x{pc:08x}"
        elif err.errno == UC.UC_ERR_EXCEPTION:
            kind, address = "exception", pc
            insn = self._safe_disasm(pc) or "?"
            verdict = f"FAULT unhandled CPU exception ({insn}) at 0x{pc:08x}"
        else:
            kind = "error"
            verdict = f"FAULT emulator error: {err}"
        if kind == "fetch-unmapped":
            last = self._hdr.cur_addr
            extra.append(f"  came from    the block at {self._at(last)}")
        verdict += f" (pc {self._at(pc)})"
        fault = BoardFault(self._report_text(kind, verdict, address, extra), self._report(kind, verdict, address))
        self._dead = fault
        return fault

    def _handler_fault(self, index: int) -> BoardFault:
        addr, vectors = self._trap_names[index]
        verdict = f"FAULT firmware reached its {'/'.join(vectors)} handler (pc {self._at(addr)})"
        lr = self.uc.reg_read(A.UC_ARM_REG_LR)
        extra = [f"  called from  {self._at(lr & ~1)} (lr)"]
        fault = BoardFault(self._report_text("fault-handler", verdict, None, extra),
                           self._report("fault-handler", verdict))
        fault.report["handler"] = vectors
        self._dead = fault
        return fault


# --------------------------------------------------------------------------------------------------
# helpers for performing an instruction on the CPU's behalf

_CS_REGS: dict[int, int] | None = None


def _capstone_regs() -> dict[int, int]:
    """capstone register id -> unicorn register id for r0..r15."""
    global _CS_REGS
    if _CS_REGS is None:
        import capstone.arm as C
        m = {getattr(C, f"ARM_REG_R{i}"): getattr(A, f"UC_ARM_REG_R{i}") for i in range(13)}
        m.update({C.ARM_REG_SB: A.UC_ARM_REG_R9, C.ARM_REG_SL: A.UC_ARM_REG_R10, C.ARM_REG_FP: A.UC_ARM_REG_R11,
                  C.ARM_REG_IP: A.UC_ARM_REG_R12, C.ARM_REG_SP: A.UC_ARM_REG_SP, C.ARM_REG_LR: A.UC_ARM_REG_LR,
                  C.ARM_REG_PC: A.UC_ARM_REG_PC})
        _CS_REGS = m
    return _CS_REGS


def _advance_itstate(uc: Uc) -> None:
    """Step the IT state past one instruction, as the CPU does when an instruction in an IT block ends."""
    xpsr = uc.reg_read(A.UC_ARM_REG_XPSR)
    it = ((xpsr >> 25) & 0x3) | (((xpsr >> 10) & 0x3F) << 2)
    if not it:
        return
    it = 0 if (it & 0x7) == 0 else (it & 0xE0) | ((it << 1) & 0x1F)
    xpsr = (xpsr & ~((0x3 << 25) | (0x3F << 10))) | ((it & 0x3) << 25) | ((it >> 2) << 10)
    uc.reg_write(A.UC_ARM_REG_XPSR, xpsr)
