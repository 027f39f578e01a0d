"""Flash taken by the runtime's code in a firmware image: the functions compiled from firmware/kernels and
firmware/runtime that the linker kept (the model's kernels, the executor), by function, from the ELF's
DWARF (each compile unit's source path, each function's address range). Inlined helpers are inside
their callers' bytes; functions --gc-sections dropped have no address and are not counted."""
from __future__ import annotations

from pathlib import Path

from elftools.elf.elffile import ELFFile

_DIRS = ("/kernels/", "/runtime/")


def runtime_code(elf_path: Path | str) -> dict[str, int]:
    """Function name -> bytes of code, for the functions of firmware/kernels and firmware/runtime."""
    out: dict[str, int] = {}
    with open(elf_path, "rb") as f:
        elf = ELFFile(f)
        if not elf.has_dwarf_info():
            return out
        for cu in elf.get_dwarf_info().iter_CUs():
            top = cu.get_top_DIE()
            name = top.attributes.get("DW_AT_name")
            if name is None or not any(d in name.value.decode() for d in _DIRS):
                continue
            for die in cu.iter_DIEs():
                attrs = die.attributes
                if die.tag != "DW_TAG_subprogram" or "DW_AT_low_pc" not in attrs or "DW_AT_high_pc" not in attrs:
                    continue
                low, high = attrs["DW_AT_low_pc"].value, attrs["DW_AT_high_pc"]
                size = high.value - low if high.form == "DW_FORM_addr" else high.value   # DWARF 4+: a length
                if low and size > 0:
                    out[_name(die, low)] = size
    return out


def _name(die, low: int) -> str:
    """A function's name; an out-of-line copy the compiler made of an inlined or specialised function
    (`foo.constprop.0`) names its origin, so it is keyed `foo@<address>`."""
    if "DW_AT_name" in die.attributes:
        return die.attributes["DW_AT_name"].value.decode()
    for ref in ("DW_AT_abstract_origin", "DW_AT_specification"):
        if ref in die.attributes:
            origin = die.get_DIE_from_attribute(ref)
            if "DW_AT_name" in origin.attributes:
                return f"{origin.attributes['DW_AT_name'].value.decode()}@{low:#x}"
    return f"?@{low:#x}"


def runtime_code_bytes(elf_path: Path | str) -> int:
    return sum(runtime_code(elf_path).values())
