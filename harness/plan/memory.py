"""Offline arena plan: every non-constant tensor gets an offset, reusing memory across disjoint lifetimes.

Aliases: a tensor can be declared to share another's bytes (RESHAPE, SQUEEZE, EXPAND_DIMS: the same bytes
under another shape, so no kernel runs at all), or to be a view: bytes at an offset inside another tensor
(patch-based plans: a tile's rows that a kernel writes or reads inside a larger tile buffer). Aliased tensors
form one group, placed once, as large as its members reach, live from the first step any member is live to
the last; every member gets the group's offset plus its own delta."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

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
    offset: int = 0    # the target's first byte is this far into the source's bytes (a view); 0 for a reshape


@dataclass
class Plan:
    offsets: dict[int, int]
    arena_bytes: int
    lower_bound: int  # largest sum of buffer sizes live at one step
    aliases: dict[int, int] = field(default_factory=dict)   # aliased tensor -> the group's root tensor
    deltas: dict[int, int] = field(default_factory=dict)    # aliased tensor -> its bytes' offset in the root's


def _align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


class GreedyPlanner:
    """Each buffer, in one of a few orders, at the lowest aligned offset no live-overlapping buffer uses."""

    def __init__(self) -> None:
        self.buffers: list[Buffer] = []
        self._parent: dict[int, int] = {}
        self._delta: dict[int, int] = {}      # key -> offset of its bytes in its parent's (>= 0)

    def add_buffer(self, key: int, size: int, first: int, last: int) -> None:
        self.buffers.append(Buffer(key, size, first, last))

    def add_alias(self, key: int, of: int, offset: int = 0) -> None:
        """Buffer `key` shares the bytes of buffer `of`, from `offset` bytes into them (both must also be
        added with add_buffer). The group's root is the member whose bytes start first."""
        (a, da), (b, db) = self._find(key), self._find(of)
        if a == b:
            if da != db + offset:
                raise ValueError(f"buffer {key} aliased at two offsets of buffer {of}")
            return
        shift = db + offset - da              # where root a starts in root b's bytes
        if shift >= 0:
            self._parent[a], self._delta[a] = b, shift
        else:
            self._parent[b], self._delta[b] = a, -shift

    def _find(self, key: int) -> tuple[int, int]:
        """The group's root and the offset of `key`'s bytes in the root's."""
        delta = 0
        while self._parent.get(key, key) != key:
            delta += self._delta[key]
            key = self._parent[key]
        return key, delta

    def _root(self, key: int) -> int:
        return self._find(key)[0]

    def _groups(self) -> list[Buffer]:
        """One buffer per alias group, keyed by its root: as far as any member reaches, the union of the
        lifetimes."""
        merged: dict[int, Buffer] = {}
        for b in self.buffers:
            r, delta = self._find(b.key)
            m = merged.get(r)
            end = delta + b.size
            merged[r] = Buffer(r, end, b.first, b.last) if m is None else Buffer(
                r, max(m.size, end), min(m.first, b.first), max(m.last, b.last))
        return [Buffer(r, b.size, b.first, b.last) for r, b in merged.items()]

    def live_bytes(self) -> list[int]:
        """Per step, the bytes of the groups live at it: what any placement needs at least."""
        groups = self._groups()
        steps = max((b.last for b in groups), default=-1) + 1
        live = [0] * (steps + 1)
        for b in groups:
            live[b.first] += b.size
            live[b.last + 1] -= b.size
        return [int(v) for v in np.cumsum(live[:steps])]

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
        # The buffers placed so far as arrays, so that finding the ones whose lives overlap is one vector
        # operation (patched graphs have thousands of buffers); the walk over their offsets is as before.
        todo = sorted(buffers, key=order)
        first = np.array([b.first for b in todo], np.int64)
        last = np.array([b.last for b in todo], np.int64)
        start = np.zeros(len(todo), np.int64)
        end = np.zeros(len(todo), np.int64)
        placed: list[tuple[Buffer, int]] = []
        for i, b in enumerate(todo):
            hit = np.flatnonzero((first[:i] <= b.last) & (b.first <= last[:i]))
            offset = 0
            for k in hit[np.lexsort((end[hit], start[hit]))]:
                if offset + b.size <= start[k]:
                    break
                offset = max(offset, int(end[k]))
            start[i], end[i] = offset, offset + _align(b.size)
            placed.append((b, offset))
        return placed

    def plan(self) -> Plan:
        buffers = self._groups()
        placed = min((self._place(buffers, order) for order in self.ORDERS.values()),
                     key=lambda p: max((off + _align(b.size) for b, off in p), default=0))
        arena = max((off + _align(b.size) for b, off in placed), default=0)
        lower = max(self.live_bytes(), default=0)
        offsets = {b.key: off for b, off in placed}
        found = {b.key: self._find(b.key) for b in self.buffers}
        aliases = {key: root for key, (root, _) in found.items() if root != key}
        deltas = {key: found[key][1] for key in aliases}
        for key, root in aliases.items():
            offsets[key] = offsets[root] + deltas[key]
        return Plan(offsets, arena, lower, aliases, deltas)
