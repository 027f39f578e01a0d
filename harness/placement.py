"""Where the hot code and the arena go on boards with tightly coupled memories (the F7s' ITCM and DTCM).

The planner names the kernel functions a model runs, hottest (most MACs) first, in a marker line of the
generated model image (harness/plan/emit.py). From a first link with everything in flash, this module
takes each hot function with the functions it calls (its direct BL/B.W targets, read with capstone) and
moves whole groups into ITCM while they fit, hottest first; a group that does not fit stays in flash
(veneers keep the calls working both ways). The arena goes first in DTCM when the first link left it
(partly) outside DTCM and it fits there. The second link (harness/build.py) applies the decision; the
ITCM region and its size come from the board's .repl, never from here.

Boards without an `itcm` region (the F446RE) get no placement: their linker script is unchanged."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import capstone
import capstone.arm as A

from harness.board import Board
from harness.elf import read_elf

# ITCM starts at address 0: the first bytes stay unused so no kept function starts at 0, which DWARF
# readers take for a function --gc-sections dropped (harness/codesize.py skips low_pc 0), and which reads
# as "no address" wherever an address is tested for truth.
NULL_GUARD = 16
# A call between ITCM and flash (0x0 vs 0x08000000, beyond BL's +-16 MB) goes through a linker veneer
# (LDR.W PC, [PC] and a literal address, 8 bytes) placed next to the caller: counted per external callee.
VENEER = 8
ARENA = "tm_arena"


@dataclass(frozen=True)
class Placement:
    itcm: tuple[str, ...] = ()          # function names whose `.text.<name>` input sections go to ITCM
    itcm_estimate: int = 0              # bytes they take with veneers and alignment, by the first link
    in_flash: tuple[str, ...] = ()      # hot kernels left in flash: their group did not fit
    arena_first: bool = False           # tm_arena first in DTCM

    @property
    def empty(self) -> bool:
        return not self.itcm and not self.arena_first

    def without_coldest(self, groups: list[tuple[str, ...]]) -> "Placement":
        """The same decision with the coldest placed group moved back to flash (after the real link
        overflowed ITCM, which the estimate should prevent)."""
        placed = [g for g in groups if g[0] not in self.in_flash and set(g) <= set(self.itcm)]
        if not placed:
            return self
        drop = set(placed[-1]) - {f for g in placed[:-1] for f in g}
        return Placement(tuple(f for f in self.itcm if f not in drop), self.itcm_estimate,
                         self.in_flash + (placed[-1][0],), self.arena_first)

    def describe(self) -> str:
        """The record kept with the build (placement.txt next to the ELF)."""
        return (f"itcm: {' '.join(self.itcm) or '-'}\n"
                f"itcm-estimate: {self.itcm_estimate}\n"
                f"hot-in-flash: {' '.join(self.in_flash) or '-'}\n"
                f"arena-first-in-dtcm: {'yes' if self.arena_first else 'no'}\n")


def itcm_region(board: Board):
    return next((r for r in board.regions if r.name == "itcm"), None)


def dtcm_region(board: Board):
    return next((r for r in board.regions if r.name == "dtcm"), None)


def wants_placement(board: Board) -> bool:
    return itcm_region(board) is not None or dtcm_region(board) is not None


@dataclass
class _Func:
    addr: int
    size: int
    code: bytes = b""
    _callees: set[str] | None = None

    def callees(self, by_addr: list[tuple[int, int, str]]) -> set[str]:
        """Functions this one calls or tail-calls directly (BL / B.W to another function), decoded once."""
        if self._callees is None:
            self._callees = set()
            for insn in _CS.disasm(self.code, self.addr):
                if insn.id in (A.ARM_INS_BL, A.ARM_INS_B) and insn.operands and insn.operands[0].type == A.ARM_OP_IMM:
                    target = insn.operands[0].imm
                    if not self.addr <= target < self.addr + self.size:       # not a branch inside
                        self._callees.update(name for lo, hi, name in by_addr if lo <= target < hi)
        return self._callees


_CS = capstone.Cs(capstone.CS_ARCH_ARM, capstone.CS_MODE_THUMB | capstone.CS_MODE_MCLASS)
_CS.detail = True


@dataclass
class _Image:
    funcs: dict[str, _Func]
    objects: dict[str, tuple[int, int]]          # data symbol -> (address, size)
    by_addr: list[tuple[int, int, str]]

    def callees(self, name: str) -> set[str]:
        return self.funcs[name].callees(self.by_addr)


def _image(elf_path: Path) -> _Image:
    funcs: dict[str, _Func] = {}
    objects: dict[str, tuple[int, int]] = {}
    elf = read_elf(elf_path)
    code = [(sec.addr, sec.data) for sec in elf.sections if sec.data is not None]   # the code sections
    for s in elf.symbols:
        if s.kind == "STT_FUNC" and s.size and s.name and s.name not in funcs:
            addr = s.value & ~1
            blob = next((d[addr - a:addr - a + s.size] for a, d in code if a <= addr < a + len(d)), b"")
            funcs[s.name] = _Func(addr, s.size, blob)
        elif s.kind == "STT_OBJECT" and s.name:
            objects[s.name] = (s.value, s.size)
    return _Image(funcs, objects, sorted((fn.addr, fn.addr + fn.size, n) for n, fn in funcs.items()))


def call_graph(elf_path: Path) -> dict[str, tuple[int, set[str]]]:
    """Every function of the ELF (ours and the libraries') -> (its bytes, the functions it calls or
    tail-calls directly): what a kernel pulls into the image is its closure (harness/costmodel.py)."""
    image = _image(elf_path)
    return {name: (fn.size, image.callees(name)) for name, fn in image.funcs.items()}


def closure(graph: dict[str, tuple[int, set[str]]], root: str) -> set[str]:
    """`root` and every function it reaches by direct calls."""
    out, todo = set(), [root]
    while todo:
        f = todo.pop()
        if f in out or f not in graph:
            continue
        out.add(f)
        todo.extend(graph[f][1])
    return out


def _own_sections(map_text: str) -> set[str]:
    """Functions compiled into their own input section `.text.<name>` (our sources, -ffunction-sections),
    from the first link's map: only those can be named in the linker script. Library code (newlib's
    memcpy, in a plain `.text`) stays in flash and is reached through a veneer."""
    kept = map_text.split("Linker script and memory map", 1)[-1]
    return set(re.findall(r"^ \.text\.(\S+)", kept, re.MULTILINE))


def _group(name: str, image: _Image, movable: set[str]) -> tuple[str, ...]:
    """`name` and everything it reaches by direct calls that can move, depth first."""
    out, todo = [], [name]
    while todo:
        f = todo.pop()
        if f in out or f not in movable or f not in image.funcs:
            continue
        out.append(f)
        todo.extend(sorted(image.callees(f), reverse=True))
    return tuple(out)


def _cost(names: list[str], image: _Image) -> int:
    """Bytes in ITCM: each function aligned to 4, plus a veneer per callee left outside."""
    inside = set(names)
    outside = {c for n in names for c in image.callees(n) if c not in inside}
    return sum(-(-image.funcs[n].size // 4) * 4 for n in names) + VENEER * len(outside)


def groups(hot: list[str], image: _Image, map_text: str) -> list[tuple[str, ...]]:
    """Per hot function (hottest first), the group that moves with it."""
    movable = _own_sections(map_text)
    return [g for g in (_group(h, image, movable) for h in hot) if g]


def decide(board: Board, hot: list[str], elf_path: Path, map_text: str) -> tuple[Placement, list[tuple[str, ...]]]:
    """The placement for `board` from the first (all-in-flash) link at `elf_path`, and the groups of
    functions it weighed."""
    itcm, dtcm = itcm_region(board), dtcm_region(board)
    image = _image(elf_path)
    grouped = groups(hot, image, map_text) if itcm is not None else []
    chosen: list[str] = []
    in_flash: list[str] = []
    if itcm is not None:
        budget = itcm.size - NULL_GUARD
        for g in grouped:
            trial = chosen + [f for f in g if f not in chosen]
            if _cost(trial, image) <= budget:
                chosen = trial
            else:
                in_flash.append(g[0])
    arena_first = False
    if dtcm is not None and ARENA in image.objects:
        addr, size = image.objects[ARENA]
        arena_first = addr + size > dtcm.end and size <= dtcm.size
    return Placement(tuple(chosen), _cost(chosen, image) if chosen else 0, tuple(in_flash), arena_first), grouped
