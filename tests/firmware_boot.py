"""Building and booting the test firmwares (tests/firmware/<stem>.c): each is compiled with the shared
bare-metal base (harness.build.BARE_SOURCES, firmware/bare) and greets with `<stem> <board> ready`."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from harness.backends.emulated import EmulatedBoard
from harness.backends.peripherals import Dwt
from harness.board import Board, load_board
from harness.build import BARE_SOURCES, build_firmware

FIRMWARE_DIR = Path(__file__).resolve().parent / "firmware"

Getter = Callable[[str], "tuple[Board, Path]"]


def sources(stem: str, vectors: bool = True) -> list[Path]:
    """The firmware's own source and the base; vectors=False leaves out the base's vector table for a
    firmware that defines its own."""
    return [FIRMWARE_DIR / f"{stem}.c", *(s for s in BARE_SOURCES if vectors or s.name != "vectors.c")]


def firmware(stem: str, generated: Callable[[Board], dict[str, str]] = lambda board: {},
             vectors: bool = True) -> Getter:
    """A getter board name -> (board, ELF), building once per board: what a module-scoped fixture returns.
    `generated` gives the extra generated files (name -> text) build_firmware adds for that board."""
    cache: dict[str, tuple[Board, Path]] = {}

    def get(board_name: str) -> tuple[Board, Path]:
        if board_name not in cache:
            board = load_board(board_name)
            elf = build_firmware(board, generated(board), name=stem, sources=sources(stem, vectors)).elf
            cache[board_name] = (board, elf)
        return cache[board_name]
    return get


def boot(get: Getter, board_name: str, **kw) -> EmulatedBoard:
    """A fresh engine on the firmware, past its `ready` line."""
    board, elf = get(board_name)
    engine = EmulatedBoard(board, elf, **kw)
    assert engine.read_line() == f"{elf.stem} {board_name} ready"
    return engine


def run_benches(engine: EmulatedBoard) -> dict[str, int]:
    """cycles_bench's `bench` command: benchmark name -> its CYCCNT difference."""
    engine.write(b"bench\n")
    out = {}
    while (line := engine.read_line()) != "end":
        name, value = line.split()
        out[name] = int(value)
    return out


def run_benches_ticks(engine: EmulatedBoard) -> dict[str, float]:
    """As run_benches, but each benchmark's modelled cycles exactly (ticks / ticks per cycle: halves on
    the M7 model), from the engine's own log of the two CYCCNT reads, which the firmware's integer
    readings round down. Needs an engine booted with reference_counter=True (it logs those reads)."""
    cyccnt = engine.board.peripheral_of_class("Miscellaneous.DWT").base + Dwt.CYCCNT
    start = len(engine.exact_log)
    names = list(run_benches(engine))
    ticks = [entry[6] for entry in engine.exact_log[start:] if entry[1] == cyccnt and not entry[2]]
    assert len(ticks) == 2 * len(names)
    return {n: (ticks[2 * i + 1] - ticks[2 * i]) / engine.ticks_per_cycle for i, n in enumerate(names)}


def run_icache_ticks(engine: EmulatedBoard, command: str = "icache") -> list[float]:
    """cycles_bench's `icache` command: the exact modelled cycles of calls_same (cold, warm) and calls_spread
    (cold, warm), from the engine's log of the CYCCNT reads (reference_counter=True), as run_benches_ticks.
    `dcache`: the same for dcache_few and dcache_thrash."""
    cyccnt = engine.board.peripheral_of_class("Miscellaneous.DWT").base + Dwt.CYCCNT
    start = len(engine.exact_log)
    engine.write(f"{command}\n".encode())
    assert engine.read_line().startswith(f"{command} ")
    ticks = [entry[6] for entry in engine.exact_log[start:] if entry[1] == cyccnt and not entry[2]]
    assert len(ticks) == 8
    return [(ticks[2 * i + 1] - ticks[2 * i]) / engine.ticks_per_cycle for i in range(4)]
