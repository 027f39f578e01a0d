"""The ARMv7-M exception model of the emulated board (ARMv7-M Architecture Reference Manual, B1.5): NVIC
and SCB exception state, priorities, exception entry and return. Unicorn has none of it: it neither takes
interrupts nor unstacks on an EXC_RETURN branch, so the engine (emulated.py) calls in here at the
boundaries where it has stopped the CPU with exact counts.

What is modelled:
- NVIC ISER/ICER/ISPR/ICPR/IABR/IPR and STIR; SCB ICSR (VECTACTIVE, VECTPENDING, RETTOBASE, ISRPENDING,
  PENDSTSET/CLR, PENDSVSET/CLR, NMIPENDSET), AIRCR.PRIGROUP, SHPR1-3, SHCSR (enables, active and pended
  bits), CFSR/HFSR/MMFAR/BFAR (write-one-to-clear); the priority bits the chip implements come from the
  .repl (`nvic: priorityMask`).
- Execution priority from the active exceptions, PRIMASK, FAULTMASK and BASEPRI; a pending exception
  preempts when its group priority is higher (lower number) than the execution priority.
- Entry: an 8-word frame (r0-r3, r12, lr, return address, xPSR) on the stack in use (MSP, or PSP in
  thread mode with CONTROL.SPSEL), 8-byte aligned with xPSR bit 9 recording the padding (CCR.STKALIGN);
  when CONTROL.FPCA is set, the extended frame with S0-S15 and FPSCR (what lazy stacking would save,
  saved at entry). LR = EXC_RETURN, IPSR = the exception number, PC from the vector table at VTOR.
- Return: a branch to an EXC_RETURN value in handler mode (Unicorn stops fetching 0xFFFFFFFx) unstacks
  the frame, restores xPSR, CONTROL.SPSEL/FPCA and the stack pointer, and deactivates the exception.
  No tail-chaining or late-arrival shortcut: a pending exception after a return is entered afresh.
- Cycles: ENTRY_CYCLES and EXIT_CYCLES per core (docs/cycle-model.md).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from unicorn import arm_const as A

if TYPE_CHECKING:
    from harness.backends.emulated import EmulatedBoard

RESET, NMI, HARDFAULT, MEMMANAGE, BUSFAULT, USAGEFAULT, SVCALL, PENDSV, SYSTICK = 1, 2, 3, 4, 5, 6, 11, 14, 15
FIRST_IRQ = 16
NAMES = {NMI: "NMI", HARDFAULT: "HardFault", MEMMANAGE: "MemManage", BUSFAULT: "BusFault",
         USAGEFAULT: "UsageFault", SVCALL: "SVCall", 12: "DebugMonitor", PENDSV: "PendSV", SYSTICK: "SysTick"}
FIXED_PRIORITY = {RESET: -3, NMI: -2, HARDFAULT: -1}

# Exception entry and return latency, zero-wait-state memory. Cortex-M4 TRM r0p1 (and the Cortex-M4
# product documentation): 12 cycles from the interrupt to the first handler instruction; the return
# (unstacking and refilling the pipeline) is 10 cycles. The Cortex-M7 is documented with the same 12-cycle
# entry latency; its return is taken to be the same as the M4's (no published figure).
ENTRY_CYCLES = {"m4": 12, "m7": 12}
EXIT_CYCLES = {"m4": 10, "m7": 10}

# CFSR bits (B3.2.15): MMFSR [7:0], BFSR [15:8], UFSR [31:16]
CFSR_IACCVIOL, CFSR_DACCVIOL, CFSR_MMARVALID = 1 << 0, 1 << 1, 1 << 7
CFSR_IBUSERR, CFSR_PRECISERR, CFSR_BFARVALID = 1 << 8, 1 << 9, 1 << 15
CFSR_UNDEFINSTR, CFSR_INVSTATE, CFSR_INVPC, CFSR_NOCP = 1 << 16, 1 << 17, 1 << 18, 1 << 19
CFSR_UNALIGNED, CFSR_DIVBYZERO = 1 << 24, 1 << 25
HFSR_FORCED, HFSR_VECTTBL = 1 << 30, 1 << 1

SHCSR_ENABLE = {MEMMANAGE: 1 << 16, BUSFAULT: 1 << 17, USAGEFAULT: 1 << 18}
SHCSR_ACTIVE = {MEMMANAGE: 1 << 0, BUSFAULT: 1 << 1, USAGEFAULT: 1 << 3, SVCALL: 1 << 7, 12: 1 << 8,
                PENDSV: 1 << 10, SYSTICK: 1 << 11}
SHCSR_PENDED = {USAGEFAULT: 1 << 12, MEMMANAGE: 1 << 13, BUSFAULT: 1 << 14, SVCALL: 1 << 15}

_FRAME_REGS = [A.UC_ARM_REG_R0, A.UC_ARM_REG_R1, A.UC_ARM_REG_R2, A.UC_ARM_REG_R3, A.UC_ARM_REG_R12,
               A.UC_ARM_REG_LR]
_S_REGS = [getattr(A, f"UC_ARM_REG_S{i}") for i in range(16)]


class Lockup(Exception):
    """A fault while the HardFault or NMI handler runs: the core locks up (B1.5.15)."""


class ExceptionModel:
    """Exception state of one engine; the System Control Space model forwards its registers here."""

    # SCS offsets of the registers this model owns
    ISER, ICER, ISPR, ICPR, IABR, IPR = 0x100, 0x180, 0x200, 0x280, 0x300, 0x400
    ICSR, AIRCR, SHPR1, SHCSR, CFSR, HFSR, MMFAR, BFAR, STIR = (0xD04, 0xD0C, 0xD18, 0xD24, 0xD28, 0xD2C,
                                                               0xD34, 0xD38, 0xF00)

    def __init__(self, engine: "EmulatedBoard", priority_mask: int, irqs: int = 240):
        self.engine = engine
        self.core = engine.board.core
        self.priority_mask = priority_mask & 0xFF
        self.irqs = irqs
        self.enabled = 0                 # bit per IRQ number (ISER)
        self.pending = 0                 # bit per exception number
        self.active: list[int] = []      # exception numbers, in nesting order
        self.priority = [0] * (FIRST_IRQ + irqs)   # programmable priorities, by exception number
        self.levels: dict[int, bool] = {}          # IRQ number -> level of a level-sensitive source
        self.prigroup = 0
        self.shcsr = 0                   # enable bits only; active/pended bits are computed
        self.cfsr = self.hfsr = self.mmfar = self.bfar = 0
        self.entries = 0                 # exceptions taken (statistics, tests)

    # ------------------------------------------------------------ priorities
    def group(self, prio: int) -> int:
        """Group (preemption) priority of a priority value under AIRCR.PRIGROUP."""
        if prio < 0:
            return prio
        return prio & ~((2 << self.prigroup) - 1) & 0xFF

    def prio_of(self, exc: int) -> int:
        return FIXED_PRIORITY.get(exc, self.priority[exc] if exc < len(self.priority) else 256)

    def is_enabled(self, exc: int) -> bool:
        if exc >= FIRST_IRQ:
            return bool(self.enabled >> (exc - FIRST_IRQ) & 1)
        if exc in SHCSR_ENABLE:
            return bool(self.shcsr & SHCSR_ENABLE[exc])
        return True

    def masks(self) -> tuple[int, int, int]:
        uc = self.engine.uc
        return (uc.reg_read(A.UC_ARM_REG_PRIMASK) & 1, uc.reg_read(A.UC_ARM_REG_FAULTMASK) & 1,
                uc.reg_read(A.UC_ARM_REG_BASEPRI) & 0xFF)

    def execution_priority(self) -> int:
        """B1.5.4: the highest (lowest-numbered) of the active exceptions' group priorities and the
        boosts of PRIMASK, FAULTMASK and BASEPRI; 256 in thread mode with nothing boosting."""
        prio = 256
        for exc in self.active:
            prio = min(prio, self.group(self.prio_of(exc)))
        primask, faultmask, basepri = self.masks()
        if basepri & self.priority_mask:
            prio = min(prio, self.group(basepri & self.priority_mask))
        if primask:
            prio = min(prio, 0)
        if faultmask:
            prio = min(prio, -1)
        return prio

    def _pending_list(self) -> list[int]:
        out, bits, exc = [], self.pending, 0
        while bits:
            if bits & 1 and self.is_enabled(exc):
                out.append(exc)
            bits >>= 1
            exc += 1
        return out

    def highest_pending(self) -> int | None:
        """The pending, enabled exception that would be taken first (priority, then number)."""
        cands = self._pending_list()
        return min(cands, key=lambda e: (self.prio_of(e), e)) if cands else None

    def takeable(self) -> int | None:
        exc = self.highest_pending()
        if exc is not None and self.group(self.prio_of(exc)) < self.execution_priority():
            return exc
        return None

    def wakes_wfi(self) -> bool:
        """WFI wakes on a pending exception that would preempt were PRIMASK clear (B1.5.19)."""
        exc = self.highest_pending()
        if exc is None:
            return False
        prio = 256
        for a in self.active:
            prio = min(prio, self.group(self.prio_of(a)))
        _, faultmask, basepri = self.masks()
        if basepri & self.priority_mask:
            prio = min(prio, self.group(basepri & self.priority_mask))
        if faultmask:
            prio = min(prio, -1)
        return self.group(self.prio_of(exc)) < prio

    def masked_pending(self) -> bool:
        return self.highest_pending() is not None and self.takeable() is None

    # ------------------------------------------------------------ sources
    def pend(self, exc: int) -> None:
        self.pending |= 1 << exc

    def set_level(self, irq: int, level: bool) -> None:
        """A level-sensitive interrupt line (a peripheral's flags AND its enables): while high, the
        interrupt is pending unless it is active; it re-pends on return while still high."""
        self.levels[irq] = level
        if level and (FIRST_IRQ + irq) not in self.active:
            self.pend(FIRST_IRQ + irq)

    # ------------------------------------------------------------ entry and return
    def enter(self, exc: int, return_address: int) -> None:
        """Take exception `exc`: push the frame, set LR, IPSR and the PC (engine._pc). The instruction
        at `return_address` has not run."""
        eng, uc = self.engine, self.engine.uc
        control = uc.reg_read(A.UC_ARM_REG_CONTROL)
        xpsr = uc.reg_read(A.UC_ARM_REG_XPSR)
        handler_mode = bool(xpsr & 0x1FF)
        use_psp = not handler_mode and bool(control & 2)
        fp = bool(control & 4)
        sp = uc.reg_read(A.UC_ARM_REG_PSP if use_psp else A.UC_ARM_REG_MSP)
        if use_psp:
            sp = uc.reg_read(A.UC_ARM_REG_SP)
        size = 0x68 if fp else 0x20
        align = sp & 4                              # CCR.STKALIGN: the frame starts 8-byte aligned
        frame_sp = (sp - size) & ~4
        words = [uc.reg_read(r) for r in _FRAME_REGS] + [return_address & ~1,
                                                          (xpsr & ~(1 << 9)) | ((1 << 9) if align else 0)]
        if fp:
            words += [uc.reg_read(r) for r in _S_REGS] + [uc.reg_read(A.UC_ARM_REG_FPSCR), 0]
        data = b"".join((w & 0xFFFFFFFF).to_bytes(4, "little") for w in words)
        try:
            uc.mem_write(frame_sp, data)
            if not any(r.contains(frame_sp) and r.contains(frame_sp + size - 1) and not r.readonly
                       for r in eng.board.regions):
                raise ValueError
        except Exception:
            eng.stacking_fault(exc, frame_sp)
            return
        exc_return = 0xFFFFFFE1 if fp else 0xFFFFFFF1
        if not handler_mode:
            exc_return |= 0xC if use_psp else 0x8
        if use_psp:
            uc.reg_write(A.UC_ARM_REG_PSP, frame_sp)
            uc.reg_write(A.UC_ARM_REG_CONTROL, control & ~0x6)   # handler mode runs on MSP
            uc.reg_write(A.UC_ARM_REG_SP, uc.reg_read(A.UC_ARM_REG_MSP))
        else:
            uc.reg_write(A.UC_ARM_REG_SP, frame_sp)
            if fp:
                uc.reg_write(A.UC_ARM_REG_CONTROL, control & ~0x4)
        uc.reg_write(A.UC_ARM_REG_LR, exc_return)
        # IPSR = exc; the IT/ICI state is cleared; the flags are left (UNKNOWN on entry)
        uc.reg_write(A.UC_ARM_REG_XPSR, (xpsr & 0xF80F0000) | 0x01000000 | exc)
        uc.reg_write(A.UC_ARM_REG_IPSR, exc)
        vtor = eng.scs_vtor()
        vector = int.from_bytes(uc.mem_read(vtor + 4 * exc, 4), "little")
        self.pending &= ~(1 << exc)
        self.active.append(exc)
        self.entries += 1
        eng.exception_entered(exc, vector & ~1, ENTRY_CYCLES[self.core])

    def exit(self, exc_return: int) -> bool:
        """Return from the current exception through `exc_return`; False when it is not a valid return
        (thread mode, or a reserved EXC_RETURN value): the caller reports the branch as a fault."""
        eng, uc = self.engine, self.engine.uc
        ipsr = uc.reg_read(A.UC_ARM_REG_XPSR) & 0x1FF
        kind = exc_return & 0xF
        if not ipsr or not self.active or kind not in (0x1, 0x9, 0xD) or (exc_return | 0x1F) != 0xFFFFFFFF:
            return False
        exc = self.active.pop()
        fp = not exc_return & 0x10
        use_psp = kind == 0xD
        if use_psp:
            sp = uc.reg_read(A.UC_ARM_REG_PSP)
        else:
            sp = uc.reg_read(A.UC_ARM_REG_SP)
        size = 0x68 if fp else 0x20
        raw = bytes(uc.mem_read(sp, size))
        words = [int.from_bytes(raw[i:i + 4], "little") for i in range(0, size, 4)]
        for r, w in zip(_FRAME_REGS, words):
            uc.reg_write(r, w)
        pc, xpsr = words[6], words[7]
        if fp:
            for r, w in zip(_S_REGS, words[8:24]):
                uc.reg_write(r, w)
            uc.reg_write(A.UC_ARM_REG_FPSCR, words[24])
        new_sp = sp + size + (4 if xpsr & (1 << 9) else 0)
        control = uc.reg_read(A.UC_ARM_REG_CONTROL) & ~0x6
        control |= (2 if use_psp else 0) | (4 if fp else 0)
        # the mode first: Unicorn (like MSR) ignores CONTROL.SPSEL in handler mode and banks SP by mode
        xpsr &= ~(1 << 9)
        uc.reg_write(A.UC_ARM_REG_XPSR, xpsr | 0x01000000)
        uc.reg_write(A.UC_ARM_REG_IPSR, xpsr & 0x1FF)
        if use_psp:
            uc.reg_write(A.UC_ARM_REG_CONTROL, control)     # thread mode: SP is now the PSP
            uc.reg_write(A.UC_ARM_REG_PSP, new_sp)
            uc.reg_write(A.UC_ARM_REG_SP, new_sp)
        else:
            uc.reg_write(A.UC_ARM_REG_SP, new_sp)
            uc.reg_write(A.UC_ARM_REG_CONTROL, control)
        irq = exc - FIRST_IRQ
        if irq >= 0 and self.levels.get(irq):
            self.pend(exc)                          # the line is still high: pending again
        eng.exception_returned(exc, pc & ~1, EXIT_CYCLES[self.core])
        return True

    # ------------------------------------------------------------ faults
    def fault_target(self, exc: int) -> int:
        """The exception a synchronous fault of class `exc` is taken as: itself when enabled and its
        priority is high enough, HardFault (HFSR.FORCED) otherwise; Lockup in HardFault/NMI."""
        current = self.execution_priority()
        if exc != HARDFAULT and self.is_enabled(exc) and self.group(self.prio_of(exc)) < current:
            return exc
        if current <= -1:
            raise Lockup()
        if exc != HARDFAULT:
            self.hfsr |= HFSR_FORCED
        return HARDFAULT

    # ------------------------------------------------------------ registers (offsets in the SCS)
    def owns(self, off: int) -> bool:
        return (0x100 <= off < 0x340) or (self.IPR <= off < self.IPR + self.irqs) \
            or off in (self.ICSR, self.SHCSR, self.CFSR, self.HFSR, self.MMFAR, self.BFAR, self.STIR) \
            or self.SHPR1 <= off < self.SHPR1 + 12

    def read32(self, off: int) -> int:
        if 0x100 <= off < 0x340:
            group, index = off & ~0x7F, (off & 0x7F) // 4
            if index >= (self.irqs + 31) // 32:
                return 0
            if group in (self.ISER, self.ICER):
                bits = self.enabled
            elif group in (self.ISPR, self.ICPR):
                bits = self.pending >> FIRST_IRQ
            elif group == self.IABR:
                bits = sum(1 << (e - FIRST_IRQ) for e in self.active if e >= FIRST_IRQ)
            else:
                return 0
            return (bits >> (32 * index)) & 0xFFFFFFFF
        if self.IPR <= off < self.IPR + self.irqs:
            base = FIRST_IRQ + off - self.IPR
            return sum(self.priority[base + i] << (8 * i) for i in range(4) if base + i < len(self.priority))
        if self.SHPR1 <= off < self.SHPR1 + 12:
            base = 4 + off - self.SHPR1
            return sum(self.priority[base + i] << (8 * i) for i in range(4))
        if off == self.ICSR:
            ipsr = self.engine.uc.reg_read(A.UC_ARM_REG_XPSR) & 0x1FF
            pend = self.highest_pending() or 0
            value = ipsr | (min(pend, 0x1FF) << 12)
            if len(self.active) <= 1:
                value |= 1 << 11                    # RETTOBASE
            if self.pending >> FIRST_IRQ:
                value |= 1 << 22                    # ISRPENDING
            if self.pending >> SYSTICK & 1:
                value |= 1 << 26
            if self.pending >> PENDSV & 1:
                value |= 1 << 28
            if self.pending >> NMI & 1:
                value |= 1 << 31
            return value
        if off == self.SHCSR:
            value = self.shcsr
            for exc, bit in SHCSR_ACTIVE.items():
                if exc in self.active:
                    value |= bit
            for exc, bit in SHCSR_PENDED.items():
                if self.pending >> exc & 1:
                    value |= bit
            return value
        return {self.CFSR: self.cfsr, self.HFSR: self.hfsr, self.MMFAR: self.mmfar, self.BFAR: self.bfar}.get(off, 0)

    def write32(self, off: int, value: int, mask: int) -> None:
        self._write32(off, value & mask, mask)
        self.engine.request_interrupt_check()       # a pend, enable or priority change may preempt now

    def _write32(self, off: int, value: int, mask: int) -> None:
        if 0x100 <= off < 0x340:
            group, index = off & ~0x7F, (off & 0x7F) // 4
            if index >= (self.irqs + 31) // 32:
                return
            bits = value << (32 * index)
            if group == self.ISER:
                self.enabled |= bits
            elif group == self.ICER:
                self.enabled &= ~bits
            elif group == self.ISPR:
                self.pending |= bits << FIRST_IRQ
            elif group == self.ICPR:
                for irq in range(32 * index, 32 * index + 32):
                    if value >> (irq - 32 * index) & 1 and not self.levels.get(irq):
                        self.pending &= ~(1 << (FIRST_IRQ + irq))   # a line still high stays pending
            return
        if self.IPR <= off < self.IPR + self.irqs or self.SHPR1 <= off < self.SHPR1 + 12:
            base = 4 + off - self.SHPR1 if off >= self.SHPR1 else FIRST_IRQ + off - self.IPR
            for i in range(4):
                if mask >> (8 * i) & 0xFF and base + i < len(self.priority):
                    self.priority[base + i] = (value >> (8 * i)) & self.priority_mask
            return
        if off == self.ICSR:
            if value & (1 << 31):
                self.pend(NMI)
            if value & (1 << 28):
                self.pend(PENDSV)
            if value & (1 << 27):
                self.pending &= ~(1 << PENDSV)
            if value & (1 << 26):
                self.pend(SYSTICK)
            if value & (1 << 25):
                self.pending &= ~(1 << SYSTICK)
            return
        if off == self.SHCSR:
            self.shcsr = (self.shcsr & ~mask) | (value & (0x7 << 16))
            return
        if off == self.CFSR:
            self.cfsr &= ~value
        elif off == self.HFSR:
            self.hfsr &= ~value
        elif off == self.MMFAR:
            self.mmfar = value
        elif off == self.BFAR:
            self.bfar = value
        elif off == self.STIR:
            if (value & 0x1FF) < self.irqs:
                self.pend(FIRST_IRQ + (value & 0x1FF))

    def set_prigroup(self, aircr: int) -> None:
        self.prigroup = (aircr >> 8) & 7
