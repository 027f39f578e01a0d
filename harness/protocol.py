"""Host side of the MLPerf Tiny DUT serial protocol (see shared reference notes), over any transport
with `write(bytes)` and `read_line() -> str`: the emulated board, a Renode UART, or a real serial port."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from harness.backends import GarbledLine
from harness.errors import HarnessError

CHUNK = 31   # bytes per `db` command, as the MLPerf runner sends: `db ` + 62 hex digits < 80 chars


class Transport(Protocol):
    def write(self, data: bytes) -> None: ...
    def read_line(self) -> str: ...


class ProtocolError(HarnessError):
    pass


@dataclass
class Inference:
    values: list[float]     # m-results-[...]: dequantized, 3 decimals
    raw: bytes              # m-results-raw-[hex]: the output tensor's bytes
    lap_us: tuple[int, int]


_LAP = re.compile(r"^m-lap-us-(\d+)$")
_BRACKET = re.compile(r"^m-([a-z-]+)-\[(.*)\]$")


class DutClient:
    """`retries`: how often a command whose answer arrived garbled (harness.backends.GarbledLine, from a
    serial line) is asked again. An input download is repeated whole, since `db <hex>` appends."""

    def __init__(self, transport: Transport, retries: int = 1):
        self.t = transport
        self.retries = retries
        self.garbled: list[bytes] = []      # damaged lines seen (and recovered from)

    def wait_ready(self) -> list[str]:
        """Lines up to and with `m-ready` (at boot: the banner). A damaged line here is only noted."""
        lines = []
        while True:
            try:
                line = self.t.read_line().strip("\r\0")
            except GarbledLine as g:
                if len(self.garbled) >= self.retries + 8:
                    raise
                self.garbled.append(g.raw)
                continue
            lines.append(line)
            if "m-ready" in line:
                return lines

    def _answer(self) -> list[str]:
        lines = []
        while True:
            line = self.t.read_line().strip("\r\0")
            lines.append(line)
            if "m-ready" in line:
                return lines

    def _exchange(self, cmd: str) -> list[str]:
        self.t.write(cmd.encode() + b"%")
        lines = self._answer()
        errors = [ln for ln in lines if ln.startswith("e-")]
        if errors:
            raise ProtocolError(f"board answered `{cmd}` with {'; '.join(errors)}")
        return lines

    def _resync(self) -> None:
        """After a damaged line: skip the rest of that answer (up to its m-ready, or a quiet line)."""
        from harness.backends import BoardIdle
        while True:
            try:
                if "m-ready" in self.t.read_line():
                    return
            except GarbledLine as g:
                self.garbled.append(g.raw)
            except BoardIdle:
                return

    def _retrying(self, what: str, action):
        for attempt in range(self.retries + 1):
            try:
                return action()
            except GarbledLine as g:
                self.garbled.append(g.raw)
                self._resync()
                if attempt == self.retries:
                    raise ProtocolError(f"`{what}`: the answer arrived garbled {attempt + 1} time(s), last "
                                        f"{g.raw!r}") from g

    def command(self, cmd: str) -> list[str]:
        return self._retrying(cmd, lambda: self._exchange(cmd))

    @staticmethod
    def field(lines: list[str], key: str) -> str:
        for ln in lines:
            m = _BRACKET.match(ln)
            if m and m[1] == key:
                return m[2]
        raise ProtocolError(f"no m-{key}-[...] line in {lines}")

    def name(self) -> str:
        return self.field(self.command("name"), "name-dut")

    def profile(self) -> str:
        return self.field(self.command("profile"), "model")

    def load(self, data: bytes) -> None:
        """Download the input tensor's own bytes (`db load N tensor`), whatever format an MLPerf Tiny
        benchmark's runner would send, so the board's input is exactly the one TFLM is given."""
        self._retrying(f"db load {len(data)} tensor", lambda: self._load(data))

    def _load(self, data: bytes) -> None:
        lines = self._exchange(f"db load {len(data)} tensor")
        if not any(f"Expecting {len(data)} bytes" in ln for ln in lines):
            raise ProtocolError(f"board refused {len(data)} bytes: {lines}")
        done = False
        for i in range(0, len(data), CHUNK):
            done = any("m-load-done" in ln for ln in self._exchange("db " + data[i:i + CHUNK].hex()))
        if not done:
            raise ProtocolError("board never said m-load-done")

    def infer(self, n: int = 1, warmup: int = 0) -> Inference:
        lines = self.command(f"infer {n} {warmup}")
        laps = [int(m[1]) for ln in lines if (m := _LAP.match(ln))]
        if len(laps) != 2:
            raise ProtocolError(f"expected two m-lap-us lines, got {lines}")
        values = [float(v) for v in self.field(lines, "results").split(",") if v]
        raw = bytes.fromhex(self.field(lines, "results-raw"))
        return Inference(values, raw, (laps[0], laps[1]))

    def stats(self) -> dict[str, int]:
        body = self.field(self.command("stats"), "stats")
        return {k: int(v) for k, v in (kv.split("=") for kv in body.split(","))}
