"""`harness bench engine`: the built-in emulated board's speed, with and without cycle accounting.

The workload is firmware/bench/engine_bench.c (an int8 fully-connected layer with requantisation, run n
times: a tight loop of 6-instruction blocks, where a per-block hook weighs most); n is chosen so one run
executes at least `instructions` instructions. Two engines run it, one with cycle accounting and one
without, alternately `repeats` times each after a short warm-up; only the workload's own command is
timed (not the boot). MIPS = executed instructions / CPU seconds of this process / 1e6 (the engine runs on
the calling thread; CPU time is less disturbed than wall time by other load on the machine); the
figure per mode is the best of the repetitions.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from harness.backends.emulated import EmulatedBoard
from harness.board import Board, load_board
from harness.build import BARE_SOURCES, FIRMWARE, build_firmware
from harness.errors import HarnessError

BENCH_SOURCE = FIRMWARE / "bench" / "engine_bench.c"
MIN_INSTRUCTIONS = 100_000_000


@dataclass
class ModeRun:
    cycles_on: bool
    instructions: int
    seconds: float
    cycles: int              # modelled cycles of the run (0 with accounting off)
    firmware_cycles: int     # the firmware's own DWT CYCCNT delta

    @property
    def mips(self) -> float:
        return self.instructions / self.seconds / 1e6


@dataclass
class EngineBench:
    board: str
    passes: int
    instructions: int
    runs: list[ModeRun] = field(default_factory=list)

    def best(self, cycles_on: bool) -> ModeRun:
        return max((r for r in self.runs if r.cycles_on == cycles_on), key=lambda r: r.mips)

    @property
    def ratio(self) -> float:
        """Best MIPS with accounting / best MIPS without (the target is >= 0.8)."""
        return self.best(True).mips / self.best(False).mips

    @property
    def paired_ratio(self) -> float:
        """Median over the repetitions of (MIPS on / MIPS off) of back-to-back runs."""
        off = [r for r in self.runs if not r.cycles_on]
        on = [r for r in self.runs if r.cycles_on]
        ratios = sorted(b.mips / a.mips for a, b in zip(off, on))
        return ratios[len(ratios) // 2]

    @property
    def cycles(self) -> int:
        return self.best(True).cycles

    def as_dict(self) -> dict:
        on, off = self.best(True), self.best(False)
        return {"board": self.board, "passes": self.passes, "instructions": self.instructions,
                "mips_off": round(off.mips, 1), "mips_on": round(on.mips, 1), "ratio": round(self.ratio, 3),
                "paired_ratio": round(self.paired_ratio, 3),
                "cycles": on.cycles, "cpi": round(on.cycles / on.instructions, 3),
                "seconds_off": round(off.seconds, 3), "seconds_on": round(on.seconds, 3)}


def _boot(board: Board, elf, cycles: bool) -> EmulatedBoard:
    engine = EmulatedBoard(board, elf, cycles=cycles, budget=1 << 62)
    line = engine.read_line()
    if line != "engine_bench ready":
        raise HarnessError(f"engine bench firmware did not start: {line!r}")
    return engine


def _run(engine: EmulatedBoard, passes: int) -> tuple[int, float, int, int]:
    engine.write(f"run {passes}\n".encode())
    n0, c0 = engine.instructions, engine.cycles
    t0 = time.process_time()
    line = engine.read_line()
    seconds = time.process_time() - t0
    fields = line.split()
    if len(fields) != 3 or fields[0] != "done":
        raise HarnessError(f"engine bench firmware answered {line!r}")
    return engine.instructions - n0, seconds, engine.cycles - c0, int(fields[2])


def engine_bench(board_name: str = "nucleo_f446re", instructions: int = 200_000_000, repeats: int = 5,
                 progress=lambda s: None) -> EngineBench:
    """Boot one engine with cycle accounting and one without, run a short warm-up on each (translation
    and the one-time pricing of every block), then alternate `repeats` timed runs of the workload."""
    if instructions < MIN_INSTRUCTIONS:
        raise HarnessError(f"the engine bench needs a workload of at least {MIN_INSTRUCTIONS:,} instructions")
    board = load_board(board_name)
    elf = build_firmware(board, {}, name="engine_bench", sources=[BENCH_SOURCE, *BARE_SOURCES]).elf
    progress("calibrating")
    engines = {False: _boot(board, elf, False), True: _boot(board, elf, True)}
    per_pass = _run(engines[False], 4)[0] / 4
    _run(engines[True], 4)
    passes = math.ceil(instructions * 1.02 / per_pass)
    bench = EngineBench(board.name, passes, 0)
    for rep in range(repeats):
        for cycles_on in (False, True):
            progress(f"run {rep + 1}/{repeats}, cycle accounting {'on' if cycles_on else 'off'}")
            n, seconds, cycles, fw_cycles = _run(engines[cycles_on], passes)
            bench.runs.append(ModeRun(cycles_on, n, seconds, cycles, fw_cycles))
            bench.instructions = n
    return bench
