"""Modelled cycles for the emulated board: per translated block, computed once with capstone.

The engine counts instructions exactly (native/blockcount.c). Next to that count it keeps a modelled
cycle count: when the native block hook meets a block it has not costed yet, it asks `BlockCoster.cost`
for the block's cost, caches it, and from then on adds it natively at every entry into the block. The
per-core rules live in cycles_m4.py (Cortex-M4, from the instruction timings of Arm's Cortex-M4 TRM) and
cycles_m7.py (a documented approximation of the Cortex-M7's dual-issue pipeline); docs/cycle-model.md
says what is modelled and what is not.

A core model prices one instruction given the instruction executed just before it (`pred`, None when
the instruction was reached by a branch) and nothing else, so the cost of a run does not depend on
where Unicorn happens to split it into blocks. What only the run can tell is handled in the C hook:
- a block whose last instruction is a conditional branch (B<c>, CBZ/CBNZ, a PC write inside an IT
  block) is charged as not taken; when the next block does not start where it ends, the branch was
  taken and the block's `taken` extra is added (and on the M7, a 2-bit predictor's miss penalty);
- every block has two prices, entered sequentially (from the instruction before it) or not (from a
  branch: the refill of an unaligned 32-bit target, no pairing with the predecessor);
- flash fetches: the number of flash lines the block starts to fetch, times the board's wait states
  while neither the flash accelerator nor the core's instruction cache is on (set by the engine from
  what the firmware wrote to FLASH_ACR / SCB_CCR).

Costs are in ticks: `ticks_per_cycle` ticks make a cycle (1 on the M4; 2 on the M7, whose pairing
credit is half a cycle). DWT CYCCNT and SysTick show ticks // ticks_per_cycle.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass
from pathlib import Path

import capstone
import capstone.arm as C

from harness.elf import read_elf

__all__ = ["Insn", "BlockCost", "CoreModel", "BlockCoster", "core_model", "decode"]

COND_FINAL = 1      # flags of a block: its last instruction branches only if a condition holds
BACKWARD = 2        # ... and its target is behind it (static prediction: taken)

_ALIASES = {"sb": "r9", "sl": "r10", "fp": "r11", "ip": "r12", "r13": "sp", "r14": "lr", "r15": "pc"}


def _reg_names(insn, regs) -> frozenset[str]:
    out = set()
    for r in regs:
        name = insn.reg_name(r)
        if name is None:
            continue
        name = _ALIASES.get(name, name)
        if name[0] == "d" and name[1:].isdigit():          # d<n> overlaps s<2n>, s<2n+1>
            n = int(name[1:])
            out.update((f"s{2 * n}", f"s{2 * n + 1}"))
        else:
            out.add(name)
    return frozenset(out)


@dataclass(frozen=True)
class Insn:
    """What the cost rules need to know about one decoded instruction."""
    addr: int
    size: int
    name: str                      # base name: 'ldr', 'smlad', 'b', 'vadd', 'nop', ...
    text: str                      # 'ldr r4, [r1, #4]' (reports, tests)
    cond: bool                     # executes only if a condition holds (B<c>, CBZ/CBNZ, inside IT)
    reads: frozenset[str]
    writes: frozenset[str]
    addr_regs: frozenset[str] = frozenset()   # base and index of the memory operand
    reg_offset: bool = False       # memory operand with a register offset
    nregs: int = 0                 # words moved by LDM/STM/PUSH/POP/VLDM/VSTM/VPUSH/VPOP/LDRD/STRD
    writes_pc: bool = False
    target: int | None = None      # direct branch target
    f64: bool = False              # double-precision FP arithmetic

    @property
    def end(self) -> int:
        return self.addr + self.size


# instruction classes shared by the core models
LOADS = {"ldr", "ldrb", "ldrh", "ldrsb", "ldrsh", "ldrt", "ldrbt", "ldrht", "ldrsbt", "ldrsht",
         "ldrex", "ldrexb", "ldrexh"}
STORES = {"str", "strb", "strh", "strt", "strbt", "strht"}
STREX = {"strex", "strexb", "strexh"}
LOAD_MULTI = {"ldm", "ldmdb", "pop"}
STORE_MULTI = {"stm", "stmdb", "push"}
FP_LOAD_MULTI = {"vldmia", "vldmdb", "vpop"}
FP_STORE_MULTI = {"vstmia", "vstmdb", "vpush"}
DIRECT_BRANCHES = {"b", "bl", "cbz", "cbnz"}
REG_BRANCHES = {"bx", "blx"}
TABLE_BRANCHES = {"tbb", "tbh"}
MUL_1 = {"mul", "mla", "mls", "smull", "umull", "smlal", "umlal", "umaal",
         "smulbb", "smulbt", "smultb", "smultt", "smulwb", "smulwt", "smlabb", "smlabt", "smlatb", "smlatt",
         "smlawb", "smlawt", "smlalbb", "smlalbt", "smlaltb", "smlaltt", "smlad", "smladx", "smlsd",
         "smlsdx", "smuad", "smuadx", "smusd", "smusdx", "smlald", "smlaldx", "smlsld", "smlsldx",
         "smmul", "smmulr", "smmla", "smmlar", "smmls", "smmlsr"}
DIVIDES = {"sdiv", "udiv"}
# DSP/SIMD, saturation, bit-field, extend and byte-reverse instructions: one cycle on both cores; on
# the M7 they share one unit (no two in the same cycle)
SIMD = {"ssat", "usat", "ssat16", "usat16", "qadd", "qsub", "qdadd", "qdsub", "sel", "usad8", "usada8",
        "bfi", "bfc", "sbfx", "ubfx", "clz", "rbit", "rev", "rev16", "revsh", "pkhbt", "pkhtb",
        "sxtb", "sxth", "uxtb", "uxth", "sxtb16", "uxtb16", "sxtab", "sxtah", "uxtab", "uxtah",
        "sxtab16", "uxtab16"}
for _p in ("s", "q", "sh", "u", "uq", "uh"):
    for _op in ("add16", "add8", "asx", "sax", "sub16", "sub8"):
        SIMD.add(_p + _op)
FP_MAC = {"vmla", "vmls", "vnmla", "vnmls", "vfma", "vfms", "vfnma", "vfnms"}
FP_DIVSQRT = {"vdiv", "vsqrt"}
FP_ARITH = {"vadd", "vsub", "vmul", "vnmul", "vabs", "vneg", "vcmp", "vcmpe", "vcvt", "vcvtr", "vcvta",
            "vcvtn", "vcvtp", "vcvtm", "vcvtb", "vcvtt", "vmaxnm", "vminnm", "vrinta", "vrintn", "vrintp",
            "vrintm", "vrintr", "vrintx", "vrintz", "vsel", "vseleq", "vselge", "vselgt", "vselvs"} | FP_MAC
FP_MOVES = {"vmov", "vmrs", "vmsr", "fconsts", "fconstd"}   # fconst*: capstone's name of VMOV #imm
BARRIERS = {"dsb", "dmb", "isb"}
SYSTEM = {"mrs", "msr", "cpsid", "cpsie", "svc", "bkpt", "udf", "clrex"}
HINTS = {"nop", "yield", "wfe", "wfi", "sev", "hint"}


def is_memory(i: Insn) -> bool:
    return bool(i.addr_regs) or i.name in LOAD_MULTI or i.name in STORE_MULTI \
        or i.name in FP_LOAD_MULTI or i.name in FP_STORE_MULTI


def is_data_processing(i: Insn) -> bool:
    """An instruction that computes a core-register result in the ALU/MAC (not a load, not a branch)."""
    if is_memory(i) or i.name in HINTS or i.name in BARRIERS or i.name == "it":
        return False
    if i.name in DIRECT_BRANCHES or i.name in REG_BRANCHES or i.name in TABLE_BRANCHES:
        return False
    if i.name.startswith("v"):
        return i.name == "vmov" and any(r[0] == "r" or r in ("sp", "lr") for r in i.writes)
    return any(r[0] == "r" or r in ("sp", "lr") for r in i.writes)


def is_branch(i: Insn) -> bool:
    return i.writes_pc or i.name in TABLE_BRANCHES


_CS: capstone.Cs | None = None


def _disassembler() -> capstone.Cs:
    global _CS
    if _CS is None:
        cs = capstone.Cs(capstone.CS_ARCH_ARM, capstone.CS_MODE_THUMB | capstone.CS_MODE_MCLASS)
        cs.detail = True
        _CS = cs
    return _CS


def _insn(ci) -> Insn:
    name = ci.insn_name()
    mnem = ci.mnemonic.split(".")[0]
    if name == "hint":
        name = mnem if mnem in HINTS else "nop"
    reads_raw, writes_raw = ci.regs_access()
    reads, writes = _reg_names(ci, reads_raw), _reg_names(ci, writes_raw)
    addr_regs: set[str] = set()
    reg_offset = False
    target = None
    nregs = 0
    for op in ci.operands:
        if op.type == C.ARM_OP_MEM:
            if op.mem.base:
                addr_regs |= _reg_names(ci, [op.mem.base])
            if op.mem.index:
                addr_regs |= _reg_names(ci, [op.mem.index])
                reg_offset = True
        elif op.type == C.ARM_OP_IMM and name in DIRECT_BRANCHES:
            target = op.imm
    if ci.post_index and name in LOADS | STORES:
        extra = [op for op in ci.operands if op.type == C.ARM_OP_REG]
        if len(extra) > 1:                 # post-indexed by a register
            reg_offset = True
    if name in LOAD_MULTI | STORE_MULTI:
        regs = [op for op in ci.operands if op.type == C.ARM_OP_REG]
        if name in ("ldm", "ldmdb", "stm", "stmdb"):
            addr_regs |= _reg_names(ci, [regs[0].reg])
            regs = regs[1:]
        else:
            addr_regs.add("sp")
        nregs = len(regs)
    elif name in FP_LOAD_MULTI | FP_STORE_MULTI:
        regs = [op for op in ci.operands if op.type == C.ARM_OP_REG]
        if name in ("vldmia", "vldmdb", "vstmia", "vstmdb"):
            addr_regs |= _reg_names(ci, [regs[0].reg])
            regs = regs[1:]
        else:
            addr_regs.add("sp")
        nregs = sum(2 if ci.reg_name(op.reg).startswith("d") else 1 for op in regs)
    elif name in ("ldrd", "strd", "ldrexd", "strexd"):
        nregs = 2
    elif name in ("vldr", "vstr"):
        dest = next((op for op in ci.operands if op.type == C.ARM_OP_REG), None)
        nregs = 2 if dest is not None and ci.reg_name(dest.reg).startswith("d") else 1
    writes_pc = "pc" in writes and name not in ("it",)
    if name in ("cbz", "cbnz"):
        writes_pc = True
    cond = ci.cc not in (C.ARM_CC_AL, C.ARM_CC_INVALID) or name in ("cbz", "cbnz")
    if name == "it":
        cond = False
    f64 = ".f64" in ci.mnemonic or (name.startswith("v") and name not in FP_MOVES
                                    and any(ci.reg_name(op.reg).startswith("d") for op in ci.operands
                                            if op.type == C.ARM_OP_REG)
                                    and name not in FP_LOAD_MULTI | FP_STORE_MULTI | {"vldr", "vstr"})
    return Insn(ci.address, ci.size, name, f"{ci.mnemonic} {ci.op_str}".strip(), cond, reads,
                writes - {"itstate"}, frozenset(addr_regs), reg_offset, nregs, writes_pc, target, f64)


def decode(code: bytes, addr: int) -> list[Insn]:
    """Every instruction of `code` placed at `addr`, in order (stops at the first undecodable one)."""
    return [_insn(ci) for ci in _disassembler().disasm(code, addr)]


def is_wide(hw: int) -> bool:
    return (hw >> 11) in (0x1D, 0x1E, 0x1F)


# --------------------------------------------------------------------------------------------------

class CoreModel:
    """Per-core rules. Subclasses set `ticks_per_cycle` and implement `cost` and `branch`."""
    core = ""
    ticks_per_cycle = 1
    mispredict_ticks = 0        # 0: no branch predictor (every taken branch pays `branch()`'s extra)

    def cost(self, i: Insn, pred: Insn | None) -> int:
        """Ticks of `i` executed right after `pred` (None: reached by a branch). For a conditional
        branch: the not-taken cost (the taken extra comes from `taken_extra`)."""
        raise NotImplementedError

    def taken_extra(self, i: Insn) -> int:
        """Ticks added when the conditional control transfer `i` is taken."""
        raise NotImplementedError


def core_model(core: str) -> CoreModel:
    if core == "m4":
        from harness.backends.cycles_m4 import CortexM4
        return CortexM4()
    if core == "m7":
        from harness.backends.cycles_m7 import CortexM7
        return CortexM7()
    raise ValueError(f"no cycle model for core {core!r}")


@dataclass
class BlockCost:
    """The price of one translated block and of each of its instructions."""
    addr: int
    size: int
    insns: list[Insn]
    costs: list[int]             # ticks per instruction, the first one as entered by a branch
    first_seq: int               # ticks of the first instruction entered sequentially
    lines: list[int]             # 1 where the instruction starts a flash line fetch (first: by a branch)
    first_line_seq: int          # ... the first instruction entered sequentially
    taken: int = 0               # extra ticks when its last instruction is a conditional branch taken
    flags: int = 0
    code: bytes = b""

    @property
    def n(self) -> int:
        return len(self.insns)

    def total(self, seq: bool) -> tuple[int, int]:
        """(ticks, flash lines) of the whole block."""
        ticks = sum(self.costs) - self.costs[0] + (self.first_seq if seq else self.costs[0])
        lines = sum(self.lines) - self.lines[0] + (self.first_line_seq if seq else self.lines[0])
        return ticks, lines

    def index(self, pc: int) -> int | None:
        for k, i in enumerate(self.insns):
            if i.addr == pc:
                return k
        return None

    def cost_at(self, k: int, seq: bool, penalty: int) -> int:
        if k == 0:
            return (self.first_seq if seq else self.costs[0]) + (self.first_line_seq if seq else self.lines[0]) * penalty
        return self.costs[k] + self.lines[k] * penalty

    def suffix(self, pc: int, seq: bool, penalty: int) -> int:
        """Ticks of the instructions from `pc` (inclusive) to the end of the block."""
        return sum(self.cost_at(k, seq, penalty) for k, i in enumerate(self.insns) if i.addr >= pc)


class CostMemo:
    """What BlockCosters of the same firmware share: decoded instructions and priced blocks (checked
    against the code bytes on use), and the ELF's code runs."""

    def __init__(self, code_ranges: list[tuple[int, int]] = ()):
        self.blocks: dict[tuple[int, int], BlockCost] = {}
        self.insns: dict[int, tuple[bytes, Insn]] = {}    # addr -> (code bytes, decoded with its block)
        self.loose: dict[int, tuple[bytes, Insn]] = {}    # addr -> (code bytes, decoded on its own)
        self.ends: dict[int, int] = {}                     # end address -> start of the instruction
        self.ranges = sorted(code_ranges)                  # ($t start, end) code runs from the ELF
        self.starts = [r[0] for r in self.ranges]
        self.sweeps: dict[int, list[int]] = {}


class BlockCoster:
    """Prices blocks for one engine: decodes with capstone (memoised by address and code bytes) and
    applies the core model. `read(addr, size)` reads code from the emulated memory."""

    def __init__(self, model: CoreModel, read, flash: tuple[int, int] | None, line_bytes: int,
                 memo: CostMemo | None = None):
        self.model = model
        self.read = read
        self.flash = flash                       # (base, end): fetches from here pay wait states
        self.line_bytes = line_bytes
        memo = memo or CostMemo()
        self.memo = memo
        self._blocks = memo.blocks
        self._insns = memo.insns
        self._loose = memo.loose
        self._ends = memo.ends
        self._ranges = memo.ranges
        self._starts = memo.starts
        self._sweeps = memo.sweeps
        self.blocks_costed = 0

    # -- decoding with memo
    def _decoded(self, addr: int, size: int) -> list[Insn]:
        code = bytes(self.read(addr, size))
        out, off = [], 0
        while off < size:
            hit = self._insns.get(addr + off)
            if hit is not None and code[off:off + hit[1].size] == hit[0]:
                out.append(hit[1])
                off += hit[1].size
                continue
            rest = decode(code[off:], addr + off)
            if not rest:
                break
            for i in rest:
                self._insns[i.addr] = (code[i.addr - addr:i.end - addr], i)
                self._ends[i.end] = i.addr
            out.extend(rest)
            break
        return out

    def _insn_at(self, addr: int) -> Insn | None:
        """The instruction at `addr`: as decoded with its block if it was, else decoded on its own
        (kept apart: without its IT instruction capstone cannot tell it is conditional)."""
        hit = self._insns.get(addr) or self._loose.get(addr)
        if hit is not None:
            return hit[1]
        try:
            code = bytes(self.read(addr, 4))
        except Exception:
            return None
        got = decode(code, addr)
        if not got:
            return None
        i = got[0]
        self._loose[addr] = (code[:i.size], i)
        return i

    def predecessor(self, addr: int) -> Insn | None:
        """The instruction that ends at `addr` in the sequential flow, or None when it is not known
        for sure (a literal pool, or code outside the ELF's $t runs that was never decoded)."""
        start = self._ends.get(addr)
        if start is None:
            start = self._sweep_pred(addr)
        if start is None:
            return None
        return self._insn_at(start)

    def _sweep_pred(self, addr: int) -> int | None:
        k = bisect.bisect_right(self._starts, addr - 1) - 1
        if k < 0:
            return None
        lo, hi = self._ranges[k]
        if not lo < addr <= hi:
            return None
        starts = self._sweeps.get(lo)
        if starts is None:
            try:
                code = bytes(self.read(lo, hi - lo))
            except Exception:
                return None
            starts, off = [], 0
            while off + 1 < len(code):
                starts.append(lo + off)
                off += 4 if is_wide(code[off] | code[off + 1] << 8) else 2
            starts.append(lo + off)
            self._sweeps[lo] = starts
        j = bisect.bisect_left(starts, addr)
        if j < len(starts) and starts[j] == addr and j > 0:
            return starts[j - 1]
        return None

    def _it_context(self, addr: int) -> int:
        """Where to start decoding so capstone sees the IT instruction covering `addr`, if any."""
        at = addr
        for _ in range(4):
            p = self.predecessor(at)
            if p is None:
                break
            if p.name == "it":
                return p.addr
            at = p.addr
        return addr

    def instruction(self, addr: int) -> Insn:
        """The instruction at `addr` (decoded with its block, so with its IT context, when it ran)."""
        i = self._insn_at(addr)
        if i is None:
            raise ValueError(f"cannot decode the instruction at 0x{addr:08x}")
        return i

    # -- pricing
    def in_flash(self, addr: int, size: int = 1) -> bool:
        flash = self.flash
        return flash is not None and flash[0] <= addr and addr + size <= flash[1]

    def cost(self, addr: int, size: int) -> BlockCost:
        """The price of the block of `size` bytes at `addr` (memoised by address, size and code; by address
        and size alone in flash)."""
        key = (addr, size)
        block = self._blocks.get(key)
        if block is not None and self.in_flash(addr, size):
            return block            # the emulated flash is read-only: its code is the image's, as memoised
        code = bytes(self.read(addr, size))
        if block is not None and block.code == code:
            return block
        start = self._it_context(addr)
        insns = [i for i in self._decoded(start, addr + size - start) if i.addr >= addr]
        if not insns or insns[-1].end != addr + size:
            raise ValueError(f"cannot decode the block 0x{addr:08x}+{size}: {code.hex()}")
        model = self.model
        pred = self.predecessor(addr)
        costs, lines = [], []
        prev = None
        for i in insns:
            costs.append(model.cost(i, prev))
            lines.append(self.line_start(i, prev))
            prev = i
        first_seq = model.cost(insns[0], pred)
        first_line_seq = self.line_start(insns[0], pred)
        last = insns[-1]
        taken, flags = 0, 0
        if last.cond and is_branch(last):
            taken = model.taken_extra(last)
            flags = COND_FINAL | (BACKWARD if last.target is not None and last.target <= last.addr else 0)
        block = BlockCost(addr, size, insns, costs, first_seq, lines, first_line_seq, taken, flags, code)
        self._blocks[key] = block
        self.blocks_costed += 1
        return block

    def line_start(self, i: Insn, prev: Insn | None) -> int:
        """1 when `i`, executed after `prev` (None: reached by a branch), starts fetching a new flash line."""
        if self.flash is None or not (self.flash[0] <= i.addr < self.flash[1]):
            return 0
        if prev is None:
            return 1
        return int(i.addr // self.line_bytes != prev.addr // self.line_bytes)

    def known(self, addr: int, size: int) -> BlockCost | None:
        return self._blocks.get((addr, size))


def elf_code_ranges(path: str | Path) -> list[tuple[int, int]]:
    """Thumb code runs of the ELF's executable sections, from the $t/$d mapping symbols."""
    elf = read_elf(path)
    ranges: list[tuple[int, int]] = []
    marks: dict[int, list[tuple[int, str]]] = {}
    for sym in elf.symbols:
        if sym.name in ("$t", "$d", "$a") or sym.name.startswith(("$t.", "$d.", "$a.")):
            marks.setdefault(sym.shndx, []).append((sym.value & ~1, sym.name[1]))
    for sec in elf.sections:
        if sec.data is None:                 # only code sections (SHT_PROGBITS, executable)
            continue
        hi = sec.addr + sec.size
        points = sorted(marks.get(sec.index, []))
        for k, (a, kind) in enumerate(points):
            b = points[k + 1][0] if k + 1 < len(points) else hi
            if kind == "t" and b > a:
                ranges.append((a, b))
    return ranges
