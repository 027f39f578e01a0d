"""`harness check` keeps what it has (issue 14): a crashing cell is that cell's error, the others are kept
and the report is written; a report without any cycles still has its plots; an unwritable --report-dir is
refused before any cell runs; two runs in the same second get two folders; a board given as a .repl path
gets its .resc from that very file."""
import json
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

import harness.check
from harness import registry, report
from harness.board import load_board
from harness.check import Cell, Verdict, run_matrix
from harness.cli import app

pytestmark = pytest.mark.emulated

BOARD = "nucleo_f446re"


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> tuple[str, str]:
    """The project's own small model under a name of ours: (id, path)."""
    src = registry.resolve("gen_ad_fc_s")[1]
    dst = tmp_path_factory.mktemp("models") / "good.tflite"
    shutil.copyfile(src, dst)
    return "good", str(dst)


@pytest.fixture(scope="module")
def unsupported(tmp_path_factory) -> str:
    """A tiny int8 model with one op our runtime has no lowering for (RELU): refused by name, no build."""
    from kernels.tflite_synth import Synth
    from harness.plan.ops import LOWERINGS
    assert "RELU" not in LOWERINGS
    s = Synth()
    x = s.tensor([1, 8], np.int8, scale=0.05, zero_point=0, name="x")
    y = s.tensor([1, 8], np.int8, scale=0.05, zero_point=0, name="y")
    s.op("RELU", [x], [y])
    dst = tmp_path_factory.mktemp("models") / "unsup.tflite"
    shutil.copyfile(s.save([x], [y]), dst)
    return str(dst)


def _crash_for(monkeypatch, model_id: str) -> None:
    """check_cell (the per-cell function both run_matrix paths call) raises for one model."""
    real = harness.check.check_cell

    def check_cell(mid, *a, **k):
        if mid == model_id:
            raise RuntimeError("the board fell over\nsecond line of the message")
        return real(mid, *a, **k)
    monkeypatch.setattr(harness.check, "check_cell", check_cell)


# --- 2. one crashing cell loses the whole run ----------------------------------------------------------

def test_a_crashing_cell_is_its_own_error_verdict(monkeypatch, good, unsupported):
    _crash_for(monkeypatch, "crashing")
    gid, gpath = good
    cells = [Cell(gid, gpath, BOARD), Cell("crashing", gpath, BOARD), Cell("unsup", unsupported, BOARD)]
    seen: list[Verdict] = []
    verdicts = run_matrix(cells, inputs=1, jobs=1, on_done=seen.append)
    assert [v.model for v in verdicts] == ["good", "crashing", "unsup"] == [v.model for v in seen]
    assert [v.status for v in verdicts] == ["pass", "error", "unsupported"], [v.reasons for v in verdicts]
    crashed = verdicts[1]
    assert crashed.board == BOARD
    assert crashed.reasons == ["crashed: RuntimeError: the board fell over"]


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_cell_whose_board_cannot_load_is_an_error_not_a_lost_run(tmp_path, unsupported, jobs):
    """The guard covers everything the cell does, loading its board included, in-process and in the
    process pool alike."""
    cells = [Cell("unsup", unsupported, BOARD), Cell("unsup", unsupported, str(tmp_path / "gone.repl"))]
    kept, v = run_matrix(cells, inputs=1, jobs=jobs)
    assert kept.status == "unsupported"
    assert v.status == "error" and v.board == "gone" and len(v.reasons) == 1
    assert v.reasons[0].startswith("crashed: HarnessError: no platform description at") and "\n" not in v.reasons[0]


def test_cli_keeps_the_other_cells_and_writes_the_report(monkeypatch, tmp_path, good):
    _crash_for(monkeypatch, "crashing")
    gid, gpath = good
    crashing = tmp_path / "crashing.tflite"
    shutil.copyfile(gpath, crashing)
    r = CliRunner().invoke(app, ["check", "-b", BOARD, "-m", gpath, "-m", str(crashing), "--inputs", "1",
                                 "-j", "1", "--report-dir", str(tmp_path / "R")])
    assert r.exit_code == 1, r.output
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    assert "Traceback" not in r.output
    assert "crashed: RuntimeError: the board fell over" in r.output
    assert "second line" not in r.output
    (folder,) = (tmp_path / "R").iterdir()
    cells = {c["model"]: c for c in json.loads((folder / "results.json").read_text())["cells"]}
    assert cells["good"]["status"] == "pass" and cells["good"]["cycles"] > 0
    assert cells["crashing"]["status"] == "error"
    assert (folder / "summary.md").is_file() and (folder / "junit.xml").is_file()


# --- 3. a report with no cycles at all -----------------------------------------------------------------

def test_report_without_any_cycles_is_written(tmp_path, unsupported):
    r = CliRunner().invoke(app, ["check", "-b", BOARD, "-m", unsupported, "--inputs", "1",
                                 "--report-dir", str(tmp_path / "R")])
    assert r.exit_code == 0, r.output
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    (folder,) = (tmp_path / "R").iterdir()
    assert (folder / "memory.png").is_file() and (folder / "cycles_vs_macs.png").is_file()
    summary = (folder / "summary.md").read_text()
    assert "latency.png" not in summary and not (folder / "latency.png").exists()
    assert "no cell has a predicted latency" in summary


def test_plots_say_when_they_have_no_data(tmp_path):
    from harness.plots import write_plots
    verdicts = [Verdict("m", BOARD, status="unsupported", reasons=["unsupported op RELU"])]
    written = write_plots(verdicts, tmp_path)
    assert [p.name for p in written] == ["memory.png", "cycles_vs_macs.png"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert [p.name for p in write_plots([], empty)] == ["memory.png", "cycles_vs_macs.png"]   # no verdicts at all


# --- 14. report directory: unwritable, collisions, boards as .repl paths --------------------------------

def test_unwritable_report_dir_is_refused_before_any_cell_runs(monkeypatch, tmp_path, unsupported):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    ran = []
    monkeypatch.setattr("harness.cli.run_matrix", lambda *a, **k: ran.append(1) or [])
    r = CliRunner().invoke(app, ["check", "-b", BOARD, "-m", unsupported, "--inputs", "1",
                                 "--report-dir", str(blocker / "R")])
    assert r.exit_code == 1
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    assert not ran
    assert r.output.startswith("error: cannot write reports to ")      # the one message, before any cell
    assert str(blocker / "R") in r.output.replace("\n", "")            # (the console wraps long lines)
    assert "Not a directory" in r.output and "Traceback" not in r.output


def test_two_runs_in_the_same_second_get_two_folders(monkeypatch, tmp_path, unsupported):
    monkeypatch.setattr(report, "started_stamp", lambda: "2024-01-02T03-04-05")
    folders = []
    for _ in range(3):
        r = CliRunner().invoke(app, ["check", "-b", BOARD, "-m", unsupported, "--inputs", "1",
                                     "--report-dir", str(tmp_path)])
        assert r.exit_code == 0, r.output
        assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    folders = sorted(p.name for p in tmp_path.iterdir())
    assert folders == ["20240102T030405", "20240102T030405-2", "20240102T030405-3"]
    assert all((tmp_path / f / "results.json").is_file() for f in folders)


def test_board_given_as_a_repl_path_gets_its_resc_from_that_file(tmp_path, good):
    repl = tmp_path / "my_f446.repl"
    repl.write_text(load_board(BOARD).path.read_text())
    gid, gpath = good
    r = CliRunner().invoke(app, ["check", "-b", str(repl), "-m", gpath, "--inputs", "1",
                                 "--report-dir", str(tmp_path / "R")])
    assert r.exit_code == 0, r.output
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    (folder,) = (tmp_path / "R").iterdir()
    resc = (folder / "renode" / "good__my_f446.resc").read_text()
    assert str(repl) in resc and (folder / "renode" / "good__my_f446.elf").is_file()
