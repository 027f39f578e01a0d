"""The `harness` command: parsing and printing only; the work is in harness.check and friends."""
from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from harness import registry, report
from harness.board import PLATFORMS_DIR, Board, all_boards, available_boards, load_board
from harness.check import Cell, Verdict, run_matrix
from harness.errors import HarnessError
from harness.interrupt import Interrupted, raised_on_signals
from harness.plan import patch as patching
from harness.terminal import err, exit_on_error, interrupted_exit, out, print_error, refuse_negative

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Does an int8 TFLite model fit a board, compute what TFLM computes, and how fast?")


def _kb(n: int) -> str:
    return f"{n / 1024:.1f} KB"


def _table(verdicts: list[Verdict]) -> Table:
    t = Table(title="harness check", header_style="bold")
    for col in ("model", "board", "flash", "SRAM", "arena", "bit-exact vs TFLM", "instructions/inf", "cycles/inf",
                "latency/inf", "energy/inf", "verdict"):
        # fold, never cut: two model ids that differ only at the end must not read the same in a narrow terminal
        t.add_column(col, justify="right" if col not in ("model", "board", "verdict") else "left", overflow="fold")
    for v in verdicts:
        f = v.fit
        flash = f"{_kb(f.flash.used)} / {_kb(f.flash.size)} ({f.flash.percent:.1f}%)" if f else "-"
        sram = f"{_kb(f.sram.used)} / {_kb(f.sram.size)} ({f.sram.percent:.1f}%)" if f else "-"
        exact = f"{v.inputs - v.mismatches}/{v.inputs}" if v.mismatches is not None else "-"
        if v.real_mismatches is not None:
            exact += f" + {len(v.real_inputs) - v.real_mismatches}/{len(v.real_inputs)} real"
        if len(v.outputs) > 1 and v.mismatches is not None:
            exact += f" ({len(v.outputs)} outputs each)"
        style = {"pass": "green", "fail": "red", "error": "red", "unsupported": "yellow", "no-fit": "yellow"}[v.status]
        t.add_row(v.model, v.board, flash, sram, f"{v.arena_bytes:,} B" if v.arena_bytes is not None else "-",
                  exact, f"{v.instructions:,}" if v.instructions is not None else "-",
                  f"{v.cycles:,}" if v.cycles is not None else "-",
                  str(v.prediction) if v.prediction else "-", v.prediction.energy if v.prediction else "-",
                  f"[{style}]{v.status.upper()}[/{style}]")
    return t


def _details(v: Verdict) -> None:
    if v.fit:
        regions = "  ".join(f"{r.region} {r.used:,}/{r.size:,} B ({r.percent:.1f}%)" for r in v.fit.regions)
        code = f"; runtime code {v.runtime_code_bytes:,} B" if v.runtime_code_bytes else ""
        out.print(f"  {v.model} on {v.board}: {regions}; stack high-water "
                  f"{v.fit.stack if v.fit.stack is not None else '-'} B{code}", highlight=False)
    for r in [*v.reasons, *filter(None, [report.tflm_note(v)])]:
        out.print(f"  {v.model} on {v.board}: {r.splitlines()[0]}", highlight=False, markup=False)


def _cells(boards: list[Board], model: list[str] | None, task: list[str] | None) -> list[Cell]:
    zoo = registry.load_zoo()
    if model:
        models = [registry.resolve(m) for m in model]
    else:
        models = [(m.id, p) for m in zoo.values() if (p := registry.locate(m)) is not None]
    if task:
        models = [(mid, p) for mid, p in models if mid in zoo and zoo[mid].task in task]
        if not models:
            raise HarnessError(f"no registered model has task {', '.join(task)}")
    return [Cell(mid, p, str(b.path) if b.path.parent != PLATFORMS_DIR else b.name,
                 zoo[mid].expected_to_fit(b.name) if mid in zoo else None, zoo[mid].task if mid in zoo else None)
            for mid, p in models for b in boards]


def _patch_budget(percent: float) -> float:
    """--patch-overhead in percent (check and patch) as the fraction harness/plan/patch.py takes."""
    if percent < 0:
        raise HarnessError("--patch-overhead must be >= 0")
    return percent / 100


def _engine_available(engine: str) -> None:
    """Refuse before any build: an unknown engine, or Renode when it is not installed."""
    from harness.backends import BACKENDS
    if engine not in BACKENDS:
        raise HarnessError(f"unknown engine {engine!r}; known: {', '.join(BACKENDS)}")
    if engine == "renode":
        from harness.backends.renode import renode_executable
        renode_executable()


@app.command()
def check(
    board: Annotated[Optional[list[str]], typer.Option("--board", "-b", help="Board name or .repl path; repeatable. Default: every board in renode/platforms.")] = None,
    model: Annotated[Optional[list[str]], typer.Option("--model", "-m", help="Registry id or .tflite path; repeatable. Default: every registered model found.")] = None,
    task: Annotated[Optional[list[str]], typer.Option("--task", "-t", help="Only registered models of this task (kws, vww, ad, ic); repeatable.")] = None,
    inputs: Annotated[int, typer.Option(help="Seeded random inputs compared with TFLM.")] = 20,
    seed: Annotated[int, typer.Option(help="Seed of the random inputs.")] = 0,
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="Cells run in parallel (default: one per core).")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the verdicts as JSON, one object per model x board.")] = False,
    report_dir: Annotated[Optional[Path], typer.Option(help="Write results.json, summary.md and junit.xml under this folder.")] = None,
    engine: Annotated[str, typer.Option(help="Where the boards run: emulated (built in), renode (`renode` on PATH) or hardware (lab.toml).")] = "emulated",
    patch: Annotated[str, typer.Option(help="Patch-based inference beside layer by layer: off, auto (the search's choice) or a split such as op7:3x3 (docs/patch.md).")] = "off",
    patch_overhead: Annotated[float, typer.Option(help="MAC overhead budget of --patch auto, in percent.")] = 100 * patching.MAX_OVERHEAD,
) -> None:
    """Check models on boards: fit per memory region, outputs bit-exact with TFLM, cycles per inference."""
    started, t0 = report.started_stamp(), time.monotonic()
    stopped: Interrupted | None = None
    with exit_on_error(), raised_on_signals():
        refuse_negative(seed=seed, jobs=jobs)
        _engine_available(engine)
        boards = [load_board(b) for b in (board or available_boards())]
        cells = _cells(boards, model, task)
        if patch not in ("off", "auto"):
            patching.Split.parse(patch)          # a malformed split is refused before any cell runs
        cells = [replace(c, patch=patch, patch_overhead=_patch_budget(patch_overhead)) for c in cells]
        if inputs < 1:
            raise HarnessError("--inputs must be at least 1")
        if report_dir is not None:       # not found out after every cell ran
            report.check_report_dir(report_dir)
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=err, transient=True) as bar:
            job = bar.add_task("checking", total=len(cells))

            def done(v: Verdict) -> None:
                bar.update(job, advance=1, description=f"{v.model} on {v.board}: {v.status}")
                if not err.is_terminal:      # logs and CI, where the bar is not drawn: a line per cell
                    err.print(f"done: {v.model} on {v.board}: {v.status}", markup=False, highlight=False)
            try:
                verdicts = run_matrix(cells, inputs=inputs, seed=seed, backend=engine, jobs=jobs or None,
                                      on_done=done)
            except Interrupted as e:     # the workers are ended; what finished is kept and reported
                stopped, verdicts = e, e.done
                err.print(f"interrupted ({signal.Signals(e.signum).name}): {len(verdicts)} of {len(cells)} cells "
                          "finished", highlight=False)
    wall = time.monotonic() - t0
    if as_json:
        sys.stdout.write(json.dumps([v.as_dict() for v in verdicts], indent=2) + "\n")
    else:
        out.print(_table(verdicts))
        for v in verdicts:
            _details(v)
    if report_dir is not None:
        with exit_on_error(), raised_on_signals():
            try:
                meta = {"started": started, "wall_seconds": round(wall, 1), "cpus": os.cpu_count(),
                        "inputs": inputs, "seed": seed,
                        "cells_planned": len(cells),
                        "interrupted": signal.Signals(stopped.signum).name if stopped else None}
                path = report.write_report(verdicts, registry.load_zoo(), meta, report_dir,
                                           boards={b.name: b for b in boards})   # a .repl path is not loaded again by name
            except Interrupted as e:     # (again) while writing: write_report leaves no half report
                print_error(f"interrupted ({signal.Signals(e.signum).name}) while writing the report; none written")
                raise typer.Exit(e.exit_code) from None
        err.print(f"report: {path}", highlight=False)
    counts = {s: sum(v.status == s for v in verdicts) for s in ("pass", "no-fit", "unsupported", "fail", "error")}
    err.print(", ".join(f"{n} {s}" for s, n in counts.items() if n) + f" in {wall:.1f} s wall time", highlight=False)
    if stopped:
        raise typer.Exit(stopped.exit_code)
    if counts["fail"] or counts["error"]:
        raise typer.Exit(1)


def _needs_table(assessed) -> Table:
    """Per model, each op and dtype case it needs and what the runtime does with it (harness/plan/needs.py)."""
    from harness.plan import needs as N
    t = Table(title="what each model needs (planned only, nothing built)", header_style="bold")
    for col in ("model", "op", "dtypes (inputs -> outputs)", "ops", "runtime"):
        t.add_column(col, justify="right" if col == "ops" else "left", overflow="fold")
    say = {N.RUNS: "runs: {}", N.FOLDED: "folded: {}", N.ALIASED: "aliased: {}",
           N.MISSING: "[red]MISSING[/red]: {}", N.UNCHECKED: "[yellow]not checked[/yellow]: {}"}
    for mid, needs in assessed:
        for n in needs.needs:
            t.add_row(mid, n.op, n.case, str(n.count), say[n.status].format(escape(n.detail)))
        for b in needs.blockers:
            t.add_row(mid, "(the model)", "", "", f"[red]MISSING[/red]: {escape(b)}")
    return t


@app.command()
def runtime(
    model: Annotated[Optional[list[str]], typer.Option("--model", "-m", help="Registry id or .tflite path; repeatable. Default: every registered model found.")] = None,
    inputs: Annotated[int, typer.Option(help="Seeded random inputs per model, host build vs TFLM.")] = 5,
    markdown: Annotated[Optional[Path], typer.Option(help="Also write the table as Markdown to this file (in a file that has one, only the table is replaced).")] = None,
    needs_only: Annotated[bool, typer.Option("--needs", help="Only list what each model needs and what the runtime has; build nothing.")] = False,
) -> None:
    """The runtime's coverage. First, before any build: per model, every op and dtype case it needs and
    whether the runtime runs it (its kernel), folds it at plan time, aliases it, or lacks it (why). Then per
    model: bit-exact status on the host build against TFLM, arenas, image size. Exit status 1 when an output
    differs from TFLM's, else 3 when a model needs something the runtime lacks."""
    from harness import runtime_table
    from harness.plan.needs import Needs, assess, runtime_ops
    from harness.plan.model import NotAModel
    with exit_on_error():
        if inputs < 1:
            raise HarnessError("--inputs must be at least 1")
        if markdown is not None and markdown.is_dir():      # found out before the work, not after
            raise HarnessError(f"--markdown {markdown} is a folder; give a file name")
        models = [registry.resolve(m) for m in model] if model else registry.available()
    assessed = []
    for mid, path in models:
        try:
            assessed.append((mid, assess(path)))
        except NotAModel as e:      # a registered file that is no model: that model's verdict, not the run's
            assessed.append((mid, Needs(path, blockers=[str(e)])))
    kernels, folds = runtime_ops()
    out.print(f"runtime kernels (or aliases): {', '.join(kernels)}\nfolded at plan time when constant: "
              f"{', '.join(folds)}", highlight=False)
    out.print(_needs_table(assessed))
    lacking = [(mid, n) for mid, n in assessed if not n.runnable]
    for mid, n in lacking:
        err.print(f"{mid}: {n.summary()}", markup=False, highlight=False, soft_wrap=True)
    if needs_only:
        raise typer.Exit(3 if lacking else 0)
    rows = []
    with err.status("planning") as status:
        for mid, path in models:
            status.update(f"{mid}: planning and comparing with TFLM on the host")
            rows.append(runtime_table.row(mid, path, inputs))
    t = Table(header_style="bold")
    for col in ("model", "status", "our arena", "lower bound", "TFLM arena (head)", "image constants", ".tflite"):
        t.add_column(col, justify="left" if col in ("model", "status") else "right")
    for r in rows:
        dash = lambda v: "-" if v is None else f"{v:,}"   # noqa: E731
        t.add_row(r.model, r.status, dash(r.arena), dash(r.lower_bound),
                  "-" if r.tflm_arena is None else f"{r.tflm_arena:,} ({r.tflm_head:,})",
                  dash(r.image_bytes), f"{r.tflite_bytes:,}")
    out.print(t)
    if markdown:
        with exit_on_error():
            try:
                runtime_table.write_markdown(markdown, rows)
            except OSError as e:
                raise HarnessError(f"cannot write {markdown}: {e.strerror or e}") from None
    if any(r.status.startswith("DIFFERS") for r in rows):
        raise typer.Exit(1)
    if lacking:
        raise typer.Exit(3)


@app.command()
def boards() -> None:
    """List the boards (renode/platforms/*.repl) with their memory maps."""
    t = Table(header_style="bold")
    for col in ("board", "cpu", "clock", "flash", "SRAM", "regions"):
        t.add_column(col)
    for name in all_boards():              # variants too: each is a board one can run
        b = load_board(name)
        t.add_row(name + (f" (variant of {b.variant_of})" if b.variant_of else ""), b.cpu_type, f"{b.clock_hz / 1e6:.0f} MHz", _kb(b.flash.size), _kb(b.sram_size),
                  ", ".join(f"{r.name}@0x{r.base:08x}+{_kb(r.size)} {r.perms}" for r in b.regions))
    out.print(t)


@app.command()
def models() -> None:
    """List the registered models and where their files are."""
    t = Table(header_style="bold")
    for col in ("id", "task", "file"):
        t.add_column(col)
    for m in registry.load_zoo().values():
        if m.generate:
            where = f"generated ({m.generate})"
        else:
            found = registry.locate(m)
            where = str(found) if found else f"not found: {m.file}"
        t.add_row(m.id, m.task, where)
    out.print(t)


@app.command("profile")
def profile_cmd(
    board: Annotated[str, typer.Option("--board", "-b", help="Board name or .repl path.")],
    model: Annotated[str, typer.Option("--model", "-m", help="Registry id or .tflite path.")],
    out_dir: Annotated[Optional[Path], typer.Option("--out", help="Write <model>-<board>.collapsed.txt, .speedscope.json and .profile.json here.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the random input.")] = 0,
    functions: Annotated[bool, typer.Option("--functions", help="Also list the functions inside each op.")] = False,
) -> None:
    """Per-op cycles and instructions of one inference on the emulated board (harness/profile.py)."""
    from harness.profile import profile_model, write_outputs
    with exit_on_error():
        refuse_negative(seed=seed)
        if out_dir is not None:        # a file in the way is found before the profile, not after it
            report.check_report_dir(out_dir)
        mid, path = registry.resolve(model)
        with err.status("profiling") as status:
            p = profile_model(load_board(board), path, mid, seed=seed, progress=status.update)
    total = p.ticks
    t = Table(title=f"harness profile: {p.model} on {p.board}, one inference", header_style="bold")
    for col in ("#", "op", "kernel", "MACs", "instructions", "cycles", "%", "cycles/MAC"):
        t.add_column(col, justify="left" if col in ("op", "kernel") else "right")
    for label, seg in p.rows:
        r = seg if hasattr(seg, "kernel") else None
        cyc = p.cycles(seg)
        t.add_row(str(r.index) if r else "", r.op if r else label, r.kernel if r else "",
                  f"{r.macs:,}" if r and r.macs else "", f"{seg.instructions:,}", f"{cyc:,.1f}".removesuffix(".0"),
                  f"{100 * seg.ticks / total:.1f}" if total else "-",
                  f"{cyc / r.macs:.2f}" if r and r.macs else "")
        if functions:
            for fn, (i, ticks) in sorted(seg.functions.items(), key=lambda kv: -kv[1][1]):
                t.add_row("", f"  {fn}", "", "", f"{i:,}", f"{ticks / p.ticks_per_cycle:,.1f}".removesuffix(".0"),
                          "", "", style="dim")
    t.add_row("", "total", "", f"{sum(r.macs for r in p.ops):,}", f"{p.instructions:,}",
              f"{p.total_cycles:,.1f}".removesuffix(".0"), "100.0", "", style="bold")
    out.print(t)
    ms = p.window_cycles / p.clock_hz * 1e3
    out.print(f"firmware DWT measurement: {p.firmware_cycles:,} cycles ({ms:.3f} ms at {p.clock_hz / 1e6:.0f} MHz); "
              f"profile window: {p.window_cycles:,} cycles", highlight=False)
    out.print(f"stack high-water during the inference: {p.stack_high_water:,} B ({p.stack_at_invoke:,} B in use at "
              f"tm_invoke); arena written: {p.arena_written:,} of {p.arena_bytes:,} B planned (highest offset "
              f"{p.arena_extent:,}){'' if p.arena_exact else ', a lower bound (variable tensors)'}", highlight=False)
    if out_dir is not None:
        for kind, f in write_outputs(p, out_dir).items():
            err.print(f"{kind}: {f}", highlight=False)


@app.command("run")
def run_cmd(
    elf: Annotated[Path, typer.Argument(help="The image to boot: an ELF, or a raw binary (objcopy -O binary, as vendors ship them) loaded at --load-address.")],
    board: Annotated[str, typer.Option("--board", "-b", help="Board name or .repl path.")],
    until: Annotated[Optional[str], typer.Option(help="Stop when a console line matches this regular expression.")] = None,
    budget: Annotated[Optional[int], typer.Option(help="Stop after this many modelled cycles (default: 10 s of board time).")] = None,
    measure: Annotated[Optional[list[str]], typer.Option(help="start:end (symbols or 0x addresses): cycles per pass between them; repeatable.")] = None,
    load_address: Annotated[Optional[str], typer.Option("--load-address", help="Where a raw image goes (default: the board's flash base); not for an ELF, which carries its addresses.")] = None,
    send: Annotated[Optional[list[str]], typer.Option("--send", help="Text for the console receiver, written when the firmware waits for input; repeatable, in order; \\n, \\r, \\xNN escapes.")] = None,
    script: Annotated[Optional[Path], typer.Option("--script", help="A file of sends, one per line (after any --send; # comments).")] = None,
    pty: Annotated[bool, typer.Option("--pty", help="Serve the console on a pseudo-terminal instead (until Ctrl-C).")] = False,
    strict: Annotated[bool, typer.Option("--strict", help="An access to a peripheral the board does not model stops the run (default: a warning).")] = False,
) -> None:
    """Boot an ELF or a raw image on the emulated board and stream its console (harness/run.py)."""
    from harness.run import WrongBoard, check_elf, default_budget, parse_send, read_script, run_elf
    try:
        refuse_negative(budget=budget)
        b = load_board(board)
        address = _load_address(b, elf, load_address)
        sends = [parse_send(t) for t in send or []] + (read_script(script) if script is not None else [])
        if pty and sends:
            raise HarnessError("--send/--script drive the console without a terminal; with --pty, the terminal does")
        for note in check_elf(b, elf, address):
            err.print(f"note: {note}", markup=False, highlight=False)
        if pty:
            _serve_pty(b, elf, strict=strict, load_address=address)
            return
        with raised_on_signals():
            res, engine = run_elf(b, elf, until=until, budget=budget or default_budget(b), measure=measure or [],
                                  on_line=lambda line: out.print(line, markup=False, highlight=False),
                                  engine_options={"strict": strict}, load_address=address, sends=sends,
                                  on_send=lambda data: err.print(f"sent: {data!r}"[:200], markup=False,
                                                                 highlight=False))
    except KeyboardInterrupt as e:          # the engine stops between blocks: no fault, no traceback
        raise interrupted_exit(e) from None
    except WrongBoard as e:
        err.print(f"refused: {e}", markup=False, highlight=False)
        raise typer.Exit(2)
    except HarnessError as e:
        print_error(e)
        raise typer.Exit(1)
    for check in engine.skipped_checks:
        err.print(f"note: skipped (the image has no code map: symbols or $t/$d mapping symbols): {check}",
                  markup=False, highlight=False, soft_wrap=True)
    if engine.skipped_checks:
        err.print("note: modelled cycles: at a block start whose previous instruction never ran, its pairing "
                  "with that instruction is not priced without a code map (a few cycles in millions)",
                  markup=False, highlight=False, soft_wrap=True)
    if res.report and res.reason in ("fault", "hang"):
        err.print(res.report, markup=False, highlight=False)
    for w in engine.warnings:
        err.print(f"warning: {w}", markup=False, highlight=False)
    default = " (default budget; --budget to change)" if res.reason == "budget" and budget is None else ""
    err.print(f"stopped: {res.detail}{default}", markup=False, highlight=False)
    err.print(f"{res.instructions:,} instructions, {res.cycles:,} cycles (modelled)", highlight=False)
    if res.measures:
        t = Table(header_style="bold")
        for col in ("measure", "n", "min cycles", "mean cycles", "max cycles", "min ms", "mean ms", "max ms", "table"):
            t.add_column(col, justify="left" if col == "measure" else "right")
        for m in res.measures:
            s = m.summary(b)
            if not s["n"]:
                t.add_row(s["measure"], "0", *["-"] * 7)
                continue
            t.add_row(s["measure"], str(s["n"]), *(f"{s[k]:,.1f}".removesuffix(".0") for k in ("min", "mean", "max")),
                      f"{s['ms_min']:.4f}", f"{s['ms_mean']:.4f} ± {s['ms_err']:.4f}", f"{s['ms_max']:.4f}",
                      s["calibration"])
        out.print(t)
    if res.reason == "exit":
        raise typer.Exit(res.exit_code or 0)
    if res.reason == "fault" or (until and res.reason != "until"):
        raise typer.Exit(1)


def _load_address(board: Board, image: Path, text: str | None) -> int | None:
    """None for an ELF; for a raw image the address it is loaded at (--load-address, else the flash base,
    where an STM32 boots from)."""
    from harness.backends.image import is_elf
    if image.is_file() and is_elf(image):
        if text is not None:
            raise HarnessError(f"--load-address {text}: {image} is an ELF, which says where it loads")
        return None
    if not image.is_file():
        raise HarnessError(f"no image file at {image}" + (" (a folder)" if image.is_dir() else ""))
    if text is None:
        return board.flash.base
    try:
        address = int(text, 0)
    except ValueError:
        raise HarnessError(f"--load-address {text!r} is not a number (e.g. 0x08000000)") from None
    if not 0 <= address < 1 << 32:
        raise HarnessError(f"--load-address {text}: outside the 32-bit address space")
    return address


def _serve_pty(board, elf: Path, strict: bool = False, load_address: int | None = None) -> None:
    from harness.backends.pty import EmulatedPty
    with EmulatedPty(board, strict=strict, load_address=load_address) as port:
        err.print(f"console of {board.name} on {port.port} (Ctrl-C to stop)", highlight=False)
        if sys.stdin.isatty():      # pyserial drops what arrived before it opened the port: boot after it
            err.print("open the port, then press Enter to boot", highlight=False)
            input()
        port.load(elf)
        try:
            while port.failure is None:
                time.sleep(0.2)
        except KeyboardInterrupt:
            return
        code = getattr(port.failure, "exit_code", None)      # BoardExit: the firmware ended itself
        if code is not None:
            err.print(f"stopped: semihosting exit, code {code}", highlight=False)
            raise typer.Exit(code)
        err.print(str(port.failure), markup=False, highlight=False)
        raise typer.Exit(1)


# `harness calibrate`, `harness calibration-workload` (harness/calibration/commands.py)
from harness.calibration.commands import register as _register_calibration  # noqa: E402
_register_calibration(app)

bench_app = typer.Typer(no_args_is_help=True, help="Benchmarks of the harness itself.")
app.add_typer(bench_app, name="bench")


@bench_app.command("engine")
def bench_engine(
    board: Annotated[str, typer.Option("--board", "-b", help="Board name or .repl path.")] = "nucleo_f446re",
    instructions: Annotated[int, typer.Option(help="Instructions per timed run (at least 10^8).")] = 200_000_000,
    repeats: Annotated[int, typer.Option(help="Timed runs per mode.")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Emulated MIPS with and without cycle accounting, side by side (harness/bench.py)."""
    from harness.bench import engine_bench
    with exit_on_error():
        with err.status("engine bench") as status:
            b = engine_bench(board, instructions, repeats, progress=status.update)
    d = b.as_dict()
    if as_json:
        sys.stdout.write(json.dumps(d, indent=2) + "\n")
        return
    t = Table(title=f"harness bench engine: {d['board']}, {d['instructions']:,} instructions per run, "
                    f"best of {repeats}", header_style="bold")
    for col in ("cycle accounting", "MIPS", "CPU seconds", "modelled cycles", "cycles/instruction"):
        t.add_column(col, justify="right")
    t.add_row("off", f"{d['mips_off']:.1f}", f"{d['seconds_off']:.3f}", "-", "-")
    t.add_row("on", f"{d['mips_on']:.1f}", f"{d['seconds_on']:.3f}", f"{d['cycles']:,}", f"{d['cpi']:.3f}")
    out.print(t)
    out.print(f"accounting on / off: {d['ratio']:.1%} (best runs), {d['paired_ratio']:.1%} "
              f"(median of back-to-back pairs); target >= 80%", highlight=False)


@bench_app.command("models")
def bench_models_cmd(
    model: Annotated[Optional[list[str]], typer.Option("--model", "-m", help="Registry id or .tflite (repeatable).")] = None,
    board: Annotated[Optional[list[str]], typer.Option("--board", "-b", help="Board name (repeatable).")] = None,
    inputs: Annotated[int, typer.Option(help="Seeded random inputs per cell (compared with TFLM).")] = 2,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
) -> None:
    """Cycles per inference and per MAC, reference and optimized kernels, against issue 8's targets."""
    from harness import bench
    with exit_on_error():
        with err.status("bench models") as status:
            runs = bench.bench_models(model or bench.BENCH_MODELS, board or bench.BENCH_BOARDS, inputs=inputs,
                                      progress=status.update)
    if as_json:
        sys.stdout.write(json.dumps([r.as_dict() for r in runs], indent=2) + "\n")
    else:
        out.print(bench.models_table(runs))
    raise typer.Exit(int(any(r.mismatches for r in runs)))


@bench_app.command("patch")
def bench_patch_cmd(
    model: Annotated[Optional[list[str]], typer.Option("--model", "-m", help="Registry id or .tflite (repeatable).")] = None,
    board: Annotated[Optional[list[str]], typer.Option("--board", "-b", help="Board name (repeatable).")] = None,
    inputs: Annotated[int, typer.Option(help="Seeded random inputs per cell (compared with TFLM).")] = 2,
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="Cells run in parallel (default: one per core).")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the verdicts as JSON.")] = False,
) -> None:
    """Layer by layer against the chosen patch-based plan, run on the boards: peak SRAM, MACs, cycles,
    latency (harness check --patch auto per cell; docs/patch.md)."""
    from harness import patch_report
    with raised_on_signals(), exit_on_error():
        refuse_negative(jobs=jobs)
        if inputs < 1:
            raise HarnessError("--inputs must be at least 1")
        boards = [load_board(b) for b in (board or available_boards())]
        here = {mid for mid, _ in registry.available()}        # a fresh machine: the generated ones
        models = list(model) if model else [m for m in patch_report.BENCH_MODELS if m in here]
        cells = [replace(c, patch="auto") for c in _cells(boards, models, None)]
        with err.status("bench patch"):
            verdicts = run_matrix(cells, inputs=inputs, jobs=jobs or None)
    if as_json:
        sys.stdout.write(json.dumps([v.as_dict() for v in verdicts], indent=2) + "\n")
    else:
        out.print(patch_report.bench_table(verdicts))
    raise typer.Exit(int(any(v.status in ("fail", "error") for v in verdicts)))


@bench_app.command("kernels")
def bench_kernels_cmd(
    model: Annotated[Optional[list[str]], typer.Option("--model", "-m", help="Registry id or .tflite (repeatable).")] = None,
    board: Annotated[Optional[list[str]], typer.Option("--board", "-b", help="Board name (repeatable).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
) -> None:
    """Cycles per MAC of each kernel at the zoo's shapes, reference vs optimized, per core."""
    from harness import bench
    boards = board or bench.BENCH_BOARDS
    with exit_on_error():
        with err.status("bench kernels") as status:
            rows = bench.bench_kernels(model or bench.BENCH_MODELS, boards, progress=status.update)
    if as_json:
        sys.stdout.write(json.dumps([r.as_dict() for r in rows], indent=2) + "\n")
    else:
        out.print(bench.kernels_table(rows, boards))
        verdict = bench.pointwise_verdict(rows)
        if verdict:
            out.print(verdict, highlight=False)


@app.command("patch")
def patch_cmd(
    model: Annotated[str, typer.Option("--model", "-m", help="Registry id or .tflite path.")],
    board: Annotated[Optional[str], typer.Option("--board", "-b", help="Also compare each arena with this board's SRAM.")] = None,
    max_overhead: Annotated[float, typer.Option("--patch-overhead", help="MAC overhead budget of the chosen plan, in percent.")] = 100 * patching.MAX_OVERHEAD,
    out_dir: Annotated[Optional[Path], typer.Option("--out", help="Write patch.png into this folder.")] = None,
) -> None:
    """Patch-based inference (MCUNetV2): every split x grid with its peak SRAM (planned arena) and MAC
    overhead, the Pareto front and the chosen plan; no firmware is built (harness/plan/patch.py)."""
    from harness import patch_report
    from harness.plan.model import load_model
    with exit_on_error():
        budget = _patch_budget(max_overhead)
        mid, path = registry.resolve(model)
        sram = load_board(board).sram_size if board else None
        graph = load_model(path)
        with err.status("searching splits and grids"):
            cands = patching.candidates(graph, max_overhead=budget)
        chosen = patching.choose(cands, budget)
        title = f"harness patch: {mid}"
        out.print(patch_report.table(cands, chosen, title, sram))
        if len(cands) == 1:
            out.print(f"no split: the model does not start with a stage that can run in tiles "
                      f"({graph.ops[0].name} first)", highlight=False)
        if out_dir is not None:
            err.print(f"figure: {patch_report.write_figure(cands, chosen, title, budget, out_dir / 'patch.png')}",
                      highlight=False)


@app.command("compare")
def compare_cmd(
    old: Annotated[Path, typer.Argument(help="The earlier run: its report folder or results.json.")],
    new: Annotated[Path, typer.Argument(help="The later run: its report folder or results.json.")],
    figure: Annotated[Optional[list[str]], typer.Option("--figure", "-f", help="Only this figure (status, cycles, flash, sram, ...); repeatable.")] = None,
) -> None:
    """Every figure of every cell of two `harness check` runs side by side; exit 1 when any differs or a
    cell is in one run only (harness/compare.py)."""
    from harness import compare
    with exit_on_error():
        diffs, gone, added = compare.compare(compare.load_cells(old), compare.load_cells(new), figure)
    if diffs:
        table = Table(title=f"{len(diffs)} figure(s) differ")
        for col in ("model", "board", "figure", "old", "new"):
            table.add_column(col, justify="right" if col in ("old", "new") else "left")
        for d in diffs:
            table.add_row(*d.cell, d.figure, escape(str(d.old)), escape(str(d.new)))
        out.print(table)
    for name, cells in (("only in the old run", gone), ("only in the new run", added)):
        for model, board in cells:
            out.print(f"{name}: {model} on {board}", highlight=False)
    same = not (diffs or gone or added)
    if same:
        out.print("every figure of every cell is the same", highlight=False)
    raise typer.Exit(0 if same else 1)


@app.command("fidelity")
def fidelity_cmd(
    board: Annotated[Optional[list[str]], typer.Option("--board", "-b", help="Only this board's pairs; repeatable.")] = None,
    model: Annotated[Optional[list[str]], typer.Option("--model", "-m", help="Only this model's pairs; repeatable.")] = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="Pairs run in parallel (default: one per core).")] = 0,
    out_dir: Annotated[Optional[Path], typer.Option("--out", help="Write fidelity.json, fidelity.md and fidelity.png into this folder.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON document instead of the tables.")] = False,
    folder: Annotated[Optional[Path], typer.Option("--dir", help="The ground truth folder (manifest.toml); default $HARNESS_FIDELITY, else ../shared/fidelity.")] = None,
) -> None:
    """Predicted latency against the MicroNets paper's, on TFLM + CMSIS-NN firmware (harness/fidelity.py)."""
    from harness import fidelity
    with exit_on_error():
        refuse_negative(jobs=jobs)
        manifest = fidelity.load_manifest(fidelity.fidelity_dir(folder))
        pairs = fidelity.select(manifest.pairs, board, model)
        try:
            with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                          TimeElapsedColumn(), console=err, transient=True) as bar:
                job = bar.add_task("running pairs", total=len(pairs))
                rows = fidelity.run_pairs(pairs, jobs=jobs or None, on_done=lambda r: bar.update(
                    job, advance=1, description=f"{r.id}: {'error' if r.errors else 'done'}"))
        except KeyboardInterrupt:
            err.print("interrupted", highlight=False)
            raise typer.Exit(130) from None
        doc = fidelity.document(manifest, rows)
        if out_dir is not None:
            err.print(f"report: {fidelity.write_outputs(doc, rows, out_dir)}", highlight=False)
    if as_json:
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    else:
        out.print(fidelity.rows_table(rows))
        out.print(fidelity.summary_table(doc["summary"]))
    for line in doc["failures"]:
        err.print(f"FAIL {line}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(0 if doc["ok"] else 1)


# characterize, predict and bench predict live in their own module, registered on `app` when it loads
importlib.import_module("harness.cli_predict")


def main() -> None:
    """The `harness` console script. A HarnessError is the user's to act on: one `error:` line. Anything
    else is our bug, still one line (its type and message) rather than a traceback over the user's
    output; HARNESS_DEBUG=1 lets it through with the traceback, for a bug report."""
    try:
        app()
    except HarnessError as e:        # raised outside a command's exit_on_error (e.g. while printing)
        print_error(e)
        sys.exit(1)
    except Exception as e:           # noqa: BLE001 - the safety net; each known cause is fixed where it arises
        if os.environ.get("HARNESS_DEBUG"):
            raise
        first = str(e).splitlines()[0] if str(e) else ""
        print_error(f"internal: {type(e).__name__}: {first} (rerun with HARNESS_DEBUG=1 for the traceback)")
        sys.exit(1)
