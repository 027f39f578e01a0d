"""The emulation behind the Robot keywords: machines made by monitor commands, started on an engine, and
terminal testers on their console UARTs. Two engines with one set of keywords:

- `emulated` (default): our Unicorn board. Timeouts are virtual time, as in Renode: `timeout` seconds
  are timeout x PerformanceInMips (from the .repl) million instructions. A firmware that waits for input
  cannot send the awaited line, so the wait fails at once instead of burning the timeout.
- `renode`: a `renode` on PATH; monitor commands go to its monitor, testers read a socket terminal
  (timeouts are then wall-clock seconds).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from harness.backends import BoardError, BoardFault, BoardHang, BoardIdle
from harness.board import Board, load_board
from harness.errors import HarnessError

ROOT = Path(__file__).resolve().parent.parent.parent


class KeywordError(AssertionError):
    """A keyword that failed: Robot shows the message as the test's failure."""


def resolve_path(text: str) -> Path:
    """`@path` or `path`, relative to the working directory or else to the repository."""
    text = text.strip().strip('"')
    text = text[1:] if text.startswith("@") else text
    text = text.strip('"')
    p = Path(text)
    if p.is_absolute() or p.exists():
        return p.resolve()
    return (ROOT / p).resolve()


@dataclass
class TesterResult:
    """What `Wait For Line On Uart` returns, as Renode's TerminalTesterResult: `line`, `groups`,
    `timestamp` (virtual seconds: instructions / (PerformanceInMips x 1e6))."""
    line: str
    groups: list[str] = field(default_factory=list)
    timestamp: float = 0.0


@dataclass
class Machine:
    name: str
    board: Board | None = None
    elf: Path | None = None
    engine: object | None = None          # set by Start Emulation

    @property
    def mips(self) -> float:
        cpu = next((p for p in self.board.peripherals.values() if p.cls.startswith("CPU.")), None)
        value = cpu.props.get("PerformanceInMips") if cpu else None
        return float(value) if value else self.board.clock_hz / 1e6

    def require_board(self) -> Board:
        if self.board is None:
            raise KeywordError(f"machine {self.name} has no platform: `machine LoadPlatformDescription @...` first")
        return self.board


class Tester:
    """A terminal tester on a machine's console UART: lines in order, each matched at most once."""

    def __init__(self, machine: Machine, uart: str, timeout: float):
        self.machine = machine
        self.uart = uart
        self.timeout = timeout
        self.failing: list[tuple[str, bool]] = []
        self.seen: list[str] = []                # every line, for failure reports

    def _engine(self):
        if self.machine.engine is None:
            raise KeywordError(f"machine {self.machine.name} is not running: Start Emulation first")
        return self.machine.engine

    def write(self, data: bytes) -> None:
        self._engine().write(data)

    def _check_failing(self, line: str) -> None:
        for pattern, regex in self.failing:
            if (re.search(pattern, line) if regex else pattern in line):
                raise KeywordError(f"Terminal tester failed!\n\nTest failing entry has been found on UART:\n{line}")

    def next_line(self, timeout: float | None = None, waiting_for: str = "a line") -> str:
        """The next console line within `timeout` virtual seconds (the tester's timeout when None)."""
        engine = self._engine()
        seconds = self.timeout if timeout is None else float(timeout)
        try:
            line = engine.read_line(**self._limit(engine, seconds))
        except BoardFault as fault:
            raise KeywordError(f"Terminal tester failed!\n\n{fault}") from None
        except BoardIdle:
            raise KeywordError(self._missing(waiting_for, seconds, "the firmware waits for input")) from None
        except BoardHang as hang:
            reason = "the firmware is stuck" if hang.report.get("kind") != "timeout" else "nothing came"
            raise KeywordError(self._missing(waiting_for, seconds, reason)) from None
        except BoardError as e:
            raise KeywordError(f"Terminal tester failed!\n\n{e}") from None
        self.seen.append(line)
        self._check_failing(line)
        return line

    def _limit(self, engine, seconds: float) -> dict:
        if hasattr(engine, "instructions"):          # emulated: virtual time from instructions
            return {"max_instructions": max(1, int(seconds * self.machine.mips * 1e6))}
        return {"timeout": seconds}

    def now(self) -> float:
        engine = self.machine.engine
        return engine.instructions / (self.machine.mips * 1e6) if hasattr(engine, "instructions") else 0.0

    def _missing(self, what: str, seconds: float, reason: str) -> str:
        tail = self.seen[-20:]
        lines = [f"Terminal tester failed!\n\n{what} did not appear on {self.uart} within {seconds:g} s of "
                 f"virtual time: {reason}."]
        lines.append(f"Console, last {len(tail)} lines:" if tail else "Console: nothing sent")
        lines += [f"  | {t}" for t in tail]
        return "\n".join(lines)

    def wait_for(self, content: str, timeout: float | None, regex: bool) -> TesterResult:
        """Lines until one contains `content` (or matches it as a regex anywhere in the line)."""
        what = f"Line {content!r}"
        start = self.now()
        seconds = self.timeout if timeout is None else float(timeout)
        while True:
            left = seconds - (self.now() - start)
            if left <= 0:
                raise KeywordError(self._missing(what, seconds, "nothing matching came"))
            line = self.next_line(left, what)
            if regex:
                m = re.search(content, line)
                if m:
                    return TesterResult(line, [g if g is not None else "" for g in m.groups()], self.now())
            elif content in line:
                return TesterResult(line, [], self.now())


class EmulatedEngine:
    name = "emulated"

    def start(self, machine: Machine):
        from harness.backends.emulated import EmulatedBoard
        if machine.elf is None:
            raise KeywordError(f"machine {machine.name} has no ELF: `sysbus LoadELF @...` first")
        return EmulatedBoard(machine.require_board(), machine.elf)

    def forward(self, command: str) -> str | None:
        return None                                   # nothing to forward: the library handles it

    def run(self) -> None:
        pass                                          # runs lazily, while a tester waits for a line

    def close(self) -> None:
        pass


class RenodeEngine:
    """Monitor commands also go to a real Renode; the console of each machine is a socket terminal."""
    name = "renode"

    def __init__(self):
        from harness.backends.renode import RenodeProcess
        self.renode = RenodeProcess()

    def forward(self, command: str) -> str:
        return self.renode.execute(command)

    def start(self, machine: Machine):
        from harness.backends.renode import RenodeConsole
        return RenodeConsole(self.renode, machine.name, machine.require_board())

    def run(self) -> None:
        self.renode.execute("start")

    def close(self) -> None:
        self.renode.close()


ENGINES = {"emulated": EmulatedEngine, "renode": RenodeEngine}


class Emulation:
    """Machines by name, the current one, the testers; monitor commands from a table of patterns."""

    def __init__(self, engine: str = "emulated"):
        if engine not in ENGINES:
            raise HarnessError(f"unknown engine {engine!r}; known: {', '.join(ENGINES)}")
        self.engine_name = engine
        self.engine = ENGINES[engine]()
        self.machines: dict[str, Machine] = {}
        self.current: Machine | None = None
        self.testers: list[Tester] = []
        self.started = False

    # monitor commands we understand: pattern -> method. A method returns the command as the renode engine
    # should forward it (paths made absolute), or None when there is nothing to forward.
    COMMANDS = [
        (r"using\s+sysbus", "_noop"),
        (r"mach\s+create(?:\s+\"?(?P<name>[^\"]*)\"?)?", "_mach_create"),
        (r"mach\s+set\s+\"?(?P<name>[^\"]+)\"?", "_mach_set"),
        (r"mach\s+clear", "_mach_clear"),
        (r"machine\s+LoadPlatformDescription\s+(?P<path>.+)", "_load_platform"),
        (r"sysbus\s+LoadELF\s+(?P<path>.+)", "_load_elf"),
        (r"machine\s+Reset", "_machine_reset"),
        (r"start|emulation\s+Start", "_start"),
    ]
    SUPPORTED = ["using sysbus", 'mach create "name"', 'mach set "name"', "mach clear",
                 "machine LoadPlatformDescription @file.repl", "sysbus LoadELF @file.elf", "machine Reset", "start"]

    def execute(self, command: str) -> str:
        command = command.strip()
        for pattern, method in self.COMMANDS:
            m = re.fullmatch(pattern, command)
            if m:
                forward = getattr(self, method)(**m.groupdict())
                out = self.engine.forward(forward) if forward else None
                return out or ""
        raise KeywordError(f"monitor command {command!r} is not supported by the {self.engine_name} engine; "
                           f"supported: {', '.join(self.SUPPORTED)}")

    def machine(self, name: str | None = None) -> Machine:
        if name:
            try:
                return self.machines[name]
            except KeyError:
                raise KeywordError(f"no machine {name!r}; machines: {', '.join(self.machines) or 'none'}") from None
        if self.current is None:
            raise KeywordError('no machine: `mach create "name"` first')
        return self.current

    def _noop(self):
        return "using sysbus"

    def _mach_create(self, name=None):
        name = name or f"machine-{len(self.machines)}"
        if name in self.machines:
            raise KeywordError(f"machine {name!r} already exists")
        self.current = self.machines[name] = Machine(name)
        return f'mach create "{name}"'

    def _mach_set(self, name):
        self.current = self.machine(name)
        return f'mach set "{name}"'

    def _mach_clear(self):
        self.current = None
        return "mach clear"

    def _load_platform(self, path):
        p = resolve_path(path)
        try:
            self.machine().board = load_board(p)
        except HarnessError as e:
            raise KeywordError(str(e)) from None
        return f"machine LoadPlatformDescription @{p}"

    def _load_elf(self, path):
        machine = self.machine()
        p = resolve_path(path)
        if not p.is_file():
            raise KeywordError(f"no ELF at {p}")
        if machine.board is not None:               # a user's ELF built for another board: say why, as `harness run`
            from harness.run import WrongBoard, check_elf
            try:
                check_elf(machine.board, p)
            except WrongBoard as e:
                raise KeywordError(str(e)) from None
        machine.elf = p
        if machine.engine is not None and self.engine_name == "emulated":
            machine.engine = self.engine.start(machine)      # a running machine reloads, as after reset
        return f"sysbus LoadELF @{p}"

    def _machine_reset(self):
        engine = self.machine().engine
        if engine is not None:
            engine.reset()                                     # the renode console forwards it itself
        return None

    def _start(self):
        self.start()
        return None

    def start(self) -> None:
        for machine in self.machines.values():
            if machine.engine is None and machine.board is not None and machine.elf is not None:
                try:
                    machine.engine = self.engine.start(machine)
                except HarnessError as e:
                    raise KeywordError(str(e)) from None
        self.engine.run()
        self.started = True

    def create_tester(self, uart: str, timeout: float, machine: str | None) -> int:
        m = self.machine(machine)
        board = m.require_board()
        console = f"sysbus.{board.console.uart}"
        if uart not in (console, board.console.uart):
            raise KeywordError(f"only the console UART is modelled on {board.name}: {console}, not {uart}")
        if any(t.machine is m for t in self.testers):
            raise KeywordError(f"Terminal tester for peripheral {uart} in machine {m.name} already exists")
        self.testers.append(Tester(m, console, timeout))
        return len(self.testers)

    def tester(self, tester_id: int | None = None) -> Tester:
        if not self.testers:
            raise KeywordError("no terminal tester: Create Terminal Tester first")
        if tester_id is None:
            return self.testers[-1] if len(self.testers) == 1 else self._only_tester()
        try:
            return self.testers[int(tester_id) - 1]
        except (IndexError, ValueError):
            raise KeywordError(f"no terminal tester {tester_id}") from None

    def _only_tester(self) -> Tester:
        raise KeywordError(f"{len(self.testers)} terminal testers exist: give testerId")

    def close(self) -> None:
        self.engine.close()
