"""The cycle-to-latency table (harness/calibration): the uncalibrated default against hand arithmetic
from the .repl, fitting against synthetic measurements with known parameters, the refusal to fit too few
points, and the round trip hardware-format results -> `harness calibrate` -> table -> prediction.

Every measurement here is SYNTHETIC, made up by these tests (marked `synthetic` in the files they write,
which go to pytest's tmp_path): none of it is calibration data, and none is written to renode/calibration.
"""
from __future__ import annotations

import csv
import hashlib
import json
import math
import re
import tomllib
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from harness.calibration import table_for
from harness.calibration.models import Point, choose, fit_candidate
from harness.cli import app
from harness.errors import HarnessError

ROOT = Path(__file__).resolve().parent.parent
PLATFORMS, SHIPPED = ROOT / "renode" / "platforms", ROOT / "renode" / "calibration"
BOARDS = ["nucleo_f446re", "nucleo_f746zg", "nucleo_f767zi"]


def _repl_clock(board: str) -> int:
    """The core clock straight from the .repl text (the NVIC's systickFrequency), not via harness.board."""
    return int(re.search(r"systickFrequency:\s*(\d+)", (PLATFORMS / f"{board}.repl").read_text())[1])


def _shipped(board: str) -> dict:
    return tomllib.loads((SHIPPED / f"{board}.toml").read_text())


# ------------------------------------------------------------------ the shipped, uncalibrated default
@pytest.mark.parametrize("board", BOARDS)
def test_uncalibrated_latency_is_modelled_cycles_over_the_repl_clock(board):
    doc = _shipped(board)
    assert doc["status"] == "uncalibrated" and "calibrated" not in doc
    cycles, instructions = 2_345_678, 1_900_000
    p = table_for(board).predict(cycles, instructions)
    ms = cycles / _repl_clock(board) * 1000
    rel, watts, dwatts = doc["uncalibrated"]["rel_err"], doc["power"]["watts"], doc["power"]["err_watts"]
    assert p.status == "uncalibrated"
    assert p.latency_ms == pytest.approx(ms, rel=1e-12)
    assert p.latency_err_ms == pytest.approx(rel * ms, rel=1e-12)
    assert p.upper_ms == pytest.approx(ms * (1 + rel), rel=1e-12)
    assert p.energy_mj == pytest.approx(watts * ms, rel=1e-12)          # W x ms = mJ
    assert p.energy_err_mj == pytest.approx(watts * ms * math.sqrt(rel ** 2 + (dwatts / watts) ** 2), rel=1e-12)


def test_uncalibrated_f446re_by_hand():
    """1.8 M cycles at 180 MHz are 10 ms; +-15 % (M4) is 1.5 ms; 0.16 W x 10 ms = 1.6 mJ, with +-10 % on
    the power and +-15 % on the time: 1.6 x sqrt(0.0225 + 0.01) = 0.2884 mJ."""
    p = table_for("nucleo_f446re").predict(1_800_000)
    assert (p.latency_ms, p.latency_err_ms) == (pytest.approx(10.0), pytest.approx(1.5))
    assert (p.energy_mj, p.energy_err_mj) == (pytest.approx(1.6), pytest.approx(0.2884, abs=1e-4))
    assert str(p) == "10.0 ± 1.5 ms (uncalibrated)"
    assert p.energy == "1.60 ± 0.29 mJ"


def test_stated_uncertainty_per_core_model():
    """M4: the TRM-exact core model, +-15 % for the memory system (flash weight reads of the DSP kernels); M7: +-25 % per docs/cycle-model.md;
    power from MicroNets for the F446RE (0.16 W) and F746ZG (0.45 W), each with its source."""
    want = {"nucleo_f446re": ("m4", 0.15, 0.16), "nucleo_f746zg": ("m7", 0.25, 0.45), "nucleo_f767zi": ("m7", 0.25, 0.45)}
    for board, (core, rel, watts) in want.items():
        doc = _shipped(board)
        assert (doc["uncalibrated"]["core_model"], doc["uncalibrated"]["rel_err"], doc["power"]["watts"]) == (core, rel, watts)
        assert doc["uncalibrated"]["reasoning"].strip() and doc["power"]["source"].strip()
    assert "MicroNets" in _shipped("nucleo_f446re")["power"]["source"]


# ------------------------------------------------------------------ fitting synthetic measurements
def _synthetic(truth, n: int, noise: float, seed: int, ops: bool = False) -> list[Point]:
    """Points whose real cycles are `truth(point)` times (1 + N(0, noise)): known parameters."""
    rng = np.random.default_rng(seed)
    points = []
    for i in range(n):
        split = {"CONV_2D": int(rng.uniform(1e5, 5e6)), "DEPTHWISE_CONV_2D": int(rng.uniform(5e4, 2e6)),
                 "FULLY_CONNECTED": int(rng.uniform(1e4, 1e6))}
        cycles = sum(split.values())
        p = Point(0.0, cycles, int(cycles * rng.uniform(0.6, 0.9)), split if ops else None, f"synthetic{i}")
        points.append(Point(truth(p) * (1 + rng.normal(0, noise)), p.cycles, p.instructions, p.ops, p.label))
    return points


def test_fit_recovers_a_scale_factor():
    points = _synthetic(lambda p: 1.137 * p.cycles, 12, 0.01, seed=1)
    fit = fit_candidate("scale", points)
    assert fit.coefficients[0] == pytest.approx(1.137, rel=0.01)
    assert fit.loo_rms_rel < 0.02 and fit.fit_rms_rel < 0.02


def test_fit_recovers_a_fixed_cost_and_chooses_it_by_loo():
    points = _synthetic(lambda p: 1.08 * p.cycles + 400_000, 14, 0.005, seed=2)
    chosen, results = choose(points)
    assert chosen.candidate == "affine"
    a, b = chosen.coefficients
    assert a == pytest.approx(1.08, rel=0.02) and b == pytest.approx(400_000, rel=0.15)
    assert results["scale"].loo_rms_rel > 3 * chosen.loo_rms_rel


def test_fit_recovers_per_op_factors_and_chooses_them_by_loo():
    factors = {"CONV_2D": 1.10, "DEPTHWISE_CONV_2D": 1.60, "FULLY_CONNECTED": 0.85}
    points = _synthetic(lambda p: sum(factors[k] * v for k, v in p.ops.items()), 16, 0.005, seed=3, ops=True)
    chosen, results = choose(points)
    assert chosen.candidate == "per-op"
    got = dict(zip(chosen.features, chosen.coefficients))
    for op, f in factors.items():
        assert got[op] == pytest.approx(f, rel=0.03)
    assert results["scale"].loo_rms_rel > 3 * chosen.loo_rms_rel


def test_refuses_too_few_points_and_says_how_many():
    points = _synthetic(lambda p: 1.1 * p.cycles, 4, 0.01, seed=4)
    with pytest.raises(HarnessError, match=r"from 4 measurement\(s\): at least 5"):
        choose(points)
    assert "needs at least 7" in fit_candidate("affine", _synthetic(lambda p: p.cycles, 6, 0.01, seed=5))


# ------------------------------------------------------------------ the round trip
def _fake_sha(i: int) -> str:
    return hashlib.sha256(f"synthetic firmware {i}".encode()).hexdigest()


def _hardware_report(folder: Path, i: int, board: str, cycles: int, instructions: int, silicon_cycles: int) -> Path:
    """A report in the format tests/test_hardware.py writes (verdict fields, source, silicon), with the
    emulated counts and the firmware hash carried in it, as a lab run of the workload records them."""
    path = folder / f"synthetic{i}-{board}.json"
    path.write_text(json.dumps({
        "model": f"synthetic{i}", "board": board, "status": "pass", "source": "hardware", "synthetic": True,
        "cycles": silicon_cycles, "instructions": None, "elf": None,
        "emulated": {"cycles": cycles, "instructions": instructions},
        "silicon": {"cycles": silicon_cycles, "lap_us_per_inference": 1.0, "port": "/dev/ttyACM0",
                    "board_serial": "SYNTHETIC-0001", "firmware_sha256": _fake_sha(i)}}))
    return path


def test_round_trip_hardware_reports_to_table_to_prediction(tmp_path):
    board, scale, overhead = "nucleo_f446re", 1.07, 50_000      # the synthetic board's truth
    before = {p.name: p.read_bytes() for p in SHIPPED.glob("*.toml")}
    rng = np.random.default_rng(7)
    reports = tmp_path / "hardware"
    reports.mkdir()
    rows = []
    for i in range(10):
        cycles = int(rng.uniform(2e5, 2e7))
        real = int((scale * cycles + overhead) * (1 + rng.normal(0, 0.003)))
        if i < 6:
            _hardware_report(reports, i, board, cycles, int(cycles * 0.8), real)
        else:       # the rest as CSV rows (the lab's other format)
            rows.append({"firmware_sha256": _fake_sha(i), "board": board, "board_serial": "SYNTHETIC-0002",
                         "measured_ms": 1e3 * real / _repl_clock(board), "cycles": cycles,
                         "instructions": int(cycles * 0.8), "model": f"synthetic{i}", "synthetic": "true"})
    with (tmp_path / "more.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, list(rows[0]))
        w.writeheader()
        w.writerows(rows)

    res = CliRunner().invoke(app, ["calibrate", str(reports), str(tmp_path / "more.csv"), "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert "chosen" in res.output and "LOO" in res.output
    table = table_for(board, tmp_path)
    doc = tomllib.loads((tmp_path / f"{board}.toml").read_text())
    assert doc["calibrated"]["synthetic"] is True and doc["calibrated"]["n"] == 10
    assert doc["calibrated"]["board_serials"] == ["SYNTHETIC-0001", "SYNTHETIC-0002"]
    assert len(doc["calibrated"]["provenance"]) == 10
    assert doc["calibrated"]["applies_to"]["clock_hz"] == _repl_clock(board)

    cycles = 3_000_000
    p = table.predict(cycles, int(cycles * 0.8))
    truth_ms = 1e3 * (scale * cycles + overhead) / _repl_clock(board)
    assert p.status == "calibrated (n=10)"
    assert abs(p.latency_ms - truth_ms) <= p.latency_err_ms and p.latency_err_ms < 0.03 * truth_ms
    assert str(p).endswith("ms (calibrated (n=10))")
    # the shipped tables are untouched, and synthetic data is refused there
    assert {p.name: p.read_bytes() for p in SHIPPED.glob("*.toml")} == before
    res = CliRunner().invoke(app, ["calibrate", str(reports), str(tmp_path / "more.csv")])
    assert res.exit_code == 1 and "synthetic" in res.output
    assert {p.name: p.read_bytes() for p in SHIPPED.glob("*.toml")} == before


def test_calibrate_refuses_too_few_builds(tmp_path):
    for i in range(3):
        _hardware_report(tmp_path, i, "nucleo_f746zg", 1_000_000 * (i + 1), 800_000 * (i + 1), 1_100_000 * (i + 1))
    res = CliRunner().invoke(app, ["calibrate", str(tmp_path), "--out", str(tmp_path)])
    assert res.exit_code == 1
    assert "at least 5" in res.output and "from 3 measurement" in res.output
    assert not (tmp_path / "nucleo_f746zg.toml").exists()


def test_a_table_measured_at_other_board_facts_is_not_used(tmp_path):
    for i in range(6):
        _hardware_report(tmp_path, i, "nucleo_f446re", 1_000_000 * (i + 1), 800_000 * (i + 1), 2_000_000 * (i + 1))
    assert CliRunner().invoke(app, ["calibrate", str(tmp_path), "--out", str(tmp_path)]).exit_code == 0
    path = tmp_path / "nucleo_f446re.toml"
    assert table_for("nucleo_f446re", tmp_path).predict(1_800_000).latency_ms == pytest.approx(20.0, rel=1e-6)
    path.write_text(path.read_text().replace("flash_wait_states = 5", "flash_wait_states = 4"))
    stale = table_for("nucleo_f446re", tmp_path)
    assert stale.status == "uncalibrated" and "flash_wait_states=4" in stale.note
    assert stale.predict(1_800_000).latency_ms == pytest.approx(10.0)
