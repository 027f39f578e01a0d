"""Two runs of `harness check` side by side: every figure of every cell (model, board) in the old run's
results.json against the new run's, so a refactoring can show it changed nothing (and a kernel change
shows exactly which cycles it moved). Used by `harness compare OLD NEW`."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError

# The figures a cell is judged by, as paths into its results.json entry (Verdict.as_dict). Wall time
# (`seconds`) and the ELF's path are not figures of the cell; the reasons' text follows from these.
FIGURES = {
    "status": ("status",),
    "bit_exact": ("bit_exact",),
    "mismatches": ("mismatches",),
    "real_mismatches": ("real_mismatches",),
    "cycles": ("cycles",),
    "instructions": ("instructions",),
    "flash": ("fit", "flash", "used"),
    "sram": ("fit", "sram", "used"),
    "stack": ("fit", "stack"),
    "arena": ("arena_bytes",),
    "tflm_arena": ("tflm_arena_bytes",),
    "runtime_code": ("runtime_code_bytes",),
    "latency_ms": ("latency_ms",),
    "memory_events": ("memory_events",),
    "patch": ("patch",),
}


@dataclass(frozen=True)
class Difference:
    cell: tuple[str, str]          # (model, board)
    figure: str
    old: object
    new: object


def load_cells(path: Path | str) -> dict[tuple[str, str], dict]:
    """The cells of a run, by (model, board): `path` is a report folder or its results.json."""
    p = Path(path)
    if p.is_dir():
        p = p / "results.json"
    try:
        cells = json.loads(p.read_text())["cells"]
    except FileNotFoundError:
        raise HarnessError(f"{p}: no such results file (give a report folder or its results.json)") from None
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise HarnessError(f"{p}: not a results.json of harness check ({e})") from None
    return {(c["model"], c["board"]): c for c in cells}


def _figure(cell: dict, path: tuple[str, ...]):
    for key in path:
        if not isinstance(cell, dict):
            return None
        cell = cell.get(key)
    return cell


def compare(old: dict[tuple[str, str], dict], new: dict[tuple[str, str], dict],
            figures: list[str] | None = None) -> tuple[list[Difference], list[tuple[str, str]], list[tuple[str, str]]]:
    """(figures that differ in cells both runs have, cells only the old run has, cells only the new has)."""
    names = figures or list(FIGURES)
    unknown = [f for f in names if f not in FIGURES]
    if unknown:
        raise HarnessError(f"unknown figure(s) {', '.join(unknown)}; known: {', '.join(FIGURES)}")
    diffs = [Difference(key, f, a, b) for key in sorted(old.keys() & new.keys()) for f in names
             if (a := _figure(old[key], FIGURES[f])) != (b := _figure(new[key], FIGURES[f]))]
    return diffs, sorted(old.keys() - new.keys()), sorted(new.keys() - old.keys())
