"""A stand-in for the MLCommons host runner (mlcommons/tiny benchmark/runner), written from reading its
serial_device.py, device_under_test.py, script.py, main.py and tests_{performance,accuracy}.yaml: the same
bytes on the wire and the same parsing of the answers, so a DUT that passes here passes the runner.

What it reproduces:
- framing: a command is its text and `%`; an answer is every non-empty line up to the first one that
  contains `m-ready` (`\\r` and NUL dropped, lines split on `\\n`); no line within `timeout` (5 s, the
  runner's default, also for `infer`) is the runner's RuntimeError;
- `name` and `profile`, matched with the runner's regexes; the test script is then looked up by the
  model id, as main.run_test does (`tests.get(model)`: an unknown id ends the run there);
- download: `db load <len>`, then `db <hex>` with 31 bytes per command (direct connection), each waiting
  for its m-ready; ad01 files are cut into `bytes_to_send` windows every `stride` bytes, performance mode
  sends only the first;
- `infer N W` (W always given), `m-results-[...]` and `m-lap-us-<n>` parsed with the runner's regexes,
  throughput = N / (elapsed us / 1e6).
The runner itself is not imported: it needs pyserial discovery by USB VID:PID and writes session logs."""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

import serial

# The scripts of tests_performance.yaml and tests_accuracy.yaml: (N, W) of `infer` and the loop count
# (None: every file of the dataset). Only the model ids matter for the lookup.
PERFORMANCE = {"kws01": (70, 10, 5), "vww01": (20, 5, 5), "ic01": (20, 5, 5), "ad01": (1500, 10, 5)}
ACCURACY = {"kws01": (1, 0, None), "vww01": (1, 0, None), "ic01": (1, 0, None), "ad01": (1, 0, None)}
AD01_WINDOW, AD01_STRIDE = 2560, 512     # ad01's y_labels.csv: bytes_to_send, stride
MAX_BYTES = 31                           # device_under_test.DUT._max_bytes without an interface board

_NAME = re.compile(r'^m-(name)-dut-\[([^]]+)]$')
_PROFILE = re.compile(r'^m-(model|profile)-\[([^]]+)]$')
_RESULTS = re.compile(r'^m-results-\[([^]]+)\]$')
_LAP = re.compile(r'^m-lap-us-([0-9]+)$')


class NoResponse(RuntimeError):
    """The runner's `RuntimeError(f"No response to command {command}")`."""


@dataclass
class InferResult:
    results: list[float] = field(default_factory=list)
    start_time: int | None = None
    end_time: int | None = None
    lines: list[str] = field(default_factory=list)

    @property
    def elapsed_us(self) -> int:
        return self.end_time - self.start_time

    def throughput(self, n: int) -> float:
        return n / (self.elapsed_us / 1e6) if self.elapsed_us > 0 else 0.0


class RunnerReplay:
    def __init__(self, port: str, baud: int, timeout: float = 5.0):
        self.port = serial.Serial(port, baud, timeout=timeout)
        self.timeout = timeout
        self.sent: list[bytes] = []
        self._pending = b""

    def close(self) -> None:
        self.port.close()

    def _line(self) -> str:
        deadline = time.monotonic() + self.timeout
        while b"\n" not in self._pending:
            if time.monotonic() > deadline:
                raise NoResponse()
            self._pending += self.port.read(max(1, self.port.in_waiting))
        line, _, self._pending = self._pending.partition(b"\n")
        return line.decode().replace("\r", "").replace("\0", "")

    def send_command(self, command: str) -> list[str]:
        data = command.encode() + b"%"
        self.sent.append(data)
        self.port.write(data)
        lines = []
        while True:
            try:
                line = self._line()
            except NoResponse:
                raise NoResponse(f"No response to command {command}") from None
            if line:
                lines.append(line)
            if "m-ready" in line:
                return lines

    def wait_boot(self) -> list[str]:
        lines = []
        while not lines or "m-ready" not in lines[-1]:
            lines.append(self._line())
        return lines

    # ---- device_under_test.DUT
    def get_name(self) -> str | None:
        found = [m for ln in self.send_command("name") if (m := _NAME.match(ln))]
        return found[-1][2] if found else None

    def get_profile(self) -> dict[str, str]:
        return {m[1]: m[2] for ln in self.send_command("profile") if (m := _PROFILE.match(ln))}

    def load(self, data: bytes) -> list[str]:
        answer = self.send_command(f"db load {len(data)}")
        for i in range(0, len(data), MAX_BYTES):
            answer += self.send_command("db " + "".join(f"{d:02x}" for d in data[i:i + MAX_BYTES]))
        return answer

    def infer(self, number: int, warmups: int) -> InferResult:
        out = InferResult(lines=self.send_command(f"infer {number} {warmups}"))
        for line in out.lines:
            if m := _RESULTS.match(line):
                out.results = [float(x) for x in m[1].split(",") if x.strip()]
            elif m := _LAP.match(line):
                if out.start_time is None:
                    out.start_time = int(m[1])
                else:
                    out.end_time = int(m[1])
        return out


def script_for(model: str | None, mode: str):
    """main.run_test: `Script(test_script.get(dut.get_model()))`; Script.__init__ calls `.get` on it."""
    scripts = {"p": PERFORMANCE, "a": ACCURACY}[mode]
    entry = scripts.get(model)
    if entry is None:
        raise AttributeError("'NoneType' object has no attribute 'get'")
    return entry


def windows(model: str, data: bytes, mode: str) -> list[bytes]:
    """What _ScriptDownloadStep sends for one dataset file: ad01 in windows, others whole."""
    if model != "ad01":
        return [data]
    cuts = [data[s:s + AD01_WINDOW] for s in range(0, len(data) - AD01_WINDOW + 1, AD01_STRIDE)]
    return cuts[:1] if mode == "p" else cuts
