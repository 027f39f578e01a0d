"""Smoke test of the characterization workload builder (`harness calibration-workload`): one generated
model on one board, converted, built, emulated, listed in the manifest and the CSV the lab fills in.
The full workload (a dozen models and the microbenchmarks on every board) is built once for a lab
afternoon, not in CI."""
from __future__ import annotations

import csv
import json

import pytest

from harness.calibration.measurements import read_counts, read_csv, sha256_file
from harness.calibration.workload import MICROBENCHMARKS, specs

pytestmark = pytest.mark.emulated


def test_specs_are_seeded_and_cover_the_families_and_ops():
    a, b = specs(6, seed=3), specs(6, seed=3)
    assert [(s.name, s.params) for s in a] == [(s.name, s.params) for s in b]
    assert [s.params for s in specs(6, seed=4)] != [s.params for s in a]
    assert {s.family for s in a if s.kind == "generated"} == {"ad", "kws", "vww"}
    assert {s.family for s in a if s.kind == "microbench"} == set(MICROBENCHMARKS) | {"add"}


def test_workload_builds_a_manifest_and_a_csv_to_fill(tmp_path):
    from harness.calibration.workload import build_workload
    manifest = build_workload(tmp_path, ["nucleo_f446re"], count=1, seed=0, microbenchmarks=False)
    entries = json.loads(manifest.read_text())["entries"]
    assert len(entries) == 1 and entries[0]["fits"] and entries[0]["family"] == "ad"
    e = entries[0]
    assert sha256_file(tmp_path / e["elf"]) == e["firmware_sha256"]
    assert (tmp_path / e["tflite"]).is_file() and e["cycles"] > 0 and e["instructions"] > 0
    rows = list(csv.DictReader((tmp_path / "workload.csv").open()))
    assert [(r["firmware_sha256"], int(r["cycles"]), r["measured_ms"]) for r in rows] == \
        [(e["firmware_sha256"], e["cycles"], "")]
    assert read_csv(tmp_path / "workload.csv") == []            # nothing measured yet
    counts = read_counts(tmp_path / "workload.csv")[e["firmware_sha256"]]
    assert counts.cycles == e["cycles"]
    # per-op cycles (the per-op-type mapping's features) from the profile, summing to the firmware's
    # own DWT measurement of the inference (within rounding per op type)
    assert counts.ops == e["ops"] and "FULLY_CONNECTED" in e["ops"]
    assert abs(sum(e["ops"].values()) - e["cycles"]) <= len(e["ops"])
