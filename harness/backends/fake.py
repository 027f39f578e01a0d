"""A board that answers from a recorded console session (labgrid's habit: a fake beside the real drivers).

The verdict, report and protocol logic above the board needs no firmware to be tested: a session recorded
once from a real backend (`Recording` around it) replays in milliseconds. The replay is strict: every
command the host writes must be the one the recording has next, so a change in what the host asks is
found, not answered with the wrong lines. Where the recording has the board waiting for the host, a read
is BoardIdle, as on the emulated board.
"""
from __future__ import annotations

import json
from pathlib import Path

from harness.backends import BoardError, BoardIdle, OpaqueBoard, RunningBoard

HOST, DUT = "host", "dut"      # who wrote a transcript entry


class FakeBoard(OpaqueBoard):
    """RunningBoard over a transcript: [[\"host\", command], [\"dut\", line], ...] in the order they
    happened (a host command without its `%`, a board line without its line end)."""

    def __init__(self, transcript: list[list[str]]):
        self.transcript = [(who, text) for who, text in transcript]
        if any(who not in (HOST, DUT) for who, _ in self.transcript):
            raise BoardError("a transcript entry is neither the host's nor the board's")
        self._at = 0
        self._pending = b""
        self._said: list[str] = []

    @classmethod
    def load(cls, path: Path) -> FakeBoard:
        return cls(json.loads(Path(path).read_text())["transcript"])

    def write(self, data: bytes) -> None:
        self._pending += data
        while b"%" in self._pending:
            cmd, self._pending = self._pending.split(b"%", 1)
            self._expect_host(cmd.decode(errors="replace"))

    def _expect_host(self, cmd: str) -> None:
        who, text = self.transcript[self._at] if self._at < len(self.transcript) else (None, None)
        if who != HOST or text != cmd:
            had = f"the board's line {text!r}" if who == DUT else "nothing more" if who is None else repr(text)
            raise BoardError(f"replay: the host wrote {cmd[:60]!r} where the recording has {had[:80]} "
                             f"(entry {self._at + 1} of {len(self.transcript)})")
        self._at += 1

    def read_line(self) -> str:
        if self._at < len(self.transcript) and self.transcript[self._at][0] == DUT:
            line = self.transcript[self._at][1]
            self._at += 1
            self._said.append(line)
            return line
        raise BoardIdle("IDLE: the recording has the board waiting for the host here",
                        {"kind": "idle", "uart_tail": self.uart_tail()})

    def reset(self) -> None:
        self._at, self._pending, self._said = 0, b"", []

    def uart_tail(self, n: int = 20) -> list[str]:
        return self._said[-n:]


class Recording:
    """A RunningBoard that passes everything to `board` and keeps the console session as a transcript."""

    def __init__(self, board: RunningBoard):
        self.board = board
        self.transcript: list[list[str]] = []
        self._pending = b""

    def write(self, data: bytes) -> None:
        self._pending += data
        while b"%" in self._pending:
            cmd, self._pending = self._pending.split(b"%", 1)
            self.transcript.append([HOST, cmd.decode(errors="replace")])
        self.board.write(data)

    def read_line(self) -> str:
        line = self.board.read_line()
        self.transcript.append([DUT, line.rstrip("\r\n\0")])
        return line

    def reset(self) -> None:
        self.board.reset()
        self.transcript.clear()

    def uart_tail(self, n: int = 20) -> list[str]:
        return self.board.uart_tail(n)

    def close(self) -> None:
        self.board.close()

    def counts_between_reads(self, cycles: int) -> tuple[int, int] | None:
        return self.board.counts_between_reads(cycles)

    def events_between_reads(self, cycles: int) -> dict[str, int] | None:
        return self.board.events_between_reads(cycles)

    def save(self, path: Path, **about) -> None:
        """The transcript as JSON, with what it was recorded from (`about`: model, board, firmware...)."""
        head = json.dumps(about, indent=1)[:-2]            # one entry per line below: a diff reads as a session
        entries = ",\n".join(f" {json.dumps(e)}" for e in self.transcript)
        Path(path).write_text(f'{head},\n "transcript": [\n{entries}\n ]\n}}\n')
