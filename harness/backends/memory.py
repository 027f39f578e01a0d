"""The memory system around the core, from the board's facts: the geometry the native model needs
(native/blockcount.c, `bc_mm_*`) and which registers switch its parts on.

The core's cost tables (cycles_m4.py, cycles_m7.py) price instructions at zero wait states. What the memory
system adds on the instruction side, and the documents behind each part (docs/cycle-model.md, "Memory
system"):
- STM32F446 (`//! art:`): the ART accelerator on the flash's I-code path (RM0390, "Embedded Flash memory
  interface", "Adaptive real-time memory accelerator"): a flash read takes FLASH_ACR.LATENCY wait states;
  the prefetch buffer reads the next sequential 128-bit line while the current one executes (PRFTEN; the
  current line must take latency + 1 cycles for it to be hidden); an instruction cache of 64 lines of 128
  bits keeps lines against jumps (ICEN). RM0390 does not give the cache's organisation: the model takes it
  fully associative with least-recently-used replacement.
- STM32F7 (`//! cache:`): code at the AXIM address of the flash (0x08000000) goes through the Cortex-M7's
  L1 I-cache (Cortex-M7 TRM: 2-way, 32-byte lines; the size per chip; SCB CCR.IC). The ART and its prefetch
  serve only the flash's ITCM interface (RM0385, "Embedded Flash memory"; AN4667, the F7's memory paths),
  so a miss reads the flash at FLASH_ACR.LATENCY, and there is no prefetch on this path.
The data side (native/blockcount.c bc_mem_hook), the same documents:
- STM32F446: the ART's data cache, 8 lines of 128 bits (FLASH_ACR.DCEN; RM0390), in front of the flash's
  D-code path: a load from the flash waits FLASH_ACR.LATENCY cycles unless the cache holds its line (fully
  associative LRU, as the instruction cache). Only the flash goes through it; SRAM is zero wait.
- STM32F7: the Cortex-M7's L1 D-cache (Cortex-M7 TRM: 4-way, 32-byte lines; SCB CCR.DC). The flash at its
  AXIM address is Normal cacheable memory (ARMv7-M default memory map) and a line fill reads the flash at
  FLASH_ACR.LATENCY; SRAM1/SRAM2 (SRAM region: write-back, write-allocate) share the cache's lines, so the
  arena's traffic evicts the weights' lines, but a fill from SRAM waits nothing the documents quantify (0);
  the DTCM is not cached.
Not modelled, for want of a documented figure: contention between instruction and data reads on the
flash interface, and the M7's AXI bus latency on SRAM line fills.
"""
from __future__ import annotations

from dataclasses import dataclass

from harness.backends.peripherals import Stm32FlashController, SystemControlSpace
from harness.board import Board


@dataclass(frozen=True)
class Cache:
    size: int        # bytes
    ways: int
    line: int        # bytes

    @property
    def sets(self) -> int:
        return self.size // (self.ways * self.line)


@dataclass(frozen=True)
class MemorySystem:
    kind: str                          # "art" (F4: ART accelerator) | "l1" (F7: Cortex-M7 L1 cache)
    flash: tuple[int, int]             # [lo, hi) as the core fetches it
    icache: Cache                      # its line is the line the fetch side reads
    dcache: Cache | None = None        # the data side's cache (None: the .repl gives none)
    # [lo, hi) ranges whose data accesses the data side sees, and whether their writes allocate lines
    data_ranges: tuple[tuple[int, int, bool], ...] = ()

    def state(self, flash: Stm32FlashController | None,
              scs: SystemControlSpace | None) -> tuple[int, bool, bool, bool]:
        """(flash wait states, the prefetch buffer feeds the core, the I-cache is on, the D-cache is on) as
        the firmware set FLASH_ACR (LATENCY, PRFTEN, ICEN, DCEN) and, on the M7, SCB CCR.IC and CCR.DC."""
        latency = flash.latency if flash is not None else 0
        if self.kind == "art":
            return (latency, flash is not None and flash.prefetch, flash is not None and flash.accelerated,
                    flash is not None and flash.data_cache)
        ccr = scs.stored(SystemControlSpace.CCR) if scs is not None else 0
        return latency, False, bool(ccr & SystemControlSpace.CCR_IC), bool(ccr & SystemControlSpace.CCR_DC)


def _int(board: Board, group: str, key: str) -> int:
    return int(board.fact(group, key), 0)


def memory_system(board: Board) -> MemorySystem | None:
    """The board's memory system, or None when its .repl describes none (fetches then cost nothing)."""
    flash = board.flash
    span = (flash.base, flash.base + flash.size)
    if "art" in board.facts:
        line, size = _int(board, "art", "line"), _int(board, "art", "icache")
        dsize = _int(board, "art", "dcache")
        return MemorySystem("art", span, Cache(size, size // line, line), Cache(dsize, dsize // line, line),
                            ((span[0], span[1], False),))
    if "cache" in board.facts:
        line = _int(board, "cache", "line")
        # the SRAM the D-cache serves: every RAM region but the TCMs (not cached, by the M7's design)
        sram = tuple((r.base, r.end, True) for r in board.ram_regions if "tcm" not in r.name)
        return MemorySystem("l1", span, Cache(_int(board, "cache", "icache"), _int(board, "cache", "iways"), line),
                            Cache(_int(board, "cache", "dcache"), _int(board, "cache", "ways"), line),
                            ((span[0], span[1], False),) + sram)
    return None
