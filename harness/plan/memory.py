"""Offline arena plan: every non-constant tensor gets an offset, reusing memory across disjoint lifetimes.

Aliases: a tensor can be declared to share another's bytes (RESHAPE, SQUEEZE, EXPAND_DIMS: the same bytes
under another shape, so no kernel runs at all). Aliased tensors form one group, placed once, live from the
first step any member is live to the last; every member gets the group's offset."""
from __future__ import annotations

from dataclasses import dataclass, field

ALIGN = 16


@dataclass(frozen=True)
class Buffer:
    key: int          # tensor index
    size: int
    first: int        # first op step at which it is live
    last: int         # last op step at which it is live


@dataclass(frozen=True)
class Alias:
    """What an op lowers to when it needs no kernel: tensor `target` is tensor `source`'s bytes."""
    source: int
    target: int


@dataclass
class Plan:
    offsets: dict[int, int]
    arena_bytes: int
    lower_bound: int  # largest sum of buffer sizes live at one step
    aliases: dict[int, int] = field(default_factory=dict)   # aliased tensor -> the group's root tensor


def _align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


class GreedyPlanner:
    """Each buffer, in one of a few orders, at the lowest aligned offset no live-overlapping buffer uses."""

    def __init__(self) -> None:
        self.buffers: list[Buffer] = []
        self._parent: dict[int, int] = {}

    def add_buffer(self, key: int, size: int, first: int, last: int) -> None:
        self.buffers.append(Buffer(key, size, first, last))

    def add_alias(self, key: int, of: int) -> None:
        """Buffer `key` shares the bytes of buffer `of` (both must also be added with add_buffer)."""
        a, b = self._root(key), self._root(of)
        if a != b:
            self._parent[a] = b

    def _root(self, key: int) -> int:
        while self._parent.get(key, key) != key:
            key = self._parent[key]
        return key

    def _groups(self) -> list[Buffer]:
        """One buffer per alias group, keyed by its root: the largest size, the union of the lifetimes."""
        merged: dict[int, Buffer] = {}
        for b in self.buffers:
            r = self._root(b.key)
            m = merged.get(r)
            merged[r] = b if m is None else Buffer(r, max(m.size, b.size), min(m.first, b.first),
                                                   max(m.last, b.last))
        return [Buffer(r, b.size, b.first, b.last) for r, b in merged.items()]

    # Placement orders tried; the plan with the smallest arena wins. Largest-first is TFLM's greedy
    # order; the others win on graphs whose big tensors have short lives (e.g. residual branches).
    ORDERS = {
        "size": lambda b: (-b.size, b.first, b.key),
        "size x lifetime": lambda b: (-b.size * (b.last - b.first + 1), b.first, b.key),
        "first use": lambda b: (b.first, -b.size, b.key),
        "longest life": lambda b: (-(b.last - b.first), -b.size, b.key),
    }

    @staticmethod
    def _place(buffers: list[Buffer], order) -> list[tuple[Buffer, int]]:
        placed: list[tuple[Buffer, int]] = []
        for b in sorted(buffers, key=order):
            clashes = sorted((off, off + _align(o.size)) for o, off in placed
                             if o.first <= b.last and b.first <= o.last)
            offset = 0
            for start, end in clashes:
                if offset + b.size <= start:
                    break
                offset = max(offset, end)
            placed.append((b, offset))
        return placed

    def plan(self) -> Plan:
        buffers = self._groups()
        placed = min((self._place(buffers, order) for order in self.ORDERS.values()),
                     key=lambda p: max((off + _align(b.size) for b, off in p), default=0))
        arena = max((off + _align(b.size) for b, off in placed), default=0)
        steps = {s for b in buffers for s in (b.first, b.last)}
        lower = max((sum(b.size for b in buffers if b.first <= s <= b.last) for s in steps), default=0)
        offsets = {b.key: off for b, off in placed}
        aliases = {b.key: self._root(b.key) for b in self.buffers if self._root(b.key) != b.key}
        for key, root in aliases.items():
            offsets[key] = offsets[root]
        return Plan(offsets, arena, lower, aliases)
