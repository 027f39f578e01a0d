"""Cortex-M4 cycle table: Arm's Cortex-M4 Technical Reference Manual (r0p1), section 3.3 "Instruction set
summary" (Table 3-1 and its notes, "Load/store timings") and chapter 7 "FPU instruction set" table, for a
system with zero wait states. Memory wait states are added by the engine (see cycles.py).

Symbols of the TRM: P = pipeline refill (1 to 3), N = registers in the list. The choices made where the
TRM gives a range are named constants below; docs/cycle-model.md lists them with their reasons.
"""
from __future__ import annotations

from harness.backends.cycles import (
    BARRIERS, DIRECT_BRANCHES, DIVIDES, FP_ARITH, FP_DIVSQRT, FP_LOAD_MULTI, FP_MAC, FP_MOVES,
    FP_STORE_MULTI, HINTS, LOAD_MULTI, LOADS, MUL_1, REG_BRANCHES, SIMD, STORE_MULTI, STORES, STREX,
    SYSTEM, TABLE_BRANCHES, CoreModel, Insn, is_data_processing, is_memory,
)

# Pipeline refill P (TRM: "1 to 3 depending on the alignment and width of the target instruction, and
# whether the processor manages to speculate the address early"):
P_IMMEDIATE = 1      # taken branch to an immediate target: 1 cycle of refill (2 in total)
P_REGISTER = 2       # BX/BLX/MOV PC/ADD PC: 2 cycles of refill (3 in total)
P_LOAD = 3           # LDR PC / POP {..,PC}: "three cycles for the pipeline reload" (Load/store timings)
P_UNALIGNED = 1      # a taken branch to a 32-bit instruction at a halfword (not word) address: +1
TBB_CYCLES = 6       # "at least two cycles for the load, one cycle for the add, and three cycles for the
                     # pipeline reload. This means at least six cycles"
DIVIDE = 12          # SDIV/UDIV take 2 to 12 cycles (early termination on the operands): the bound
BARRIER = 1          # DMB/DSB: 1 + B with B >= 0 (no outstanding transfers: 0)
ISB = 1 + P_REGISTER # ISB: 1 + B, B at least a pipeline refill


class CortexM4(CoreModel):
    core = "m4"
    ticks_per_cycle = 1

    def base(self, i: Insn) -> int:
        """Cycles of `i` on its own (no neighbour effects); for a conditional branch, not taken."""
        n = i.name
        taken = 0 if i.cond else 1          # unconditional control transfers always pay their refill
        if n in LOADS or n in STREX:
            return 2 + (P_LOAD * taken if i.writes_pc else 0)
        if n in STORES:
            # "STR Rx,[Ry,#imm] is always one cycle"; a register offset takes two (Load/store timings)
            return 2 if i.reg_offset else 1
        if n in ("ldrd", "strd", "ldrexd", "strexd"):
            return 1 + 2                                   # 1 + N, N = 2: "three cycles"
        if n in LOAD_MULTI or n in STORE_MULTI:
            return 1 + i.nregs + (P_LOAD * taken if i.writes_pc else 0)
        if n in ("vldr", "vstr"):
            return 2 if i.nregs == 1 else 3                # VLDR/VSTR .32: 2, .64: 3
        if n in FP_LOAD_MULTI or n in FP_STORE_MULTI:
            return 1 + i.nregs                             # VLDM/VSTM/VPUSH/VPOP: 1 + N (words)
        if n in DIRECT_BRANCHES:
            return 1 + P_IMMEDIATE * taken
        if n in REG_BRANCHES or (i.writes_pc and n in ("mov", "add")):
            return 1 + P_REGISTER * taken
        if n in TABLE_BRANCHES:
            return TBB_CYCLES if taken else TBB_CYCLES - 3
        if n in DIVIDES:
            return DIVIDE
        if n in MUL_1 or n in SIMD:
            return 1                                       # MUL, MLA, MLS, long and DSP MACs: 1
        if n in FP_DIVSQRT:
            return 14                                      # VDIV, VSQRT: 14
        if n in FP_MAC:
            return 3                                       # VMLA/VMLS/VNMLA/VNMLS/VFMA/...: 3
        if n == "vmov":
            # core <-> single, single <-> single, immediate: 1; two core registers <-> a double or a
            # pair of singles: 2
            core_regs = [r for r in i.reads | i.writes if r[0] == "r" or r in ("sp", "lr")]
            return 2 if len(core_regs) == 2 else 1
        if n in FP_ARITH or n in FP_MOVES:
            return 1                                       # VADD/VSUB/VMUL/VNMUL/VABS/VNEG/VCMP/VCVT/VMRS/VMSR
        if n == "it":
            return 1                                       # 0 when folded (see cost)
        if n in BARRIERS:
            return ISB if n == "isb" else BARRIER
        if n in HINTS or n in SYSTEM or n == "pld":
            return 1                                       # NOP/YIELD/SEV/WFE/WFI (+W = 0), MRS/MSR/CPS
        if i.writes_pc:
            return 1 + P_REGISTER * taken                  # any other PC write
        return 1                                           # data processing: 1

    def taken_extra(self, i: Insn) -> int:
        n = i.name
        if n in DIRECT_BRANCHES:
            return P_IMMEDIATE
        if n in TABLE_BRANCHES:
            return 3
        if n in LOADS or n in LOAD_MULTI:
            return P_LOAD
        return P_REGISTER

    def cost(self, i: Insn, pred: Insn | None) -> int:
        c = self.base(i)
        if pred is None:
            # reached by a branch: the refill is one longer for an unaligned 32-bit target
            if i.size == 4 and i.addr % 4:
                c += P_UNALIGNED
            return c
        single = i.name in LOADS or i.name in STORES or i.name in STREX
        if single and not i.writes_pc and _pipelines_after(pred) and not (pred.writes & i.addr_regs):
            # "if the next instruction is an LDR or STR, and the destination of the first LDR is not
            # used to compute the address for the next instruction, then one cycle is removed from
            # the cost of the next instruction" (STR with an immediate offset is one cycle already)
            c = max(1, c - 1)
        if is_memory(i) and is_data_processing(pred) and (pred.writes & i.addr_regs):
            # "Any load or store that generates an address dependent on the result of a preceding
            # data processing operation stalls the pipeline for an additional cycle"
            c += 1
        if i.name == "it" and pred.size == 2 and not pred.writes_pc and pred.name != "it":
            c = 0              # "IT instructions can be folded onto a preceding 16-bit Thumb instruction"
        return c


def _pipelines_after(pred: Insn) -> bool:
    """LDR [any] (and LDREX, STREX, which pipeline exactly as LDR) let a following LDR/STR pipeline."""
    return (pred.name in LOADS or pred.name in STREX) and not pred.writes_pc
