"""Offline arena plan: every non-constant tensor gets an offset, reusing memory across disjoint lifetimes."""
from __future__ import annotations

from dataclasses import dataclass

ALIGN = 16


@dataclass(frozen=True)
class Buffer:
    key: int          # tensor index
    size: int
    first: int        # first op step at which it is live
    last: int         # last op step at which it is live


@dataclass
class Plan:
    offsets: dict[int, int]
    arena_bytes: int
    lower_bound: int  # largest sum of buffer sizes live at one step


def _align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


class GreedyPlanner:
    """Largest buffers first, each at the lowest aligned offset that no live-overlapping buffer uses."""

    def __init__(self) -> None:
        self.buffers: list[Buffer] = []

    def add_buffer(self, key: int, size: int, first: int, last: int) -> None:
        self.buffers.append(Buffer(key, size, first, last))

    def plan(self) -> Plan:
        placed: list[tuple[Buffer, int]] = []
        for b in sorted(self.buffers, key=lambda b: (-b.size, b.first, b.key)):
            clashes = sorted((off, off + _align(o.size)) for o, off in placed
                             if o.first <= b.last and b.first <= o.last)
            offset = 0
            for start, end in clashes:
                if offset + b.size <= start:
                    break
                offset = max(offset, end)
            placed.append((b, offset))
        arena = max((off + _align(b.size) for b, off in placed), default=0)
        steps = {s for b in self.buffers for s in (b.first, b.last)}
        lower = max((sum(b.size for b in self.buffers if b.first <= s <= b.last) for s in steps), default=0)
        return Plan({b.key: off for b, off in placed}, arena, lower)
