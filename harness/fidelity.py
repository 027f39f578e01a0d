"""`harness fidelity`: the latency model against ground truth. ../shared/fidelity holds TFLM + CMSIS-NN
firmware for the MicroNets paper's models on our boards and the latency the paper measured on the real
boards (its README.md); each pair is run on the emulated board, its exact instruction count and output
bytes are checked against the manifest, and the board's shipped calibration table turns its counts into a
predicted latency ± band, which should contain the paper's figure.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import statistics
import time
import tomllib
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from rich.table import Table

from harness import run     # run.run_elf looked up at call time: the tests stand a fake board in
from harness.board import load_board
from harness.calibration.models import FitResult, Point, fit_candidate
from harness.calibration.table import Prediction, plus_minus, table_for
from harness.errors import HarnessError
from harness.interrupt import end_workers, worker_init
from harness.registry import ROOT, sha256_of

ENV_DIR = "HARNESS_FIDELITY"
DEFAULT_DIR = ROOT.parent / "shared" / "fidelity"       # beside the repository, like ../shared/models
MEASURE = "bench_begin:bench_end"                         # the firmware's marker functions (README)

DSCNN = "DS-CNN row: the paper's SRAM for it is 1.7-2.1x TFLM's arena (manifest README); reported, not fitted"
NO_FIT = "does not fit the board"
NO_PAPER = "no published latency for this board"


# --------------------------------------------------------------------------------------------------
# the manifest

@dataclass(frozen=True)
class Pair:
    """One [[pair]] of manifest.toml."""
    model: str
    board: str
    elf: Path
    sha256: str
    paper_row: str
    paper_ms: float | None               # None: the paper gives no latency for this board
    fits: bool
    instructions: int | None             # exact, between bench_begin and bench_end; None when it does not fit
    output: str | None                   # what the firmware prints after `output=`
    arena_bytes: int | None

    @property
    def id(self) -> str:
        return f"{self.model}-{self.board}"

    @property
    def excluded(self) -> str | None:
        """Why the pair is left out of the band verdict (None: it counts)."""
        if not self.fits:
            return NO_FIT
        if self.paper_row.startswith("DSCNN"):      # first: the row is suspect whether or not it has a latency
            return DSCNN
        if self.paper_ms is None:
            return NO_PAPER
        return None


@dataclass(frozen=True)
class Manifest:
    path: Path
    sha256: str
    pairs: list[Pair]


def fidelity_dir(override: Path | None = None) -> Path:
    """--dir, else $HARNESS_FIDELITY, else ../shared/fidelity beside the repository."""
    folder = Path(override or os.environ.get(ENV_DIR) or DEFAULT_DIR)
    if not (folder / "manifest.toml").is_file():
        raise HarnessError(f"no latency ground truth at {folder} (no manifest.toml); give --dir or ${ENV_DIR}")
    return folder


def load_manifest(folder: Path) -> Manifest:
    return read_manifest(Path(folder) / "manifest.toml")


def read_manifest(path: Path) -> Manifest:
    """The pairs of a manifest file (manifest.toml of the fidelity folder, or any file in its format)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise HarnessError(f"cannot read the manifest {path}: {e}") from None
    try:
        doc = tomllib.loads(raw.decode())
        pairs = [Pair(p["model"], p["board"], path.parent / p["elf"], p["sha256"], p["paper_row"],
                      None if p["paper_latency_ms"] == "none" else float(p["paper_latency_ms"]),
                      bool(p.get("fits", True)), p.get("instructions"), p.get("output"), p.get("tflm_arena_bytes"))
                 for p in doc.get("pair", [])]
    except (tomllib.TOMLDecodeError, KeyError, ValueError, TypeError) as e:
        raise HarnessError(f"{path}: not a fidelity manifest ({type(e).__name__}: {e})") from None
    return Manifest(path, hashlib.sha256(raw).hexdigest(), pairs)


def select(pairs: list[Pair], boards: list[str] | None, models: list[str] | None) -> list[Pair]:
    """The pairs of these boards and models (each filter optional); an unknown name is an error."""
    for kind, wanted, known in (("board", boards, {p.board for p in pairs}), ("model", models, {p.model for p in pairs})):
        unknown = sorted(set(wanted or ()) - known)
        if unknown:
            raise HarnessError(f"no pair has {kind} {', '.join(unknown)}; the manifest has {', '.join(sorted(known))}")
    return [p for p in pairs if (not boards or p.board in boards) and (not models or p.model in models)]


# --------------------------------------------------------------------------------------------------
# one pair on the emulated board

@dataclass
class Measurement:
    """What the emulated board did with one pair's ELF (picklable: it comes back from worker processes)."""
    sha256: str
    stopped: str                         # how the run ended (RunResult.detail)
    exit_code: int | None
    output: str | None                   # the text after `output=`, None when the firmware printed none
    last_line: str | None                # the firmware's last console line (its failure message when it fails)
    passes: list[tuple[int, float]]      # (instructions, cycles) per bench_begin..bench_end pass
    events: dict[str, int] = field(default_factory=dict)    # memory-system counters of the pass, where the engine has them


def measure(pair: Pair) -> Measurement:
    if not pair.elf.is_file():
        raise HarnessError(f"{pair.elf}: no such ELF")
    res, _ = run.run_elf(load_board(pair.board), pair.elf, measure=[MEASURE])
    m = res.measures[0]
    output = next((line.removeprefix("output=") for line in res.lines if line.startswith("output=")), None)
    return Measurement(sha256_of(pair.elf), res.detail, res.exit_code, output, res.lines[-1] if res.lines else None,
                       [(i, c) for (i, _), c in zip(m.passes, m.cycles)], dict(m.events[0]) if m.events else {})


# (board, cycles, instructions, events) -> Prediction; module level: it goes to the worker processes
Predictor = Callable[[str, float, int, dict], Prediction]
shipped_prediction: Predictor = run.latency     # the board's shipped table (renode/calibration/<board>.toml)


@dataclass
class Row:
    """One pair's verdict: the emulator's counts against the manifest, the prediction against the paper."""
    model: str
    board: str
    paper_row: str
    paper_ms: float | None
    fits: bool
    excluded: str | None
    manifest_instructions: int | None
    instructions: int | None = None
    cycles: float | None = None
    output_ok: bool | None = None        # None: not compared (the pair does not fit)
    events: dict[str, int] = field(default_factory=dict)
    predicted_ms: float | None = None
    band_ms: float | None = None
    table_status: str | None = None
    error_pct: float | None = None       # 100 (predicted - paper) / paper
    inside: bool | None = None           # |predicted - paper| <= band
    model_error_pct: float | None = None  # the emulator's model alone (modelled cycles / clock), uncalibrated
    loo_error_pct: float | None = None   # the shipped mapping refitted to the other counted pairs of its board
    errors: list[str] = field(default_factory=list)    # failed exactness checks, or the run that broke
    note: str = ""
    seconds: float = 0.0

    @property
    def id(self) -> str:
        return f"{self.model}-{self.board}"

    @property
    def counts(self) -> bool:
        """Its band verdict decides the exit status."""
        return self.excluded is None and self.paper_ms is not None


def inside_band(predicted_ms: float, band_ms: float, paper_ms: float) -> bool:
    return abs(predicted_ms - paper_ms) <= band_ms


def evaluate(pair: Pair, m: Measurement, predict: Predictor | None = shipped_prediction) -> Row:
    """The checks of `m` against the manifest and, unless `predict` is None (counts and checks only, as a
    calibration needs them), the prediction against the paper."""
    row = Row(pair.model, pair.board, pair.paper_row, pair.paper_ms, pair.fits, pair.excluded, pair.instructions)
    if m.sha256 != pair.sha256:
        row.errors.append(f"ELF sha256 {m.sha256[:12]}… is not the manifest's {pair.sha256[:12]}…")
    if not pair.fits:
        # it must say so itself: stop with its failure, never get as far as an output
        row.note = f"{NO_FIT}; the firmware: {m.last_line or m.stopped}"
        if m.output is not None or m.exit_code == 0:
            row.errors.append(f"expected not to fit, but it ran through ({m.stopped}, output printed: "
                              f"{m.output is not None})")
        return row
    if m.exit_code != 0:
        row.errors.append(f"the firmware did not finish: {m.stopped}; last line {m.last_line!r}")
    if len(m.passes) != 1:
        row.errors.append(f"{len(m.passes)} passes of {MEASURE}, expected 1")
        return row
    row.instructions, row.cycles = m.passes[0]
    row.events = dict(m.events)
    if row.instructions != pair.instructions:
        row.errors.append(f"{row.instructions:,} instructions executed, the manifest has {pair.instructions:,}")
    row.output_ok = m.output == pair.output
    if not row.output_ok:
        row.errors.append("output bytes differ from the manifest's" if m.output is not None else "printed no output=")
    if predict is None:
        row.note = pair.excluded or ""
        return row
    p = predict(pair.board, row.cycles, row.instructions, row.events)
    row.predicted_ms, row.band_ms, row.table_status = p.latency_ms, p.latency_err_ms, p.status
    if pair.paper_ms is not None:
        row.error_pct = 100 * (p.latency_ms - pair.paper_ms) / pair.paper_ms
        model_ms = load_board(pair.board).ms(row.cycles)
        row.model_error_pct = 100 * (model_ms - pair.paper_ms) / pair.paper_ms
        row.inside = inside_band(p.latency_ms, p.latency_err_ms, pair.paper_ms)
    row.note = pair.excluded or ""
    return row


def run_pair(pair: Pair, predict: Predictor | None = shipped_prediction) -> Row:
    """One pair, start to verdict. A run that breaks is the row's error, not the end of the whole job."""
    t0 = time.monotonic()
    try:
        row = evaluate(pair, measure(pair), predict)
    except Exception as e:     # noqa: BLE001 - reported on its row, counted as a failure
        row = Row(pair.model, pair.board, pair.paper_row, pair.paper_ms, pair.fits, pair.excluded,
                  pair.instructions, errors=[f"{type(e).__name__}: {e}"])
    row.seconds = round(time.monotonic() - t0, 2)
    return row


def run_pairs(pairs: Iterable[Pair], jobs: int | None = None, on_done: Callable[[Row], None] = lambda r: None,
              predict: Predictor | None = shipped_prediction) -> list[Row]:
    """Every pair in a worker process (emulation is CPU-bound); rows in the order of `pairs`. Ctrl-C
    cancels what has not started, stops the workers and raises KeyboardInterrupt. `predict` (a module-level
    function: it goes to the workers) as in `evaluate`."""
    pairs = list(pairs)
    jobs = min(jobs or os.cpu_count() or 1, max(len(pairs), 1))
    if jobs == 1:
        rows = []
        for p in pairs:
            rows.append(run_pair(p, predict))
            on_done(rows[-1])
        return rows
    results: dict[int, Row] = {}
    pool = ProcessPoolExecutor(max_workers=jobs, initializer=worker_init)
    futures = {pool.submit(run_pair, p, predict): i for i, p in enumerate(pairs)}
    try:
        for fut in as_completed(futures):
            results[futures[fut]] = row = fut.result()
            on_done(row)
    except KeyboardInterrupt:
        end_workers(pool)
        raise
    pool.shutdown()
    return [results[i] for i in range(len(pairs))]


# --------------------------------------------------------------------------------------------------
# the verdict over all pairs

def leave_one_out(rows: list[Row]) -> None:
    """Set each counted row's `loo_error_pct`: the board's shipped mapping (its chosen candidate) fitted
    to the board's other counted pairs, as measured now, predicting this one. It checks the table's
    claim on today's counts instead of trusting the numbers stored in it."""
    for board in dict.fromkeys(r.board for r in rows):
        group = [r for r in rows if r.board == board and r.counts and not r.errors and r.cycles is not None]
        try:
            table = table_for(board)
        except HarnessError:
            continue
        if not table.fits or len(group) < 2:
            continue
        clock = load_board(board).clock_hz
        points = [Point(r.paper_ms * clock / 1e3, r.cycles, r.instructions, None, r.id, r.events) for r in group]
        fit = fit_candidate(table.fits[0].candidate, points)
        if isinstance(fit, FitResult):
            loo = {label: rel for label, _, rel in fit.residuals}
            for r in group:
                r.loo_error_pct = 100 * loo[r.id]


def _stats(rows: list[Row]) -> dict:
    errs = [r.error_pct for r in rows]
    if not errs:
        return {"n": 0, "min_pct": None, "median_pct": None, "max_pct": None, "inside": 0}
    loo = [abs(r.loo_error_pct) for r in rows if r.loo_error_pct is not None]
    model = [r.model_error_pct for r in rows if r.model_error_pct is not None]
    return {"n": len(errs), "min_pct": min(errs), "median_pct": statistics.median(errs), "max_pct": max(errs),
            "inside": sum(bool(r.inside) for r in rows), "loo_max_abs_pct": max(loo) if loo else None,
            "model_median_pct": statistics.median(model) if model else None}


def summarize(rows: list[Row]) -> dict[str, dict]:
    """Per board (and over all boards): error % statistics and how many lie inside their band, over the
    pairs that have both a prediction and a paper latency, with the excluded (DS-CNN) rows and without."""
    compared = [r for r in rows if r.error_pct is not None]
    boards = list(dict.fromkeys(r.board for r in rows))
    groups = {b: [r for r in compared if r.board == b] for b in boards}
    if len(boards) > 1:
        groups["all boards"] = compared
    return {b: {"with_excluded": _stats(rs), "without_excluded": _stats([r for r in rs if r.excluded is None])}
            for b, rs in groups.items()}


def failures(rows: list[Row]) -> list[str]:
    """One line per pair that makes the job fail: a broken exactness check, or a counted pair whose paper
    latency lies outside the band."""
    out = [f"{r.id}: {e}" for r in rows for e in r.errors]
    out += [f"{r.id}: paper {r.paper_ms:g} ms is outside {plus_minus(r.predicted_ms, r.band_ms, 'ms')} "
            f"({r.error_pct:+.1f} %, table {r.table_status})"
            for r in rows if r.counts and not r.errors and r.inside is False]
    return out


def document(manifest: Manifest, rows: list[Row]) -> dict:
    """Everything a report needs, JSON-ready (sets the rows' left-out errors first)."""
    leave_one_out(rows)
    calibration = {}
    for board in dict.fromkeys(r.board for r in rows):
        try:
            calibration[board] = table_for(board).describe()
        except HarnessError as e:
            calibration[board] = {"error": str(e)}
    fails = failures(rows)
    return {"manifest": {"path": str(manifest.path), "sha256": manifest.sha256},
            "calibration": calibration,
            "rows": [{"id": r.id, **asdict(r)} for r in rows],
            "summary": summarize(rows), "failures": fails, "ok": not fails}


# --------------------------------------------------------------------------------------------------
# presenting it

def _num(v, fmt: str) -> str:
    return "-" if v is None else format(v, fmt)


def _cells(r: Row) -> list[str]:
    """The row as text: model, board, paper row, instructions, modelled cycles, predicted, paper ms,
    error %, inside?, note."""
    inside = "-" if r.inside is None else ("yes" if r.inside else "no")
    return [r.model, r.board, r.paper_row, _num(r.instructions, ","), _num(r.cycles, ",.0f"),
            plus_minus(r.predicted_ms, r.band_ms, "ms") if r.predicted_ms is not None else "-",
            _num(r.paper_ms, "g"), _num(r.error_pct, "+.1f"), inside, _num(r.loo_error_pct, "+.1f"),
            _num(r.model_error_pct, "+.1f"), "; ".join([*r.errors, *([r.note] if r.note else [])])]


ROW_COLUMNS = ["model", "board", "paper row", "instructions", "modelled cycles", "predicted", "paper ms",
               "error %", "inside?", "left out %", "model alone %", "note"]
SUMMARY_COLUMNS = ["board", "rows", "n", "min error %", "median error %", "max error %", "inside band",
                   "max |left out| %", "model alone, median %"]


def _summary_cells(summary: dict) -> list[list[str]]:
    out = []
    for board, groups in summary.items():
        for label, s in (("without excluded", groups["without_excluded"]), ("with excluded", groups["with_excluded"])):
            out.append([board, label, str(s["n"]), _num(s["min_pct"], "+.1f"), _num(s["median_pct"], "+.1f"),
                        _num(s["max_pct"], "+.1f"), f"{s['inside']}/{s['n']}", _num(s.get("loo_max_abs_pct"), ".1f"),
                        _num(s.get("model_median_pct"), "+.1f")])
    return out


def rows_table(rows: list[Row]) -> Table:
    t = Table(title="harness fidelity: predicted latency (shipped tables) against the MicroNets paper",
              header_style="bold")
    for col in ROW_COLUMNS:
        t.add_column(col, justify="left" if col in ("model", "board", "paper row", "inside?", "note") else "right")
    for r in rows:
        style = "red" if r.errors or (r.counts and r.inside is False) else ("dim" if r.excluded else None)
        t.add_row(*_cells(r), style=style)
    return t


def summary_table(summary: dict) -> Table:
    t = Table(title="per board: error % of the prediction against the paper", header_style="bold")
    for col in SUMMARY_COLUMNS:
        t.add_column(col, justify="left" if col in ("board", "rows") else "right")
    for cells in _summary_cells(summary):
        t.add_row(*cells)
    return t


def _md_table(columns: list[str], rows: list[list[str]]) -> list[str]:
    esc = lambda s: s.replace("|", "\\|")     # noqa: E731 - notes may hold a pipe
    return ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns),
            *("| " + " | ".join(map(esc, r)) + " |" for r in rows)]


def markdown(doc: dict, rows: list[Row]) -> str:
    cal = "; ".join(f"{b}: {d.get('status', d.get('error'))}" + (f" (± {100 * d['rel_err']:.0f} %)" if "rel_err" in d else "")
                    for b, d in doc["calibration"].items())
    lines = ["# harness fidelity", "",
             f"Manifest `{doc['manifest']['path']}` (sha256 `{doc['manifest']['sha256']}`). Latency predicted from "
             f"each pair's emulated counts by the board's shipped calibration table ({cal}); `inside` when the "
             "paper's latency lies within the printed band. Excluded rows are reported and left out of the verdict.",
             "", *_md_table(ROW_COLUMNS, [_cells(r) for r in rows]), "", "## Per board", "",
             *_md_table(SUMMARY_COLUMNS, _summary_cells(doc["summary"])), "",
             "![predicted against measured latency](fidelity.png)", "", "## Verdict", ""]
    lines += [f"- {f}" for f in doc["failures"]] or ["Every counted pair lies inside its band; every check holds."]
    return "\n".join(lines) + "\n"


def plot(rows: list[Row], path: Path) -> None:
    """Predicted against the paper's measured latency, log-log, one colour and marker per board, error bars
    = the printed band, the excluded rows hollow, y = x for reference."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pts = [r for r in rows if r.predicted_ms is not None and r.paper_ms is not None]
    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    for j, board in enumerate(dict.fromkeys(r.board for r in pts)):
        colour, marker = f"C{j}", "os^Dv"[j % 5]
        for hollow in (False, True):
            sel = [r for r in pts if r.board == board and bool(r.excluded) == hollow]
            if not sel:
                continue
            ax.errorbar([r.paper_ms for r in sel], [r.predicted_ms for r in sel], yerr=[r.band_ms for r in sel],
                        fmt=marker, color=colour, mfc="none" if hollow else colour, capsize=3, ms=7,
                        label=f"{board}" + (" (excluded: DS-CNN)" if hollow else ""))
    placed: list[tuple[str, float, float]] = []
    for r in pts:       # one label per model where the F7 boards' points coincide
        x, y = math.log10(r.paper_ms), math.log10(r.predicted_ms)
        if not any(m == r.model and abs(x - px) < 0.04 and abs(y - py) < 0.04 for m, px, py in placed):
            placed.append((r.model, x, y))
            ax.annotate(r.model, (r.paper_ms, r.predicted_ms), fontsize=6, alpha=0.7, xytext=(5, -9),
                        textcoords="offset points")
    if pts:
        lo = min(min(r.paper_ms, r.predicted_ms - r.band_ms) for r in pts) / 1.5
        hi = max(max(r.paper_ms, r.predicted_ms + r.band_ms) for r in pts) * 1.5
        ax.plot([lo, hi], [lo, hi], "k--", lw=1, label="y = x")
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.legend(fontsize="small", loc="upper left")
    else:
        ax.text(0.5, 0.5, "no pair with both a prediction and a paper latency", ha="center", transform=ax.transAxes)
    ax.set_xlabel("measured latency on the real board (MicroNets paper, Table 4), ms")
    ax.set_ylabel("predicted latency (emulated counts, shipped calibration table) ± band, ms")
    ax.set_title("harness fidelity: predicted against measured latency per inference")
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_outputs(doc: dict, rows: list[Row], out_dir: Path) -> Path:
    """fidelity.json, fidelity.md and fidelity.png in `out_dir`, written into a folder beside it and renamed
    into place (as harness/report.py does), so an interrupted run leaves no half report."""
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.parent / f".tmp-{os.getpid()}-{out_dir.name}"
    old = out_dir.parent / f".old-{os.getpid()}-{out_dir.name}"
    tmp.mkdir()
    try:
        (tmp / "fidelity.json").write_text(json.dumps(doc, indent=2) + "\n")
        (tmp / "fidelity.md").write_text(markdown(doc, rows))
        plot(rows, tmp / "fidelity.png")
        if out_dir.exists():          # a rename cannot replace a folder with content: move the old one aside
            os.replace(out_dir, old)
        os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)
    return out_dir
