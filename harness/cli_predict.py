"""`harness characterize`, `harness predict` and `harness bench predict`: parsing and printing only; the
work is in harness.characterize, harness.predictor and harness.predict_bench. Registered on the `harness`
app by harness/cli.py."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from harness.board import load_board
from harness.cli import app, bench_app
from harness.errors import HarnessError
from harness.interrupt import Interrupted, raised_on_signals
from harness.terminal import err, exit_on_error, interrupted_exit, out, refuse_negative

DEFAULT_BOARDS = ["nucleo_f446re", "nucleo_f746zg"]


def _bar() -> Progress:
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=err, transient=True)


def _boards(board: list[str] | None) -> list[str]:
    names = board or DEFAULT_BOARDS
    return [load_board(b).name for b in names]       # an unknown board: one error line before any work


@app.command("characterize")
def characterize_cmd(
    backbone: Annotated[list[str], typer.Option("--backbone", help="ad, kws, vww or a backbone .py file (sample(rng), build(tf, params)); repeatable.")],
    board: Annotated[Optional[list[str]], typer.Option("--board", "-b", help="Board name or .repl path; repeatable (default: nucleo_f446re, nucleo_f746zg).")] = None,
    count: Annotated[int, typer.Option("--count", help="Samples per backbone.")] = 40,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the sampler.")] = 0,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for characterization.json and the plots.")] = Path("characterization"),
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="Cells run in parallel (default: one per core).")] = 0,
    ray: Annotated[Optional[str], typer.Option("--ray", help="Run the cells as Ray tasks: 'local' starts Ray here, else a cluster address.")] = None,
) -> None:
    """Sample a backbone's search space, build and profile every sample on every board, fit latency
    against MACs (per backbone, board and op type) and the cost model `harness predict` uses."""
    from harness import characterize
    with exit_on_error():
        refuse_negative(count=count, seed=seed, jobs=jobs)
        if count < 1:
            raise HarnessError("--count must be 1 or more")
        if out_dir.exists() and not out_dir.is_dir():
            raise HarnessError(f"--out {out_dir} is a file, not a folder")
        boards = _boards(board)
        total = len(characterize.cells(backbone, boards, count, seed))
        try:
            with raised_on_signals(), _bar() as bar:
                job = bar.add_task("characterizing", total=total)
                records = characterize.run(backbone, boards, count, seed, jobs or None, engine="pool" if ray is None else ray,
                                           on_done=lambda r: bar.update(job, advance=1, description=(
                                               f"{r['name']} on {r['board']}: {'error' if 'error' in r else 'done'}")))
        except Interrupted as e:
            err.print(f"stopped: {len(e.done)} of {total} cells done; nothing written", highlight=False)
            raise interrupted_exit(e) from None
        summary = characterize.summarize(records, backbone, boards, count, seed)
        for path in characterize.write(summary, out_dir):
            err.print(f"wrote {path}", highlight=False)
    out.print(_linear_table(summary))
    for r in records:
        if "error" in r:
            err.print(f"error: {r['name']} on {r['board']}: {r['error']}", markup=False, highlight=False, soft_wrap=True)


def _linear_table(summary: dict) -> Table:
    t = Table(title="latency = a + b x MACs, per backbone and board", header_style="bold")
    for col in ("backbone", "board", "n", "a (ms)", "b (ms/MMAC)", "R²", "mean |err|", "max |err|", "LOO max |err|",
                "cost model LOO mean / max"):
        t.add_column(col, justify="left" if col in ("backbone", "board") else "right")
    for backbone, per in summary["linear"].items():
        for board, f in per.items():
            cm = summary["cost_model"].get(board, {})
            loo = (f"{100 * cm['loo_mean_abs_rel']:.2f} % / {100 * cm['loo_max_abs_rel']:.2f} %"
                   if cm.get("loo_max_abs_rel") is not None else "-")
            if "r2" not in f:
                t.add_row(backbone, board, str(f["n"]), *["-"] * 6, loo)
                continue
            t.add_row(backbone, board, str(f["n"]), f"{f['intercept']:.3f}", f"{1e6 * f['slope']:.3f}",
                      f"{f['r2']:.4f}", f"{f['mean_abs_err']:.3f} ms", f"{f['max_abs_err']:.3f} ms",
                      f"{f['loo_max_abs_err']:.3f} ms", loo)
    return t


@app.command("predict")
def predict_cmd(
    model: Annotated[str, typer.Option("--model", "-m", help="Registry id or .tflite path.")],
    board: Annotated[Optional[list[str]], typer.Option("--board", "-b", help="Board; repeatable (default: every characterized board).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of the table.")] = False,
) -> None:
    """Flash, SRAM and latency of a model on a board from the shipped characterization, without building
    firmware, running the emulator or a toolchain."""
    from harness import registry
    from harness.predictor import characterized_boards, predict
    with exit_on_error():
        mid, path = registry.resolve(model)
        boards = _boards(board) if board else characterized_boards()
        results = [predict(path, b, model_id=mid) for b in boards]
    if as_json:
        sys.stdout.write(json.dumps([r.as_dict() for r in results], indent=2) + "\n")
        return
    t = Table(title=f"harness predict: {mid} (no build, no emulator)", header_style="bold")
    for col in ("board", "flash", "SRAM (arena + static + stack)", "latency", "fit", "outside the samples"):
        t.add_column(col, justify="left" if col in ("board", "fit", "outside the samples") else "right", overflow="fold")
    for r in results:
        t.add_row(r.board, f"{r.flash:,} ± {r.flash_err:,} B", f"{r.sram:,} ± {r.sram_err:,} B ({r.arena:,} arena)",
                  f"{r.latency_ms:.3f} ± {r.latency_err_ms:.3f} ms", r.fit, "; ".join(r.outside) or "-")
    out.print(t)


@bench_app.command("predict")
def bench_predict_cmd(
    board: Annotated[Optional[list[str]], typer.Option("--board", "-b", help="Board; repeatable (default: every characterized board).")] = None,
    count: Annotated[int, typer.Option("--count", help="Held-out samples per backbone.")] = 5,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the held-out samples (not the characterization's).")] = 1,
    zoo: Annotated[bool, typer.Option("--zoo/--no-zoo", help="Also the zoo's models.")] = True,
    zoo_model: Annotated[Optional[list[str]], typer.Option("--zoo-model", help="Only these zoo models (default: every one on this machine); repeatable.")] = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="Cells run in parallel (default: one per core).")] = 0,
    out_dir: Annotated[Optional[Path], typer.Option("--out", help="Write bench_predict.json here.")] = None,
) -> None:
    """harness predict against harness check on samples the fit never saw and on the zoo models: SRAM and
    flash error, latency error per board, and the time of 1,000 predictions."""
    from harness import predict_bench
    from harness.predictor import characterized_boards
    with exit_on_error():
        refuse_negative(count=count, seed=seed, jobs=jobs)
        boards = _boards(board) if board else characterized_boards()
        cases = predict_bench.cases(boards, count, seed, zoo, zoo_model)
        try:
            with raised_on_signals(), _bar() as bar:
                job = bar.add_task("checking", total=len(cases))
                rows = predict_bench.run(cases, jobs or None, on_done=lambda r: bar.update(
                    job, advance=1, description=f"{r['model']} on {r['board']}"))
        except Interrupted as e:
            err.print(f"stopped: {len(e.done)} of {len(cases)} checks done", highlight=False)
            raise interrupted_exit(e) from None
        doc = predict_bench.summarize(rows, cases)
        if out_dir is not None:
            out_dir.mkdir(parents=True, exist_ok=True)
            (out_dir / "bench_predict.json").write_text(json.dumps(doc, indent=1) + "\n")
    out.print(predict_bench.table(doc))
    for line in doc["failures"]:
        err.print(f"MISS {line}", markup=False, highlight=False, soft_wrap=True)
