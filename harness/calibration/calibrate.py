"""`harness calibrate`: measurements of one board -> the fitted mapping -> its table TOML.

Repeated measurements of one firmware build (several runs, several boards of the kind) are averaged
into one point: the fit and its leave-one-out error count distinct builds, so a build measured twice
cannot vouch for itself.

The table records where its measurements came from: for hardware results `provenance` (one entry per
measurement: firmware hash, board serial, date, counts); for a published table (`--published`,
harness/calibration/published.py) `source`, the manifest and its hash, `pairs` (model, board, sha256,
paper ms, modelled cycles, instructions, events) and `excluded` (with the reason).
"""
from __future__ import annotations

import datetime as dt
import json
import statistics
import tomllib
from dataclasses import dataclass
from pathlib import Path

from harness.board import load_board
import tomli_w

from harness.calibration import models
from harness.calibration.measurements import Measurement
from harness.calibration.table import CALIBRATION_DIR, applies_to, calibrated_status
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
        events = {json.dumps(g.events, sort_keys=True) for g in group if g.events is not None}   # absent: unknown
        if len(counts) > 1 or len(events) > 1:
            raise HarnessError(f"firmware {sha[:12]}: its rows disagree on the emulated counts "
                               f"{sorted(counts, key=str) + sorted(events)}")
        g = group[0]
        events = next((x.events for x in group if x.events is not None), None)
        ms_mean = statistics.fmean(x.measured_ms for x in group)
        points.append(models.Point(ms_mean * clock_hz / 1e3, g.cycles, g.instructions, g.ops,
                                   g.model or sha[:12], events))
    return points


def _power(existing: dict, ms: list[Measurement]) -> dict:
    watts = [m.power_w for m in ms if m.power_w is not None]
    if len(watts) < 2:
        return existing
    mean = statistics.fmean(watts)
    return {"watts": mean, "err_watts": 2 * statistics.stdev(watts),
            "source": f"measured with a power meter during inference: {len(watts)} runs, mean +- 2 sd "
                      f"(boards {', '.join(sorted({m.board_serial for m in ms if m.power_w is not None}))})"}


HARDWARE_NOTE = """real cycles = the board's own DWT cycles of one inference (the measured latency x the .repl's clock);
repeated runs of one build are averaged into one point."""
PUBLISHED_NOTE = """real cycles = the latency the MicroNets paper (Table 4) measured on the real board for the same
software stack (TFLM + CMSIS-NN) x the clock assumed for it ({mhz:g} MHz, the .repl's; the paper does not
state its board configuration). Each firmware's inference is emulated between bench_begin and
bench_end. Excluded pairs (DS-CNN rows, no latency, not fitting the board) are listed with the reason,
never fitted; `pairs` are the builds fitted."""
REASONING = """
{source_note}
Each candidate mapping (below: `fits` and `rejected`) is fitted by least squares on relative residuals
((predicted - measured) / measured); one with a fixed part fits measured - that part: core+stalls keeps
the core model's cycles (modelled - stall_cycles) and re-prices all stalls, as core+fetch-lines and
core+misses do with their event; core+data-stalls+fetch-lines keeps modelled - the instruction side's
stalls and re-prices the instruction fetches; core+flash-reads and core+data-misses keep modelled - the
data side's stalls and re-price the loads from the flash (those three keep the other side as the
documented model charges it). Its error is
leave-one-out: each build predicted by the fit to the others. The chosen mapping has the smallest LOO RMS
(the one with fewer coefficients on a tie); a mapping needs max(5, 2 x coefficients + 3) builds, so from 5
builds only one-coefficient mappings are fitted. Stated error of a prediction: rel_err = max(2 x LOO RMS,
worst LOO point).
Transfer to other firmware: the calibration builds run one software stack, with its own instruction mix
and share of memory stalls; a firmware with another share (our runtime's kernels) can see an error the
LOO cannot. For a mapping with a fixed core part the stated error of a prediction is
    rel_err + sum over coefficients k of |a_k - m_k| x |s_k - S_k|
a_k the fitted coefficient, m_k the emulator's own (the mapping fitted to the modelled cycles: 1 for
core+stalls, so a - m is how far the board departs from the documented stalls), s_k = feature / real
cycles of the predicted firmware, S_k its mean over the calibration builds (`fits.shares`). If the core
model's error was absorbed into a (the calibration set cannot tell them apart when its stall share barely
varies), a firmware with share s is mispredicted by (a - m)(s - S) to first order in the shares. The term
takes the whole departure as absorbed: the worst case while the board's true coefficient lies between the
emulator's and the fitted one; zero at the calibration mix. A prediction without the events such a
mapping needs falls back to the next fitted mapping it has inputs for, with its rel_err doubled (status
says so). Mappings without a fixed part (scale, affine, ...) carry no transfer term.
Mappings the ground truth cannot tell apart: every fitted mapping whose worst left-out error is within
10 % (harness/calibration/table.py PLAUSIBLE_LOO) is consistent with these builds. For any firmware the
stated band is widened to cover each of their predictions with its own rel_err, so a firmware whose
counts differ from the calibration builds' (our kernels in ITCM fetch almost no flash line) is not
given one mapping's answer as if it were known."""


def fit_board(board_name: str, ms: list[Measurement], existing: Path | None = None,
              published=None) -> Calibration:
    """Fit one board's table from its measurements; `existing` (default: the shipped table) gives the
    uncalibrated section and the power figure kept in the new file. `published`
    (harness.calibration.published.Published) when the measurements come from a published table: its
    source, manifest and excluded pairs are recorded."""
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
    label = source = ""
    if published is not None:
        from harness.calibration.published import SOURCE_LABEL
        label, source = SOURCE_LABEL, published.source
    status = calibrated_status(len(points), label)
    cal = {
        "fitted_at": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "n": len(points),
        "measurements": len(ms),
        "source": source or None,
        "source_label": label or None,
        "chosen": chosen.candidate,
        "description": models.CANDIDATES[chosen.candidate].description,
        "rel_err": chosen.rel_err,
        "loo_rms_rel": chosen.loo_rms_rel,
        "loo_max_rel": chosen.loo_max_rel,
        "method": "least squares on relative residuals; candidate chosen by leave-one-out RMS relative "
                  "error; rel_err = max(2 x LOO RMS, worst LOO point); plus the transfer term for mappings "
                  "with a fixed core part (reasoning)",
        "reasoning": REASONING.format(source_note=(PUBLISHED_NOTE.format(mhz=board.clock_hz / 1e6)
                                                   if published is not None else HARDWARE_NOTE)),
        "synthetic": any(m.synthetic for m in ms),
        "board_serials": sorted({m.board_serial for m in ms if m.board_serial}),
        "applies_to": applies_to(board),
        "rejected": {name: why for name, why in results.items() if isinstance(why, str)},
        "fits": [_fit_doc(f) for f in fits],
        "provenance": None if published is not None else [{k: v for k, v in {
            "firmware_sha256": m.firmware_sha256, "model": m.model, "board_serial": m.board_serial,
            "measured_ms": m.measured_ms, "cycles": m.cycles, "instructions": m.instructions,
            "events": m.events, "taken_at": m.taken_at,
            "source": m.source}.items() if v not in (None, "")} for m in ms],
    }
    if published is not None:
        cal["manifest"] = published.shown_path
        cal["manifest_sha256"] = published.manifest_sha256
        cal["measured_with"] = ("harness.run.run_elf(board, elf, measure=['bench_begin:bench_end']): pass 0's "
                                "instructions and ticks / ticks_per_cycle, and its memory-system events")
        cal["pairs"] = [{k: v for k, v in {
            "model": m.model, "board": m.board, "paper_row": m.extra.get("paper_row"), "sha256": m.firmware_sha256,
            "paper_ms": m.measured_ms, "cycles": m.cycles, "instructions": m.instructions,
            "events": m.events}.items() if v is not None} for m in ms]
        cal["excluded"] = [published.describe(p) for p in published.excluded if p.board == board.name]
    doc = {"board": board.name, "status": status, "uncalibrated": base["uncalibrated"],
           "power": _power(base["power"], ms), "calibrated": cal}
    return Calibration(board.name, points, chosen, results, ms, doc)


def _fit_doc(f: models.FitResult) -> dict:
    d = {"candidate": f.candidate, "description": models.CANDIDATES[f.candidate].description,
         "features": f.features, "coefficients": f.coefficients, "fit_rms_rel": f.fit_rms_rel,
         "loo_rms_rel": f.loo_rms_rel, "loo_max_rel": f.loo_max_rel, "rel_err": f.rel_err}
    if f.transfers:
        d.update(model_coefficients=f.model_coefficients, shares=f.shares)
    return d


def write_table(cal: Calibration, out: Path) -> Path:
    out = Path(out)
    if cal.doc["calibrated"]["synthetic"] and out.resolve().parent == CALIBRATION_DIR.resolve():
        raise HarnessError(f"refusing to write a table fitted to synthetic measurements into {CALIBRATION_DIR}")
    source = cal.doc["calibrated"].get("source")
    header = (f"# Cycle-to-latency table of {cal.board}, written by `harness calibrate` from {cal.doc['calibrated']['n']} "
              f"firmware builds" + (f" ({source})" if source else "") + ".\n# See harness/calibration. [calibrated.applies_to] are the .repl facts it was measured "
              "at; when they change the table falls back to [uncalibrated].\n")
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
