"""`harness characterize`: the MicroNets paper's characterization (its section 3 and Figure 4) on our
boards, repeatable: seeded samples of a backbone's search space (harness/calibration/workload.py, the
one sampler), each built through the one model -> ELF path (harness/pipeline.py) and profiled per op on
each emulated board (harness/profile.py: cycles per layer, stack high-water), its flash and SRAM read
from the ELF (harness/fit.py; each kernel's code by its call graph, harness/placement.py). Writes characterization.json: every sample, the
paper's line latency = a + b x MACs per backbone and board (R^2, errors, leave-one-out), the same per op
type, and per board the cost model `harness predict` evaluates (harness/costmodel.py) with its
provenance (which samples, leave-one-sample-out error).
"""
from __future__ import annotations

import datetime
import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from harness.errors import HarnessError

VERSION = 1


@dataclass(frozen=True)
class Cell:
    backbone: str          # ad | kws | vww | a backbone file's path
    seed: int
    count: int
    index: int             # which of backbone_specs(backbone, count, seed)
    board: str


def _spec(cell: Cell):
    from harness.calibration.workload import backbone_specs
    return backbone_specs(cell.backbone, cell.count, cell.seed)[cell.index]


def sample_tflite(backbone: str, spec) -> Path:
    """The sample's .tflite, converted once (cached by its backbone's source and parameters)."""
    from harness.tfgen import convert
    source = Path(backbone).read_text() if backbone.endswith(".py") else backbone
    key = f"characterize:{hashlib.sha256(source.encode()).hexdigest()[:16]}:{json.dumps(spec.params, sort_keys=True)}"
    return convert(spec.build, key, folder="characterize")


def measure(cell: Cell) -> dict:
    """One (sample, board) cell: its plan's features, and what the firmware measured; never raises (a
    failure is the record's `error`)."""
    t0 = time.monotonic()
    spec = _spec(cell)
    rec = {"name": spec.name, "backbone": spec.family, "params": spec.params, "board": cell.board, "seed": cell.seed}
    try:
        rec.update(_measure(cell, spec))
    except HarnessError as e:
        rec["error"] = str(e).splitlines()[0]
    except Exception as e:      # noqa: BLE001 - one broken cell is that cell's record
        rec["error"] = f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"
    rec["seconds"] = round(time.monotonic() - t0, 1)
    return rec


def _measure(cell: Cell, spec) -> dict:
    from harness import pipeline
    from harness.board import load_board
    from harness.build import DoesNotFit
    from harness.calibration import table_for
    from harness.placement import call_graph, closure
    from harness.costmodel import plan_features
    from harness.elf import read_elf
    from harness.fit import breakdown, static_fit
    from harness.profile import profile_firmware
    tflite = sample_tflite(cell.backbone, spec)
    graph, low = pipeline.plan(tflite)
    feats = plan_features(low, spec.name)
    board = load_board(cell.board)
    try:
        fw = pipeline.build(board, low, spec.name)
    except DoesNotFit as e:
        return {**feats, "fits": False, "why": str(e)}
    prof = profile_firmware(board, fw.elf, graph, low, spec.name, seed=0)
    for layer, row in zip(feats["layers"], prof.ops):
        layer["cycles"] = round(prof.cycles(row))
        layer["events"] = row.events
    cycles = prof.firmware_cycles
    events = prof.window_events          # what the board's calibration table maps besides the cycles
    fit = static_fit(board, fw.elf, stack=prof.stack_high_water)
    symbols = {s.name: s.size for s in read_elf(fw.elf).symbols if s.kind == "STT_OBJECT"}
    calls = call_graph(fw.elf)
    return {**feats, "fits": True, "cycles": cycles,
            "runtime_cycles": cycles - sum(layer["cycles"] for layer in feats["layers"]),
            "events": events,
            "runtime_events": {k: v - sum(la["events"].get(k, 0) for la in feats["layers"]) for k, v in events.items()},
            "latency_ms": table_for(board).predict(cycles, events=events or None).latency_ms,
            "flash": fit.flash.used, "sram": fit.sram.used, "static_ram": fit.static_ram,
            "stack": prof.stack_high_water, "op_params": breakdown(fw.elf)["op params"],
            "functions": {name: size for name, (size, _) in calls.items()},
            "closures": {k: sorted(closure(calls, k)) for k in feats["kernels"]},
            "structs": {c.struct: symbols[f"op{i}"] for i, c in enumerate(low.calls) if f"op{i}" in symbols}}


def cells(backbones: list[str], boards: list[str], count: int, seed: int) -> list[Cell]:
    """Board by board, so a sample converted for the first board is in the cache for the next."""
    return [Cell(b, seed, count, i, board) for board in boards for b in backbones for i in range(count)]


def run(backbones: list[str], boards: list[str], count: int, seed: int, jobs: int | None = None,
        on_done: Callable[[dict], None] = lambda r: None, engine: str = "pool") -> list[dict]:
    """Every cell measured: in the local process pool (harness/interrupt.run_pool) or as Ray tasks."""
    todo = cells(backbones, boards, count, seed)
    for b in backbones if count else ():     # a bad backbone file says so before any worker starts
        _spec(Cell(b, seed, count, 0, boards[0]))
    if engine == "pool":
        from harness.interrupt import run_pool
        return run_pool(measure, todo, jobs, on_done)
    from harness.raypool import run_ray
    return run_ray(measure, todo, engine, on_done)


# ------------------------------------------------------------------------------------------ summary
def summarize(records: list[dict], backbones: list[str], boards: list[str], count: int, seed: int) -> dict:
    from harness.board import load_board
    from harness.calibration import table_for
    from harness.costmodel import fit_layers, fit_memory, leave_one_out, linear_fit
    ok = [r for r in records if r.get("fits") and "error" not in r]
    out = {"version": VERSION, "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
           "backbones": backbones, "boards": boards, "count": count, "seed": seed,
           "command": f"harness characterize {' '.join('--backbone ' + b for b in backbones)} "
                      f"{' '.join('-b ' + b for b in boards)} --count {count} --seed {seed}",
           "samples": records, "linear": {}, "per_op_type": {}, "cost_model": {}}
    for backbone in dict.fromkeys(r["backbone"] for r in ok):
        out["linear"][backbone] = {}
        for board in boards:
            mine = [r for r in ok if r["backbone"] == backbone and r["board"] == board]
            out["linear"][backbone][board] = linear_fit([r["macs"] for r in mine], [r["latency_ms"] for r in mine])
    for board in boards:
        mine = [r for r in ok if r["board"] == board]
        if not mine:
            continue
        ops: dict[str, tuple[list, list]] = {}
        for r in mine:
            for layer in r["layers"]:
                xs, ys = ops.setdefault(layer["op"], ([], []))
                xs.append(layer["macs"])
                ys.append(layer["cycles"])
        out["per_op_type"][board] = {op: linear_fit(xs, ys) | {"unit": "cycles per layer vs MACs"}
                                     for op, (xs, ys) in sorted(ops.items())}
        loo, loo_ms = leave_one_out(mine, table_for(load_board(board)))
        known = [abs(e) for e in loo if e is not None]
        known_ms = [abs(e) for e in loo_ms if e is not None]
        out["cost_model"][board] = {
            "samples": [r["name"] for r in mine],
            "cycles": fit_layers(mine), "memory": fit_memory(mine),
            "loo_cycles_rel": dict(zip((r["name"] for r in mine), loo)),
            "loo_mean_abs_rel": sum(known) / len(known) if known else None,
            "loo_max_abs_rel": max(known) if known else None,
            "loo_latency_rel": dict(zip((r["name"] for r in mine), loo_ms)),
            "loo_latency_mean_abs_rel": sum(known_ms) / len(known_ms) if known_ms else None,
            "loo_latency_max_abs_rel": max(known_ms) if known_ms else None}
    return out


def write(summary: dict, out_dir: Path) -> list[Path]:
    from harness.plots import characterization_plots
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "characterization.json"
    path.write_text(json.dumps(summary, indent=1) + "\n")
    return [path, *characterization_plots(summary, out_dir)]
