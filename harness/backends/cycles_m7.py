"""Cortex-M7 cycle model: a documented approximation of its in-order dual-issue pipeline (Arm publishes
no instruction timing table for the M7). docs/cycle-model.md gives the assumptions and the expected error.

Costs are in half cycles (ticks_per_cycle = 2). An instruction that can issue in the same cycle as the
one before it (pairable classes, no dependency on it, not competing for the same unit) gets a pairing
credit of half a cycle: a run of k pairable, independent instructions costs about k/2 cycles, where a
greedy dual-issue schedule takes ceil(k/2). Caches are assumed to hit (loads and fetches from TCM,
cache or flash through the caches take no wait states); conditional branches go through a 2-bit
predictor in the C hook, a miss costs MISPREDICT cycles.
"""
from __future__ import annotations

from harness.backends.cycles import (
    BARRIERS, DIRECT_BRANCHES, DIVIDES, FP_ARITH, FP_DIVSQRT, FP_LOAD_MULTI, FP_MAC, FP_MOVES,
    FP_STORE_MULTI, LOAD_MULTI, LOADS, MUL_1, REG_BRANCHES, SIMD, STORE_MULTI, STORES, STREX, SYSTEM,
    TABLE_BRANCHES, CoreModel, Insn,
)

T = 2                 # ticks per cycle
MISPREDICT = 8        # cycles lost on a mispredicted conditional branch
INDIRECT = 4          # extra cycles of an indirect branch (BX, BLX reg, POP {pc}, LDR pc, TBB)
DIVIDE = 12           # SDIV/UDIV: no published figure; the M4's documented bound
FP_LATENCY = 3        # FP arithmetic result latency: a dependent next instruction waits 2 cycles
SYSTEM_CYCLES = 3     # MRS/MSR/barriers/CPS: single-issue, about three cycles

_FLAGS = frozenset({"cpsr", "apsr", "fpscr", "apsr_nzcv"})

# classes: instructions of one class never issue together
_LOAD, _STORE, _MAC, _SIMD, _FP, _ALU, _BRANCH = "load", "store", "mac", "simd", "fp", "alu", "branch"


def _klass(i: Insn) -> str | None:
    """The issue class of a pairable instruction, None for single-issue ones."""
    n = i.name
    if n in LOADS or n == "vldr" and i.nregs == 1 or n == "pld":
        return _LOAD
    if n in STORES or n == "vstr" and i.nregs == 1:
        return _STORE
    if n in MUL_1:
        return _MAC
    if n in SIMD:
        return _SIMD
    if n in FP_ARITH and n not in FP_MAC and not i.f64 or n in FP_MOVES:
        return _FP
    if n in DIRECT_BRANCHES:
        return _BRANCH
    if n in ("ldrd", "strd", "ldrexd", "strexd") or n in LOAD_MULTI or n in STORE_MULTI \
            or n in FP_LOAD_MULTI or n in FP_STORE_MULTI or n in DIVIDES or n in FP_DIVSQRT \
            or n in FP_MAC or n in BARRIERS or n in SYSTEM or n in TABLE_BRANCHES or n in STREX \
            or n in REG_BRANCHES or i.writes_pc or i.f64 or n.startswith("v"):
        return None
    return _ALU                                         # data processing, IT, NOP


class CortexM7(CoreModel):
    core = "m7"
    ticks_per_cycle = T
    mispredict_ticks = MISPREDICT * T

    def cycles(self, i: Insn) -> int:
        """Cycles of `i` issued alone, not counting stalls."""
        n = i.name
        if n in LOAD_MULTI or n in STORE_MULTI or n in FP_LOAD_MULTI or n in FP_STORE_MULTI:
            c = max(1, (i.nregs + 1) // 2)              # 64-bit paths: two registers per cycle
            return c + (INDIRECT if i.writes_pc and not i.cond else 0)
        if n in DIVIDES:
            return DIVIDE
        if n in FP_DIVSQRT:
            return 29 if i.f64 else 14
        if i.f64:
            return 2                                    # double precision: about half the SP rate
        if n in BARRIERS or n in SYSTEM:
            return SYSTEM_CYCLES
        if n in TABLE_BRANCHES:
            return 2 + (INDIRECT if not i.cond else 0)
        if n in REG_BRANCHES or (i.writes_pc and n not in DIRECT_BRANCHES):
            return 1 + (INDIRECT if not i.cond else 0)
        return 1

    def taken_extra(self, i: Insn) -> int:
        if i.name in DIRECT_BRANCHES:
            return 0            # direction and target predicted; misses are charged by the predictor
        return INDIRECT * T

    def cost(self, i: Insn, pred: Insn | None) -> int:
        ticks = self.cycles(i) * T
        if pred is None:
            return ticks
        k, kp = _klass(i), _klass(pred)
        depends = bool((pred.writes & i.reads) - _FLAGS)
        stall = 0
        if depends:
            if pred.name in ("ldrb", "ldrh", "ldrsb", "ldrsh"):
                stall = 1                               # byte/halfword loads: result a cycle later
            elif kp == _MAC and not (i.name in MUL_1 and _accumulator_only(pred, i)):
                stall = 1                               # multiply results: 2-cycle latency
            elif (kp == _FP or pred.name in FP_MAC) and pred.name not in FP_MOVES:
                stall = FP_LATENCY - 1
        if i.addr_regs & pred.writes and (kp in (_LOAD, _SIMD) or pred.name in LOAD_MULTI):
            stall = max(stall, 1)                       # address generation needs the value in EX1
        if stall:
            return ticks + stall * T
        if _pairs(i, k, pred, kp, depends):
            return ticks - 1                            # dual issue with the predecessor: half a cycle
        return ticks


def _pairs(i: Insn, k: str | None, pred: Insn, kp: str | None, depends: bool) -> bool:
    """Can `i` issue in the same cycle as `pred`?"""
    if k is None or kp is None or depends:
        return False
    if k == kp and k != _ALU:
        return False                                    # one load, store, MAC, SIMD, FP, branch unit
    if {k, kp} == {_MAC, _STORE}:
        return False
    if kp == _BRANCH:
        return pred.cond                                # only after a branch that was not taken
    return True


def _accumulator_only(pred: Insn, i: Insn) -> bool:
    """`i` uses `pred`'s result only as its accumulator (MAC chains issue every cycle)."""
    acc = {"mla", "mls", "smlad", "smladx", "smlsd", "smlsdx", "smlabb", "smlabt", "smlatb", "smlatt",
           "smlawb", "smlawt", "smmla", "smmlar", "smmls", "smmlsr"}
    long_acc = {"smlal", "umlal", "umaal", "smlald", "smlaldx", "smlsld", "smlsldx",
                "smlalbb", "smlalbt", "smlaltb", "smlaltt"}
    if i.name in long_acc:
        return True                                     # RdLo/RdHi are the accumulator
    if i.name in acc:
        # the accumulator is the last source; a product operand fed by pred stalls
        shared = pred.writes & i.reads
        return shared <= (i.writes & i.reads)
    return False
