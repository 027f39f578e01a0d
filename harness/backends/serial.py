"""A real board's console over a serial port (pyserial): the transport harness.protocol.DutClient talks
to, the same client the emulated board uses.

`SerialBoard` opens the port exclusively and reads `\\r\\n`-terminated lines with a wall-clock timeout
(BoardTimeout, which a client treats like the emulator's BoardIdle). A line with bytes outside printable
ASCII raises GarbledLine; the client asks once more. `open_hardware` is the `hardware` backend: the lab
inventory says which port and which flasher, the board is flashed (program, verify, reset), and the
port is opened first so the boot lines are not lost.
"""
from __future__ import annotations

import errno
import time
from collections import deque
from pathlib import Path
from typing import Callable

from harness.backends import BoardTimeout, GarbledLine, OpaqueBoard, PortError
from harness.board import Board
from harness.errors import tail

LINE_TIMEOUT = 5.0       # s per line, as MLPerf Tiny's runner waits
INFER_TIMEOUT = 60.0     # s per line after an `infer` command (the runner allows 30 s; our models are bigger)
_PRINTABLE = set(range(0x20, 0x7F)) | {0x09}
MAX_LINE = 4096          # bytes: the protocol's lines are < 200; more without a newline is noise, not a line


def open_port(port: str, baud: int, **kw):
    """pyserial's Serial, exclusively, with the three ways a lab port goes wrong named plainly."""
    import serial
    try:
        return serial.Serial(port, baud, exclusive=True, **kw)
    except serial.SerialException as e:
        err = getattr(e, "errno", None)
        text = str(e)
        if err == errno.ENOENT or "No such file" in text or "could not open port" in text and "[Errno 2]" in text:
            raise PortError(f"serial port {port} is absent: is the board plugged in? (lab.toml, or "
                            f"`python -m harness.lab` lists the ST-Link ports found)") from None
        if err in (errno.EBUSY, errno.EAGAIN, errno.EWOULDBLOCK) or "exclusively lock" in text or "busy" in text:
            raise PortError(f"serial port {port} is busy: another program holds it (a terminal, ModemManager, "
                            f"another test run)") from None
        if err == errno.EACCES or "Permission denied" in text:
            raise PortError(f"serial port {port}: permission denied (add the user to the `dialout` group)") from None
        raise PortError(f"serial port {port}: {text}") from None


class SerialBoard(OpaqueBoard):
    """A console on a serial port. `reset` is how to restart the firmware (the flasher's reset); when
    given, `reset()` empties what is buffered and restarts the board."""

    def __init__(self, port: str, baud: int = 115200, *, timeout: float = LINE_TIMEOUT,
                 infer_timeout: float = INFER_TIMEOUT, reset: Callable[[], None] | None = None,
                 name: str | None = None):
        self.port_name = port
        self.name = name or port
        self.timeout = timeout
        self.infer_timeout = infer_timeout
        self._reset = reset
        self._port = open_port(port, baud, timeout=timeout)
        self._pending = bytearray()          # bytes after the last complete line
        self._history: deque[str] = deque(maxlen=200)
        self._line_timeout = timeout
        self.garbled: list[bytes] = []       # every damaged line seen, for the report

    # ---------------------------------------------------------------- transport
    def write(self, data: bytes) -> None:
        # A command decides how long its answer may take: inference lines wait longer.
        self._line_timeout = self.infer_timeout if bytes(data).lstrip().startswith(b"infer") else self.timeout
        self._port.write(bytes(data))
        self._port.flush()

    def read_line(self, timeout: float | None = None, deadline: float | None = None) -> str:
        """The next line without its line ending. Raises BoardTimeout when no complete line arrives
        within `timeout` seconds (default: the port's line timeout, longer after `infer`) or by
        `deadline` (a time.monotonic() value: the caller's whole command), and GarbledLine when the line
        is not printable ASCII or runs past MAX_LINE bytes without a newline."""
        start = time.monotonic()
        limit = self._line_timeout if timeout is None else timeout
        if deadline is not None:
            limit = min(limit, deadline - start)
        stop = start + limit
        while b"\n" not in self._pending:
            if len(self._pending) > MAX_LINE:
                end = bytes(self._pending[-80:])     # what is kept and quoted of the noise: its end
                self._pending.clear()                 # the next line starts after it
                self.garbled.append(end)
                raise GarbledLine(f"GARBLED line from {self.name}: more than {MAX_LINE} bytes without a newline, "
                                  f"ending {tail(end)}", end,
                                  {"kind": "garbled", "port": self.port_name, "raw": end.hex(),
                                   "uart_tail": self.uart_tail(20)})
            left = stop - time.monotonic()
            if left <= 0:
                raise self._timeout(limit)
            self._port.timeout = left
            self._pending += self._port.read_until(b"\n", MAX_LINE + 1 - len(self._pending))
        raw, _, rest = bytes(self._pending).partition(b"\n")
        self._pending = bytearray(rest)
        body = raw.rstrip(b"\r").strip(b"\0")
        if any(b not in _PRINTABLE for b in body):
            self.garbled.append(raw)
            text = body.decode("ascii", errors="replace")
            self._history.append(text)
            raise GarbledLine(f"GARBLED line from {self.name}: {tail(raw)}", raw,
                              {"kind": "garbled", "port": self.port_name, "raw": raw.hex(),
                               "uart_tail": self.uart_tail(20)})
        text = body.decode("ascii")
        self._history.append(text)
        return text

    def reset(self) -> None:
        if self._reset is None:
            raise PortError(f"{self.name}: no way to reset this board (no flasher configured)")
        self._port.reset_input_buffer()
        self._pending.clear()
        self._reset()

    def uart_tail(self, n: int = 20) -> list[str]:
        """The last `n` lines received, each cut to its last 80 characters."""
        lines = list(self._history)
        if self._pending:
            lines.append(bytes(self._pending).decode("ascii", errors="replace"))
        return [tail(ln) for ln in lines[-n:]] if n else []

    def close(self) -> None:
        if self._port is not None and self._port.is_open:
            self._port.close()

    def __enter__(self) -> "SerialBoard":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def _timeout(self, limit: float) -> BoardTimeout:
        last = self.uart_tail(20)
        verdict = f"TIMEOUT no complete line from {self.name} within {limit:.3g} s"
        lines = [verdict, f"  port         {self.port_name}"]
        if self._pending:
            lines.append(f"  unfinished   {tail(bytes(self._pending))}")
        lines.append(f"  console, last {len(last)} lines:" if last else "  console: nothing received")
        lines.extend(f"  | {t}" for t in last)
        return BoardTimeout("\n".join(lines), {"kind": "timeout", "verdict": verdict, "port": self.port_name,
                                               "seconds": limit, "uart_tail": last})


def open_hardware(board: Board, elf: str | Path, *, lab=None, entry=None, port: str | None = None,
                  flasher: str | None = None, flash: bool = True, **serial_options) -> SerialBoard:
    """The `hardware` backend: the lab's board of this kind (`entry`, else looked up in `lab`, a Lab or
    a lab.toml path, else the default inventory; a single unidentified ST-Link board is taken for the
    board asked for), its port opened, then flashed with `elf` (program, verify, reset) or, with
    flash=False, only reset."""
    from harness import lab as labmod
    if entry is None:
        inventory = lab if isinstance(lab, labmod.Lab) else labmod.default_lab(lab)
        entry = inventory.find(board.name, only_requested=True)
        if entry is None and port is None:
            raise PortError(f"no port for {board.name}: {inventory.describe()}")
        entry = entry or labmod.LabBoard(kind=board.name)
    entry = entry.with_overrides(port=port, flasher=flasher)
    driver = labmod.flasher_for(entry)
    path = driver.port(board, entry)
    options = {"timeout": entry.timeout, "infer_timeout": entry.infer_timeout, **serial_options}
    sb = SerialBoard(path, entry.baud or board.console.baud, reset=lambda: driver.reset(board, entry),
                     name=f"{board.name} on {path}", **options)
    try:
        if flash:
            driver.flash(board, Path(elf), entry)
        else:
            driver.reset(board, entry)
    except BaseException:
        sb.close()
        raise
    return sb
