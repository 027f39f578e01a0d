"""An ELF image for the emulated board: loadable segments, symbols, function table (harness/elf.py)."""
from __future__ import annotations

import bisect
from pathlib import Path

from harness.elf import read_elf
from harness.errors import HarnessError


ELF_MAGIC = b"\x7fELF"


def is_elf(path: Path) -> bool:
    """Whether the file starts as an ELF does (a raw image, as vendors ship them, does not)."""
    try:
        with open(path, "rb") as f:
            return f.read(4) == ELF_MAGIC
    except OSError:
        return False


class Image:
    """The ELF at `path`, or with `load_address` a raw binary image (objcopy -O binary) loaded there: one
    segment, no symbols, no code map, so the checks that need to know where code is cannot run
    (EmulatedBoard.skipped_checks names them)."""

    def __init__(self, path: Path, load_address: int | None = None):
        self.path = Path(path)
        self.segments: list[tuple[int, bytes]] = []
        self.symbols: dict[str, int] = {}
        self.load_address = load_address
        funcs, objects = [], []
        if load_address is not None:
            self.segments.append((load_address, _raw_bytes(self.path)))
            self._tables = [[], []]
            self.functions = []
            self._starts = [[], []]
            return
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

    @property
    def raw(self) -> bool:
        return self.load_address is not None

    def code_ranges(self) -> list[tuple[int, int]]:
        """Thumb code runs from the ELF's mapping symbols; none for a raw image."""
        if self.raw:
            return []
        from harness.backends.cycles import elf_code_ranges
        return elf_code_ranges(self.path)

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


def _raw_bytes(path: Path) -> bytes:
    if not path.is_file():
        raise HarnessError(f"no image file at {path}" + (" (a folder)" if path.is_dir() else ""))
    try:
        data = path.read_bytes()
    except OSError as e:
        raise HarnessError(f"{path}: {e.strerror or e}") from None
    if not data:
        raise HarnessError(f"{path}: an empty image")
    return data
