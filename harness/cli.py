"""The `harness` command: parsing and printing only; the work is in harness.check and friends."""
from __future__ import annotations

import json
import sys
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from harness import registry
from harness.board import available_boards, load_board
from harness.check import Verdict, check_cell
from harness.errors import HarnessError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Does an int8 TFLite model fit a board, compute what TFLM computes, and how fast?")
out = Console()
err = Console(stderr=True)


def _kb(n: int) -> str:
    return f"{n / 1024:.1f} KB"


def _table(verdicts: list[Verdict]) -> Table:
    t = Table(title="harness check", header_style="bold")
    for col in ("model", "board", "flash", "SRAM", "arena", "bit-exact vs TFLM", "instr/inference", "verdict"):
        t.add_column(col, justify="right" if col not in ("model", "board", "verdict") else "left")
    for v in verdicts:
        f = v.fit
        flash = f"{_kb(f.flash.used)} / {_kb(f.flash.size)} ({f.flash.percent:.1f}%)" if f else "-"
        sram = f"{_kb(f.sram.used)} / {_kb(f.sram.size)} ({f.sram.percent:.1f}%)" if f else "-"
        exact = f"{v.inputs - v.mismatches}/{v.inputs}" if v.mismatches is not None else "-"
        style = {"pass": "green", "fail": "red", "error": "red", "unsupported": "yellow"}[v.status]
        t.add_row(v.model, v.board, flash, sram, f"{v.arena_bytes} B" if v.arena_bytes is not None else "-",
                  exact, f"{v.instructions:,}" if v.instructions is not None else "-",
                  f"[{style}]{v.status.upper()}[/{style}]")
    return t


def _details(v: Verdict) -> None:
    if v.fit:
        regions = "  ".join(f"{r.region} {r.used:,}/{r.size:,} B ({r.percent:.1f}%)" for r in v.fit.regions)
        out.print(f"  {v.model} on {v.board}: {regions}; stack high-water "
                  f"{v.fit.stack if v.fit.stack is not None else '-'} B", highlight=False)
    for r in v.reasons:
        out.print(f"  {v.model} on {v.board}: {r}", highlight=False, markup=False)


@app.command()
def check(
    board: Annotated[Optional[list[str]], typer.Option("--board", "-b", help="Board name or .repl path; repeatable. Default: every board in renode/platforms.")] = None,
    model: Annotated[Optional[list[str]], typer.Option("--model", "-m", help="Registry id or .tflite path; repeatable. Default: every registered model found.")] = None,
    inputs: Annotated[int, typer.Option(help="Seeded random inputs compared with TFLM.")] = 20,
    seed: Annotated[int, typer.Option(help="Seed of the random inputs.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the verdicts as JSON, one object per model x board.")] = False,
) -> None:
    """Check models on boards: fit per memory region, outputs bit-exact with TFLM, instructions per inference."""
    try:
        boards = [load_board(b) for b in (board or available_boards())]
        models = [registry.resolve(m) for m in model] if model else registry.available()
        if inputs < 1:
            raise HarnessError("--inputs must be at least 1")
        verdicts = []
        for mid, path in models:
            for b in boards:
                with err.status(f"{mid} on {b.name}") as status:
                    verdicts.append(check_cell(mid, path, b, inputs=inputs, seed=seed,
                                               progress=lambda s: status.update(f"{mid} on {b.name}: {s}")))
    except HarnessError as e:
        err.print(f"error: {e}", markup=False, highlight=False)
        raise typer.Exit(1)
    if as_json:
        sys.stdout.write(json.dumps([v.as_dict() for v in verdicts], indent=2) + "\n")
    else:
        out.print(_table(verdicts))
        for v in verdicts:
            _details(v)
    if any(v.status != "pass" for v in verdicts):
        raise typer.Exit(1)


@app.command()
def boards() -> None:
    """List the boards (renode/platforms/*.repl) with their memory maps."""
    t = Table(header_style="bold")
    for col in ("board", "cpu", "clock", "flash", "SRAM", "regions"):
        t.add_column(col)
    for name in available_boards():
        b = load_board(name)
        t.add_row(name, b.cpu_type, f"{b.clock_hz / 1e6:.0f} MHz", _kb(b.flash.size), _kb(b.sram_size),
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


def main() -> None:
    app()
