"""Latency and energy in what `harness check` reports (verdicts, summary.md, results.json, junit.xml,
latency.png), the pytest helper that holds the upper bound to a limit, and the pairing of a hardware
report with the emulated counts of its own ELF. The hardware figures here are SYNTHETIC (made up by the
test, marked so, written to tmp_path only).

The shipped tables are calibrated (their claims: tests/test_calibration.py); the hand arithmetic here is
the uncalibrated mapping's (modelled cycles / clock +- [uncalibrated] rel_err), so the whole module reads
copies of the three boards' tables without their [calibrated] section through $HARNESS_CALIBRATION,
which check's worker processes and the Robot library inherit."""
from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from harness.board import load_board
from harness.calibration.measurements import read_hardware_report, sha256_file
from harness.check import check_cell
from harness.pytest_plugin import assert_latency_below
from harness.report import write_report
from tests.conftest import uncalibrated_copy

pytestmark = pytest.mark.emulated
ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "renode/calibration"
BOARDS = ["nucleo_f446re", "nucleo_f746zg"]
ALL_BOARDS = ["nucleo_f446re", "nucleo_f746zg", "nucleo_f767zi"]


def _clock(board: str) -> int:
    return int(re.search(r"systickFrequency:\s*(\d+)", (ROOT / "renode/platforms" / f"{board}.repl").read_text())[1])


def _rel_err(board: str) -> float:
    return tomllib.loads((SHIPPED / f"{board}.toml").read_text())["uncalibrated"]["rel_err"]


@pytest.fixture(scope="module", autouse=True)
def uncalibrated_tables(tmp_path_factory):
    """$HARNESS_CALIBRATION -> uncalibrated copies of every board's table, for the whole module."""
    from harness.calibration import table_for
    folder = tmp_path_factory.mktemp("uncalibrated-tables")
    for board in ALL_BOARDS:
        uncalibrated_copy(board, folder)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HARNESS_CALIBRATION", str(folder))
        for board in ALL_BOARDS:
            table = table_for(board)
            assert table.path == folder / f"{board}.toml" and table.status == "uncalibrated"
            assert table.rel_err == _rel_err(board)
        yield folder


@pytest.fixture(scope="module")
def verdicts(small_model, uncalibrated_tables):
    mid, path = small_model
    return [check_cell(mid, path, load_board(b), inputs=1, seed=0) for b in BOARDS]


def test_check_verdict_carries_latency_from_the_table(verdicts):
    for v in verdicts:
        assert v.status == "pass", v.reasons
        ms = 1e3 * v.cycles / _clock(v.board)
        assert v.latency_ms == pytest.approx(ms, rel=1e-12)
        assert v.latency_err_ms == pytest.approx(_rel_err(v.board) * ms, rel=1e-12)
        assert v.latency_status == "uncalibrated" and v.energy_mj > 0 and v.energy_err_mj > 0
        assert str(v.prediction).endswith(" ms (uncalibrated)")


def test_latency_helper_uses_the_upper_bound(verdicts):
    v = verdicts[0]
    between = v.latency_ms + v.latency_err_ms / 2         # above the value, below its upper bound
    with pytest.raises(AssertionError, match="upper bound"):
        assert_latency_below(v, between)
    assert assert_latency_below(v, v.latency_ms + 2 * v.latency_err_ms) == pytest.approx(v.prediction.upper_ms)


def test_report_shows_latency_and_energy_with_errors(verdicts, tmp_path):
    v = verdicts[0]
    hw = tmp_path / "hardware"        # a SYNTHETIC hardware report of the very ELF: a measured point
    hw.mkdir()
    (hw / f"{v.model}-{v.board}.json").write_text(json.dumps(
        {"model": v.model, "board": v.board, "source": "hardware", "synthetic": True, "elf": v.elf,
         "silicon": {"cycles": int(v.cycles * 1.05)}}))
    meta = {"started": "2026-01-01T00-00-00", "wall_seconds": 1.0, "cpus": 2, "inputs": 1, "seed": 0}
    folder = write_report(verdicts, {}, meta, tmp_path)
    assert (folder / "latency.png").stat().st_size > 0
    summary = (folder / "summary.md").read_text()
    assert "## Latency and energy per inference" in summary
    for x in verdicts:
        p = x.prediction
        assert f"{p.latency}, {p.energy} (uncalibrated)" in summary
    cells = json.loads((folder / "results.json").read_text())["cells"]
    assert cells[0]["latency_ms"] == v.latency_ms and cells[0]["latency_status"] == "uncalibrated"
    assert cells[0]["latency_upper_ms"] == pytest.approx(v.latency_ms + v.latency_err_ms)
    case = next(ET.fromstring((folder / "junit.xml").read_text()).iter("testcase"))
    props = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert float(props["latency_ms"]) == pytest.approx(v.latency_ms)
    assert float(props["energy_err_mj"]) == pytest.approx(v.energy_err_mj)
    assert props["latency_status"] == "uncalibrated"
    from harness.report import measured_latencies
    assert measured_latencies(verdicts, hw) == {(v.model, v.board): pytest.approx(1e3 * int(v.cycles * 1.05) / _clock(v.board))}


def test_hardware_report_is_paired_with_its_elfs_emulated_counts(verdicts, small_model, tmp_path):
    """A report in tests/test_hardware.py's format (no emulated counts in it): calibrate emulates its ELF
    with the seeded input the hardware test times, and gets what harness check counted for that ELF."""
    v = verdicts[0]
    report = tmp_path / f"{v.model}-{v.board}.json"
    silicon_cycles = int(v.cycles * 1.2)                    # SYNTHETIC board figure
    report.write_text(json.dumps({**v.as_dict(), "source": "hardware", "synthetic": True,
                                  "model": str(small_model[1]),
                                  "silicon": {"cycles": silicon_cycles, "port": "/dev/ttyACM9"}}))
    m = read_hardware_report(report)
    assert (m.cycles, m.instructions) == (v.cycles, v.instructions)
    assert m.firmware_sha256 == sha256_file(Path(v.elf)) and m.synthetic
    assert m.measured_ms == pytest.approx(1e3 * silicon_cycles / _clock(v.board))


def test_robot_latency_keyword_uses_the_upper_bound(small_model, uncalibrated_tables):
    """`Latency Should Be Below` on the emulated engine: passes a limit above the upper bound, fails one
    between the predicted value and its upper bound (the value alone would pass)."""
    from harness.robot import Harness
    from harness.robot.emulation import KeywordError
    board = "nucleo_f446re"
    lib = Harness("emulated")
    elf = lib.build(small_model[0], board)
    lib.execute_command(f'mach create "{board}"')
    lib.execute_command(f"machine LoadPlatformDescription @{ROOT / 'renode/platforms' / (board + '.repl')}")
    lib.execute_command(f"sysbus LoadELF @{elf}")
    lib.create_terminal_tester(lib.console_uart(board), timeout=8)
    lib.start_emulation()
    lib.wait_for_line_on_uart("m-ready")
    lib.output_should_match_tflm(small_model[0], inputs=1)
    upper_us = lib.latency_should_be_below("1 s")
    rel = _rel_err(board)
    value_us = upper_us / (1 + rel)
    assert lib.latency_should_be_below(f"{upper_us * 1.001} us") == pytest.approx(upper_us)
    between = (value_us + upper_us) / 2
    with pytest.raises(KeywordError, match="upper bound"):
        lib.latency_should_be_below(f"{between} us")
    lib.emulation.close()


def test_check_uses_a_calibrated_table_from_harness_calibration(small_model, tmp_path, monkeypatch):
    """A SYNTHETIC lab fit (every build exactly 1.25 x its modelled cycles) in $HARNESS_CALIBRATION:
    harness check's latency is then 1.25 x cycles / clock, marked calibrated (n=6)."""
    import csv
    from typer.testing import CliRunner
    from harness.cli import app
    board = "nucleo_f446re"
    rows = [{"firmware_sha256": f"{i:064x}", "board": board, "measured_ms": 1e3 * 1.25 * c / _clock(board),
             "cycles": c, "synthetic": "true"} for i, c in enumerate([10_000, 40_000, 90_000, 300_000, 1_000_000, 7_000_000])]
    with (tmp_path / "lab.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    res = CliRunner().invoke(app, ["calibrate", str(tmp_path / "lab.csv"), "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    monkeypatch.setenv("HARNESS_CALIBRATION", str(tmp_path))
    mid, path = small_model
    v = check_cell(mid, path, load_board(board), inputs=1, seed=0)
    assert v.latency_status == "calibrated (n=6)"
    assert v.latency_ms == pytest.approx(1e3 * 1.25 * v.cycles / _clock(board), rel=1e-9)


def test_hardware_junit_is_paired_with_the_rebuilt_firmwares_counts(verdicts, small_model, tmp_path):
    """The JUnit XML of `pytest -m hardware` (record_property of test_on_silicon; SYNTHETIC figures):
    the firmware is rebuilt from the same sources (the same ELF, by the build cache's source hash) and
    emulated; a case that is not a hardware timing is passed over."""
    from harness.calibration.measurements import read_junit
    v = verdicts[0]
    xml = tmp_path / "hw.xml"
    xml.write_text(f"""<testsuites><testsuite name="pytest">
<testcase classname="tests.test_hardware" name="test_on_silicon[{v.model}-{v.board}]"><properties>
<property name="model" value="{small_model[0]}"/><property name="board" value="{v.board}"/>
<property name="source" value="hardware"/><property name="cycles" value="{v.cycles * 2}"/>
<property name="lap_us_per_inference" value="1.0"/><property name="port" value="/dev/ttyACM3"/>
<property name="synthetic" value="true"/></properties></testcase>
<testcase classname="tests.test_zoo" name="test_bit_exact[x]"><properties>
<property name="source" value="emulated"/><property name="cycles" value="5"/></properties></testcase>
</testsuite></testsuites>""")
    (m,) = read_junit(xml)
    assert (m.cycles, m.instructions, m.board_serial, m.synthetic) == (v.cycles, v.instructions, "/dev/ttyACM3", True)
    assert m.firmware_sha256 == sha256_file(Path(v.elf))
    assert m.measured_ms == pytest.approx(1e3 * 2 * v.cycles / _clock(v.board))
