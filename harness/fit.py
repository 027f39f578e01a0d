"""Static fit from the linked ELF: bytes each memory region of the board holds, against its size.

Flash holds everything loaded (code, constants, the initial values of .data); RAM holds .data, .bss
(the arena included) and the stack, whose depth only a run can tell (its painted high-water mark).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile

from harness.board import Board


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


def _alloc_ranges(elf_path: Path) -> tuple[list[tuple[int, int]], list[tuple[int, int]], dict[str, int]]:
    """(load ranges in memory as placed at reset, run-time RAM ranges, symbols)."""
    with open(elf_path, "rb") as f:
        elf = ELFFile(f)
        loads = [(seg["p_paddr"], seg["p_filesz"]) for seg in elf.iter_segments()
                 if seg["p_type"] == "PT_LOAD" and seg["p_filesz"]]
        ram = [(s["sh_addr"], s["sh_size"]) for s in elf.iter_sections()
               if s["sh_flags"] & SH_FLAGS.SHF_ALLOC and s["sh_flags"] & SH_FLAGS.SHF_WRITE and s["sh_size"]]
        symtab = elf.get_section_by_name(".symtab")
        syms = {s.name: s["st_value"] for s in symtab.iter_symbols() if s.name} if symtab else {}
    return loads, ram, syms


def _overlap(ranges: list[tuple[int, int]], base: int, end: int) -> int:
    return sum(max(0, min(a + n, end) - max(a, base)) for a, n in ranges)


def static_fit(board: Board, elf_path: Path, stack: int | None = None) -> Fit:
    loads, ram, syms = _alloc_ranges(elf_path)
    static_ram = sum(n for _, n in ram)
    ram_use = list(ram)
    if stack is not None:
        ram_use.append((syms["_estack"] - stack, stack))
    flash = board.flash
    regions = [RegionUse(r.name, _overlap(loads if r.readonly else ram_use, r.base, r.end), r.size)
               for r in board.regions]
    used_flash = _overlap(loads, flash.base, flash.end)
    # Anything loaded outside every region means the image cannot be placed at all.
    outside = sum(n for _, n in loads) - sum(_overlap(loads, r.base, r.end) for r in board.regions)
    return Fit(
        flash=RegionUse(flash.name, used_flash + outside, flash.size),
        sram=RegionUse("sram", static_ram + (stack or 0), board.sram_size),
        regions=regions, static_ram=static_ram, stack=stack,
    )
