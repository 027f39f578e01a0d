"""Address ranges the board does not model, named by the .repl's Renode `Tag` lines (harness/board.py Tag).

As in Renode, a read gives the tag's value (0 without one) and a write is dropped. A tag with a value is a
board fact the firmware may read (the unique ID, DBGMCU_IDCODE, the flash size): served silently. A tag
without one is a peripheral the board does not model: the first access names it in `engine.warnings`
(once per tag); with `strict` the run stops with an error instead. An access in a tagged page but outside
every tag is named by its address."""
from __future__ import annotations

from typing import TYPE_CHECKING

from harness.board import Tag

if TYPE_CHECKING:
    from harness.backends.emulated import EmulatedBoard


class TagPage:
    """One emulator page holding tags: the mmio callbacks of that page."""

    def __init__(self, engine: "EmulatedBoard", base: int, tags: list[Tag]):
        self.engine = engine
        self.base = base
        self.tags = tags

    def _tag(self, addr: int) -> Tag | None:
        return next((t for t in self.tags if t.contains(addr)), None)

    def read(self, offset: int, size: int) -> int:
        addr = self.base + offset
        tag = self._tag(addr)
        self.engine.unmodelled_access(tag, addr, False)
        if tag is None or tag.value is None:
            return 0
        word = tag.value & 0xFFFFFFFF                      # the value repeats every word of the range
        lane = (addr - tag.start) & 3
        data = (word.to_bytes(4, "little") * 2)[lane:lane + size]
        return int.from_bytes(data, "little")

    def write(self, offset: int, size: int, value: int) -> None:
        addr = self.base + offset
        self.engine.unmodelled_access(self._tag(addr), addr, True)


def tag_pages(tags: list[Tag], page: int) -> dict[int, list[Tag]]:
    """Page base -> the tags that touch it."""
    pages: dict[int, list[Tag]] = {}
    for t in tags:
        for base in range(t.start - t.start % page, t.end + 1, page):
            pages.setdefault(base, []).append(t)
    return pages
