import re
import tomllib
from pathlib import Path

import pytest

from harness import registry

# The (model, board) parametrization, --board/--model/--zoo/--lab and the session cache. When the package
# is installed its pytest11 entry point (the same name) has loaded it already and this is a no-op.
pytest_plugins = ["harness.pytest_plugin"]

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "models"
CALIBRATION = Path(__file__).resolve().parent.parent / "renode" / "calibration"


def shared_model(rel: str) -> Path:
    p = SHARED / rel
    if not p.is_file():
        pytest.skip(f"{rel} is not on this machine (../shared/models absent)")
    return p


@pytest.fixture(scope="session")
def generated_model() -> Path:
    """A model this project builds itself: there on every machine."""
    return registry.resolve("gen_ad_fc_s")[1]


@pytest.fixture(scope="session")
def small_model() -> tuple[str, Path]:
    """The walking-skeleton model: TFLM's hello_world where ../shared has it, else our own."""
    p = SHARED / "tflite-micro/hello_world_int8.tflite"
    return ("hello_world_int8", p) if p.is_file() else registry.resolve("gen_ad_fc_s")


@pytest.fixture(scope="module")
def bench_elf():
    """The cycle microbenchmark firmware (tests/firmware/cycles_bench.c): board name -> (board, ELF)."""
    from firmware_boot import firmware
    return firmware("cycles_bench")


def uncalibrated_copy(board: str, folder: Path) -> Path:
    """The shipped table of `board` without its [calibrated] section (and the sub-tables under it), its
    status "uncalibrated", written to folder/<board>.toml: the same [uncalibrated] and [power] sections,
    so the table falls back to modelled cycles / clock +- the core model's rel_err."""
    text = (CALIBRATION / f"{board}.toml").read_text()
    head, found, _ = text.partition("\n[calibrated]\n")
    assert found, f"{board}.toml has no [calibrated] section"
    head, n = re.subn(r'(?m)^status = ".*"$', 'status = "uncalibrated"', head, count=1)
    assert n == 1, f"{board}.toml has no status line before [calibrated]"
    path = folder / f"{board}.toml"
    path.write_text(head + "\n")
    shipped, copy = tomllib.loads(text), tomllib.loads(path.read_text())
    # nothing but [calibrated] (everything after it is calibrated.*) and the status differ
    assert copy == {**{k: v for k, v in shipped.items() if k != "calibrated"}, "status": "uncalibrated"}
    return path


@pytest.fixture
def uncalibrated_tables(tmp_path, monkeypatch) -> Path:
    """$HARNESS_CALIBRATION -> uncalibrated copies of every board's table: latency = modelled cycles /
    clock, for tests whose expectations are that hand arithmetic."""
    folder = tmp_path / "uncalibrated-tables"
    folder.mkdir()
    for table in CALIBRATION.glob("*.toml"):
        uncalibrated_copy(table.stem, folder)
    monkeypatch.setenv("HARNESS_CALIBRATION", str(folder))
    return folder


@pytest.fixture
def tiny_f446(tmp_path) -> Path:
    """The F446RE's .repl with 4 KB of flash (a board named tiny_f446 that nothing fits)."""
    from harness.board import load_board
    text = load_board("nucleo_f446re").path.read_text()
    small = text.replace("flash: Memory.MappedMemory @ sysbus 0x08000000\n    size: 0x80000",
                         "flash: Memory.MappedMemory @ sysbus 0x08000000\n    size: 0x1000")
    assert small != text
    board = tmp_path / "tiny_f446.repl"
    board.write_text(small)
    return board
