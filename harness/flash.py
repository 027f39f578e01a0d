"""Flashing a real board with the tool the lab has: openocd, st-flash (Debian's stlink-tools) or pyocd.

Each flasher turns (board, ELF, ST-Link serial number) into the exact command lines that program the
image, verify it and reset the board, and into the command line that only resets it. What a tool needs
to know about a board comes from its .repl: the flash base, and the `//! lab:` facts
(`openocd=` the OpenOCD config files, comma-separated; `pyocd=` the pyOCD target name).

- openocd: `program <elf> verify reset exit` with the board's config (`adapter serial` picks the probe).
- st-flash: takes a raw binary, so objcopy makes one; `st-flash write` reads every page back and
  compares it (its own verify), `--reset` resets afterwards.
- pyocd: `load` the ELF without reset, then `commander` compares the flash with the binary and resets.
"""
from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

from harness.board import Board
from harness.errors import HarnessError

OBJCOPY = "arm-none-eabi-objcopy"
INSTALL = {"openocd": "apt install openocd", "st-flash": "apt install stlink-tools", "pyocd": "pip install pyocd",
           OBJCOPY: "apt install binutils-arm-none-eabi"}


class FlashError(HarnessError):
    pass


def _tcl_word(text: str) -> str:
    """A path as one word of an OpenOCD (Tcl) command."""
    return "{" + text + "}" if any(c.isspace() for c in text) or "{" in text else text


def _bin_for(elf: Path) -> Path:
    return elf.with_suffix(".bin")


class ToolFlasher:
    """Command lines for one tool; `flash`/`reset` run them."""
    name = ""

    def program_commands(self, board: Board, elf: Path, probe: str | None = None) -> list[list[str]]:
        raise NotImplementedError

    def reset_commands(self, board: Board, probe: str | None = None) -> list[list[str]]:
        raise NotImplementedError

    # The interface harness.lab uses for every flasher (the emulated one has no command lines).
    def port(self, board: Board, entry) -> str:
        return entry.resolve_port()

    def flash(self, board: Board, elf: Path, entry) -> None:
        run(self.program_commands(board, Path(elf).resolve(), entry.stlink), what=f"flashing {board.name}")

    def reset(self, board: Board, entry) -> None:
        run(self.reset_commands(board, entry.stlink), what=f"resetting {board.name}")


class OpenOcd(ToolFlasher):
    name = "openocd"

    def _config(self, board: Board, probe: str | None) -> list[str]:
        args = []
        for cfg in board.fact("lab", "openocd").split(","):
            args += ["-f", cfg]
        if probe:
            args += ["-c", f"adapter serial {probe}"]
        return args

    def program_commands(self, board, elf, probe=None):
        return [["openocd", *self._config(board, probe), "-c", f"program {_tcl_word(str(elf))} verify reset exit"]]

    def reset_commands(self, board, probe=None):
        return [["openocd", *self._config(board, probe), "-c", "init", "-c", "reset run", "-c", "shutdown"]]


class StFlash(ToolFlasher):
    name = "st-flash"

    @staticmethod
    def _probe(probe):
        return ["--serial", probe] if probe else []

    def program_commands(self, board, elf, probe=None):
        image = _bin_for(elf)
        return [[OBJCOPY, "-O", "binary", str(elf), str(image)],
                ["st-flash", *self._probe(probe), "--reset", "write", str(image), f"0x{board.flash.base:08x}"]]

    def reset_commands(self, board, probe=None):
        return [["st-flash", *self._probe(probe), "reset"]]


class PyOcd(ToolFlasher):
    name = "pyocd"

    @staticmethod
    def _target(board, probe):
        return ["-t", board.fact("lab", "pyocd")] + (["-u", probe] if probe else [])

    def program_commands(self, board, elf, probe=None):
        image = _bin_for(elf)
        target = self._target(board, probe)
        return [[OBJCOPY, "-O", "binary", str(elf), str(image)],
                ["pyocd", "load", *target, "--format", "elf", "--no-reset", str(elf)],
                ["pyocd", "commander", *target, "-c", f"compare 0x{board.flash.base:08x} {image}", "-c", "reset"]]

    def reset_commands(self, board, probe=None):
        return [["pyocd", "reset", *self._target(board, probe)]]


# name -> flasher; harness.lab adds the emulated one (a pseudo-terminal board) beside these.
FLASHERS: dict[str, ToolFlasher] = {f.name: f for f in (OpenOcd(), StFlash(), PyOcd())}


def run(commands: list[list[str]], *, what: str, timeout: float = 180.0) -> None:
    """Run each command in turn; the first that fails stops the rest with its output in the error."""
    for cmd in commands:
        if shutil.which(cmd[0]) is None:
            raise FlashError(f"{what}: `{cmd[0]}` is not installed ({INSTALL.get(cmd[0], 'install it')})")
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise FlashError(f"{what}: `{shlex.join(cmd)}` took more than {timeout:g} s") from None
        if proc.returncode != 0:
            out = (proc.stdout + proc.stderr).strip().splitlines()[-20:]
            raise FlashError(f"{what}: `{shlex.join(cmd)}` exited with {proc.returncode}:\n" + "\n".join(out))
