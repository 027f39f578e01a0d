"""End to end on the emulated F446RE: plan, build, boot, MLPerf Tiny protocol, bit-exact vs TFLM, fit."""
import json

import pytest
from typer.testing import CliRunner

from harness.board import load_board
from harness.check import check_cell
from harness.cli import app

pytestmark = pytest.mark.emulated


@pytest.fixture(scope="module")
def f446_verdict(small_model):
    mid, path = small_model
    return check_cell(mid, path, load_board("nucleo_f446re"), inputs=20, seed=0)


def test_bit_exact_with_tflm_on_emulated_f446(f446_verdict):
    v = f446_verdict
    assert v.status == "pass", v.reasons
    assert (v.inputs, v.mismatches) == (20, 0)


def test_fit_is_measured_per_region(f446_verdict):
    fit = f446_verdict.fit
    assert fit.fits
    assert 0 < fit.flash.used < fit.flash.size
    assert fit.stack and 0 < fit.stack < 8192               # painted stack was read back
    assert fit.sram.used == fit.static_ram + fit.stack
    assert {r.region for r in fit.regions} == {"flash", "sram1", "sram2"}
    assert sum(r.used for r in fit.regions if r.region != "flash") == fit.sram.used


def test_cycle_count_is_deterministic(f446_verdict, small_model):
    mid, path = small_model
    runs = [(v.cycles, v.instructions) for v in
            (check_cell(mid, path, load_board("nucleo_f446re"), inputs=2, seed=5) for _ in range(2))]
    assert f446_verdict.instructions >= f446_verdict.macs      # at least one instruction per MAC
    assert f446_verdict.cycles >= f446_verdict.macs
    assert runs[0] == runs[1]


def test_cli_json_pass(small_model):
    mid, path = small_model
    r = CliRunner().invoke(app, ["check", "--board", "nucleo_f446re", "--model", str(path), "--inputs", "3", "--json"])
    assert r.exit_code == 0, r.output
    (cell,) = json.loads(r.stdout)
    assert cell["status"] == "pass" and cell["bit_exact"] is True and cell["board"] == "nucleo_f446re"
    assert cell["fit"]["flash"]["used"] > 0 and cell["cycles"] > 0


def test_cli_model_that_does_not_fit_is_a_no_fit_verdict(tmp_path, generated_model, tiny_f446):
    """An unregistered model (no expectation) that does not fit: the verdict `no-fit` names the overflow
    (README, "Statuses"), and the exit code is 0: nothing failed."""
    model = tmp_path / "some_user_model.tflite"
    model.write_bytes(generated_model.read_bytes())
    r = CliRunner().invoke(app, ["check", "--board", str(tiny_f446), "--model", str(model),
                                 "--inputs", "1", "--json"])
    assert r.exit_code == 0, r.output
    (cell,) = json.loads(r.stdout)
    assert cell["status"] == "no-fit" and "does not fit" in cell["reasons"][0]
    assert cell["fit"]["flash"]["used"] > cell["fit"]["flash"]["size"] == 0x1000


def test_cli_fails_when_the_registry_expects_a_fit(tmp_path, generated_model, monkeypatch, tiny_f446):
    """A registered model the registry expects to fit the board, on a board it does not fit: `fail`, exit 1."""
    from harness import registry
    from harness.registry import ZooModel
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / "fits_f446.tflite").write_bytes(generated_model.read_bytes())
    zoo = registry.load_zoo() | {"fits_f446": ZooModel(id="fits_f446", task="ad", file="fits_f446.tflite",
                                                       sha256=registry.sha256_of(generated_model),
                                                       expect_fit=["tiny_f446"])}   # the .repl stem
    monkeypatch.setattr(registry, "load_zoo", lambda path=registry.ZOO: zoo)
    monkeypatch.setenv("HARNESS_MODELS", str(folder))
    r = CliRunner().invoke(app, ["check", "--board", str(tiny_f446), "--model", "fits_f446",
                                 "--inputs", "1", "--json"])
    assert r.exit_code == 1, r.output
    (cell,) = json.loads(r.stdout)
    assert cell["status"] == "fail" and "does not fit" in cell["reasons"][0]


def test_cli_rejects_unknown_model():
    r = CliRunner().invoke(app, ["check", "--model", "no_such_model"])
    assert r.exit_code == 1 and "unknown model" in r.output


def test_cli_refuses_an_unknown_engine_before_building():
    r = CliRunner().invoke(app, ["check", "--model", "hello_world_int8", "--engine", "qemu"])
    assert r.exit_code == 1 and "unknown engine 'qemu'; known: emulated, renode, hardware" in r.output


@pytest.mark.skipif(__import__("shutil").which("renode") is not None, reason="renode is installed here")
def test_cli_engine_renode_says_why_it_cannot_run(monkeypatch):
    monkeypatch.delenv("RENODE", raising=False)
    r = CliRunner().invoke(app, ["check", "--model", "hello_world_int8", "--engine", "renode"])
    assert r.exit_code == 1 and "renode is not on PATH" in r.output


def test_real_images_are_compared_too():
    """person_detect on the F746ZG: the person / no-person images reach the board and match TFLM."""
    from conftest import shared_model
    v = check_cell("person_detect", shared_model("tflite-micro/person_detect.tflite"), load_board("nucleo_f746zg"),
                   inputs=2, task="vww")
    assert v.status == "pass", v.reasons
    assert v.real_inputs == ["person", "no_person"] and v.real_mismatches == 0
