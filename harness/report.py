"""Reports of a run: reports/<timestamp>/ (<timestamp>-2, -3 ... for runs started in the same second) with
results.json, summary.md and junit.xml, written into a temporary folder and renamed into place, so a
crashed run leaves no half report."""
from __future__ import annotations

import itertools
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from xml.etree import ElementTree as ET

from harness.backends.renode import reproduce_resc
from harness.board import Board, load_board
from harness.check import FAILING, Verdict
from harness.errors import HarnessError
from harness.plots import write_plots
from harness.registry import ZooModel

KB = 1024


def _pct(used: int, size: int) -> str:
    return f"{100 * used / size:.0f}%"


def harness_ram_section(verdicts: list[Verdict]) -> list[str]:
    """What the harness itself adds to each image's SRAM (harness/pipeline.py harness_ram), beside what a
    deployment of the same plan needs."""
    rows = [v for v in verdicts if v.harness_ram_bytes is not None and v.fit is not None]
    if not rows:
        return []
    lines = ["", "## SRAM the harness adds", "",
             "SRAM % above is the whole image's. The harness's `db` download needs bytes a deployment, which writes "
             "its input into the input tensor's place before each inference, does not: a buffer beside the arena, "
             "or the input kept whole in the arena where that is smaller. An image that fits only without them "
             "downloads into the input tensor and runs one inference per download (0 B here).", "",
             "| model | board | SRAM B | of it the harness's B | a deployment's B |", "|---|---|---|---|---|"]
    lines += [f"| {v.model} | {v.board} | {v.fit.sram.used:,} | {v.harness_ram_bytes:,} | "
              f"{v.fit.sram.used - v.harness_ram_bytes:,} |" for v in rows]
    return lines


def summary_markdown(verdicts: list[Verdict], zoo: dict[str, ZooModel], meta: dict) -> str:
    boards = sorted({v.board for v in verdicts})
    models = list(dict.fromkeys(v.model for v in verdicts))
    cell = {(v.model, v.board): v for v in verdicts}
    lines = [f"# harness check — {meta['started']}", "", *interrupted_lines(meta),
             f"{len(verdicts)} cells, {meta['wall_seconds']:.0f} s wall time on {meta['cpus']} cores; "
             f"inputs per cell: {meta['inputs']} (seed {meta['seed']}).", "",
             "Each board column: flash % / SRAM % of the chip, verdict, cycles per inference, latency per "
             "inference from the board's calibration table (value ± error, its status).", "",
             "| model | " + " | ".join(boards) + " |", "|---|" + "---|" * len(boards)]
    for m in models:
        row = [m]
        for b in boards:
            v = cell.get((m, b))
            if v is None:
                row.append("")
                continue
            fit = f"{_pct(v.fit.flash.used, v.fit.flash.size)} / {_pct(v.fit.sram.used, v.fit.sram.size)} " if v.fit else ""
            cyc = f" {v.cycles:,}" if v.cycles is not None else ""
            lat = f"; {v.prediction}" if v.prediction else ""
            row.append(f"{fit}**{v.status}**{cyc}{lat}")
        lines.append("| " + " | ".join(row) + " |")
    lines += latency_section(verdicts, boards, models)
    lines += harness_ram_section(verdicts)
    lines += patch_section(verdicts)
    lines += tflm_section(verdicts, zoo, boards, models)
    lines += ["", "![memory per part](memory.png)", "", "![cycles against MACs](cycles_vs_macs.png)", ""]
    if any(v.prediction is not None for v in verdicts):     # plots.latency_plot draws these, else no file
        lines.append("![predicted latency per model and board](latency.png)")
    else:
        lines.append("No latency plot: no cell has a predicted latency (none ran on a board with a calibration table).")
    notes = [f"- {v.model} on {v.board}: {r.splitlines()[0]}" for v in verdicts for r in v.reasons]
    notes += [f"- {v.model} on {v.board}: {n}" for v in verdicts if (n := tflm_note(v))]
    notes += [f"- {v.model} on {v.board}: {len(v.outputs)} output tensors, each compared with TFLM's: "
              + ", ".join(f"{name} (differs at {n} of {v.inputs + len(v.real_inputs)} inputs)"
                          for name, n in zip(v.outputs, v.output_mismatches))
              for v in verdicts if len(v.outputs) > 1 and v.output_mismatches is not None]
    for v in verdicts:           # each disagreement with the paper's "runs on", explained by figures
        z = zoo.get(v.model)
        if z and z.paper and v.fits and v.board not in z.paper["runs_on"]:
            notes.append(f"- {v.model} fits {v.board}, where the paper did not run it: our SRAM "
                         f"{v.fit.sram.used:,} B (arena {v.arena_bytes:,} B) of the board's {v.fit.sram.size:,} B, "
                         f"against the paper's TFLM arena of {z.paper['sram_bytes']:,} B; flash {v.fit.flash.used:,} "
                         f"of {v.fit.flash.size:,} B")
    if notes:
        lines += ["", "## Notes", "", *notes]
    return "\n".join(lines) + "\n"


def tflm_section(verdicts: list[Verdict], zoo: dict[str, ZooModel], boards: list[str], models: list[str]) -> list[str]:
    """Our figures beside the MicroNets paper's (registered models with a paper row) and TFLM's arena (every
    model our runtime planned, a .tflite given by path too), with TFLM's arena against each board's SRAM."""
    cell = {(v.model, v.board): v for v in verdicts}
    lines = ["", "## Against the MicroNets paper (Table 4) and TFLM", "",
             "TFLM arena: its interpreter's RecordingMicroAllocator total on this host, planned tensors (head) "
             "included; the \"vs SRAM\" column holds it against each board's SRAM (see the notes where it does "
             "not fit).", "",
             "| model | paper row | paper flash KB | our .tflite KB | paper SRAM B | TFLM arena B | our arena B | "
             "our SRAM B (F446RE) | our runtime code B | paper runs on | we fit on | TFLM arena vs SRAM |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for m in models:
        vs = [cell[(m, b)] for b in boards if (m, b) in cell]
        z = zoo.get(m)
        paper = z.paper if z and z.paper else None
        if not paper and all(v.arena_bytes is None for v in vs):
            continue                 # neither a paper row nor a model our runtime planned
        any_v = next((v for v in vs if v.arena_bytes is not None), vs[0])
        tflm = next((v.tflm_arena_bytes for v in vs if v.tflm_arena_bytes is not None), None)
        f446 = cell.get((m, "nucleo_f446re"))
        against = "; ".join(f"{v.board}: {v.tflm_arena_bytes:,} ≤ {v.fit.sram.size:,}" if v.tflm_arena_fits_sram
                            else f"{v.board}: {v.tflm_arena_bytes:,} > {v.fit.sram.size:,}, the arena alone too big"
                            for v in vs if v.tflm_arena_fits_sram is not None)
        lines.append(" | ".join([
            f"| {m}", paper["row"] if paper else "-", str(paper["flash_kb"]) if paper else "-",
            f"{(any_v.model_bytes or 0) / KB:.0f}", str(paper["sram_bytes"]) if paper else "-",
            f"{tflm:,}" if tflm is not None else "-",
            f"{any_v.arena_bytes:,}" if any_v.arena_bytes is not None else "-",
            f"{f446.fit.sram.used:,}" if f446 and f446.fit else "-",
            next((f"{v.runtime_code_bytes:,}" for v in vs if v.runtime_code_bytes), "-"),
            ", ".join(paper["runs_on"]) if paper else "-",
            ", ".join(v.board for v in vs if v.fits) or "-", (against or "-") + " |"]))
    return lines


def tflm_note(v: Verdict) -> str | None:
    """Where TFLM's arena alone exceeds the board's SRAM: that, as strongly as the figures allow. The arena
    is measured by TFLM's interpreter on this (64-bit) host; its planned tensors (head) are the same on
    the board, its persistent part is smaller there (4-byte pointers). So only a head over the SRAM is a
    certain no; over that, the note says by how much the persistent part would have to shrink."""
    if v.tflm_arena_fits_sram is not False:
        return None
    total, head, size = v.tflm_arena_bytes, v.tflm_arena_head, v.fit.sram.size
    ours = (f"ours fits in {v.fit.sram.used:,} B with the stack" if v.fit.sram.fits
            else f"ours does not fit either ({v.fit.sram.used:,} B with the stack)")
    text = f"TFLM's arena alone is {total:,} B against the board's {size:,} B of SRAM ({ours})"
    if head is not None and head > size:
        return f"{text}: does not fit with TFLM, its planned tensors alone take {head:,} B"
    tail = f" ({total - head:,} B here)" if head is not None else ""
    return (f"{text}. Measured on this 64-bit host: TFLM could fit only if its persistent part{tail} is more "
            f"than {total - size:,} B smaller on the 32-bit board, and its stack and static data come on top")


def patch_section(verdicts: list[Verdict]) -> list[str]:
    """`--patch`: layer by layer and the patch-based plan side by side, per cell (docs/patch.md)."""
    rows = [v for v in verdicts if v.patch]
    if not rows:
        return []
    lines = ["", "## Patch-based inference", "",
             "Layer by layer against the patch-based plan run beside it (arena = planned peak SRAM of the tensors, "
             "the model input counted in it as TFLM counts it; input streamed = the same with the model input "
             "streamed from outside the arena, MCUNetV2's accounting, planned only; SRAM = what the firmware uses, "
             "stack included).", "",
             "| model | board | plan | arena | arena, input streamed (MCUNetV2) | SRAM | MACs | cycles | latency | verdict |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for v in rows:
        p = v.patch
        if p.get("arena_bytes") is None:
            lines.append(f"| {v.model} | {v.board} | {p['split'] or '-'} | | | | | | | {'; '.join(p['reasons'])} |")
            continue
        sram = lambda used: f"{used:,}" if used is not None else "-"     # noqa: E731
        lat = f"{v.latency_ms:.1f} -> {p['latency_ms']:.1f} ms" if v.latency_ms and p.get("latency_ms") else "-"
        cyc = f"{v.cycles:,} -> {p['cycles']:,}" if v.cycles and p.get("cycles") else "-"
        lines.append(f"| {v.model} | {v.board} | {p['split']} | {v.arena_bytes:,} -> {p['arena_bytes']:,} | "
                     f"{sram(p.get('base_arena_streamed'))} -> {sram(p.get('arena_streamed'))} | {sram(v.fit.sram.used if v.fit else None)} -> {sram(p['sram_used'])} | "
                     f"{p['overhead']:+.1%} | {cyc} | {lat} | {v.status} -> {p['status']} |")
    return lines


def interrupted_lines(meta: dict) -> list[str]:
    """The mark of a run stopped by Ctrl-C or SIGTERM: only the cells that finished are in the report."""
    if not meta.get("interrupted"):
        return []
    return [f"**Run interrupted ({meta['interrupted']})**: the cells that finished before it are below; the "
            f"other {meta['cells_planned'] - meta['cells_done']} of {meta['cells_planned']} did not run to the end.",
            ""]


def latency_section(verdicts: list[Verdict], boards: list[str], models: list[str]) -> list[str]:
    """Latency and energy per inference, value ± error with the table's status, per model and board."""
    cell = {(v.model, v.board): v for v in verdicts if v.prediction}
    if not cell:
        return []
    lines = ["", "## Latency and energy per inference", "",
             "From each board's table in renode/calibration (harness/calibration): `uncalibrated` is modelled "
             "cycles / clock with the core model's stated error; `calibrated (n=...)` a mapping fitted to n "
             "hardware-measured builds; `measured` the board's own DWT cycles. Energy = power × latency.", "",
             "| model | " + " | ".join(boards) + " |", "|---|" + "---|" * len(boards)]
    for m in models:
        if any((m, b) in cell for b in boards):
            lines.append(f"| {m} | " + " | ".join(
                f"{p.latency}, {p.energy} ({p.status})" if (p := cell[(m, b)].prediction if (m, b) in cell else None)
                else "" for b in boards) + " |")
    return lines


def junit_xml(verdicts: list[Verdict], interrupted: str | None = None) -> str:
    suite = ET.Element("testsuite", name="harness check", tests=str(len(verdicts)),
                       failures=str(sum(v.status in FAILING for v in verdicts)),
                       skipped=str(sum(v.status in ("unsupported", "no-fit") for v in verdicts)))
    if interrupted:              # the run was stopped: the cells that did not finish are not in it
        ET.SubElement(ET.SubElement(suite, "properties"), "property", name="interrupted", value=interrupted)
    for v in verdicts:
        case = ET.SubElement(suite, "testcase", classname=f"check.{v.board}", name=v.model, time=str(v.seconds))
        props = ET.SubElement(case, "properties")
        figures = {"flash_bytes": v.fit.flash.used if v.fit else None, "sram_bytes": v.fit.sram.used if v.fit else None,
                   "cycles": v.cycles, "arena_bytes": v.arena_bytes, "mismatches": v.mismatches,
                   "runtime_code_bytes": v.runtime_code_bytes, "tflm_arena_bytes": v.tflm_arena_bytes,
                   "tflm_arena_fits_sram": v.tflm_arena_fits_sram,
                   # per output tensor, for a model with several (its mismatches: any of them)
                   **({"output_mismatches": ",".join(map(str, v.output_mismatches))}
                      if len(v.outputs) > 1 and v.output_mismatches is not None else {})}
        if v.prediction:
            figures.update(v.prediction.as_dict())
        for k, val in figures.items():
            if val is not None:
                ET.SubElement(props, "property", name=k, value=str(val))
        if v.status in FAILING:
            ET.SubElement(case, "failure", message="; ".join(v.reasons)[:500]).text = "\n".join(v.reasons)
        elif v.status != "pass":
            ET.SubElement(case, "skipped", message="; ".join(v.reasons)[:500])
    return ET.tostring(suite, encoding="unicode")


def calibration_tables(verdicts: list[Verdict]) -> dict[str, dict]:
    """Per board of the run: the calibration table its latencies came from (status, file, error, power)."""
    from harness.calibration import table_for
    out = {}
    for board in sorted({v.board for v in verdicts if v.latency_ms is not None}):
        try:
            out[board] = table_for(board).describe()
        except HarnessError as e:
            out[board] = {"error": str(e)}
    return out


def measured_latencies(verdicts: list[Verdict], folder: Path) -> dict[tuple[str, str], float]:
    """{(model, board): ms} from the hardware reports in `folder` (tests/test_hardware.py writes
    reports/hardware/<model>-<board>.json) whose firmware is the very ELF of this run's cell (the build
    cache names an ELF by its sources' hash), and from this run's own hardware cells."""
    out = {(v.model, v.board): v.latency_ms for v in verdicts if v.latency_status == "measured"}
    elfs = {(v.model, v.board): v.elf for v in verdicts if v.elf}
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            d = json.loads(path.read_text())
            key = (d["model"], d["board"])
            if d.get("source") == "hardware" and d.get("elf") and elfs.get(key) == d["elf"] and key not in out:
                out[key] = load_board(d["board"]).ms(int(d["silicon"]["cycles"]))
        except (OSError, ValueError, KeyError, TypeError, HarnessError):
            continue          # not a hardware report of ours
    return out


def check_report_dir(root: Path) -> None:
    """Refuse a --report-dir the report cannot be written to (a file in the way, no permission), before
    any cell runs: creates it (and its parents) and a probe folder in it."""
    try:
        root.mkdir(parents=True, exist_ok=True)
        os.rmdir(tempfile.mkdtemp(prefix=".probe-", dir=root))
    except OSError as e:
        raise HarnessError(f"cannot write reports to {root}: {e.strerror or e}") from None


def _reserve(root: Path, name: str) -> Path:
    """root/<name>, or <name>-2, -3 ... when taken (two runs started in the same second): created empty
    here (mkdir is atomic, so two processes never get the same one), the report is renamed onto it."""
    for n in itertools.count(1):
        folder = root / (name if n == 1 else f"{name}-{n}")
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            continue
    raise AssertionError("unreachable")


def write_report(verdicts: list[Verdict], zoo: dict[str, ZooModel], meta: dict, root: Path,
                 boards: dict[str, Board] | None = None) -> Path:
    """`boards`: the Board objects of the run by name (a board given as a .repl path cannot be loaded
    again by its name); boards not in it are loaded from renode/platforms."""
    try:
        root.mkdir(parents=True, exist_ok=True)
        final = _reserve(root, meta["started"].replace(":", "").replace("-", ""))
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{final.name}-", dir=root))
    except OSError as e:
        raise HarnessError(f"cannot write the report in {root}: {e.strerror or e}") from None
    try:
        meta = {**meta, "cells_done": len(verdicts), "calibration": calibration_tables(verdicts)}
        (tmp / "results.json").write_text(json.dumps({"meta": meta, "cells": [v.as_dict() for v in verdicts]},
                                                     indent=2))
        (tmp / "summary.md").write_text(summary_markdown(verdicts, zoo, meta))
        (tmp / "junit.xml").write_text(junit_xml(verdicts, meta.get("interrupted")))
        write_plots(verdicts, tmp, measured_latencies(verdicts, root / "hardware"))
        write_renode_scripts(verdicts, tmp, final, boards)
        os.replace(tmp, final)        # onto the empty folder _reserve made
    except BaseException as e:
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            final.rmdir()
        except OSError:
            pass
        if isinstance(e, OSError):
            raise HarnessError(f"cannot write the report in {root}: {e}") from e
        raise
    return final


def write_renode_scripts(verdicts: list[Verdict], folder: Path, final: Path,
                         boards: dict[str, Board] | None = None) -> None:
    """renode/<model>__<board>.elf and .resc for every cell that ran: the same firmware in a real Renode with
    one command (`renode <final>/renode/<cell>.resc`), kept with the report so a cleaned build cache loses
    nothing."""
    for v in verdicts:
        if not v.elf or not v.fits or not Path(v.elf).is_file():
            continue
        out = folder / "renode"
        out.mkdir(exist_ok=True)
        stem = f"{v.model}__{v.board}"
        shutil.copyfile(v.elf, out / f"{stem}.elf")
        board = (boards or {}).get(v.board) or load_board(v.board)
        (out / f"{stem}.resc").write_text(reproduce_resc(board, final / "renode" / f"{stem}.elf"))


def started_stamp() -> str:
    return time.strftime("%Y-%m-%dT%H-%M-%S", time.gmtime())
