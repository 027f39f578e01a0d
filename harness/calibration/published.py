"""Calibration measurements from a published latency table: `harness calibrate --published MANIFEST.toml`.

The manifest (../shared/fidelity/manifest.toml, see its README.md) lists firmware built from the
software stack a paper measured (MicroNets, Table 4: TFLM + CMSIS-NN) for our boards, each ELF with its
sha256 and the latency the paper measured on the real board. Every pair with a latency that is not
excluded becomes a Measurement: real latency = the paper's milliseconds, emulated counts = one run of the
ELF on the emulated board, the inference measured between its `bench_begin` and `bench_end` markers
(instructions, modelled cycles and, when the emulator reports them, memory-system events).

The manifest is read and the pairs are run by harness/fidelity.py (`read_manifest`, `run_pairs`), which
checks each run against the manifest: the ELF's sha256, the exact instruction count and the output bytes.
A pair whose run fails a check is an error here: a calibration is never fitted from a run that went wrong.

Excluded, reported with the reason (`fidelity.Pair.excluded`), never fitted: pairs that do not fit the
board (`fits = false`), pairs without a latency ("none"), and the DS-CNN rows (paper_row "DSCNN...": the
paper's setup for them differed in a way the firmware cannot reproduce; the manifest's README).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from harness import fidelity
from harness.calibration.measurements import Measurement
from harness.errors import HarnessError
from harness.registry import ROOT

SOURCE_LABEL = "MicroNets Table 4 via TFLM+CMSIS-NN"


def describe(pair: fidelity.Pair) -> dict:
    """An excluded pair as the table records it: model, board, paper row, sha256, the paper's latency
    when it gives one, and why it is not fitted."""
    d = {"model": pair.model, "board": pair.board, "paper_row": pair.paper_row, "sha256": pair.sha256}
    if pair.paper_ms is not None:
        d["paper_ms"] = pair.paper_ms
    if pair.excluded:
        d["reason"] = pair.excluded
    return d


@dataclass
class Published:
    """What a manifest gave: the measurements of the pairs used, the pairs excluded, and its identity."""
    manifest: Path
    manifest_sha256: str
    measurements: list[Measurement]
    excluded: list[fidelity.Pair]
    describe = staticmethod(describe)    # an excluded pair as the table records it

    @property
    def shown_path(self) -> str:
        """The manifest's path relative to the repository (../shared/fidelity/manifest.toml), links kept as
        given (a ../shared that is a link elsewhere still reads ../shared)."""
        try:
            return os.path.relpath(os.path.abspath(self.manifest), ROOT)
        except ValueError:               # another drive (Windows)
            return str(self.manifest)

    @property
    def source(self) -> str:
        """The source string a table records: the label, the manifest's path and its hash."""
        return f"{SOURCE_LABEL} ({self.shown_path} sha256 {self.manifest_sha256[:12]})"


def read_published(manifest: Path, boards: list[str] | None = None, jobs: int | None = None,
                   progress: Callable[[int, int, str], None] = lambda done, total, label: None) -> Published:
    """The manifest's pairs (of `boards`, when given) run on the emulated boards (in `jobs` processes,
    default: up to 2 or the CPU count), as calibration measurements. `progress(done, total, label)` before
    the first pair and after every pair."""
    manifest = Path(manifest)
    read = fidelity.read_manifest(manifest)
    if not read.pairs:
        raise HarnessError(f"{manifest}: no pairs")
    pairs = fidelity.select(read.pairs, boards, None)
    used = [p for p in pairs if p.excluded is None]
    done = 0
    progress(done, len(used), "")

    def on_done(row: fidelity.Row) -> None:
        nonlocal done
        done += 1
        progress(done, len(used), f"{row.model} on {row.board}")

    jobs = jobs or min(2, os.cpu_count() or 1)
    # counts and checks only: the calibration does not lean on the table it is about to replace
    rows = fidelity.run_pairs(used, jobs, on_done, predict=None)
    broken = [f"{p.model} on {p.board} ({p.elf.name}): " + "; ".join(r.errors) for p, r in zip(used, rows) if r.errors]
    if broken:
        raise HarnessError("the emulated run went wrong, no calibration is fitted from it:\n  " + "\n  ".join(broken))
    ms: list[Measurement] = []
    published = Published(manifest, read.sha256, ms, [p for p in pairs if p.excluded])
    for p, r in zip(used, rows):         # manifest order, whatever order the workers finished in
        cycles = int(r.cycles) if float(r.cycles).is_integer() else r.cycles
        ms.append(Measurement(p.board, p.sha256, p.paper_ms, cycles, r.instructions, model=p.model,
                              source=published.source, extra={"paper_row": p.paper_row}, events=r.events or None))
    return published
