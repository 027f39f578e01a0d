"""Board backends: the built-in emulated board (emulated.py) and, later, real boards.

The exceptions every backend raises live here so a protocol client can catch them without importing
an engine. Import the engine itself with `from harness.backends.emulated import EmulatedBoard`.
"""
from __future__ import annotations

from harness.errors import HarnessError


class BoardError(HarnessError):
    """A run that ended badly. `report` is a JSON-ready dict; `str()` is the human report, whose first
    line is a one-line verdict."""

    def __init__(self, text: str, report: dict | None = None):
        super().__init__(text)
        self.report = report or {}

    @property
    def verdict(self) -> str:
        return str(self).splitlines()[0] if str(self) else ""


class BoardFault(BoardError):
    """The firmware did something the chip would not survive: an access outside the memory map, a write
    to flash, an undefined instruction, or it reached one of its own fault handlers."""


class BoardHang(BoardError):
    """The firmware ran past the instruction budget (report kind 'hang') or past the instructions one
    call allowed (kind 'timeout') without producing what was asked for."""


class BoardIdle(BoardError):
    """The firmware is waiting for input: it polls an empty receiver and has no complete line to give.
    A protocol client treats this like a timeout; the next call resumes where the firmware waits."""


BACKENDS = ("emulated",)


def open_board(backend: str, board, elf, **options):
    """A running board for `backend` with `elf` loaded and reset: an object with `write(bytes)` and
    `read_line() -> str` (harness.protocol's transport). `options` go to the backend (emulated:
    budget=instructions)."""
    if backend == "emulated":
        from harness.backends.emulated import EmulatedBoard
        return EmulatedBoard(board, elf, **options)
    raise HarnessError(f"unknown board backend {backend!r}; known: {', '.join(BACKENDS)}")


__all__ = ["BoardError", "BoardFault", "BoardHang", "BoardIdle", "BACKENDS", "open_board"]
