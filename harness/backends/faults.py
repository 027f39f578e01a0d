"""Faults that mirror silicon, for the emulated board: the checks Unicorn does not make (NOCP, unaligned
LDRD/STRD/LDM/STM, the CCR traps, the stack limit, branches to non-code, a double-precision FPU on a
single-precision board) and entering the firmware's own fault handler with the fault status registers set.
A mixin of EmulatedBoard (emulated.py); the native side is in native/blockcount.c (SPECIAL_*, sites)."""
from __future__ import annotations

import bisect
import ctypes
import re

from unicorn import UcError
from unicorn import arm_const as A
from unicorn import unicorn_const as UC
import unicorn.unicorn_py3.unicorn as _ucmod

from harness.backends import BoardFault
from harness.backends import exceptions as X
from harness.backends.peripherals import SystemControlSpace
from harness.errors import HarnessError

_REG_IDS = {**{f"r{k}": getattr(A, f"UC_ARM_REG_R{k}") for k in range(13)}, "sb": A.UC_ARM_REG_R9,
            "sl": A.UC_ARM_REG_R10, "fp": A.UC_ARM_REG_R11, "ip": A.UC_ARM_REG_R12, "lr": A.UC_ARM_REG_LR}
SITE_WORD, SITE_TRP_WORD, SITE_TRP_HALF, SITE_DIV = 1, 2, 3, 4    # as in native/blockcount.c
CCR_UNALIGN_TRP, CCR_DIV_0_TRP = 1 << 3, 1 << 4
_TRP_WORD = ("ldr", "str", "ldrt", "strt")
_TRP_HALF = ("ldrh", "strh", "ldrsh", "ldrht", "strht", "ldrsht")
_MEM = re.compile(r"\[(\w+)(?:, #(-?(?:0x[0-9a-f]+|\d+)))?(?:, (\w+)(?:, lsl #(\d+))?)?\]")


def _site_of(addr: int, name: str, ops: str) -> tuple[int, int, int, int, int, int] | None:
    """The bc_site_hook check for one instruction (see EmulatedBoard._scan_code), None when it needs none."""
    if name in ("sdiv", "udiv"):
        divisor = _ALIASES.get(ops.split(", ")[-1], ops.split(", ")[-1])
        return (addr, SITE_DIV, _REG_IDS[divisor], -1, 0, 0) if divisor in _REG_IDS else None
    if name in _WORD_ALIGNED:
        m = re.search(r"\[(\w+)", ops) if "[" in ops else re.match(r"(\w+)", ops)
        base = _ALIASES.get(m[1], m[1]) if m else None
        return (addr, SITE_WORD, _REG_IDS[base], -1, 0, 0) if base in _REG_IDS else None
    if name in _TRP_WORD or name in _TRP_HALF:
        m = _MEM.search(ops)
        if not m:
            return None
        base = _ALIASES.get(m[1], m[1])
        regs = {**_REG_IDS, "sp": A.UC_ARM_REG_SP}
        if base not in regs:
            return None                                   # PC-relative: a literal, aligned by the linker
        index = _ALIASES.get(m[3], m[3]) if m[3] else None
        if index is not None and index not in regs:
            return None
        return (addr, SITE_TRP_WORD if name in _TRP_WORD else SITE_TRP_HALF, regs[base],
                regs[index] if index else -1, int(m[4] or 0), int(m[2], 0) & 3 if m[2] else 0)
    return None


_ALIASES = {"sb": "r9", "sl": "r10", "fp": "r11", "ip": "r12"}
_WORD_ALIGNED = ("ldrd", "strd", "ldm", "ldmia", "ldmdb", "stm", "stmia", "stmdb", "ldrex", "strex")


def _sp_decrement(i) -> int:
    """Bytes an instruction that writes SP moves it down, from its decoded form (0 when unknown)."""
    import re
    if i.name in ("push", "vpush", "stmdb", "vstmdb"):
        return 4 * i.nregs
    if i.name in ("sub", "subw"):
        m = re.search(r"#(0x[0-9a-f]+|\d+)", i.text)
        return int(m[1], 0) if m else 0
    m = re.search(r"#-(0x[0-9a-f]+|\d+)\]!", i.text)         # str rX, [sp, #-n]!
    return int(m[1], 0) if m else 0


# a fault handler still running this many instructions after the fault ends the run with the fault: a status
# dump takes thousands; a handler that spins in a loop of several instructions, or blinks an LED, runs forever
HANDLER_INSTRUCTIONS = 20_000_000


class FaultsMixin:
    _FAULT_CLASS = {
        # report kind -> (exception, CFSR bits, fault address register)
        "read-unmapped": (X.BUSFAULT, X.CFSR_PRECISERR | X.CFSR_BFARVALID, "bfar"),
        "write-unmapped": (X.BUSFAULT, X.CFSR_PRECISERR | X.CFSR_BFARVALID, "bfar"),
        "write-readonly": (X.BUSFAULT, X.CFSR_PRECISERR | X.CFSR_BFARVALID, "bfar"),
        "read-protected": (X.BUSFAULT, X.CFSR_PRECISERR | X.CFSR_BFARVALID, "bfar"),
        "fetch-unmapped": (X.BUSFAULT, X.CFSR_IBUSERR, None),
        "fetch-protected": (X.MEMMANAGE, X.CFSR_IACCVIOL, None),
        "undefined-instruction": (X.USAGEFAULT, X.CFSR_UNDEFINSTR, None),
        "fetch-unaligned": (X.USAGEFAULT, X.CFSR_INVSTATE, None),
        "unaligned": (X.USAGEFAULT, X.CFSR_UNALIGNED, None),
        "nocp": (X.USAGEFAULT, X.CFSR_NOCP, None),
        "divbyzero": (X.USAGEFAULT, X.CFSR_DIVBYZERO, None),
        "bkpt": (X.HARDFAULT, 0, None),
    }

    # how a run that stops while a fault handler runs ended (read_line's reasons): reported as the fault
    _HANDLER_ENDS = {"cycle-budget": "ran out of the cycle budget", "budget": "ran out of the instruction budget",
                     "timeout": "ran past the instructions the call allowed", "idle": "waited for input",
                     "wfi": "waited for an interrupt that never comes"}

    def _handler_limit(self) -> int:
        """The instruction count at which a fault handler that is still running ends the run."""
        if self._fault_pending is None:
            return 1 << 63
        return self._handler_from + HANDLER_INSTRUCTIONS

    def _enter_fault_handler(self, fault: BoardFault, pc: int) -> bool:
        """Give the firmware's own handler the fault, as silicon would: the fault status registers set,
        the exception (or HardFault, escalated) entered with the faulting instruction as return address.
        False when there is no handler to run (no vector, or a fault inside HardFault: lockup)."""
        if self._fault_pending is not None:
            return False                       # a fault inside the handler of a fault: stop with the first
        kind = fault.report.get("kind")
        if kind not in self._FAULT_CLASS:
            return False
        exc, bits, far = self._FAULT_CLASS[kind]
        ex = self.exceptions
        try:
            target = ex.fault_target(exc)
        except X.Lockup:
            return False
        vector = int.from_bytes(self.uc.mem_read(self.scs_vtor() + 4 * target, 4), "little")
        if not vector & 1 or not self._mapped(vector & ~1):
            return False
        ex.cfsr |= bits
        if kind == "bkpt":
            ex.hfsr |= 1 << 31                 # HFSR.DEBUGEVT: a BKPT with no debugger attached
        if far == "bfar":
            ex.bfar = fault.report.get("address") or 0
        self._lib.bc_clear_traps(self._state)   # the handlers run now; a self-loop in them ends the run
        self._hdr.watch |= 2
        self._hdr.loop_addr = 0
        self._arm_watch()
        self._fault_pending = fault
        self._handler_from = self.instructions
        fault.report["handler"] = [X.NAMES.get(target, str(target))]
        ex.enter(target, pc)
        return True

    def _raise_pending_fault(self, how: str) -> None:
        """The firmware's fault handler ended (`how`): stop with the original fault and what the handler
        printed."""
        fault = self._fault_pending
        ex = self.exceptions
        extra = [f"  fault status CFSR 0x{ex.cfsr:08x} HFSR 0x{ex.hfsr:08x} BFAR 0x{ex.bfar:08x} "
                 f"MMFAR 0x{ex.mmfar:08x}",
                 f"  handler      {'/'.join(fault.report.get('handler', []))} ran, then {how} "
                 f"(pc {self._at(self._pc)}, {self.instructions} instructions)"]
        tail = self.uart_tail(20)
        extra.append(f"  console, last {len(tail)} lines:" if tail else "  console: nothing sent")
        extra.extend(f"  | {t}" for t in tail)
        text = str(fault).split("\n")
        cut = next((i for i, t in enumerate(text) if t.startswith("  console")), len(text))
        fault.args = ("\n".join(text[:cut] + extra),)
        fault.report.update(uart_tail=tail, cfsr=ex.cfsr, hfsr=ex.hfsr, bfar=ex.bfar, mmfar=ex.mmfar,
                            handler_end=how)
        self._dead = fault
        raise fault

    # SPECIAL_* in native/blockcount.c
    SPECIAL_VFP, SPECIAL_SP, SPECIAL_NONCODE, SPECIAL_ALIGN, SPECIAL_DIV0 = 0x10, 0x20, 0x40, 0x80, 0x100
    STACK_LIMIT_SYMBOLS = ("_sstack", "__StackLimit", "__stack_limit")

    def _block_checks(self, addr: int, block) -> tuple[int, int]:
        """What the native hook checks when this block is entered: FPU instructions (NOCP while CPACR
        denies CP10/CP11), how far it moves SP down (the stack limit), and whether it starts outside the
        ELF's code (a branch into data)."""
        special, sp_dec = 0, 0
        for i in block.insns:
            if i.name.startswith("v") or i.name.startswith("fconst"):
                special |= self.SPECIAL_VFP
            if "sp" in i.writes and i.name not in ("pop", "ldm", "ldmia", "vpop", "mov", "add", "addw", "ldr"):
                special |= self.SPECIAL_SP
                sp_dec += _sp_decrement(i)
        ranges = self.coster.memo.ranges if hasattr(self.coster, "memo") else []
        if ranges:
            k = bisect.bisect_right([r[0] for r in ranges], addr) - 1
            if k < 0 or addr >= ranges[k][1]:
                special |= self.SPECIAL_NONCODE
        return special, sp_dec

    def _register_sites(self, *kinds: int) -> None:
        """Put the native site check (bc_site_hook) on every instruction of these kinds, each hook on its
        own address so that nothing else pays. Word sites are registered at reset; the CCR trap kinds
        when the firmware first sets UNALIGN_TRP / DIV_0_TRP (the translated code is then flushed, so
        that the new hooks apply)."""
        new = [k for k in kinds if k not in self._site_kinds]
        if not new:
            return
        hh = ctypes.c_size_t()
        for addr, kind, base, index, shift, imm in self._scan_code()[0]:
            if kind not in new:
                continue
            if self._lib.bc_add_site(self._state, addr, kind, base, index, shift, imm) != 0:
                break                               # table full: the remaining sites go unchecked
            err = _ucmod.uclib.uc_hook_add(self.uc._uch, ctypes.byref(hh), UC.UC_HOOK_CODE,
                                           ctypes.cast(self._lib.bc_site_hook, ctypes.c_void_p),
                                           ctypes.c_void_p(self._state), ctypes.c_uint64(addr), ctypes.c_uint64(addr))
            if err != UC.UC_ERR_OK:
                raise HarnessError(f"cannot register the check at 0x{addr:08x}: {UcError(err)}")
        self._site_kinds.update(new)
        if kinds != (SITE_WORD,):
            self.uc.ctl_flush_tb()

    def ccr_changed(self, ccr: int) -> None:
        """The firmware wrote SCB CCR: UNALIGN_TRP (bit 3) makes unaligned LDR/STR/LDRH/STRH fault,
        DIV_0_TRP (bit 4) a divide by zero (UsageFault UNALIGNED / DIVBYZERO, ARMv7-M B3.2.8)."""
        self._hdr.ccr = ccr
        if ccr & CCR_UNALIGN_TRP:
            self._register_sites(SITE_TRP_WORD, SITE_TRP_HALF)
        if ccr & CCR_DIV_0_TRP:
            self._register_sites(SITE_DIV)

    def _scan_code(self) -> tuple[list[tuple[int, int, int, int, int, int]], list[tuple[int, str]]]:
        """One pass over the ELF's code (once per firmware): the instructions bc_site_hook checks,
        as (address, SITE_* kind, base or divisor register, index register or -1, shift, immediate),
        and the double-precision FPU instructions (address, text). SP bases of LDM/STM are skipped (SP is
        always word-aligned); PC-relative loads too (their address is fixed at link time)."""
        memo = self.coster.memo
        scan = getattr(memo, "code_scan", None)
        if scan is None:
            import capstone
            cs = capstone.Cs(capstone.CS_ARCH_ARM, capstone.CS_MODE_THUMB | capstone.CS_MODE_MCLASS)
            sites, f64 = [], []
            for lo, hi in memo.ranges:
                try:
                    code = self.read_code(lo, hi - lo)
                except UcError:
                    continue
                for addr, _, mnem, ops in cs.disasm_lite(code, lo):
                    if mnem.startswith("v") and (".f64" in mnem or re.search(r"\bd\d+\b", ops)) \
                            and not mnem.startswith(("vmov", "vldr", "vstr", "vpush", "vpop", "vldm", "vstm")):
                        f64.append((addr, f"{mnem} {ops}"))
                    site = _site_of(addr, mnem.split(".")[0], ops)
                    if site is not None:
                        sites.append(site)
            scan = memo.code_scan = (sites, f64)
        return scan

    def _check_fpu(self) -> None:
        """Refuse an ELF whose code needs a double-precision FPU on a board whose FPU is single precision
        (`//! fpu: single`): silicon would take UsageFault UNDEFINSTR at the first such instruction."""
        if self.board.fpu != "single":
            return
        f64 = self._scan_code()[1]
        if f64:
            addr, text = f64[0]
            raise HarnessError(f"{self.elf_path}: built for a double-precision FPU (`{text}` at {self._at(addr)}, "
                               f"{len(f64)} such instructions), but {self.board.title}'s FPU is single precision: "
                               f"build with -mfpu=fpv5-sp-d16")

    def _stack_limit(self) -> tuple[int, str]:
        """The lowest address the stack may use: the linker script's stack bottom symbol (0: none)."""
        for name in self.STACK_LIMIT_SYMBOLS:
            if name in self.image.symbols:
                return self.image.symbols[name], name
        return 0, ""

    def fpu_config_changed(self) -> None:
        """CPACR changed: FPU instructions fault (UsageFault NOCP) unless CP10 grants access."""
        cpacr = self._scs.stored(SystemControlSpace.CPACR) if self._scs else 0xF << 20
        self._hdr.fpu_off = 1 if (cpacr >> 20) & 0x3 == 0 else 0

    def _special_stop(self, pc: int, limit: int) -> None:
        """The native hook stopped before the block at `pc` for one of its checks (blockcount.c
        SPECIAL_*): raise the fault, or for NOCP run up to the FPU instruction and give it to the
        firmware's fault handler."""
        hdr, uc = self._hdr, self.uc
        hit, hdr.special_hit = hdr.special_hit, 0
        block = self.coster.cost(hdr.cur_addr, hdr.cur_size)
        if hit == self.SPECIAL_NONCODE:
            verdict = (f"FAULT branch to non-code: 0x{pc:08x} is not in the ELF's code "
                       f"({self._describe(pc) or 'unknown memory'}) (pc {self._at(pc)})")
            extra = [f"  lr           {self._at(uc.reg_read(A.UC_ARM_REG_LR) & ~1)}"]
            fault = BoardFault(self._report_text("non-code", verdict, pc, extra), self._report("non-code", verdict, pc))
            self._dead = fault
            raise fault
        if hit == self.SPECIAL_SP:
            sp, moved, culprit = hdr.sp_seen, 0, None
            for i in block.insns:
                moved += _sp_decrement(i) if "sp" in i.writes else 0
                if sp - moved < self.stack_limit and culprit is None:
                    culprit = i
            at = culprit.addr if culprit else pc
            what = f"`{culprit.text}` at {self._at(at)}" if culprit else f"the block at {self._at(pc)}"
            verdict = (f"FAULT stack overflow: SP 0x{sp:08x} would go below the stack limit 0x{self.stack_limit:08x} "
                       f"({self.stack_limit_symbol}) by {self.stack_limit - (sp - moved)} bytes (pc {self._at(pc)})")
            fault = BoardFault(self._report_text("stack-overflow", verdict, sp - moved, [f"  moved by    {what}"]),
                               self._report("stack-overflow", verdict, sp - moved))
            fault.report["stack_limit"] = self.stack_limit
            self._dead = fault
            raise fault
        if hit in (self.SPECIAL_ALIGN, self.SPECIAL_DIV0):
            # bc_site_hook stopped the CPU at the instruction, before it ran
            first = self.coster.instruction(pc)
            kind, what = ("unaligned", "unaligned") if hit == self.SPECIAL_ALIGN else ("divbyzero", "divbyzero")
        else:
            # SPECIAL_VFP with the FPU off: the instructions before the first FPU one run, then NOCP
            first = next((i for i in block.insns
                          if i.addr >= pc and (i.name.startswith("v") or i.name.startswith("fconst"))), None)
            kind, what = "nocp", "nocp"
        if first is None:
            return
        if first.addr != pc:
            hdr.fpu_off = 0
            hdr.align_off = 1
            hdr.limit = limit
            hdr.stopped = 0
            try:
                uc.emu_start(pc | 1, first.addr)
            except UcError:
                pass                       # a fault before it: the main loop meets it again
            finally:
                self.fpu_config_changed()
                hdr.align_off = 0
            pc2 = uc.reg_read(A.UC_ARM_REG_PC)
            self._take_back(pc2)
            self._pc = pc2
            if pc2 != first.addr:
                return
        if kind == "unaligned":
            address = self._unaligned_address(first)
            rule = "LDRD/STRD/LDM/STM need a word-aligned address" if first.name in _WORD_ALIGNED else \
                "CCR.UNALIGN_TRP faults unaligned LDR/STR/LDRH/STRH"
            verdict = f"FAULT unaligned `{first.text}` at 0x{address:08x}: {rule} (pc {self._at(first.addr)})"
        elif kind == "divbyzero":
            address = first.addr
            verdict = (f"FAULT divide by zero `{first.text}` with CCR.DIV_0_TRP set at 0x{first.addr:08x} "
                       f"(pc {self._at(first.addr)})")
        else:
            address = first.addr
            verdict = (f"FAULT FPU instruction `{first.text}` while CPACR denies the FPU (CP10/CP11) "
                       f"at 0x{first.addr:08x} (pc {self._at(first.addr)})")
        fault = BoardFault(self._report_text(kind, verdict, address), self._report(kind, verdict, address))
        if self._enter_fault_handler(fault, first.addr):
            return
        self._dead = fault
        raise fault

    def _unaligned_address(self, i) -> int:
        """The address a load/store at the CPU's PC accesses first."""
        regs = {**_REG_IDS, "sp": A.UC_ARM_REG_SP}
        m = _MEM.search(i.text)
        if m:
            value = self.uc.reg_read(regs[_ALIASES.get(m[1], m[1])])
            if m[2]:
                value += int(m[2], 0)
            if m[3]:
                value += self.uc.reg_read(regs[_ALIASES.get(m[3], m[3])]) << int(m[4] or 0)
        else:
            first = re.match(r"\S+\s+(\w+)", i.text)[1]
            value = self.uc.reg_read(regs[_ALIASES.get(first, first)])
        if i.name in ("ldmdb", "stmdb"):
            value -= 4 * i.nregs
        return value & 0xFFFFFFFF

    def _svc_before(self, pc: int) -> bool:
        try:
            return int.from_bytes(self.uc.mem_read(pc - 2, 2), "little") & 0xFF00 == 0xDF00
        except UcError:
            return False

    def _bkpt_fault(self, pc: int) -> BoardFault:
        verdict = f"FAULT breakpoint (BKPT) with no debugger attached at 0x{pc:08x} (pc {self._at(pc)})"
        fault = BoardFault(self._report_text("bkpt", verdict, pc), self._report("bkpt", verdict, pc))
        return fault
