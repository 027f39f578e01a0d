"""Board backends: one interface (RunningBoard), three implementations and a fake.

Every backend gives a running board with `write(bytes)`, `read_line() -> str`, `reset()`, `uart_tail(n)`
and `close()` (what harness.protocol's DutClient needs, what a failure report shows, and the end of a
session), and declares the optional capabilities by answering them (`counts_between_reads`,
`events_between_reads`: None where the backend cannot look inside the core):
- `emulated`: the built-in Unicorn board (emulated.py), built from the .repl;
- `renode`: a `renode` binary on PATH running the same .repl and ELF, its console on a socket (renode.py);
- `hardware`: a real board from the lab inventory, flashed, then its console over pyserial (serial.py).
A fourth, for tests of what lies above the board: fake.py's FakeBoard replays a recorded console session.

The exceptions every backend raises live here so a protocol client can catch them without importing
an engine. Import an engine itself with e.g. `from harness.backends.emulated import EmulatedBoard`.
"""
from __future__ import annotations

from typing import Callable, Protocol

from harness.errors import HarnessError


class RunningBoard(Protocol):
    """A board with firmware loaded and reset, as every backend gives it (open_board)."""

    def write(self, data: bytes) -> None: ...
    def read_line(self) -> str: ...
    def reset(self) -> None: ...
    def uart_tail(self, n: int = 20) -> list[str]: ...
    def close(self) -> None: ...

    def counts_between_reads(self, cycles: int) -> tuple[int, int] | None:
        """(instructions, modelled ticks) between the firmware's two CYCCNT reads `cycles` apart."""
        ...

    def events_between_reads(self, cycles: int) -> dict[str, int] | None:
        """The memory system's events between those two reads."""
        ...


class OpaqueBoard:
    """The optional capabilities of a board the host cannot look inside (a serial port, a Renode socket):
    it has no exact counters, and nothing to release unless the backend says so."""

    def close(self) -> None:
        pass

    def counts_between_reads(self, cycles: int) -> tuple[int, int] | None:
        return None

    def events_between_reads(self, cycles: int) -> dict[str, int] | None:
        return None


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


class BoardTimeout(BoardIdle):
    """A board the host cannot look inside (a serial port, a Renode socket) sent no complete line within
    the wall-clock timeout. Report kind 'timeout'; a client treats it like BoardIdle."""


class GarbledLine(BoardError):
    """A line arrived damaged: bytes that are not the printable ASCII the protocol uses (line noise, a
    baud-rate mismatch, the tail of a line sent before the port was opened). `raw` holds the bytes.
    The protocol client asks again once (harness.protocol.DutClient)."""

    def __init__(self, text: str, raw: bytes, report: dict | None = None):
        super().__init__(text, report)
        self.raw = raw


class BoardExit(BoardError):
    """The firmware stopped itself cleanly through semihosting (SYS_EXIT / SYS_EXIT_EXTENDED): report kind
    'exit', `exit_code` on the exception and on the engine."""

    def __init__(self, text: str, report: dict, exit_code: int):
        super().__init__(text, report)
        self.exit_code = exit_code


class PortError(BoardError):
    """A serial port that cannot be used: absent, busy (held by another program) or not permitted."""


def _emulated(board, elf, **options):
    from harness.backends.emulated import EmulatedBoard
    return EmulatedBoard(board, elf, **options)


def _renode(board, elf, **options):
    from harness.backends.renode import RenodeBoard
    return RenodeBoard(board, elf, **options)


def _hardware(board, elf, **options):
    from harness.backends.serial import open_hardware
    return open_hardware(board, elf, **options)


# name -> opener(board, elf, **options). A new backend is one more row here and one module beside this.
BACKENDS: dict[str, Callable] = {
    "emulated": _emulated,
    "renode": _renode,
    "hardware": _hardware,
}


def open_board(backend: str, board, elf, **options) -> RunningBoard:
    """A running board for `backend` with `elf` loaded and reset (RunningBoard; harness.protocol's
    transport). `options` go to the backend (emulated:
    budget=instructions; renode: renode=path, timeout=s; hardware: lab=, port=, flasher=, flash=)."""
    try:
        opener = BACKENDS[backend]
    except KeyError:
        raise HarnessError(f"unknown board backend {backend!r}; known: {', '.join(BACKENDS)}") from None
    return opener(board, elf, **options)


__all__ = ["BoardError", "BoardExit", "BoardFault", "BoardHang", "BoardIdle", "BoardTimeout", "GarbledLine", "PortError",
           "BACKENDS", "OpaqueBoard", "RunningBoard", "open_board"]
