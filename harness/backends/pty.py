"""An emulated board behind a pseudo-terminal, so that the real-board code path (pyserial opening a
port, the protocol client, line parsing, timeouts, damaged lines) runs in CI without a board.

`EmulatedPty(board)` makes the pty at once: `port` is the path pyserial opens, like /dev/ttyACM0 for a
Nucleo's ST-Link. `load(elf)` is the flash: it puts the image into an EmulatedBoard and boots it, and a
thread pumps bytes both ways from then on: what the host writes goes into the console receiver, every
line the firmware sends comes out of the pty ending in "\\r\\n" as a real UART's would. Open the port
before `load()`, as on a real board (pyserial flushes its input when it opens a port).

Faults of the line itself can be staged: `garble_next()` damages the next line (or the next one that
contains some text), `drop_next()` loses it, which is what a lab's cables and baud mismatches do.
"""
from __future__ import annotations

import os
import pty
import select
import threading
import tty
from collections import deque
from pathlib import Path

from harness.backends import BoardError, BoardExit, BoardFault, BoardHang, BoardIdle
from harness.board import Board

SLICE = 5_000_000          # instructions per run before the pump looks for host input again
NOISE = b"\xfe\x00\xff"    # what a framing error looks like on the wire


class EmulatedPty:
    def __init__(self, board: Board, **engine_options):
        self.board = board
        self.engine_options = engine_options
        self.elf: Path | None = None
        self.engine = None
        self.failure: BoardError | None = None   # the fault or hang that stopped the board
        self._master, self._slave = pty.openpty()
        tty.setraw(self._slave)              # no echo, no CR/LF translation until pyserial opens it
        self.port = os.ttyname(self._slave)
        self._lock = threading.Lock()
        self._requests: deque[tuple[str, object, threading.Event, list]] = deque()
        self._line_faults: list[list] = []   # [action, text filter, count]
        self.sent: deque[bytes] = deque(maxlen=10000)   # lines as they went onto the wire (after staging)
        self._stop = threading.Event()
        self._wake_r, self._wake_w = os.pipe()
        self._thread = threading.Thread(target=self._pump, name=f"pty-{board.name}", daemon=True)
        self._thread.start()

    # ---------------------------------------------------------------- control (any thread)
    def load(self, elf: str | Path) -> None:
        """Flash `elf` and boot it (a fresh engine, as after power-on)."""
        self._request("load", Path(elf))

    def reset(self) -> None:
        self._request("reset", None)

    def garble_next(self, count: int = 1, containing: str = "") -> None:
        """Damage the next `count` lines that contain `containing` (any line when empty)."""
        with self._lock:
            self._line_faults.append(["garble", containing, count])

    def drop_next(self, count: int = 1, containing: str = "") -> None:
        """Lose the next `count` lines that contain `containing`."""
        with self._lock:
            self._line_faults.append(["drop", containing, count])

    def close(self) -> None:
        self._stop.set()
        os.write(self._wake_w, b"x")
        self._thread.join(timeout=5)
        for fd in (self._master, self._slave, self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass

    def __enter__(self) -> "EmulatedPty":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _request(self, what: str, arg) -> None:
        done, error = threading.Event(), []
        with self._lock:
            self._requests.append((what, arg, done, error))
        os.write(self._wake_w, b"x")
        if not done.wait(timeout=30):
            raise BoardError(f"the emulated board behind {self.port} did not {what} within 30 s")
        if error:
            raise error[0]

    # ---------------------------------------------------------------- the pump (its own thread)
    def _serve_requests(self) -> None:
        while True:
            with self._lock:
                if not self._requests:
                    return
                what, arg, done, error = self._requests.popleft()
            try:
                if what == "load":
                    from harness.backends.emulated import EmulatedBoard
                    self.elf = arg
                    self.engine = EmulatedBoard(self.board, arg, **self.engine_options)
                elif self.engine is not None:
                    self.engine.reset()
                self.failure = None
            except Exception as e:       # handed to the caller of load()/reset()
                error.append(e)
            finally:
                done.set()

    def _host_input(self, timeout: float) -> None:
        """Wait up to `timeout` for bytes from the host (or a control request) and hand them on."""
        ready, _, _ = select.select([self._master, self._wake_r], [], [], timeout)
        if self._wake_r in ready:
            os.read(self._wake_r, 64)
        if self._master in ready:
            try:
                data = os.read(self._master, 4096)
            except OSError:              # no one has the port open: nothing to read
                return
            if self.engine is not None and self.failure is None:
                self.engine.write(data)

    def _send(self, line: str) -> None:
        data = line.encode() + b"\r\n"
        with self._lock:
            for fault in self._line_faults:
                action, containing, count = fault
                if count > 0 and containing in line:
                    fault[2] -= 1
                    if action == "drop":
                        data = b""
                    else:
                        middle = max(1, len(data) // 2)
                        data = data[:middle] + NOISE + data[middle:]
                    break
            self._line_faults = [f for f in self._line_faults if f[2] > 0]
        if data:
            self.sent.append(data)
            os.write(self._master, data)

    def _pump(self) -> None:
        while not self._stop.is_set():
            self._serve_requests()
            if self.engine is None or self.failure is not None:
                self._host_input(0.2)
                continue
            self._host_input(0)
            try:
                line = self.engine.read_line(max_instructions=SLICE)
            except BoardIdle:
                self._host_input(0.05)   # the firmware waits for input: so do we
                continue
            except BoardHang as hang:
                if hang.report.get("kind") != "timeout":
                    self.failure = hang     # budget spent or WFI: the board is stuck, as a real one would be
                continue
            except (BoardFault, BoardExit) as end:
                self.failure = end         # a real chip sits in its fault handler (or halts): the line goes quiet
                continue
            self._send(line)
