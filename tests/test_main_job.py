"""The main job end to end, as `harness check` runs it (few inputs per cell to keep CI short), with its
verdicts held against the MicroNets paper's rows: the models with a paper row and those the project
generates (the fresh machine's main job) x every board, but not the test corpus (tests/test_corpus.py runs
it, cell by cell); with --zoo full (or HARNESS_ZOO=full) every
registered model found here. (Every cell's bit-exactness is test_zoo's, per cell.)"""
import json
import os

import pytest

from harness import registry
from harness.board import available_boards
from harness.check import Cell, run_matrix
from harness.report import write_report

pytestmark = pytest.mark.emulated


@pytest.fixture(scope="module")
def matrix(pytestconfig):
    zoo = registry.load_zoo()
    full = (pytestconfig.getoption("zoo") or os.environ.get("HARNESS_ZOO")) == "full"
    cells = [Cell(m.id, p, b, m.expected_to_fit(b), m.task)
             for m in zoo.values() if full or m.paper or (m.generate and not m.corpus)
             if (p := registry.locate(m)) is not None for b in available_boards()]
    return zoo, run_matrix(cells, inputs=2, seed=11)


def test_no_cell_fails(matrix):
    _, verdicts = matrix
    bad = [(v.model, v.board, v.reasons) for v in verdicts if v.status in ("fail", "error")]
    assert not bad


def test_every_fitting_cell_is_bit_exact(matrix):
    _, verdicts = matrix
    ran = [v for v in verdicts if v.status == "pass"]
    assert ran
    assert all(v.mismatches == 0 and not v.real_mismatches for v in ran)
    assert all(v.cycles and v.fit.fits for v in ran)


def test_paper_rows_agree_or_fit_where_the_paper_could_not(matrix):
    """Where the paper ran a model we must fit too; where it did not, a fit must come with our smaller
    SRAM need than the paper's TFLM arena (the explanation summary.md prints)."""
    zoo, verdicts = matrix
    for v in verdicts:
        z = zoo.get(v.model)
        if not z or not z.paper or v.status == "unsupported":
            continue
        if v.board in z.paper["runs_on"]:
            assert v.fits, (v.model, v.board, v.reasons)
        elif v.fits:
            assert v.fit.sram.used < z.paper["sram_bytes"], (v.model, v.board)


def test_report_is_written_whole(matrix, tmp_path):
    zoo, verdicts = matrix
    meta = {"started": "2026-01-01T00-00-00", "wall_seconds": 1.0, "cpus": 2, "inputs": 2, "seed": 11}
    folder = write_report(verdicts, zoo, meta, tmp_path)
    assert sorted(p.name for p in folder.iterdir()) == ["cycles_vs_macs.png", "junit.xml", "latency.png",
                                                        "memory.png", "renode", "results.json", "summary.md"]
    for v in verdicts:          # every cell that ran can be re-run in Renode from the report alone
        stem = folder / "renode" / f"{v.model}__{v.board}"
        if v.fits:
            assert stem.with_suffix(".elf").read_bytes() == open(v.elf, "rb").read()
            assert f"$bin ?= @{stem.with_suffix('.elf')}" in stem.with_suffix(".resc").read_text()
        else:
            assert not stem.with_suffix(".resc").exists()
    assert len(json.loads((folder / "results.json").read_text())["cells"]) == len(verdicts)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp")]
