"""An ELF's facts read once: its loadable segments, sections and symbols (pyelftools), cached per file
version, so the fit, the memory breakdown, the emulator's image and code map and the ITCM placement of one
cell share one parse instead of opening the file five times."""
from __future__ import annotations

import functools
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError

SHF_WRITE, SHF_ALLOC, SHF_EXECINSTR = 0x1, 0x2, 0x4


@dataclass(frozen=True)
class Segment:
    paddr: int            # where it is loaded (LMA)
    data: bytes           # its file bytes (p_filesz of them)


@dataclass(frozen=True)
class Section:
    index: int
    name: str
    addr: int
    size: int
    flags: int
    type: str
    data: bytes | None    # the bytes of code sections (SHT_PROGBITS, executable); None for the others

    @property
    def alloc(self) -> bool:
        return bool(self.flags & SHF_ALLOC)

    @property
    def write(self) -> bool:
        return bool(self.flags & SHF_WRITE)

    @property
    def code(self) -> bool:
        return bool(self.flags & SHF_EXECINSTR)


@dataclass(frozen=True)
class Symbol:
    name: str
    value: int
    size: int
    kind: str             # STT_FUNC, STT_OBJECT, STT_NOTYPE, ...
    shndx: int | str      # the section's index, or SHN_UNDEF / SHN_ABS / ...


@dataclass(frozen=True)
class ElfFacts:
    path: Path
    machine: str
    segments: tuple[Segment, ...]
    sections: tuple[Section, ...]
    symbols: tuple[Symbol, ...]      # in the symbol table's order (first definitions first)


@contextmanager
def open_elf(path: Path | str):
    """pyelftools' ELFFile of `path`, with what goes wrong on a file that is no ELF (absent, a folder,
    empty, truncated, other bytes) a HarnessError naming the file, not pyelftools' or the OS's traceback."""
    from elftools.common.exceptions import ELFError
    path = Path(path)
    if not path.is_file():
        raise HarnessError(f"no ELF file at {path}" + (" (a folder)" if path.is_dir() else ""))
    try:
        with open(path, "rb") as f:
            yield _elf_file(f)
    except ELFError as e:
        raise HarnessError(f"{path}: not a readable ELF file ({e})") from None
    except OSError as e:
        raise HarnessError(f"{path}: {e.strerror or e}") from None


def _elf_file(f):
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile
    try:
        return ELFFile(f)
    except ELFError:
        raise
    except Exception as e:     # pyelftools raises struct/construct errors on some truncated headers
        raise ELFError(f"{type(e).__name__}: {e}") from None


def read_elf(path: Path | str) -> ElfFacts:
    """The facts of the ELF at `path`, parsed once per version of the file (path, size and mtime): a
    rebuilt file is read again. A file that is no readable ELF raises HarnessError naming it."""
    p = Path(path).resolve()
    if not p.is_file():
        with open_elf(p):          # the one-line error for a missing file or a folder
            pass
    st = p.stat()
    return _read(p, st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=32)
def _read(path: Path, size: int, mtime_ns: int) -> ElfFacts:
    del size, mtime_ns             # the cache key only
    with open_elf(path) as elf:
        segments = tuple(Segment(seg["p_paddr"], seg.data()[:seg["p_filesz"]]) for seg in elf.iter_segments()
                         if seg["p_type"] == "PT_LOAD" and seg["p_filesz"] > 0)
        sections = tuple(
            Section(i, s.name, s["sh_addr"], s["sh_size"], s["sh_flags"], s["sh_type"],
                    s.data() if s["sh_type"] == "SHT_PROGBITS" and s["sh_flags"] & SHF_EXECINSTR else None)
            for i, s in enumerate(elf.iter_sections()))
        symtab = elf.get_section_by_name(".symtab")
        symbols = tuple(Symbol(s.name, s["st_value"], s["st_size"], s["st_info"]["type"], s["st_shndx"])
                        for s in (symtab.iter_symbols() if symtab else ()))
        return ElfFacts(path, elf["e_machine"], segments, sections, symbols)
