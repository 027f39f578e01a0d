"""A board that never behaves: a fake console on a pseudo-terminal that sends printable noise forever,
binary noise, one endless line, or nothing at all. Every client command must end within its deadline
with a short error (issue 14 item 12). No firmware: a thread writes the noise into the pty."""
from __future__ import annotations

import os
import threading
import time
import tty

import pytest

from harness.errors import HarnessError
from harness.backends.serial import SerialBoard
from harness.protocol import DutClient

DEADLINE = 1.5           # s per command in these tests
SLACK = 1.0              # s a command may overrun it (thread scheduling on a loaded machine)
SHORT = 600              # characters: a message quoting the noise must stay readable


def _printable(i: int) -> bytes:
    return f"m-noise-{i} wrong firmware says hello\r\n".encode()


def _binary(i: int) -> bytes:
    return bytes([0xFE, 0x00, 0xFF, i & 0x7F]) * 8 + b"\r\n"


def _endless(i: int) -> bytes:
    return b"x" * 512                   # never a newline


def _silent(i: int) -> bytes:
    return b""


class FakeBoard:
    """A pty whose far end writes `noise(i)` every `period` seconds until closed."""

    def __init__(self, noise, period: float = 0.01):
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        self.port = os.ttyname(self._slave)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(noise, period), daemon=True)
        self._thread.start()

    def _run(self, noise, period):
        i = 0
        while not self._stop.wait(period):
            data = noise(i)
            i += 1
            if data:
                try:
                    os.write(self._master, data)
                except OSError:
                    return
            # drain what the host writes, so its writes never block
            try:
                os.set_blocking(self._master, False)
                os.read(self._master, 4096)
            except (BlockingIOError, OSError):
                pass

    def close(self):
        self._stop.set()
        self._thread.join(2)
        os.close(self._master)
        os.close(self._slave)


NOISES = {"printable": _printable, "binary": _binary, "endless": _endless, "silent": _silent}
COMMANDS = {
    "wait_ready": lambda c: c.wait_ready(),
    "name": lambda c: c.name(),
    "load": lambda c: c.load(bytes(range(40))),
    "infer": lambda c: c.infer(1, 0),
    "stats": lambda c: c.stats(),
}


@pytest.mark.parametrize("noise", NOISES)
@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_ends_within_its_deadline(noise, command):
    board = FakeBoard(NOISES[noise])
    try:
        # per-line timeout longer than the deadline: the command's deadline must still win
        with SerialBoard(board.port, timeout=5, infer_timeout=5) as sb:
            client = DutClient(sb, deadline=DEADLINE, infer_deadline=DEADLINE)
            start = time.monotonic()
            with pytest.raises(HarnessError) as caught:
                COMMANDS[command](client)
            took = time.monotonic() - start
    finally:
        board.close()
    text = str(caught.value)
    assert took < DEADLINE + SLACK, f"{command} on {noise} took {took:.1f} s: {text[:300]}"
    assert len(text) < SHORT + 20 * 100, f"{len(text)} characters"     # a report of at most 20 short lines
    assert text.splitlines()[0] and len(text.splitlines()[0]) < SHORT, text.splitlines()[0]
    assert "Traceback" not in text


def test_an_endless_line_is_refused_quoting_only_its_tail():
    board = FakeBoard(_endless, period=0.001)
    try:
        with SerialBoard(board.port, timeout=5) as sb:
            with pytest.raises(HarnessError, match="more than 4096 bytes without a newline") as caught:
                sb.read_line()
    finally:
        board.close()
    text = str(caught.value)
    assert len(text) < 2000 and "xxxx" in text


def test_the_deadline_names_the_command_and_the_last_lines():
    board = FakeBoard(_printable, period=0.05)
    try:
        with SerialBoard(board.port, timeout=5) as sb:
            client = DutClient(sb, deadline=0.5)
            with pytest.raises(HarnessError) as caught:
                client.name()
    finally:
        board.close()
    first = str(caught.value).splitlines()[0]
    assert "`name`" in first and "0.5 s" in first and "m-ready" in first
    assert "m-noise-" in str(caught.value)


def test_a_deadline_after_endless_noise_says_what_the_noise_was():
    board = FakeBoard(_endless, period=0.01)
    try:
        with SerialBoard(board.port, timeout=5) as sb:
            with pytest.raises(HarnessError) as caught:
                DutClient(sb, deadline=1.0).name()
    finally:
        board.close()
    assert "more than 4096 bytes without a newline" in str(caught.value), str(caught.value)
