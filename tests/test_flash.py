"""The exact command lines each flasher runs (program, verify, reset), from the .repl's facts."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from harness.board import load_board
from harness.flash import FLASHERS, FlashError, run
from harness.lab import LabBoard

ELF = Path("/lab/build/fw/kws.elf")
BIN = "/lab/build/fw/kws.bin"

OPENOCD = {
    "nucleo_f446re": ["-f", "board/st_nucleo_f4.cfg"],
    "nucleo_f746zg": ["-f", "board/st_nucleo_f7.cfg"],
    "nucleo_f767zi": ["-f", "board/st_nucleo_f7.cfg"],
}
PYOCD = {"nucleo_f446re": "stm32f446retx", "nucleo_f746zg": "stm32f746zgtx", "nucleo_f767zi": "stm32f767zitx"}


@pytest.mark.parametrize("name", sorted(OPENOCD))
def test_openocd(name):
    b, f = load_board(name), FLASHERS["openocd"]
    assert f.program_commands(b, ELF) == [
        ["openocd", *OPENOCD[name], "-c", "program /lab/build/fw/kws.elf verify reset exit"]]
    assert f.program_commands(b, ELF, "066DFF485750") == [
        ["openocd", *OPENOCD[name], "-c", "adapter serial 066DFF485750",
         "-c", "program /lab/build/fw/kws.elf verify reset exit"]]
    assert f.reset_commands(b, "066DFF485750") == [
        ["openocd", *OPENOCD[name], "-c", "adapter serial 066DFF485750", "-c", "init", "-c", "reset run",
         "-c", "shutdown"]]


def test_openocd_braces_a_path_with_spaces():
    cmd = FLASHERS["openocd"].program_commands(load_board("nucleo_f446re"), Path("/my lab/fw.elf"))
    assert cmd[0][-1] == "program {/my lab/fw.elf} verify reset exit"


@pytest.mark.parametrize("name", sorted(OPENOCD))
def test_st_flash(name):
    b, f = load_board(name), FLASHERS["st-flash"]
    assert f.program_commands(b, ELF) == [
        ["arm-none-eabi-objcopy", "-O", "binary", str(ELF), BIN],
        ["st-flash", "--reset", "write", BIN, "0x08000000"]]
    assert f.program_commands(b, ELF, "066DFF485750") == [
        ["arm-none-eabi-objcopy", "-O", "binary", str(ELF), BIN],
        ["st-flash", "--serial", "066DFF485750", "--reset", "write", BIN, "0x08000000"]]
    assert f.reset_commands(b, "066DFF485750") == [["st-flash", "--serial", "066DFF485750", "reset"]]


@pytest.mark.parametrize("name", sorted(OPENOCD))
def test_pyocd(name):
    b, f = load_board(name), FLASHERS["pyocd"]
    target = ["-t", PYOCD[name], "-u", "066DFF485750"]
    assert f.program_commands(b, ELF, "066DFF485750") == [
        ["arm-none-eabi-objcopy", "-O", "binary", str(ELF), BIN],
        ["pyocd", "load", *target, "--format", "elf", "--no-reset", str(ELF)],
        ["pyocd", "commander", *target, "-c", f"compare 0x08000000 {BIN}", "-c", "reset"]]
    assert f.reset_commands(b) == [["pyocd", "reset", "-t", PYOCD[name]]]


def test_the_flash_base_comes_from_the_repl(tmp_path):
    text = load_board("nucleo_f446re").path.read_text().replace("sysbus 0x08000000", "sysbus 0x08004000")
    repl = tmp_path / "offset.repl"
    repl.write_text(text)
    cmds = FLASHERS["st-flash"].program_commands(load_board(repl), ELF)
    assert cmds[1][-1] == "0x08004000"


def test_a_missing_tool_is_named(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(FlashError, match=r"`openocd` is not installed \(apt install openocd\)"):
        FLASHERS["openocd"].flash(load_board("nucleo_f446re"), ELF, LabBoard("nucleo_f446re", port="/dev/x"))


def _fake_tool(folder: Path, name: str, code: int) -> Path:
    log = folder / f"{name}.log"
    tool = folder / name
    tool.write_text(f'#!/bin/sh\necho "$@" >> {log}\necho "{name} says hello" >&2\nexit {code}\n')
    tool.chmod(tool.stat().st_mode | stat.S_IEXEC)
    return log


def test_flash_runs_the_commands(tmp_path, monkeypatch):
    log = _fake_tool(tmp_path, "st-flash", 0)
    objcopy_log = _fake_tool(tmp_path, "arm-none-eabi-objcopy", 0)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    entry = LabBoard("nucleo_f767zi", port="/dev/ttyACM0", stlink="0670FF", flasher="st-flash")
    FLASHERS["st-flash"].flash(load_board("nucleo_f767zi"), ELF, entry)
    FLASHERS["st-flash"].reset(load_board("nucleo_f767zi"), entry)
    assert objcopy_log.read_text().split() == ["-O", "binary", str(ELF), BIN]
    assert log.read_text().splitlines() == [f"--serial 0670FF --reset write {BIN} 0x08000000", "--serial 0670FF reset"]


def test_a_failing_command_shows_its_output(tmp_path, monkeypatch):
    _fake_tool(tmp_path, "openocd", 3)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(FlashError) as caught:
        run([["openocd", "-f", "board/st_nucleo_f4.cfg"]], what="flashing nucleo_f446re")
    text = str(caught.value)
    assert "flashing nucleo_f446re: `openocd -f board/st_nucleo_f4.cfg` exited with 3" in text
    assert "openocd says hello" in text
