"""Static fit from the linked ELF: bytes each memory region of the board holds, against its size.

Flash holds everything loaded (code, constants, the initial values of .data and of the code copied to
ITCM); RAM holds .data, .bss (the arena included) and the stack, whose depth only a run can tell (its
painted high-water mark); ITCM, on the F7s, the code harness/placement.py moved there.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path

from harness.board import Board
from harness.elf import read_elf

# The least stack our link leaves below the top of RAM (build.py's ASSERT): the deepest kernel frame of our
# runtime is a few hundred bytes (harness profile's stack high-water), so 1 KB with the exception frames.
# A build whose static RAM leaves less is refused by the linker, and a fit before any run counts it.
MIN_STACK = 1024


@dataclass
class RegionUse:
    region: str
    used: int
    size: int

    @property
    def percent(self) -> float:
        return 100.0 * self.used / self.size

    @property
    def fits(self) -> bool:
        return self.used <= self.size


@dataclass
class Fit:
    flash: RegionUse
    sram: RegionUse                 # all data RAM banks together: .data + .bss + stack high-water
    regions: list[RegionUse]        # per bank of the map
    static_ram: int                 # .data + .bss
    stack: int | None               # high-water; None before a run

    @property
    def fits(self) -> bool:
        return self.flash.fits and self.sram.fits and all(r.fits for r in self.regions)

    def as_dict(self) -> dict:
        d = {k: asdict(getattr(self, k)) | {"percent": round(getattr(self, k).percent, 2)} for k in ("flash", "sram")}
        d["regions"] = [asdict(r) | {"percent": round(r.percent, 2)} for r in self.regions]
        d["static_ram"], d["stack"], d["fits"] = self.static_ram, self.stack, self.fits
        return d


def _alloc_ranges(elf_path: Path) -> tuple[list[tuple[int, int]], list[tuple[int, int]], list[tuple[int, int]],
                                          dict[str, int]]:
    """(load ranges in memory as placed at reset, run-time data RAM ranges, run-time ranges of every
    allocated section (code copied to ITCM included), symbols)."""
    elf = read_elf(elf_path)
    loads = [(seg.paddr, len(seg.data)) for seg in elf.segments]
    ram = [(s.addr, s.size) for s in elf.sections if s.alloc and s.write and s.size]
    run = [(s.addr, s.size) for s in elf.sections if s.alloc and s.size]
    syms = {s.name: s.value for s in elf.symbols if s.name}
    return loads, ram, run, syms


def _overlap(ranges: list[tuple[int, int]], base: int, end: int) -> int:
    return sum(max(0, min(a + n, end) - max(a, base)) for a, n in ranges)


def static_fit(board: Board, elf_path: Path, stack: int | None = None) -> Fit:
    loads, ram, run, syms = _alloc_ranges(elf_path)
    static_ram = sum(n for _, n in ram)
    run_use = list(run)         # a writable region holds what runs there: data, bss, code copied to ITCM
    if stack is not None:
        run_use.append((syms["_estack"] - stack, stack))
    flash = board.flash
    regions = [RegionUse(r.name, _overlap(loads if r.readonly else run_use, r.base, r.end), r.size)
               for r in board.regions]
    used_flash = _overlap(loads, flash.base, flash.end)
    # Anything loaded outside every region means the image cannot be placed at all.
    outside = sum(n for _, n in loads) - sum(_overlap(loads, r.base, r.end) for r in board.regions)
    return Fit(
        flash=RegionUse(flash.name, used_flash + outside, flash.size),
        sram=RegionUse("sram", static_ram + (stack or 0), board.sram_size),
        regions=regions, static_ram=static_ram, stack=stack,
    )


# What each byte of the image is, by the names the model image gives its symbols (harness/plan/emit.py):
# t<N> constant tensors, op<N>_<field> arrays a kernel's params point at (harness/plan/ops, optimize.py),
# op<N> kernel parameters and the op table (with tm_model and the more_inputs / more_outputs tensor
# records of a model with several), tm_arena / tm_db_buffer; code is everything executable.
# By what each array holds:
# - weights: t<N> (a constant tensor shared by index: the weight tensors and, under the reference
#   kernels, their bias tensors too, which the names cannot tell apart) and op<N>_weights, the weight
#   tensor re-laid out for an optimized kernel (firmware/kernels/dsp): int8 for conv / fully connected
#   (taps padded to a multiple of 4, channels to an even count), int16 for depthwise (every int8 weight
#   widened to 2 bytes, channels padded to a multiple of 4);
# - quant tables: every other op<N>_<field>, what turns an int32 sum into an output byte, computed offline
#   from the quantization parameters: multiplier and shift (per channel), rq (per-channel requantization
#   records, harness/plan/requant.py, the bias folded in as one of their fields), bias and bias_inside of
#   the optimized kernels (int32 per channel, added to the sum before requantization; bias_inside has the
#   input offset folded in), the int16 softmax's lookup tables (exp_lut, one_over_one_plus_x_lut).
_WEIGHTS = re.compile(r"t\d+|op\d+_weights")
_QUANT = re.compile(r"op\d+_\w+")
_OP_PARAMS = re.compile(r"op\d+|ops|tm_model|more_inputs|more_outputs")


def breakdown(elf_path: Path, stack: int | None = None) -> dict[str, int]:
    """Bytes per part, like the MicroNets paper's Figure 2: runtime code, weights, quantization tables,
    kernel parameters, other constants and data, arena, input buffer, stack."""
    parts = dict.fromkeys(("code", "weights", "quant tables", "op params", "other const", "arena",
                           "input buffer", "other RAM", "stack"), 0)
    elf = read_elf(elf_path)
    sections = [s for s in elf.sections if s.alloc and s.size]
    code = sum(s.size for s in sections if s.code)
    const = sum(s.size for s in sections if not (s.code or s.write))
    ram = sum(s.size for s in sections if s.write)
    for sym in elf.symbols:
        if sym.kind != "STT_OBJECT" or not sym.size:
            continue
        key = ("weights" if _WEIGHTS.fullmatch(sym.name) else
               "quant tables" if _QUANT.fullmatch(sym.name) else
               "op params" if _OP_PARAMS.fullmatch(sym.name) else
               "arena" if sym.name == "tm_arena" else
               "input buffer" if sym.name == "tm_db_buffer" else None)
        if key:
            parts[key] += sym.size
    parts["code"] = code
    parts["other const"] = const - parts["weights"] - parts["quant tables"] - parts["op params"]
    parts["other RAM"] = ram - parts["arena"] - parts["input buffer"]
    parts["stack"] = stack or 0
    return parts
