"""Host side of the MLPerf Tiny DUT serial protocol (see shared reference notes), over any transport
with `write(bytes)` and `read_line() -> str`: the emulated board, a Renode UART, or a real serial port."""
from __future__ import annotations

import inspect
import re
import time
from collections import deque
from dataclasses import dataclass
from typing import Protocol, Sequence

import numpy as np

from harness.backends import BoardIdle, BoardTimeout, GarbledLine
from harness.errors import HarnessError, tail

CHUNK = 31   # bytes per `db` command, as the MLPerf runner sends: `db ` + 62 hex digits < 80 chars
# Wall-clock seconds for a whole answer, up to its m-ready. The MLPerf runner waits 5 s per line and 30 s
# for `infer`; a board whose every line comes in time but never says m-ready (other firmware printing
# forever) must still end. The serial port's per-line limit after `infer` is 60 s, so infer gets twice it.
COMMAND_DEADLINE = 30.0
INFER_DEADLINE = 120.0
RESYNC_LINES = 64     # lines skipped after a damaged answer before it is asked again (or given up)
BOOT_GARBLED = 8      # damaged boot lines tolerated beyond `retries`


class Transport(Protocol):
    def write(self, data: bytes) -> None: ...
    def read_line(self) -> str: ...


class ProtocolError(HarnessError):
    pass


@dataclass
class Inference:
    values: list[float]     # m-results-[...]: the first output's values dequantized, 3 decimals
    outputs: list[bytes]    # m-results-raw-[hex,hex...]: every output tensor's bytes, in the graph's order
    lap_us: tuple[int, int]


_LAP = re.compile(r"^m-lap-us-(\d+)$")
_BRACKET = re.compile(r"^m-([a-z-]+)-\[(.*)\]$")


class DutClient:
    """`retries`: how often a command whose answer arrived garbled (harness.backends.GarbledLine, from a
    serial line) is asked again. An input download is repeated whole, since `db <hex>` appends.

    `deadline` / `infer_deadline`: wall-clock seconds for one call (wait_ready, name, profile, stats,
    infer: retries included; a download gets it per `db` command, as their count grows with the input);
    past it the call raises BoardTimeout naming the command and the last lines. It applies to
    transports whose read_line takes a `deadline` (a serial port): the emulator runs instructions,
    bounded by its instruction budget, and a wall-clock limit there would make a verdict depend on
    the machine's load."""

    def __init__(self, transport: Transport, retries: int = 1, *, deadline: float = COMMAND_DEADLINE,
                 infer_deadline: float = INFER_DEADLINE):
        self.t = transport
        self.retries = retries
        self.deadline = deadline
        self.infer_deadline = infer_deadline
        self.garbled: list[bytes] = []      # damaged lines seen (and recovered from)
        self._timed = "deadline" in inspect.signature(transport.read_line).parameters
        self._call, self._seconds, self._until, self._damage = "wait_ready", deadline, None, ""
        self._seen: deque[str] = deque(maxlen=5)     # the last lines of this call, for its error

    def _begin(self, call: str, seconds: float) -> None:
        self._call, self._seconds = call, seconds
        self._until = time.monotonic() + seconds if self._timed else None
        self._seen.clear()
        self._damage = ""        # the last damaged line of this call, which _seen does not hold

    def _late(self) -> BoardTimeout:
        verdict = f"TIMEOUT `{self._call}`: no m-ready within {self._seconds:g} s (other firmware, or a noisy line?)"
        seen = [tail(ln) for ln in self._seen]
        text = "\n".join([verdict] + ([f"  | {ln}" for ln in seen] if seen else ["  nothing complete received"])
                          + ([f"  last damaged line: {self._damage}"] if self._damage else []))
        return BoardTimeout(text, {"kind": "timeout", "verdict": verdict, "seconds": self._seconds,
                                   "uart_tail": seen})

    def _read(self) -> str:
        """The next line, within what is left of the call's deadline."""
        if self._until is None:
            line = self.t.read_line()
        else:
            if time.monotonic() >= self._until:
                raise self._late()
            try:
                line = self.t.read_line(deadline=self._until)
            except BoardTimeout as e:
                if time.monotonic() >= self._until:    # the call's deadline, not the port's line timeout
                    raise self._late() from e
                raise
            except GarbledLine as g:
                self._damage = g.verdict
                raise
        line = line.strip("\r\0")
        self._seen.append(line)
        return line

    def wait_ready(self) -> list[str]:
        """Lines up to and with `m-ready` (at boot: the banner). A damaged line here is only noted."""
        self._begin("wait_ready", self.deadline)
        lines, damaged = [], 0
        while True:
            try:
                line = self._read()
            except GarbledLine as g:
                damaged += 1
                if damaged > self.retries + BOOT_GARBLED:
                    raise
                self.garbled.append(g.raw)
                continue
            lines.append(line)
            if "m-ready" in line:
                return lines

    def _answer(self) -> list[str]:
        lines = []
        while True:
            line = self._read()
            lines.append(line)
            if "m-ready" in line:
                return lines

    def _exchange(self, cmd: str) -> list[str]:
        self.t.write(cmd.encode() + b"%")
        lines = self._answer()
        errors = [ln for ln in lines if ln.startswith("e-")]
        if errors:
            raise ProtocolError(f"board answered `{cmd}` with {_quote(errors)}")
        return lines

    def _resync(self) -> None:
        """After a damaged line: skip the rest of that answer (up to its m-ready, or a quiet line), at most
        RESYNC_LINES lines and within the call's deadline: a line that stays noisy must not hold us."""
        for _ in range(RESYNC_LINES):
            try:
                if "m-ready" in self._read():
                    return
            except GarbledLine as g:
                self.garbled.append(g.raw)
            except BoardIdle as e:
                if self._until is not None and time.monotonic() >= self._until:
                    raise self._late() from e
                return

    def _retrying(self, what: str, action, seconds: float | None = None):
        self._begin(what, self.deadline if seconds is None else seconds)
        for attempt in range(self.retries + 1):
            try:
                return action()
            except GarbledLine as g:
                self.garbled.append(g.raw)
                self._resync()
                if attempt == self.retries:
                    raise ProtocolError(f"`{what}`: the answer arrived garbled {attempt + 1} time(s), last: "
                                        f"{g.verdict}") from g

    def command(self, cmd: str, seconds: float | None = None) -> list[str]:
        return self._retrying(cmd, lambda: self._exchange(cmd), seconds)

    @staticmethod
    def field(lines: list[str], key: str) -> str:
        for ln in lines:
            m = _BRACKET.match(ln)
            if m and m[1] == key:
                return m[2]
        raise ProtocolError(f"no m-{key}-[...] line in {_quote(lines)}")

    def name(self) -> str:
        return self.field(self.command("name"), "name-dut")

    def profile(self) -> str:
        return self.field(self.command("profile"), "model")

    def load(self, data: bytes) -> None:
        """Download the input tensor's own bytes (`db load N tensor`), whatever format an MLPerf Tiny
        benchmark's runner would send, so the board's input is exactly the one TFLM is given."""
        self._retrying(f"db load {len(data)} tensor", lambda: self._load(data))

    def load_inputs(self, xs: Sequence[np.ndarray]) -> None:
        """Download a model input (one array per input tensor, in the graph's order, as
        harness.reference.random_inputs gives): the tensors' bytes one after the other, as the firmware
        splits them (firmware/src/db.c)."""
        self.load(b"".join(np.ascontiguousarray(x).tobytes() for x in xs))

    def _load(self, data: bytes) -> None:
        self._begin(f"db load {len(data)} tensor", self.deadline)
        lines = self._exchange(f"db load {len(data)} tensor")
        if not any(f"Expecting {len(data)} bytes" in ln for ln in lines):
            raise ProtocolError(f"board refused {len(data)} bytes: {_quote(lines)}")
        done = False
        for i in range(0, len(data), CHUNK):
            self._begin(f"db <chunk {i // CHUNK + 1} of {len(data)} bytes>", self.deadline)
            done = any("m-load-done" in ln for ln in self._exchange("db " + data[i:i + CHUNK].hex()))
        if not done:
            raise ProtocolError("board never said m-load-done")

    def infer(self, n: int = 1, warmup: int = 0) -> Inference:
        lines = self.command(f"infer {n} {warmup}", self.infer_deadline)
        laps = [int(m[1]) for ln in lines if (m := _LAP.match(ln))]
        if len(laps) != 2:
            raise ProtocolError(f"expected two m-lap-us lines, got {_quote(lines)}")
        values = [float(v) for v in self.field(lines, "results").split(",") if v]
        outputs = [bytes.fromhex(h) for h in self.field(lines, "results-raw").split(",")]
        return Inference(values, outputs, (laps[0], laps[1]))

    def stats(self) -> dict[str, int]:
        body = self.field(self.command("stats"), "stats")
        return {k: int(v) for k, v in (kv.split("=") for kv in body.split(","))}


def _quote(lines: list[str], n: int = 5) -> str:
    """The last `n` lines of an answer, each cut to its tail: an error message stays short on a noisy line."""
    more = f"({len(lines) - n} more before) " if len(lines) > n else ""
    return more + " | ".join(tail(ln) for ln in lines[-n:])
