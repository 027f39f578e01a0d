"""Polling loops the engine fast-forwards: a firmware waiting for a UART flag spins on a status read for a
whole frame (~15,000 cycles at 115200 baud), each turn a Python callback.

When two successive turns read the same register from the same block with the same value, the same CPU
registers and no other peripheral access in between, and the code of a turn of that length can change
nothing but registers (no store, call, system or exclusive instruction, no floating-point instruction, no
indirect branch: loop_turns, from the instructions with capstone), every further turn until the flag
changes is the same turn again: their instructions and cycles are added at once (PollingWaits). When the
turn is also `stable` (its only load is the poll, and it reads no register before writing it), the same
holds from the first poll of any later wait in that block, with the turn's length and cycles as measured
at the first wait there."""
from __future__ import annotations

import ctypes
from functools import lru_cache
from typing import TYPE_CHECKING, NamedTuple

from unicorn import UcError
from unicorn import arm_const as A
import unicorn.unicorn_py3.unicorn as _ucmod

if TYPE_CHECKING:
    from harness.backends.emulated import EmulatedBoard

MAX_INSNS = 64                 # a polling loop is a handful of instructions; larger is not looked at
WINDOW_BEFORE, WINDOW_AFTER = 128, 256   # bytes of code looked at around the polling block
MAX_PATHS = 256                # paths through it looked at, at most
FLAGS = -2                     # the condition flags, as a register of _stable's
EXIT = -1                      # a path leaves what can be followed (indirect branch, return, too far)

# mnemonic prefixes that change more than registers, or whose effect the loop check cannot see
_EFFECTS = ("st", "push", "vst", "vpush", "svc", "bkpt", "udf", "wfi", "wfe", "sev", "msr", "cps", "ldrex",
            "clrex", "mcr", "cdp", "v")
_CALLS = ("bl", "blx")


@lru_cache(maxsize=None)
def _capstone():
    import capstone
    md = capstone.Cs(capstone.CS_ARCH_ARM, capstone.CS_MODE_THUMB | capstone.CS_MODE_MCLASS)
    md.detail = True
    return md


def _successors(insn, in_it: bool) -> tuple[list[int], bool]:
    """(next addresses, has an effect) of one instruction; EXIT for a successor that cannot be followed."""
    import capstone
    import capstone.arm as C
    name = insn.mnemonic.split(".")[0]
    effect = name.startswith(_EFFECTS) or name in _CALLS
    fall = insn.address + insn.size
    if name in ("b", "cbz", "cbnz") or (name.startswith("b") and len(name) == 3 and name != "blx"
                                         and insn.group(capstone.CS_GRP_JUMP)):
        target = insn.operands[-1]
        dest = target.imm if target.type == C.ARM_OP_IMM else EXIT
        conditional = name in ("cbz", "cbnz") or insn.cc not in (C.ARM_CC_AL, C.ARM_CC_INVALID) or in_it
        return ([dest, fall] if conditional else [dest]), effect
    writes_pc = C.ARM_REG_PC in insn.regs_access()[1] or any(
        o.type == C.ARM_OP_REG and o.reg == C.ARM_REG_PC for o in insn.operands[:1])
    if writes_pc or name in ("bx", "blx", "tbb", "tbh") or insn.group(capstone.CS_GRP_RET):
        return [EXIT], effect
    return [fall], effect


class Turns(NamedTuple):
    """The lengths (instructions) of the paths from a polling block back to itself."""
    free: frozenset[int]          # paths with no effect beyond the registers
    effectful: frozenset[int]     # paths with one
    # per length that one free path alone has, when that path is stable (_stable): the registers (indices
    # into SPIN_REGS) it reads and never writes, which with the polled value decide everything it does
    stable: dict[int, tuple[int, ...]]


def loop_turns(code: bytes, base: int, start: int) -> Turns:
    """The turns through `start` of the code at `base` (`code` its bytes). A measured turn whose length is
    only among the free ones was a turn without side effects. Paths that leave the loop (to a store
    after it, a return) are not turns and do not matter."""
    md = _capstone()
    succ: dict[int, list[int]] = {}
    insns: dict[int, object] = {}
    effects: set[int] = set()
    todo, it_until = [start], {}
    while todo:
        a = todo.pop()
        if a in succ or a == EXIT:
            continue
        if len(succ) >= MAX_INSNS or not base <= a < base + len(code) - 1:
            succ[a] = [EXIT]
            continue
        insn = next(md.disasm(code[a - base:a - base + 4], a, 1), None)
        if insn is None:
            succ[a] = [EXIT]
            continue
        nxt, effect = _successors(insn, a < it_until.get(a, 0))
        if insn.mnemonic.startswith("it"):
            block_end = a + insn.size + 4 * (len(insn.mnemonic) - 1)   # an upper bound on the IT block
            for b in range(a + insn.size, block_end, 2):
                it_until[b] = block_end
        if effect:
            effects.add(a)
        insns[a] = insn
        succ[a] = nxt
        todo.extend(n for n in nxt if n != EXIT)
    free: set[int] = set()
    effectful: set[int] = set()
    lengths: dict[int, list[tuple[int, ...] | None]] = {}     # length -> _stable of each path that long
    paths = 0
    stack = [(start, (start,))]                   # (address, the path to it)
    while stack and paths < MAX_PATHS:
        a, path = stack.pop()
        for n in succ.get(a, ()):
            if n == start:
                paths += 1
                if effects.intersection(path):
                    effectful.add(len(path))
                    lengths.setdefault(len(path), []).append(None)
                else:
                    free.add(len(path))
                    lengths.setdefault(len(path), []).append(_stable([insns[x] for x in path]))
            elif n != EXIT and n not in path and len(path) < MAX_INSNS:
                stack.append((n, path + (n,)))
    stable = {n: found[0] for n, found in lengths.items() if len(found) == 1 and found[0] is not None}
    if stack:                          # not every path was looked at: no length is known to be one path's
        stable = {}
    return Turns(frozenset(free), frozenset(effectful), stable)


def _stable(path: list) -> tuple[int, ...] | None:
    """A turn that loads once (the polled register) and reads no register or flag before writing it in
    the turn, if the turn writes it at all: then every register and flag after a turn is a function of
    the polled value and of the registers the loop leaves alone (returned, as SPIN_REGS indices), so a turn
    that reads the same value as the turn before leaves the same registers, whatever they were when the
    loop began. None when the turn is not so."""
    import capstone.arm as C
    ignore = {C.ARM_REG_PC, C.ARM_REG_CPSR, C.ARM_REG_APSR, C.ARM_REG_ITSTATE}
    written: set[int] = set()
    for insn in path:
        written.update(insn.regs_access()[1])
        if insn.update_flags:
            written.add(FLAGS)
    written -= ignore
    done: set[int] = set()
    inputs: set[int] = set()
    loads = 0
    for insn in path:
        reads, writes = insn.regs_access()
        needs = set(reads) - ignore
        if insn.cc not in (C.ARM_CC_AL, C.ARM_CC_INVALID):
            needs.add(FLAGS)
        if needs & written - done:
            return None
        inputs |= needs - written
        loads += insn.mnemonic.startswith("ldr")
        done.update(writes)
        if insn.update_flags:
            done.add(FLAGS)
    index = _spin_index()
    if loads != 1 or not inputs <= index.keys():
        return None
    return tuple(sorted(index[r] for r in inputs))


@lru_cache(maxsize=None)
def _spin_index() -> dict[int, int]:
    """capstone register id -> its index in SPIN_REGS: r0-r12, SP, LR."""
    import capstone.arm as C
    regs = [getattr(C, f"ARM_REG_R{i}") for i in range(13)] + [C.ARM_REG_SP, C.ARM_REG_LR]
    return {r: i for i, r in enumerate(regs)}


# a polling loop's turns are the same turn when these are: the general registers and the flags
SPIN_REGS = [getattr(A, f"UC_ARM_REG_R{i}") for i in range(13)] + [A.UC_ARM_REG_SP, A.UC_ARM_REG_LR,
                                                                    A.UC_ARM_REG_XPSR]


class PollingWaits:
    """The engine's polling-loop skips (see the module's text). State: the last poll that found a flag
    not yet set, and per polling block its turns (and its code when that is in RAM, which can change)
    and the turn measured there."""

    def __init__(self, engine: "EmulatedBoard"):
        self.engine = engine
        self.last: tuple | None = None
        self.turns: dict[int, tuple[tuple[int, bytes] | None, Turns]] = {}
        # (block, polled key) -> (instructions, cycles) of a turn measured there, and its input registers
        self.measured: dict[tuple[int, tuple], tuple[int, int, tuple[bytes, ...]]] = {}
        n = len(SPIN_REGS)
        self._values = (ctypes.c_uint64 * n)()
        self._ptrs = (ctypes.c_void_p * n)(*(ctypes.addressof(self._values) + 8 * i for i in range(n)))
        self._ids = (ctypes.c_int * n)(*SPIN_REGS)

    def wait_until(self, until: int, key: tuple, cycles: int) -> int | None:
        """A read of `key` = (peripheral, offset, value) at cycle `cycles` found a flag that sets by itself
        at cycle `until`: skip the polling loop's turns up to it, never past the next interrupt, the cycle budget
        or the instruction limit, so nothing the turns would have seen is skipped. When turns were skipped,
        the cycle count after them: the read in progress is then the last skipped turn's, at that time."""
        engine, hdr = self.engine, self.engine._hdr
        block = hdr.cur_addr
        count = engine.now()
        turns = self._turns(block)
        if turns is None or not turns.free:
            self.last = None
            return None                    # not a loop through this block's start: nothing to skip
        turn = self.measured.get((block, key))
        if turn is not None and turn[0] in turns.stable and turn[2] == self._inputs(turns.stable[turn[0]]):
            return self._skip(until, cycles, turn[0], turn[1])       # the same turn as measured: at once
        regs = self._regs()
        last, self.last = self.last, (key, block, count, cycles, regs, engine._mmio_seq)
        if last is None or last[:2] != (key, block) or last[4] != regs or last[5] + 1 != engine._mmio_seq:
            return None
        turn_insns, turn_cycles = count - last[2], cycles - last[3]
        if turn_insns <= 0 or turn_cycles <= 0 or turn_insns not in turns.free or turn_insns in turns.effectful:
            return None
        inputs = turns.stable.get(turn_insns)
        self.measured[(block, key)] = (turn_insns, turn_cycles, self._inputs(inputs) if inputs is not None else ())
        return self._skip(until, cycles, turn_insns, turn_cycles)

    def _inputs(self, regs: tuple[int, ...]) -> tuple[bytes, ...]:
        values = self._regs()
        return tuple(values[8 * i:8 * i + 8] for i in regs)

    def _skip(self, until: int, cycles: int, turn_insns: int, turn_cycles: int) -> int | None:
        engine, hdr = self.engine, self.engine._hdr
        end = until
        due = engine.due_cycles()          # the next interrupt or the cycle budget, as the engine last set it
        if due is not None:
            end = min(end, due - 1)
        turns = -(-(end - cycles) // turn_cycles) if end == until else (end - cycles) // turn_cycles
        turns = min(turns, (engine.run_limit - hdr.count) // turn_insns)
        if turns <= 0:
            return None
        ticks = turns * turn_cycles * engine.ticks_per_cycle if hdr.cycles_on else 0
        hdr.count += turns * turn_insns
        hdr.limit = min(engine.run_limit, hdr.limit + turns * turn_insns)   # a chunk is instructions run
        hdr.ticks += ticks
        engine._profile_add(hdr.cur_addr, turns * turn_insns, ticks)
        if engine.reference_counter:
            engine.reference_count += turns * turn_insns
            engine.reference_ticks += ticks
        self.last = None
        return cycles + turns * turn_cycles

    def _regs(self) -> bytes:
        """The registers of SPIN_REGS in one uc_reg_read_batch call (a wait reads them at every poll)."""
        _ucmod.uclib.uc_reg_read_batch(self.engine.uc._uch, self._ids, self._ptrs, len(SPIN_REGS))
        return bytes(self._values)

    def _turns(self, block: int) -> Turns | None:
        """loop_turns of the code around `block`, once per block in flash, again when code in RAM changed."""
        uc = self.engine.uc
        known = self.turns.get(block)
        if known is not None:
            kept = known[0]
            if kept is None:
                return known[1]
            try:
                if bytes(uc.mem_read(kept[0], len(kept[1]))) == kept[1]:
                    return known[1]
            except UcError:
                return None
        for base in (block - WINDOW_BEFORE, block):    # the loop may reach back before the block
            try:
                code = bytes(uc.mem_read(base, block + WINDOW_AFTER - base))
                break
            except UcError:
                continue
        else:
            return None
        turns = loop_turns(code, base, block)
        in_flash = any(r.readonly and r.base <= block < r.end for r in self.engine.board.regions)
        self.turns[block] = (None if in_flash else (base, code), turns)
        return turns
