"""The runtime's coverage table: for every model, its ops, whether our runtime gives TFLM's output (run
on the host build), our arena against the liveness bound and TFLM's, and the image's size."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError
from harness.plan.kernel import Const
from harness.plan.lower import lower
from harness.plan.model import load_model
from harness.reference import tflm_arena
from harness.sweep import compare_on_host


@dataclass
class Row:
    model: str
    ops: str
    status: str
    arena: int | None = None
    lower_bound: int | None = None
    tflm_arena: int | None = None
    tflm_head: int | None = None
    image_bytes: int | None = None
    tflite_bytes: int = 0


def image_constants(low) -> int:
    """Bytes of constants the image holds: weights, biases, quantization tables (shared ones once)."""
    seen, total = set(), 0
    for call in low.calls:
        for value in call.fields.values():
            if isinstance(value, Const) and (value.tensor is None or value.tensor not in seen):
                total += value.data.nbytes
                if value.tensor is not None:
                    seen.add(value.tensor)
    return total


def row(model_id: str, path: Path, inputs: int = 5) -> Row:
    r = Row(model_id, "", "", tflite_bytes=path.stat().st_size)
    try:
        graph = load_model(path)
        r.ops = ", ".join(sorted(set(graph.op_names)))
        low = lower(graph)
    except HarnessError as e:
        r.status = "refused: " + str(e).split(": ", 1)[-1].splitlines()[0][:160]
        return r
    r.arena, r.lower_bound, r.image_bytes = low.plan.arena_bytes, low.plan.lower_bound, image_constants(low)
    try:
        t = tflm_arena(path)
        r.tflm_arena, r.tflm_head = t["total"], t["head"]
    except Exception as e:       # noqa: BLE001 -- the table says what TFLM could not do
        r.status = f"TFLM cannot load it: {e}"
        return r
    try:
        result = compare_on_host(path, inputs=inputs, key=model_id)
    except HarnessError as e:
        r.status = "error: " + str(e).splitlines()[0]
        return r
    r.status = (f"bit-exact ({inputs}/{inputs})" if result.bit_exact
                else f"within tolerance ({inputs}/{inputs}, max diff {result.max_abs_diff:.2g})"
                if result.mismatches == 0 else f"DIFFERS on {result.mismatches}/{inputs}: {result.first_diff}")
    return r


HEADER = "| model | ops | status | our arena B | lower bound B | TFLM arena B (head) | image constants B | .tflite B |"


def markdown(rows: list[Row]) -> str:
    out = [HEADER, "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        dash = lambda v: "-" if v is None else f"{v:,}"   # noqa: E731
        tflm = "-" if r.tflm_arena is None else f"{r.tflm_arena:,} ({r.tflm_head:,})"
        out.append(f"| {r.model} | {r.ops} | {r.status} | {dash(r.arena)} | {dash(r.lower_bound)} | {tflm} | "
                   f"{dash(r.image_bytes)} | {r.tflite_bytes:,} |")
    return "\n".join(out) + "\n"


def write_markdown(path: Path, rows: list[Row]) -> None:
    """The table into `path`; in a file that already has one (docs/runtime-table.md), only the table is
    replaced: the prose written around it stays."""
    table = markdown(rows)
    text = path.read_text() if path.is_file() else ""
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.rstrip("\n") == HEADER), None)
    if start is None:
        path.write_text(table)
        return
    end = start
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    path.write_text("".join(lines[:start]) + table + "".join(lines[end:]))
