"""The engine's side of the exception model (exceptions.py): when interrupts fall due and are taken,
exception entry/return costs, WFI sleeping, the cycle budget. A mixin of EmulatedBoard (emulated.py):
it works on the engine's native counter header (`_hdr`), CPU (`uc`) and System Control Space model."""
from __future__ import annotations

from harness.backends import BoardFault
from harness.backends import exceptions as X
from harness.backends.peripherals import SystemControlSpace

NOSEQ = (1 << 64) - 1       # native header prev_end: the next block is not entered sequentially
NO_LIMIT = (1 << 64) - 1    # native header due / tick_limit: nothing falls due


class InterruptsMixin:
    def scs_vtor(self) -> int:
        return self._scs.stored(SystemControlSpace.VTOR) & ~0x7F if self._scs else self.board.flash.base

    def _time(self) -> int:
        """Modelled cycles now (the CPU stopped): what SysTick and CYCCNT count."""
        hdr = self._hdr
        return hdr.ticks // self._tpc if hdr.cycles_on else hdr.count + self._sleep

    def _advance(self, cycles: int, addr: int, branch: bool) -> None:
        """Time passes without instructions (exception entry/return, WFI sleep); `branch`: the next block
        is entered non-sequentially (the pipeline refills)."""
        hdr = self._hdr
        if hdr.cycles_on:
            ticks = cycles * self._tpc
            hdr.ticks += ticks
            self._profile_add(addr, 0, ticks)
            if self.reference_counter:
                self.reference_ticks += ticks
        else:
            self._sleep += cycles
        if branch:
            hdr.prev_end = NOSEQ
            hdr.pend_taken = hdr.pend_flags = 0
            self._ref_prev = None

    def exception_entered(self, exc: int, handler: int, cycles: int) -> None:
        self._pc = handler
        self._advance(cycles, handler, True)

    def exception_returned(self, exc: int, pc: int, cycles: int) -> None:
        self._pc = pc
        self._advance(cycles, pc, True)

    def request_interrupt_check(self) -> None:
        """Look at the pending exceptions at the next block boundary (at once after an exact-page access)."""
        self._hdr.tick_limit = self._hdr.due = 0

    def irq_level(self, irq: int, level: bool) -> None:
        """A peripheral's interrupt line changed; a rising line is looked at from the next block on."""
        self.exceptions.set_level(irq, level)
        if level:
            self.request_interrupt_check()

    def stacking_fault(self, exc: int, frame: int) -> None:
        verdict = (f"FAULT stack overflow: the exception frame for {X.NAMES.get(exc, f'IRQ {exc - 16}')} at "
                   f"0x{frame:08x} is outside RAM (pc {self._at(self._pc)})")
        fault = BoardFault(self._report_text("stack-overflow", verdict, frame),
                           self._report("stack-overflow", verdict, frame))
        self._dead = fault
        raise fault

    def _service_interrupts(self) -> None:
        """At a stop with exact counts: pend what fell due, take what may preempt, and set the native
        hook's tick limit (next SysTick wrap) and mask watch (a pending interrupt is masked)."""
        ex, hdr = self.exceptions, self._hdr
        self._sample_sources()
        for _ in range(len(ex.priority)):            # each entry may be preempted at once by a higher one
            exc = ex.takeable()
            if exc is None:
                break
            ex.enter(exc, self._pc)
            self._sample_sources()
        due = self._next_event()
        limit = self._cycle_limit()
        if limit is not None:
            due = limit if due is None else min(due, limit)
        if due is None:
            hdr.due = NO_LIMIT
        else:
            hdr.due = max(0, due * self._tpc if hdr.cycles_on else due - self._sleep)
        if ex.masked_pending():
            primask, faultmask, basepri = ex.masks()
            hdr.watch_masks = primask | faultmask << 1 | basepri << 8
            hdr.watch |= 1
        else:
            hdr.watch &= ~1
        self._arm_watch()

    def _sample_sources(self) -> None:
        """Pend what the time-driven sources raised up to now: SysTick's wrap, the timers' update lines, the
        UARTs' flags."""
        now = self._time()
        if self._scs is not None and self._scs.systick_sample(now):
            self.exceptions.pend(X.SYSTICK)
        for source in self._timed:
            source.sample(now)

    def _next_event(self) -> int | None:
        """The cycle count of the next SysTick wrap, timer update or UART flag interrupt; None when none will
        come."""
        now = self._time()
        dues = [self._scs.systick_next_wrap()] if self._scs is not None else []
        dues += [source.next_irq(now) for source in self._timed]
        dues = [d for d in dues if d is not None]
        return min(dues) if dues else None

    def due_cycles(self) -> int | None:
        """The cycle count at which the run next stops for an interrupt or the cycle budget, as last set
        (0 while an interrupt check is requested); None when nothing falls due."""
        hdr = self._hdr
        if hdr.due == NO_LIMIT:
            return None
        return hdr.due // self._tpc if hdr.cycles_on else hdr.due + self._sleep

    def _arm_watch(self) -> None:
        """The native hook's fast path looks at tick_limit only: 0 while a watch needs every block."""
        hdr = self._hdr
        hdr.tick_limit = 0 if hdr.watch else hdr.due

    def _cycle_limit(self) -> int | None:
        return None if self.cycle_budget is None else self._cycles_from + int(self.cycle_budget)

    def _cycle_budget_spent(self) -> bool:
        limit = self._cycle_limit()
        return limit is not None and self._time() >= limit

    def _wfi(self) -> bool:
        """The CPU executed WFI: True when it wakes (a pending interrupt, or time advanced to the next
        SysTick wrap), False when nothing can ever wake it."""
        ex = self.exceptions
        if ex.wakes_wfi():
            return True
        due = self._next_event()
        if due is None:
            return False
        limit = self._cycle_limit()
        if limit is not None:
            due = min(due, limit)               # asleep past the budget: the run stops at it
        sleep = due - self._time()
        if sleep > 0:
            self._advance(sleep, self._pc, False)
        return True
