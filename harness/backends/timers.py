"""Timers.STM32_Timer: the STM32 general-purpose (TIM2-TIM5) and basic (TIM6/TIM7) timers' time base, as
the "General-purpose timers (TIM2/TIM3/TIM4/TIM5)" and "Basic timers (TIM6/TIM7)" chapters of RM0385 (F7)
and RM0390 (F446) describe it: CR1 (CEN, UDIS, URS, OPM, ARPE), DIER.UIE, SR.UIF, EGR.UG, CNT, PSC, ARR,
counting up; and the four channels' output compare flags: SR.CCxIF set when the counter counts to CCRx
(a channel in output mode, CCMR CCxS = 00; CCRx not preloaded, OCxPE clear), interrupting with DIER.CCxIE.
Input capture, the output pins, the slave mode controller, DMA, the F7's UIFREMAP and down/centre-aligned
counting are not modelled (their registers store). A CNT written above ARR is a case the manuals do not
describe: it is modelled as counting on to the counter's top and around to 0 without an update event.

Time: the timer counts edges of its kernel clock, which the RCC model derives from the modelled cycles
(Stm32f4Rcc.timer_edges: TIMxCLK / HCLK from the APB prescaler and TIMPRE). The state is kept as an
anchor (the state at a cycle count where the firmware last wrote a register) plus a closed form for any later
cycle count, so a read gives the value at the accessing instruction however often the engine samples, and
the engine can be told the cycle of the next update interrupt (next_irq) to stop there."""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, replace

from harness.backends.exceptions import FIRST_IRQ
from harness.backends.peripherals import RegisterFile

CR1, DIER, SR, EGR, CNT, PSC, ARR = 0x00, 0x0C, 0x10, 0x14, 0x24, 0x28, 0x2C
CCMR1, CCMR2, CCR1 = 0x18, 0x1C, 0x34          # CCR1..CCR4 at 0x34, 0x38, 0x3C, 0x40
CEN, UDIS, URS, OPM, ARPE = 1 << 0, 1 << 1, 1 << 2, 1 << 3, 1 << 7
UIE = UIF = UG = 1
CCIF = 0b11110                                 # SR.CC1IF..CC4IF, DIER.CC1IE..CC4IE: bits 1-4
APB2_BASE = 0x4001_0000                   # RM0385 / RM0390 memory map: APB1 below, APB2 from here


@dataclass(frozen=True)
class _State:
    cnt: int             # CNT
    pcnt: int            # the prescaler's counter, 0..psc
    uif: bool            # SR.UIF
    cen: bool            # CR1.CEN (one-pulse mode clears it at an update event)
    psc: int             # the prescaler's shadow (active) value
    arr: int             # the auto-reload shadow value
    edge: int            # kernel clock edges counted up to the anchor
    ccif: int = 0        # SR.CCxIF (bits 1-4)


class Stm32Timer(RegisterFile):
    exact_pages = (0x000,)           # CNT and the flags are read at the accessing instruction
    LOG = 4096                       # register accesses kept for the harness (cycle, offset, write, value)

    def __init__(self, engine, periph):
        super().__init__(engine, periph)
        limit = int(self.props.get("initialLimit", "0xFFFF").strip('"'), 0)
        self.width = 0xFFFF_FFFF if limit > 0xFFFF else 0xFFFF     # TIM2/TIM5 are 32-bit, the others 16
        self.bus = 2 if self.base >= APB2_BASE else 1
        self.irq = next(iter(periph.irqs.values()), None)
        self.regs[ARR] = limit
        self._t = 0                                   # the anchor's cycle count
        self._s = _State(0, 0, False, False, 0, limit, 0)
        self.log: deque[tuple[int, int, bool, int]] = deque(maxlen=self.LOG)

    # -- time
    def _edges(self, t: int) -> int:
        rcc = self.engine.rcc
        return rcc.timer_edges(self.bus, t) if rcc is not None else t

    def _first_overflow(self, s: _State) -> int:
        """Kernel clock edges from state `s` to its next counter overflow: the prescaler's carry, then one
        carry per count up to ARR (or, above ARR after a CNT write, up to the counter's top and around)."""
        top = s.arr if s.cnt <= s.arr else self.width + s.arr + 1
        return (s.psc + 1 - s.pcnt) + (top - s.cnt) * (s.psc + 1)

    def _at(self, t: int) -> _State:
        s = self._s
        if not s.cen or s.arr == 0:                   # stopped; ARR = 0 blocks the counter (RM: ARR)
            return s
        k = max(0, self._edges(t) - s.edge)
        ccif = s.ccif
        for bit, ccr in self._compare_channels():
            if not ccif & bit:
                first = self._first_match(s, ccr)
                if first is not None and first <= k:
                    ccif |= bit
        return replace(self._count(s, k), ccif=ccif)

    def _compare_channels(self) -> list[tuple[int, int]]:
        """(SR/DIER bit, CCRx) of the channels in output mode (CCxS = 00 in CCMR1/CCMR2)."""
        out = []
        for ch in range(4):
            ccmr = self.stored(CCMR1 if ch < 2 else CCMR2) >> (8 * (ch % 2))
            if ccmr & 3 == 0:
                out.append((1 << (ch + 1), self.stored(CCR1 + 4 * ch) & self.width))
        return out

    def _first_match(self, s: _State, ccr: int) -> int | None:
        """Kernel clock edges from state `s` to the first count that makes CNT equal `ccr`: before the
        first overflow, or after it (CNT from 0 with the shadows the update loaded); None when it never
        counts there."""
        if s.cnt < ccr <= (s.arr if s.cnt <= s.arr else self.width):
            return (s.psc + 1 - s.pcnt) + (ccr - s.cnt - 1) * (s.psc + 1)
        first = self._first_overflow(s)
        cr1 = self.stored(CR1)
        psc, arr = (s.psc, s.arr) if cr1 & UDIS else (self.stored(PSC) & 0xFFFF, self._arr_preload())
        if ccr == 0:
            return first                              # the overflow itself counts CNT to 0
        if cr1 & OPM and not cr1 & UDIS or arr == 0 or ccr > arr:
            return None                               # stopped at the update, or never that high
        return first + ccr * (psc + 1)

    def _count(self, s: _State, k: int) -> _State:
        """The time base `k` kernel clock edges after state `s` (the flags aside)."""
        first = self._first_overflow(s)
        if k < first:
            total = s.pcnt + k
            cnt = s.cnt + total // (s.psc + 1)
            if cnt > self.width:                      # above ARR after a CNT write (see the module's note)
                cnt -= self.width + 1
            return replace(s, cnt=cnt, pcnt=total % (s.psc + 1), edge=s.edge + k)
        cr1 = self.stored(CR1)
        if cr1 & UDIS:                                # the counter wraps, no update event: shadows stay
            psc, arr, uif, cen = s.psc, s.arr, s.uif, True
        else:
            psc, arr = self.stored(PSC) & 0xFFFF, self._arr_preload()
            uif, cen = True, not cr1 & OPM          # one-pulse: CEN clears at the update event
        rest = k - first
        if not cen or arr == 0:
            return _State(0, 0, uif, cen, psc, arr, s.edge + k)
        r = rest % ((arr + 1) * (psc + 1))           # later periods repeat: the preloads are now active
        return _State(r // (psc + 1), r % (psc + 1), uif, cen, psc, arr, s.edge + k)

    def _arr_preload(self) -> int:
        return self.stored(ARR) & self.width

    def _settle(self, t: int) -> None:
        if t > self._t:
            self._s, self._t = self._at(t), t

    def next_irq(self, now: int) -> int | None:
        """The cycle count of the next update or compare event that raises the interrupt line, or None."""
        s = self._at(now)
        dier = self.stored(DIER)
        if self.irq is None or not s.cen or s.arr == 0 or not self.engine.exceptions.is_enabled(FIRST_IRQ + self.irq):
            return None
        dues = []
        if dier & UIE and not self.stored(CR1) & UDIS:
            dues.append(self._first_overflow(s))
        for bit, ccr in self._compare_channels():
            if dier & bit and not s.ccif & bit:
                dues.append(self._first_match(s, ccr))
        dues = [d for d in dues if d is not None]
        if not dues:
            return None
        edge = s.edge + min(dues)                     # s.edge: the edges counted up to `now`
        return self.engine.rcc.cycle_of_edge(self.bus, edge) if self.engine.rcc is not None else edge

    def sample(self, now: int) -> None:
        """The engine's look at the interrupt line: (UIF AND UIE) OR (CCxIF AND CCxIE)."""
        if self.irq is not None:
            s, dier = self._at(now), self.stored(DIER)
            self.engine.irq_level(self.irq, (s.uif and bool(dier & UIE)) or bool(s.ccif & dier & CCIF))

    # -- registers
    def read32(self, off):
        now = self.engine.now_cycles()
        s = self._at(now)
        if off == CNT:
            value = s.cnt & self.width
        elif off == CR1:
            value = (self.stored(CR1) & ~CEN) | (CEN if s.cen else 0)
        elif off == SR:
            value = (self.stored(SR) & ~(UIF | CCIF)) | (UIF if s.uif else 0) | s.ccif
        elif off == EGR:
            value = 0                                 # write-only
        else:
            value = super().read32(off)
        self.log.append((now, off, False, value))
        return value

    def write32(self, off, value, mask):
        t = self.engine.now_cycles(after=True)        # the store takes effect with this instruction
        self._settle(t)
        s = self._s
        self.log.append((t, off, True, value & mask))
        if off == CR1:
            super().write32(off, value, mask)
            cen = bool(self.stored(CR1) & CEN)
            if cen and not s.cen:
                s = replace(s, cen=True, edge=self._edges(t))
            s = replace(s, cen=cen)
        elif off == SR:                               # rc_w0: writing 0 clears a flag, 1 leaves it
            keep = value | ~mask
            self.store(SR, self.stored(SR) & keep & ~(UIF | CCIF))
            s = replace(s, uif=s.uif and bool(keep & UIF), ccif=s.ccif & keep & CCIF)
        elif off == EGR:
            s = replace(s, ccif=s.ccif | (value & mask & CCIF))    # CCxG: a compare event by software
            if value & mask & UG:                     # reinitialise the counter and the prescaler
                cr1 = self.stored(CR1)
                s = replace(s, cnt=0, pcnt=0)
                if not cr1 & UDIS:                    # an update event: the preloads become active
                    s = replace(s, psc=self.stored(PSC) & 0xFFFF, arr=self._arr_preload(),
                                uif=s.uif or not cr1 & URS)
        elif off == CNT:
            super().write32(off, value, mask)
            s = replace(s, cnt=(s.cnt & ~mask | value & mask) & self.width)
        elif off == ARR:
            super().write32(off, value, mask)
            if not self.stored(CR1) & ARPE:           # without preload the new limit applies at once
                s = replace(s, arr=self._arr_preload())
        else:
            super().write32(off, value, mask)         # PSC is always preloaded: active at the next update
        self._s = s
        if s.cen and off == CR1:
            self.engine.timer_started()
        self.sample(t)
        self.engine.request_interrupt_check()         # a new deadline (next_irq) for the engine
