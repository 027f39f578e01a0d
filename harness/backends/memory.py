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
The data side (weights and constants read from the flash through the ART's or the L1 D-cache) is not
modelled: see EmulatedBoard._setup_memory_system.
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

    def state(self, flash: Stm32FlashController | None, scs: SystemControlSpace | None) -> tuple[int, bool, bool]:
        """(flash wait states, the prefetch buffer feeds the core, the I-cache is on) as the firmware set
        FLASH_ACR (LATENCY, PRFTEN, ICEN) and, on the M7, SCB CCR.IC."""
        latency = flash.latency if flash is not None else 0
        if self.kind == "art":
            return latency, flash is not None and flash.prefetch, flash is not None and flash.accelerated
        return latency, False, scs is not None and bool(scs.stored(SystemControlSpace.CCR) & SystemControlSpace.CCR_IC)


def _int(board: Board, group: str, key: str) -> int:
    return int(board.fact(group, key), 0)


def memory_system(board: Board) -> MemorySystem | None:
    """The board's memory system, or None when its .repl describes none (fetches then cost nothing)."""
    flash = board.flash
    span = (flash.base, flash.base + flash.size)
    if "art" in board.facts:
        line, size = _int(board, "art", "line"), _int(board, "art", "icache")
        return MemorySystem("art", span, Cache(size, size // line, line))
    if "cache" in board.facts:
        return MemorySystem("l1", span, Cache(_int(board, "cache", "icache"), _int(board, "cache", "iways"),
                                              _int(board, "cache", "line")))
    return None
