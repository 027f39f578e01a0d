"""`harness calibrate`: measurements of one board -> the fitted mapping -> its table TOML.

Repeated measurements of one firmware build (several runs, several boards of the kind) are averaged
into one point: the fit and its leave-one-out error count distinct builds, so a build measured twice
cannot vouch for itself.
"""
from __future__ import annotations

import datetime as dt
import statistics
import tomllib
from dataclasses import dataclass
from pathlib import Path

from harness.board import load_board
import tomli_w

from harness.calibration import models
from harness.calibration.measurements import Measurement
from harness.calibration.table import CALIBRATION_DIR, applies_to
from harness.errors import HarnessError


@dataclass
class Calibration:
    board: str
    points: list[models.Point]
    chosen: models.FitResult
    results: dict[str, models.FitResult | str]
    measurements: list[Measurement]
    doc: dict


def _points(ms: list[Measurement], clock_hz: int) -> list[models.Point]:
    by_build: dict[str, list[Measurement]] = {}
    for m in ms:
        by_build.setdefault(m.firmware_sha256, []).append(m)
    points = []
    for sha, group in by_build.items():
        counts = {(g.cycles, g.instructions) for g in group}
        if len(counts) > 1:
            raise HarnessError(f"firmware {sha[:12]}: its rows disagree on the emulated counts {sorted(counts, key=str)}")
        g = group[0]
        ms_mean = statistics.fmean(x.measured_ms for x in group)
        points.append(models.Point(ms_mean * clock_hz / 1e3, g.cycles, g.instructions, g.ops,
                                   g.model or sha[:12]))
    return points


def _power(existing: dict, ms: list[Measurement]) -> dict:
    watts = [m.power_w for m in ms if m.power_w is not None]
    if len(watts) < 2:
        return existing
    mean = statistics.fmean(watts)
    return {"watts": mean, "err_watts": 2 * statistics.stdev(watts),
            "source": f"measured with a power meter during inference: {len(watts)} runs, mean +- 2 sd "
                      f"(boards {', '.join(sorted({m.board_serial for m in ms if m.power_w is not None}))})"}


def fit_board(board_name: str, ms: list[Measurement], existing: Path | None = None) -> Calibration:
    """Fit one board's table from its measurements; `existing` (default: the shipped table) gives the
    uncalibrated section and the power figure kept in the new file."""
    board = load_board(board_name)
    ms = [m for m in ms if m.board == board.name]
    points = _points(ms, board.clock_hz)
    try:
        chosen, results = models.choose(points)
    except HarnessError as e:
        raise HarnessError(f"{board.name}: {e}") from None
    base = tomllib.loads(Path(existing or CALIBRATION_DIR / f"{board.name}.toml").read_text())
    fits = [chosen] + sorted((r for r in results.values() if isinstance(r, models.FitResult) and r is not chosen),
                             key=lambda r: r.loo_rms_rel)
    doc = {
        "board": board.name,
        "status": "calibrated",
        "uncalibrated": base["uncalibrated"],
        "power": _power(base["power"], ms),
        "calibrated": {
            "fitted_at": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "n": len(points),
            "measurements": len(ms),
            "chosen": chosen.candidate,
            "rel_err": chosen.rel_err,
            "method": "least squares on relative residuals; candidate chosen by leave-one-out RMS relative "
                      "error; rel_err = max(2 x LOO RMS, worst LOO point)",
            "synthetic": any(m.synthetic for m in ms),
            "board_serials": sorted({m.board_serial for m in ms if m.board_serial}),
            "applies_to": applies_to(board),
            "rejected": {name: why for name, why in results.items() if isinstance(why, str)},
            "fits": [{"candidate": f.candidate, "description": models.CANDIDATES[f.candidate].description,
                      "features": f.features, "coefficients": f.coefficients, "fit_rms_rel": f.fit_rms_rel,
                      "loo_rms_rel": f.loo_rms_rel, "loo_max_rel": f.loo_max_rel} for f in fits],
            "provenance": [{k: v for k, v in {
                "firmware_sha256": m.firmware_sha256, "model": m.model, "board_serial": m.board_serial,
                "measured_ms": m.measured_ms, "cycles": m.cycles, "instructions": m.instructions,
                "taken_at": m.taken_at, "source": m.source}.items() if v not in (None, "")} for m in ms],
        },
    }
    return Calibration(board.name, points, chosen, results, ms, doc)


def write_table(cal: Calibration, out: Path) -> Path:
    out = Path(out)
    if cal.doc["calibrated"]["synthetic"] and out.resolve().parent == CALIBRATION_DIR.resolve():
        raise HarnessError(f"refusing to write a table fitted to synthetic measurements into {CALIBRATION_DIR}")
    header = (f"# Cycle-to-latency table of {cal.board}, written by `harness calibrate` from {cal.doc['calibrated']['n']} "
              f"firmware builds.\n# See harness/calibration. [calibrated.applies_to] are the .repl facts it was measured "
              f"at; when they change the table falls back to [uncalibrated].\n")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(header + tomli_w.dumps(_without_none(cal.doc), multiline_strings=True))
    return out


def _without_none(doc):
    """TOML has no null: absent keys say 'unknown'."""
    if isinstance(doc, dict):
        return {k: _without_none(v) for k, v in doc.items() if v is not None}
    if isinstance(doc, list):
        return [_without_none(v) for v in doc]
    return doc
