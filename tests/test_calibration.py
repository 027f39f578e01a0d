"""The cycle-to-latency table (harness/calibration): the uncalibrated mapping against hand arithmetic
from the .repl (on copies of the shipped tables without their [calibrated] section), the shipped tables'
calibrated claims (fitted to MicroNets Table 4 via TFLM+CMSIS-NN, ../shared/fidelity/manifest.toml),
fitting against synthetic measurements with known parameters, the refusal to fit too few points, and the
round trip hardware-format results -> `harness calibrate` -> table -> prediction.

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
from harness.calibration.table import CalibrationTable, load_table
from harness.cli import app
from harness.errors import HarnessError
from tests.conftest import uncalibrated_copy

ROOT = Path(__file__).resolve().parent.parent
PLATFORMS, SHIPPED = ROOT / "renode" / "platforms", ROOT / "renode" / "calibration"
MANIFEST = ROOT.parent / "shared" / "fidelity" / "manifest.toml"
BOARDS = ["nucleo_f446re", "nucleo_f746zg", "nucleo_f767zi"]
PUBLISHED = "MicroNets Table 4 via TFLM+CMSIS-NN"
DS_CNN = re.compile(r"ds[-_ ]?cnn", re.IGNORECASE)       # DSCNN-S, ds_cnn_m, DS-CNN


def _repl_clock(board: str) -> int:
    """The core clock straight from the .repl text (the NVIC's systickFrequency), not via harness.board."""
    return int(re.search(r"systickFrequency:\s*(\d+)", (PLATFORMS / f"{board}.repl").read_text())[1])


def _shipped(board: str) -> dict:
    return tomllib.loads((SHIPPED / f"{board}.toml").read_text())


# ------------------------------------------------------------------ the uncalibrated mapping
@pytest.mark.parametrize("board", BOARDS)
def test_uncalibrated_latency_is_modelled_cycles_over_the_repl_clock(board, tmp_path):
    doc = tomllib.loads(uncalibrated_copy(board, tmp_path).read_text())
    assert doc["status"] == "uncalibrated" and "calibrated" not in doc
    assert doc["uncalibrated"] == _shipped(board)["uncalibrated"] and doc["power"] == _shipped(board)["power"]
    cycles, instructions = 2_345_678, 1_900_000
    p = table_for(board, tmp_path).predict(cycles, instructions)
    ms = cycles / _repl_clock(board) * 1000
    rel, watts, dwatts = doc["uncalibrated"]["rel_err"], doc["power"]["watts"], doc["power"]["err_watts"]
    assert p.status == "uncalibrated"
    assert p.latency_ms == pytest.approx(ms, rel=1e-12)
    assert p.latency_err_ms == pytest.approx(rel * ms, rel=1e-12)
    assert p.upper_ms == pytest.approx(ms * (1 + rel), rel=1e-12)
    assert p.energy_mj == pytest.approx(watts * ms, rel=1e-12)          # W x ms = mJ
    assert p.energy_err_mj == pytest.approx(watts * ms * math.sqrt(rel ** 2 + (dwatts / watts) ** 2), rel=1e-12)


def test_uncalibrated_f446re_by_hand(tmp_path):
    """1.8 M cycles at 180 MHz are 10 ms; +-50 % (M4, uncalibrated) is 5.0 ms; 0.16 W x 10 ms = 1.6 mJ,
    with +-10 % on the power and +-50 % on the time: 1.6 x sqrt(0.25 + 0.01) = 0.8158 mJ."""
    uncalibrated_copy("nucleo_f446re", tmp_path)
    p = table_for("nucleo_f446re", tmp_path).predict(1_800_000)
    assert (p.latency_ms, p.latency_err_ms) == (pytest.approx(10.0), pytest.approx(5.0))
    assert (p.energy_mj, p.energy_err_mj) == (pytest.approx(1.6), pytest.approx(0.8158, abs=1e-4))
    assert str(p) == "10.0 ± 5.0 ms (uncalibrated)"
    assert p.energy == "1.60 ± 0.82 mJ"


def test_stated_uncertainty_per_core_model():
    """The uncalibrated mapping's stated error, from `harness fidelity` against the MicroNets Table 4
    firmware: M4 +-50 % (the model 42-46 % too fast), M7 +-40 % (23-34 % too fast), each reasoned in its file
    with that band; power from MicroNets for the F446RE (0.16 W) and F746ZG (0.45 W), each with its source."""
    want = {"nucleo_f446re": ("m4", 0.5, 0.16), "nucleo_f746zg": ("m7", 0.4, 0.45), "nucleo_f767zi": ("m7", 0.4, 0.45)}
    for board, (core, rel, watts) in want.items():
        doc = _shipped(board)
        assert (doc["uncalibrated"]["core_model"], doc["uncalibrated"]["rel_err"], doc["power"]["watts"]) == (core, rel, watts)
        assert doc["uncalibrated"]["reasoning"].strip() and doc["power"]["source"].strip()
        assert f"+-{round(100 * rel)} %" in doc["uncalibrated"]["reasoning"]       # the band it reasons for
    assert "MicroNets" in _shipped("nucleo_f446re")["power"]["source"]


# ------------------------------------------------------------------ the shipped, calibrated tables
@pytest.mark.parametrize("board", BOARDS)
def test_shipped_table_is_calibrated_from_micronets_table_4(board):
    """`harness calibrate --published`: 5 builds of the paper's own stack per board, leave-one-out within
    the issue's +-10 % target, no DS-CNN row among them, rel_err = max(2 x LOO RMS, worst LOO point)."""
    doc = _shipped(board)
    c = doc["calibrated"]
    assert doc["status"].startswith(f"calibrated (n=5, source: {PUBLISHED})")
    assert c["n"] == 5 and c["source_label"] == PUBLISHED and c["synthetic"] is False
    assert c["loo_max_rel"] < 0.10                                  # the +-10 % leave-one-out target
    assert 0 < c["loo_rms_rel"] <= c["loo_max_rel"]
    assert c["rel_err"] == pytest.approx(max(2 * c["loo_rms_rel"], c["loo_max_rel"]), rel=1e-12)
    chosen = c["fits"][0]
    assert chosen["candidate"] == c["chosen"]
    assert (chosen["loo_max_rel"], chosen["rel_err"]) == (c["loo_max_rel"], c["rel_err"])
    pairs = c["pairs"]
    assert len(pairs) == 5 and len({p["sha256"] for p in pairs}) == 5
    for p in pairs:
        assert p["board"] == board
        assert not DS_CNN.search(p["model"]) and not DS_CNN.search(p["paper_row"]), p
        assert re.fullmatch(r"[0-9a-f]{64}", p["sha256"]), p
        assert p["cycles"] > 0 and p["instructions"] > 0 and p["paper_ms"] > 0      # M7: dual issue, cycles < instructions
    # the DS-CNN rows of the board are reported as excluded, never fitted
    assert all("DS-CNN row" in e["reason"] for e in c["excluded"] if DS_CNN.search(e["paper_row"]))


@pytest.mark.skipif(not MANIFEST.is_file(),
                    reason=f"no fidelity manifest at {MANIFEST} (../shared/fidelity absent): the pairs' "
                           "sha256 cannot be checked against it")
@pytest.mark.parametrize("board", BOARDS)
def test_shipped_tables_pairs_are_the_manifests_builds(board):
    """Every fitted pair is an entry of ../shared/fidelity/manifest.toml for the board (its sha256, model,
    paper row and latency, and the instructions the manifest records), and they are all of the board's
    entries with a latency that fit the board and are not DS-CNN rows."""
    c = _shipped(board)["calibrated"]
    entries = [p for p in tomllib.loads(MANIFEST.read_text())["pair"] if p["board"] == board]
    by_sha = {p["sha256"]: p for p in entries}
    for pair in c["pairs"]:
        m = by_sha.get(pair["sha256"])
        assert m is not None, f"{board}: {pair['model']} sha256 {pair['sha256']} is not in {MANIFEST}"
        assert (m["model"], m["paper_row"], m["paper_latency_ms"]) == (pair["model"], pair["paper_row"], pair["paper_ms"])
        assert m["instructions"] == pair["instructions"]
        assert not DS_CNN.search(m["paper_row"]) and m.get("fits", True) and not m.get("suspect")
    fittable = [p["sha256"] for p in entries if p["paper_latency_ms"] != "none" and p.get("fits", True)
                and not DS_CNN.search(p["paper_row"]) and not p.get("suspect")]
    assert sorted(p["sha256"] for p in c["pairs"]) == sorted(fittable)


@pytest.mark.parametrize("board", BOARDS)
def test_shipped_table_predicts_with_at_least_its_stated_error(board):
    """load_table gives the calibrated table; a prediction from counts with the memory-system events its
    chosen mapping uses states at least the table's rel_err (plus the transfer term away from the
    calibration mix), and each calibration build's prediction is within that error of the paper's latency
    (an in-sample residual is no larger than its leave-one-out one)."""
    doc = _shipped(board)
    c = doc["calibrated"]
    table = load_table(SHIPPED / f"{board}.toml")
    assert isinstance(table, CalibrationTable) and table.calibrated and table.note == ""
    assert table.status == doc["status"] and table.n == 5 and table.source == PUBLISHED
    assert table.fits[0].candidate == c["chosen"]
    assert table.fits[0].rel_err == pytest.approx(c["rel_err"], rel=1e-12)
    for pair in c["pairs"]:
        for factor in (1.0, 0.5, 2.0):      # the build's own mix, and fewer / more memory events per cycle
            events = {k: int(v * factor) for k, v in pair["events"].items()}
            p = table.predict(pair["cycles"], pair["instructions"], events=events)
            assert p.status == doc["status"]             # the chosen mapping, not a fallback
            assert p.latency_err_ms / p.latency_ms >= c["rel_err"] * (1 - 1e-12)
            if factor == 1.0:
                assert abs(p.latency_ms - pair["paper_ms"]) <= p.latency_err_ms, (pair["model"], p)


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


def test_each_memory_mapping_keeps_the_other_side_as_modelled():
    """The fixed part of a mapping with one: core+stalls and core+fetch-lines drop every stall the memory
    model charged; core+data-stalls+fetch-lines drops only the instruction side's (the data side's stay);
    core+flash-reads and core+data-misses drop only the data side's. Hand numbers: 1,000 modelled cycles,
    100 of them stalls, 60 of those data stalls."""
    from harness.calibration.models import CANDIDATES, Point
    p = Point(real_cycles=2_000.0, cycles=1_000, events={"stall_cycles": 100, "data_stall_cycles": 60,
                                                          "fetch_lines": 10, "icache_misses": 2,
                                                          "data_reads": 5, "dcache_misses": 1})
    offsets = {name: CANDIDATES[name].offset(p) for name in (
        "core+stalls", "core+fetch-lines", "core+misses", "core+data-stalls+fetch-lines",
        "core+flash-reads", "core+data-misses")}
    assert offsets == {"core+stalls": 900.0, "core+fetch-lines": 900.0, "core+misses": 900.0,
                       "core+data-stalls+fetch-lines": 960.0, "core+flash-reads": 940.0, "core+data-misses": 940.0}
    # a point measured before the data side existed: all its stalls were the instruction side's
    old = Point(real_cycles=2_000.0, cycles=1_000, events={"stall_cycles": 100, "fetch_lines": 10})
    assert CANDIDATES["core+data-stalls+fetch-lines"].offset(old) == 900.0
    assert CANDIDATES["core+flash-reads"].offset(old) is None
