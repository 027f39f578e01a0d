"""An ELF image for the emulated board: loadable segments, symbols, function table (harness/elf.py)."""
from __future__ import annotations

import bisect
from pathlib import Path

from harness.elf import read_elf
from harness.errors import HarnessError


class Image:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.segments: list[tuple[int, bytes]] = []
        self.symbols: dict[str, int] = {}
        funcs, objects = [], []
        elf = read_elf(self.path)
        if elf.machine != "EM_ARM":
            raise HarnessError(f"{self.path}: not an ARM ELF")
        self.segments = [(seg.paddr, seg.data) for seg in elf.segments]
        for sym in elf.symbols:
            if not sym.name or sym.shndx == "SHN_UNDEF" or sym.name.startswith("$"):
                continue
            value = sym.value & ~1 if sym.kind == "STT_FUNC" else sym.value    # Thumb bit off
            if sym.kind == "STT_FUNC":
                funcs.append((value, sym.size, sym.name))
            elif sym.kind == "STT_OBJECT":
                objects.append((value, sym.size, sym.name))
            self.symbols.setdefault(sym.name, value)
        self._tables = [sorted(funcs), sorted(objects)]
        self.functions: list[tuple[int, int, str]] = self._tables[0]   # (start, size, name), by address
        self._starts = [[s[0] for s in t] for t in self._tables]

    def symbol_at(self, addr: int) -> str | None:
        for table, starts in zip(self._tables, self._starts):
            i = bisect.bisect_right(starts, addr) - 1
            while i >= 0 and table[i][0] <= addr:
                start, size, name = table[i]
                if addr < start + max(size, 1):
                    return name if addr == start else f"{name}+0x{addr - start:x}"
                if start + size <= addr and size:
                    break
                i -= 1
        return None
