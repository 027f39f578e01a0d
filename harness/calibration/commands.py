"""`harness calibrate` and `harness calibration-workload`: parsing and printing only (registered on the
`harness` app by harness/cli.py)."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from harness.errors import HarnessError
from harness.terminal import err, exit_on_error, out, print_error, refuse_negative



def _pct(x: float) -> str:
    return f"{100 * x:+.1f}%"


def calibrate(
    paths: Annotated[Optional[list[Path]], typer.Argument(help="Hardware results: reports/hardware/*.json of `pytest -m hardware`, its JUnit XML, a CSV (harness.calibration.measurements.CSV_COLUMNS), or folders of them.", show_default=False)] = None,
    board: Annotated[Optional[list[str]], typer.Option("--board", "-b", help="Only these boards (default: every board in the measurements).")] = None,
    counts: Annotated[Optional[Path], typer.Option(help="A CSV of emulated counts by firmware SHA-256 (the workload's workload.csv), for reports that lack them.")] = None,
    published: Annotated[Optional[Path], typer.Option("--published", help="Instead of hardware results: a manifest of firmware with published latencies (../shared/fidelity/manifest.toml: MicroNets Table 4, TFLM+CMSIS-NN). Every pair with a latency, not excluded (DS-CNN rows, fits = false, none), is run on its emulated board between bench_begin and bench_end.", show_default=False)] = None,
    jobs: Annotated[Optional[int], typer.Option("--jobs", "-j", help="With --published: processes running the pairs (default: 2, or the CPU count if fewer).", show_default=False)] = None,
    out_dir: Annotated[Optional[Path], typer.Option("--out", help="Write <board>.toml here instead of renode/calibration/.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Fit and report; write nothing.")] = False,
) -> None:
    """Fit each board's cycle-to-latency table to hardware measurements (or to a published table, with
    --published): every candidate mapping with its residuals and leave-one-out error, the best by LOO
    written to renode/calibration/<board>.toml."""
    from harness.calibration.calibrate import fit_board, write_table
    from harness.calibration.measurements import read_any, read_counts
    from harness.calibration.table import CALIBRATION_DIR
    source = None
    with exit_on_error():
        refuse_negative(jobs=jobs)
        if published is not None:
            if paths or counts:
                raise HarnessError("--published is a source of its own: give it, or hardware results, not both")
            source = _read_published(published, board, jobs)
            ms = source.measurements
        elif not paths:
            raise HarnessError("give hardware results (reports, JUnit XML, CSV, or folders of them) or --published MANIFEST")
        else:
            ms = read_any(paths, read_counts(counts) if counts else None)
        boards = board or sorted({m.board for m in ms})
        if not ms or not boards:
            raise HarnessError("no measurements in " + (str(published) if published else ", ".join(map(str, paths))))
        failed = False
        for b in boards:
            try:
                cal = fit_board(b, ms, published=source)
            except HarnessError as e:
                print_error(e)
                failed = True
                continue
            _print(cal)
            if not dry_run:
                path = write_table(cal, (out_dir or CALIBRATION_DIR) / f"{cal.board}.toml")
                err.print(f"wrote {path}", highlight=False)
    if failed:
        raise typer.Exit(1)


def _read_published(manifest: Path, boards: list[str] | None, jobs: int | None):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from harness.calibration.published import read_published
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("{task.fields[last]}"), console=err, transient=not err.is_terminal) as bar:
        task = bar.add_task("emulating", total=None, last="")

        def progress(done: int, total: int, label: str) -> None:
            bar.update(task, completed=done, total=total, last=label)

        source = read_published(manifest, boards, jobs, progress)
    excluded = source.excluded
    err.print(f"{source.source}: {len(source.measurements)} pairs measured, {len(excluded)} excluded", highlight=False)
    for p in excluded:
        err.print(f"  excluded {p.model} on {p.board} ({p.paper_row}): {p.excluded}", markup=False, highlight=False)
    return source


def _print(cal) -> None:
    from harness.calibration.models import CANDIDATES, FitResult
    t = Table(title=f"{cal.board}: {len(cal.points)} firmware builds, {len(cal.measurements)} measurements",
              header_style="bold")
    for col in ("mapping", "coefficients", "fit RMS", "LOO RMS", "LOO worst", ""):
        t.add_column(col)
    for name, r in cal.results.items():
        if isinstance(r, FitResult):
            coef = ", ".join(f"{f}={c:.4g}" for f, c in zip(r.features, r.coefficients))
            if r.transfers:
                coef += " (emulator's: " + ", ".join(f"{m:.4g}" for m in r.model_coefficients) + ")"
            t.add_row(name, coef, f"{100 * r.fit_rms_rel:.2f}%", f"{100 * r.loo_rms_rel:.2f}%",
                      f"{100 * r.loo_max_rel:.2f}%", "[bold green]chosen[/]" if r is cal.chosen else "")
        else:
            t.add_row(name, "-", "-", "-", "-", f"not fitted: {r}")
    out.print(t)
    out.print(f"  {CANDIDATES[cal.chosen.candidate].description}; stated error ±{100 * cal.chosen.rel_err:.1f}% "
              f"(max of 2 x LOO RMS and the worst LOO point)"
              + (" plus the transfer term to firmware with another stall share" if cal.chosen.transfers else ""),
              highlight=False)
    r = Table(title="residuals of the chosen mapping", header_style="bold")
    measured = "paper ms" if cal.doc["calibrated"].get("source_label") else "measured ms"
    for col in ("build", measured, "fitted ms", "residual", "left out"):
        r.add_column(col, justify="left" if col == "build" else "right")
    from harness.board import load_board
    hz = load_board(cal.board).clock_hz
    for p, (label, fit_rel, loo_rel) in zip(cal.points, cal.chosen.residuals):
        r.add_row(label, f"{1e3 * p.real_cycles / hz:.3f}", f"{1e3 * p.real_cycles * (1 + fit_rel) / hz:.3f}",
                  _pct(fit_rel), _pct(loo_rel))
    out.print(r)


def workload(
    out_dir: Annotated[Path, typer.Argument(help="Folder for the models, the ELFs per board, manifest.json and workload.csv.")],
    board: Annotated[Optional[list[str]], typer.Option("--board", "-b", help="Boards (default: every board in renode/platforms).")] = None,
    count: Annotated[int, typer.Option(help="Generated models sampled from the zoo's backbones.")] = 12,
    seed: Annotated[int, typer.Option(help="Seed of the sampled widths and depths.")] = 0,
    microbenchmarks: Annotated[bool, typer.Option(help="Add the per-op microbenchmarks.")] = True,
    emulate: Annotated[bool, typer.Option(help="Emulate every build for its counts (workload.csv).")] = True,
) -> None:
    """Build the characterization workload once: generated models and per-op microbenchmarks, one ELF
    per board, a manifest and a CSV to fill with measured latencies (`harness calibrate` reads it back)."""
    from harness.board import available_boards
    from harness.calibration.workload import build_workload
    with exit_on_error():
        refuse_negative(seed=seed, count=count)
        if out_dir.exists() and not out_dir.is_dir():
            raise HarnessError(f"{out_dir} is a file; the workload needs a folder")
        with err.status("workload") as status:
            manifest = build_workload(out_dir, board or available_boards(), count, seed, microbenchmarks, emulate,
                                      progress=status.update)
    err.print(f"wrote {manifest}" + (f" and {manifest.parent / 'workload.csv'}" if emulate else ""), highlight=False)


def register(app: typer.Typer) -> None:
    app.command("calibrate")(calibrate)
    app.command("calibration-workload")(workload)
