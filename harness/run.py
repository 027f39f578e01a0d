"""`harness run`: boot any ELF built for one of the boards on the emulated board, stream its console,
stop on a regular expression, a fault, a cycle budget or a semihosting exit, and time the code between
two symbols or addresses (`--measure start:end`, per pass).

Before anything runs, the ELF is checked against the board (`check_elf`): every loadable segment must lie
inside one memory region of the board's map, and the build's architecture and FPU, from the ELF's
.ARM.attributes (Tag_CPU_arch, Tag_CPU_arch_profile, Tag_FP_arch, Tag_ABI_HardFP_use), must be ones the
board's core runs: both cores are ARMv7E-M; the M4's FPU is FPv4-SP, the M7's FPv5, single or double
precision as the board's `//! fpu:` fact says.
"""
from __future__ import annotations

import re
from collections import deque
from fractions import Fraction
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from harness.backends import BoardExit, BoardFault, BoardHang, BoardIdle
from harness.backends.emulated import EmulatedBoard, WatchHit
from harness.backends.image import Image
from harness.board import Board
from harness.calibration.table import Prediction, table_for
from harness.errors import HarnessError


class WrongBoard(HarnessError):
    """The ELF was not built for this board."""


# --------------------------------------------------------------------------------------------------
# the ELF against the board

# Tag_CPU_arch values (ARM ABI addenda, "Build attributes") the ARMv7E-M cores execute: v6-M, v6S-M,
# v7 (with the M profile: v7-M) and v7E-M. Newer ones (v8-M: 16, 17; v8.1-M: 21) use instructions
# these cores do not have.
_ARCH_NAMES = {10: "v7", 11: "v6-M", 12: "v6S-M", 13: "v7E-M", 14: "v8-A", 16: "v8-M.baseline",
               17: "v8-M.mainline", 21: "v8.1-M.mainline"}
_ARCH_OK = {10, 11, 12, 13}
# Tag_FP_arch: 0 none, 1 VFPv1, 2 VFPv2, 3 VFPv3 (D32), 4 VFPv3-D16, 5 VFPv4 (D32), 6 VFPv4-D16,
# 7 ARMv8 FP (D32), 8 FPv5/FP-D16 for ARMv8
_FP_NAMES = {1: "VFPv1", 2: "VFPv2", 3: "VFPv3", 4: "VFPv3-D16", 5: "VFPv4", 6: "VFPv4-D16", 7: "ARMv8 FP",
             8: "FPv5-D16"}
_FP_OK = {"m4": {2, 4, 6}, "m7": {2, 4, 6, 8}}     # D16 register files; the M4 lacks FPv5's instructions
_FP_UNIT = {"m4": "FPv4-SP", "m7": "FPv5"}


def elf_attributes(path: Path) -> dict[str, int | str] | None:
    """The ELF's public ("aeabi") build attributes by tag name, None when it has no .ARM.attributes."""
    from harness.elf import open_elf
    with open_elf(path) as elf:
        sec = elf.get_section_by_name(".ARM.attributes")
        if sec is None:
            return None
        out = {}
        for sub in sec.iter_subsections():
            for subsub in sub.iter_subsubsections():
                for a in subsub.iter_attributes():
                    out[a.tag] = a.value
        return out


def check_elf(board: Board, path: Path, load_address: int | None = None) -> list[str]:
    """Raise WrongBoard with the reason when `path` cannot run on `board`; return notes (e.g. that the
    ELF carries no build attributes, so its architecture was not checked). With `load_address`, `path` is
    a raw image loaded there: only where it lands can be checked."""
    image = Image(path, load_address)
    for addr, data in image.segments:
        end = addr + len(data)
        if not any(r.base <= addr and end <= r.end for r in board.regions):
            inside = ", ".join(f"{r.name} 0x{r.base:08x}..0x{r.end:08x}" for r in board.regions)
            raise WrongBoard(f"{path}: {'image' if image.raw else 'segment'} 0x{addr:08x}..0x{end:08x} "
                             f"({len(data):,} B) is not inside one memory region of {board.name} ({inside}): "
                             f"not built for this board")
    if image.raw:
        return [f"{path.name} is a raw image loaded at 0x{load_address:08x}: no build attributes, so its "
                f"architecture and FPU were not checked"]
    attrs = elf_attributes(path)
    if attrs is None:
        return [f"{path.name} has no .ARM.attributes: its architecture and FPU were not checked"]
    arch = attrs.get("TAG_CPU_ARCH")
    profile = attrs.get("TAG_CPU_ARCH_PROFILE")
    if arch is not None and (arch not in _ARCH_OK or (arch == 10 and profile not in (None, 0x4D))):
        raise WrongBoard(f"{path}: built for {_ARCH_NAMES.get(arch, f'architecture {arch}')}; {board.name}'s "
                         f"{board.cpu_type} is ARMv7E-M")
    if profile not in (None, 0, 0x4D):
        raise WrongBoard(f"{path}: built for the {chr(profile)} profile; {board.name} is a microcontroller (M)")
    fp = attrs.get("TAG_FP_ARCH", 0)
    if fp:
        precision = board.fpu
        if precision == "none":
            raise WrongBoard(f"{path}: uses the FPU ({_FP_NAMES.get(fp, fp)}); {board.name} has none")
        if fp not in _FP_OK[board.core]:
            raise WrongBoard(f"{path}: built for {_FP_NAMES.get(fp, f'FP architecture {fp}')}; {board.name}'s "
                             f"{board.cpu_type} has {_FP_UNIT[board.core]}-D16"
                             + (" (a Cortex-M7 build: FPv5 instructions the M4 lacks)" if fp == 8 else ""))
        # Tag_ABI_HardFP_use: 0 = as Tag_FP_arch (single and double), 1 = single only, 2 = double only, 3 = both
        if precision == "single" and attrs.get("TAG_ABI_HARDFP_USE", 0) != 1:
            raise WrongBoard(f"{path}: uses double-precision floating point in hardware; {board.name}'s FPU is "
                             f"single-precision only (build with -mfpu={'fpv5-sp-d16' if board.core == 'm7' else 'fpv4-sp-d16'})")
    return []


# --------------------------------------------------------------------------------------------------
# time between two points

def latency(board: Board | str, cycles: float, instructions: int | None = None,
            events: dict[str, int] | None = None) -> Prediction:
    """Milliseconds (± error, with the table's status) of `cycles` modelled cycles on `board`: the board's
    calibration table (renode/calibration/<board>.toml), the one conversion of every report; a calibrated
    mapping may also need the instructions and the memory system's events of the same run."""
    return table_for(board).predict(cycles, instructions, events=events)


def parse_point(engine: EmulatedBoard, text: str) -> int:
    text = text.strip()
    if re.fullmatch(r"0[xX][0-9a-fA-F]+", text):
        return int(text, 16) & ~1
    return engine.symbol(text) & ~1


@dataclass
class Measure:
    """Cycles from the instruction at `start` to the instruction at `end`, one value per pass (a pass
    starts at `start` and ends at the next `end`). Milliseconds are at the clock the firmware programmed
    during the pass (the RCC model's board time), which the calibration table's, at the board's nominal
    clock, are scaled to."""
    spec: str
    start: int
    end: int
    ticks_per_cycle: int
    passes: list[tuple[int, int]] = field(default_factory=list)    # (instructions, ticks)
    events: list[dict[str, int]] = field(default_factory=list)       # the memory system's, per pass
    clocks: list[float] = field(default_factory=list)    # the pass's mean programmed clock over the nominal one
    _open: tuple[int, int, dict[str, int]] | None = None

    def on_start(self, engine, hit: WatchHit) -> None:
        if self._open is None:
            self._open = (hit.instructions, hit.ticks, engine.memory_events())

    def on_end(self, engine, hit: WatchHit) -> None:
        if self._open is not None:
            ticks = hit.ticks - self._open[1]
            self.passes.append((hit.instructions - self._open[0], ticks))
            before = self._open[2]
            self.events.append({k: v - before.get(k, 0) for k, v in engine.memory_events().items()})
            t0, t1 = self._open[1] // self.ticks_per_cycle, hit.ticks // self.ticks_per_cycle
            nominal = Fraction(t1 - t0, engine.board.clock_hz)
            board_time = engine.seconds(t1) - engine.seconds(t0)
            self.clocks.append(float(nominal / board_time) if board_time else 1.0)
            self._open = None

    @property
    def cycles(self) -> list[float]:
        return [t / self.ticks_per_cycle for _, t in self.passes]

    def summary(self, board: Board) -> dict:
        c = self.cycles
        if not c:
            return {"measure": self.spec, "n": 0}
        # each pass through the table with its own instructions and memory-system events
        per_pass = [latency(board, cycles, ins, events)
                    for cycles, (ins, _), events in zip(c, self.passes, self.events or [None] * len(c))]
        clocks = self.clocks or [1.0] * len(c)
        ms = [p.latency_ms / k for p, k in zip(per_pass, clocks)]
        status = per_pass[0].status
        if any(abs(k - 1) > 1e-9 for k in clocks):
            status += f", at the firmware's {board.clock_hz * min(clocks) / 1e6:g} MHz"
        return {"measure": self.spec, "n": len(c), "min": min(c), "mean": sum(c) / len(c), "max": max(c),
                "instructions": [i for i, _ in self.passes], "events": self.events,
                "ms_min": min(ms), "ms_max": max(ms), "ms_mean": sum(ms) / len(ms),
                "ms_err": max(p.latency_err_ms / k for p, k in zip(per_pass, clocks)), "calibration": status}


# --------------------------------------------------------------------------------------------------
# running

# `harness run` without --budget stops a firmware after this much board time (modelled cycles at the board's
# clock: 1.8e9 on the F446RE). MLPerf Tiny's performance run, the longest thing a benchmark firmware does
# unattended, is timed over at least 10 s; the zoo's slowest inference takes well under 1 s.
DEFAULT_BUDGET_SECONDS = 10


def default_budget(board: Board) -> int:
    return int(DEFAULT_BUDGET_SECONDS * board.clock_hz)


@dataclass
class RunResult:
    reason: str                  # until | fault | budget | exit | idle | hang | instructions
    detail: str
    instructions: int
    cycles: int
    lines: list[str]
    measures: list[Measure]
    report: str | None = None    # the fault or hang report
    exit_code: int | None = None


def parse_send(text: str) -> bytes:
    """One `--send` (or script line) as bytes: the text with backslash escapes (\\n, \\r, \\xNN) decoded."""
    import codecs
    try:
        return codecs.escape_decode(text.encode())[0]
    except ValueError as e:
        raise HarnessError(f"--send {text!r}: {e}") from None


def read_script(path: Path) -> list[bytes]:
    """A send script: one send per line (escapes as --send), blank lines and lines starting with # skipped."""
    path = Path(path)
    if not path.is_file():
        raise HarnessError(f"no send script at {path}")
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise HarnessError(f"{path}: cannot read the send script ({e})") from None
    return [parse_send(line) for line in lines if line.strip() and not line.startswith("#")]


def run_elf(board: Board, elf: Path, *, until: str | None = None, budget: int | None = None,
            measure: list[str] = (), on_line: Callable[[str], None] = lambda s: None,
            profile: bool = False, engine_options: dict | None = None, load_address: int | None = None,
            sends: list[bytes] = (), on_send: Callable[[bytes], None] = lambda b: None,
            ) -> tuple[RunResult, EmulatedBoard]:
    """Boot `elf` (or the raw image at `load_address`) on `board` and run until `until` (a regular
    expression) matches a console line, a fault, `budget` modelled cycles, or a semihosting exit. Each
    console line goes to `on_line` as it comes. `sends` drive the firmware without a terminal: each time it
    waits for input (what ends a run as `idle`), the next one is written to its console receiver."""
    elf = Path(elf)
    check_elf(board, elf, load_address)
    engine = EmulatedBoard(board, elf, budget=1 << 62, cycle_budget=budget, profile=profile,
                           load_address=load_address, **(engine_options or {}))
    pending = deque(sends)
    measures = []
    for spec in measure:
        if spec.count(":") != 1:
            raise HarnessError(f"--measure {spec!r}: expected start:end (symbols or 0x addresses)")
        a, b = (parse_point(engine, s) for s in spec.split(":"))
        m = Measure(spec, a, b, engine.ticks_per_cycle)
        engine.watch(a, m.on_start)
        engine.watch(b, m.on_end)
        measures.append(m)
    try:
        pattern = re.compile(until) if until else None
    except re.error as e:
        raise HarnessError(f"--until {until!r} is not a regular expression: {e}") from None
    lines: list[str] = []

    def result(reason: str, detail: str, report: str | None = None, code: int | None = None) -> RunResult:
        return RunResult(reason, detail, engine.instructions, engine.cycles, lines, measures, report, code)

    while True:
        try:
            line = engine.read_line()
        except BoardExit as e:
            return result("exit", f"semihosting exit, code {e.exit_code}", code=e.exit_code), engine
        except BoardFault as f:
            return result("fault", f.verdict, str(f)), engine
        except BoardIdle as e:
            if pending:
                data = pending.popleft()
                on_send(data)
                engine.write(data)
                continue
            return result("idle", e.verdict, str(e)), engine
        except BoardHang as e:
            if e.report and e.report.get("kind") == "cycle-budget":
                return result("budget", f"cycle budget of {budget:,} reached"), engine
            return result("hang", e.verdict, str(e)), engine
        lines.append(line)
        on_line(line)
        if pattern is not None and pattern.search(line):
            return result("until", f"console line matched {until!r}"), engine
