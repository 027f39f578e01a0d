"""A .tflite path is a registry entry by content only (issue 14, item 13): the sha256 of its bytes equals the
entry's; its file name plays no part, and an entry without a sha256 never matches a path."""
import json
import shutil

import pytest
from typer.testing import CliRunner

from harness import cli, registry
from harness.board import load_board
from harness.cli import app
from harness.registry import ZooModel


@pytest.fixture
def fake_zoo(monkeypatch, tmp_path, generated_model):
    """The real zoo plus `tiny_reg`: the generated AD model's bytes registered by file and sha256, expected
    to fit nowhere, its file in a folder of $HARNESS_MODELS."""
    folder = tmp_path / "models"
    folder.mkdir()
    shutil.copy(generated_model, folder / "tiny_reg.tflite")
    zoo = registry.load_zoo() | {"tiny_reg": ZooModel(
        id="tiny_reg", task="ad", file="tiny_reg.tflite", sha256=registry.sha256_of(generated_model),
        expect_fit=[])}
    monkeypatch.setattr(registry, "load_zoo", lambda path=registry.ZOO: zoo)
    monkeypatch.setenv("HARNESS_MODELS", str(folder))
    return zoo


def _cell(spec: str, board: str = "nucleo_f446re"):
    (cell,) = cli._cells([load_board(board)], [spec], None)
    return cell


def test_a_copy_under_another_name_gets_the_registry_expectations(fake_zoo, tmp_path, generated_model):
    copy = tmp_path / "my_vww.tflite"
    shutil.copy(generated_model, copy)
    assert registry.resolve(str(copy)) == ("tiny_reg", copy)
    cell = _cell(str(copy))
    assert (cell.model, cell.expected_fit, cell.task) == ("tiny_reg", False, "ad")
    assert _cell("tiny_reg").expected_fit is False


def test_a_modified_copy_under_the_registered_name_is_unregistered(fake_zoo, tmp_path, generated_model):
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    changed = folder / "tiny_reg.tflite"
    changed.write_bytes(generated_model.read_bytes() + b"\0")       # a flatbuffer ignores trailing bytes
    mid, path = registry.resolve(str(changed))
    assert (mid, path) == ("tiny_reg.tflite", changed) and mid not in fake_zoo
    cell = _cell(str(changed))
    assert (cell.expected_fit, cell.task) == (None, None)
    # and the registry id itself refuses a file whose bytes differ from the registry's
    (tmp_path / "models" / "tiny_reg.tflite").write_bytes(changed.read_bytes())
    with pytest.raises(registry.HarnessError, match="sha256 differs"):
        registry.resolve("tiny_reg")


def test_an_entry_without_sha256_never_matches_a_path(tmp_path, generated_model):
    assert registry.load_zoo()["gen_ad_fc_s"].sha256 is None
    copy = tmp_path / "gen_ad_fc_s.tflite"
    shutil.copy(generated_model, copy)
    assert registry.match(copy) is None
    assert registry.resolve(str(copy))[0] == "gen_ad_fc_s.tflite"
    other = tmp_path / "some_model.tflite"
    shutil.copy(generated_model, other)
    assert registry.resolve(str(other))[0] == "some_model"


def test_every_file_entry_has_a_sha256():
    assert all(m.sha256 for m in registry.load_zoo().values() if m.file)


@pytest.mark.emulated
def test_check_verdict_does_not_depend_on_the_file_name(fake_zoo, tmp_path, generated_model, tiny_f446):
    """The same bytes as `tiny_reg` (expected to fit nowhere) under another name: no-fit as the registry
    expects, exit 0, exactly as under the registered name."""
    board = tiny_f446
    for name in ("tiny_reg.tflite", "my_vww.tflite"):
        copy = tmp_path / name
        shutil.copy(generated_model, copy)
        r = CliRunner().invoke(app, ["check", "-b", str(board), "-m", str(copy), "--inputs", "1", "--json"])
        assert r.exit_code == 0, r.output
        (v,) = json.loads(r.stdout)
        assert (v["model"], v["status"]) == ("tiny_reg", "no-fit") and "as the registry expects" in v["reasons"][0]


@pytest.mark.emulated
def test_shared_model_copy_keeps_its_expectation(tmp_path):
    """ad_large_int8 (where this machine has it) copied as my_vww.tflite: no-fit on the F446RE, exit 0."""
    entry = registry.load_zoo()["ad_large_int8"]
    src = registry.locate(entry)
    if src is None:
        pytest.skip(f"{entry.file} is not on this machine")
    copy = tmp_path / "my_vww.tflite"
    shutil.copy(src, copy)
    r = CliRunner().invoke(app, ["check", "-b", "nucleo_f446re", "-m", str(copy), "--inputs", "1", "--json"])
    assert r.exit_code == 0, r.output
    (v,) = json.loads(r.stdout)
    assert (v["model"], v["status"]) == ("ad_large_int8", "no-fit")
