"""`harness compare OLD NEW`: two results.json files written by the report writer, one figure changed,
one cell dropped; the command names exactly those, and says so when nothing differs."""
import json

import pytest
from typer.testing import CliRunner

from harness.check import Verdict
from harness.cli import app
from harness.compare import compare, load_cells
from harness.fit import Fit, RegionUse
from harness.report import write_report


def _verdict(model: str, board: str, cycles: int, sram: int) -> Verdict:
    fit = Fit(RegionUse("flash", 100_000, 524_288), RegionUse("sram", sram, 131_072),
              [RegionUse("sram", sram, 131_072)], sram - 2_000, 2_000)
    return Verdict(model, board, fit=fit, inputs=2, mismatches=0, cycles=cycles, instructions=cycles // 2,
                   arena_bytes=sram - 4_000, elf=None)


def _run(folder, verdicts: list[Verdict]):
    meta = {"started": folder.name, "wall_seconds": 1.0, "cpus": 1, "inputs": 2, "seed": 0}
    return write_report(verdicts, {}, meta, folder)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two reports as `harness check` writes them: cell b dropped and cell a's cycles moved in the new."""
    tmp = tmp_path_factory.mktemp("runs")
    return (_run(tmp / "old", [_verdict("a", "nucleo_f446re", 1_000, 50_000),
                               _verdict("b", "nucleo_f446re", 2_000, 60_000)]),
            _run(tmp / "new", [_verdict("a", "nucleo_f446re", 1_010, 50_000)]))


def test_compare_names_the_changed_figure_and_the_missing_cell(runs):
    old, new = runs
    diffs, gone, added = compare(load_cells(old), load_cells(new))
    assert [(d.cell, d.figure, d.old, d.new) for d in diffs] == [
        (("a", "nucleo_f446re"), "cycles", 1_000, 1_010), (("a", "nucleo_f446re"), "instructions", 500, 505)]
    assert gone == [("b", "nucleo_f446re")] and added == []
    r = CliRunner().invoke(app, ["compare", str(old), str(new / "results.json")])
    assert r.exit_code == 1
    assert "cycles" in r.output and "1010" in r.output and "only in the old run: b on nucleo_f446re" in r.output


def test_compare_of_a_run_with_itself_is_the_same_and_one_figure_can_be_asked(runs, tmp_path):
    run = runs[1]
    r = CliRunner().invoke(app, ["compare", str(run), str(run)])
    assert r.exit_code == 0 and "every figure of every cell is the same" in r.output
    doc = json.loads((run / "results.json").read_text())
    doc["cells"][0]["fit"]["sram"]["used"] += 8
    (tmp_path / "edited.json").write_text(json.dumps(doc))
    assert CliRunner().invoke(app, ["compare", str(run), str(tmp_path / "edited.json"), "-f", "cycles"]).exit_code == 0
    r = CliRunner().invoke(app, ["compare", str(run), str(tmp_path / "edited.json"), "-f", "sram"])
    assert r.exit_code == 1 and "50008" in r.output and "cycles" not in r.output


def test_compare_refuses_what_is_not_a_results_file_in_one_line(tmp_path):
    (tmp_path / "x.json").write_text("{}")
    r = CliRunner().invoke(app, ["compare", str(tmp_path / "x.json"), str(tmp_path / "x.json")])
    assert r.exit_code != 0 and "not a results.json of harness check" in r.output
    r = CliRunner().invoke(app, ["compare", str(tmp_path / "nope"), str(tmp_path / "x.json")])
    assert r.exit_code != 0 and "no such results file" in r.output
    r = CliRunner().invoke(app, ["compare", str(tmp_path / "x.json"), str(tmp_path / "x.json"), "-f", "speed"])
    assert r.exit_code != 0
