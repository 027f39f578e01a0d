"""The lab inventory: which real boards a runner has, on which serial port, flashed with which tool.

From a `lab.toml` (README, "Real boards"):

    [[board]]
    kind = "nucleo_f446re"     # a board of renode/platforms
    port = "/dev/ttyACM0"      # its console; or leave it out and give `stlink`
    stlink = "066DFF485750..." # the ST-Link's USB serial number: finds the port, picks the probe to flash
    flasher = "openocd"        # openocd | st-flash | pyocd | emulated
    baud = 115200              # optional: default from the .repl's console line
    timeout = 5.0              # optional: s per line; infer_timeout (60 s) after `infer`

Without a file, ST-Link virtual COM ports are found by USB VID:PID; the board on each is known only if
the firmware on it answers `name%` with one of our board titles (or it is the only one attached and
one board was asked for). `flasher = "emulated"` is a board emulated behind a pseudo-terminal: the
serial code path in CI, with no board at all.

`python -m harness.lab [lab.toml]` prints the inventory.
"""
from __future__ import annotations

import os
import sys
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from harness.board import Board, all_boards, load_board
from harness.errors import HarnessError
from harness.flash import FLASHERS

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_FILE = ROOT / "lab.toml"

STLINK_VID = 0x0483
# ST-Link probes with a virtual COM port: V2-1 (Nucleo-64/144) and the V3 family.
STLINK_VCP_PIDS = {0x374B: "ST-LINK/V2-1", 0x3752: "ST-LINK/V2-1", 0x374E: "STLINK-V3", 0x374F: "STLINK-V3",
                   0x3753: "STLINK-V3", 0x3754: "STLINK-V3"}

_override_path: Path | None = None


def use(path: str | Path | None) -> None:
    """Make `path` the default inventory of this process (the pytest plugin's --lab)."""
    global _override_path
    _override_path = Path(path) if path else None


@dataclass(frozen=True)
class LabBoard:
    kind: str | None                 # None: detected, board not identified
    port: str | None = None
    stlink: str | None = None
    flasher: str = "openocd"
    baud: int | None = None
    timeout: float = 5.0
    infer_timeout: float = 60.0
    source: str = "lab.toml"
    description: str = ""

    def with_overrides(self, **kw) -> "LabBoard":
        return replace(self, **{k: v for k, v in kw.items() if v is not None})

    def resolve_port(self) -> str:
        """The port path: as given, else the one whose USB serial number is the ST-Link's."""
        if self.port:
            return self.port
        if self.stlink:
            for p in _comports():
                if (p.serial_number or "") == self.stlink:
                    return p.device
            raise HarnessError(f"no serial port for ST-Link {self.stlink} ({self.kind}): is it plugged in?")
        raise HarnessError(f"lab board {self.kind}: neither `port` nor `stlink` given")

    def label(self) -> str:
        where = self.port or (f"ST-Link {self.stlink}" if self.stlink else "a pseudo-terminal")
        return f"{self.kind or 'unidentified board'} on {where} ({self.flasher}, {self.source})"


@dataclass
class Lab:
    boards: list[LabBoard] = field(default_factory=list)
    path: Path | None = None

    def find(self, kind: str, *, only_requested: bool = False) -> LabBoard | None:
        """The first board of `kind`; with `only_requested` (one board asked for), also the single
        unidentified detected board when there is exactly one."""
        for b in self.boards:
            if b.kind == kind:
                return b
        unknown = [b for b in self.boards if b.kind is None]
        if only_requested and len(unknown) == 1:
            return replace(unknown[0], kind=kind)
        return None

    def describe(self) -> str:
        if self.path:
            head = f"{self.path} lists {len(self.boards)} board(s)"
        else:
            head = (f"no lab.toml (--lab, $HARNESS_LAB or {DEFAULT_FILE.name}) and "
                    f"{len(self.boards)} ST-Link port(s) detected")
        return head + "".join(f"\n  {b.label()}" for b in self.boards)


_KEYS = {f.name for f in fields(LabBoard)} - {"source", "description"}


def load_lab(path: str | Path) -> Lab:
    path = Path(path)
    if not path.is_file():
        raise HarnessError(f"no lab inventory at {path}")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise HarnessError(f"{path}: {e}") from None
    boards = []
    known_boards = all_boards()
    for i, row in enumerate(data.get("board", []), 1):
        unknown = set(row) - _KEYS
        if unknown:
            raise HarnessError(f"{path}: board {i}: unknown key(s) {', '.join(sorted(unknown))}; "
                               f"known: {', '.join(sorted(_KEYS))}")
        kind = row.get("kind")
        if kind not in known_boards:
            raise HarnessError(f"{path}: board {i}: kind {kind!r} is not one of {', '.join(known_boards)}")
        flasher = row.get("flasher", "openocd")
        if flasher not in flashers():
            raise HarnessError(f"{path}: board {i}: flasher {flasher!r} is not one of {', '.join(flashers())}")
        if flasher != "emulated" and not (row.get("port") or row.get("stlink")):
            raise HarnessError(f"{path}: board {i} ({kind}): give `port` or `stlink`")
        boards.append(LabBoard(**row, source=str(path)))
    unexpected = set(data) - {"board"}
    if unexpected:
        raise HarnessError(f"{path}: unknown table(s) {', '.join(sorted(unexpected))}; a lab.toml has [[board]] rows")
    return Lab(boards, path)


def _comports():
    from serial.tools import list_ports
    return list_ports.comports()


def detect(comports=None, probe=None) -> Lab:
    """ST-Link virtual COM ports by USB VID:PID. `probe(port) -> board name | None` identifies the
    board (default: ask the firmware `name%`)."""
    probe = probe or probe_board
    boards = []
    for p in (comports if comports is not None else _comports()):
        if p.vid != STLINK_VID or p.pid not in STLINK_VCP_PIDS:
            continue
        boards.append(LabBoard(kind=probe(p.device), port=p.device, stlink=p.serial_number or None,
                               source="detected", description=f"{STLINK_VCP_PIDS[p.pid]} {p.description or ''}".strip()))
    return Lab(boards, None)


def probe_board(port: str, timeout: float = 1.0) -> str | None:
    """The board kind if the firmware on `port` is ours: it names the board title in `name%`."""
    from harness.backends import BoardError
    from harness.backends.serial import SerialBoard
    titles = {load_board(n).title: n for n in all_boards()}
    try:
        with SerialBoard(port, timeout=timeout) as sb:
            sb.write(b"name%")
            for _ in range(4):
                line = sb.read_line()
                for title, name in titles.items():
                    if line.startswith("m-name-dut-[") and title in line:
                        return name
    except (BoardError, HarnessError):
        return None
    return None


def default_lab(path: str | Path | None = None) -> Lab:
    """`path`, else --lab / $HARNESS_LAB, else ./lab.toml at the repository root, else detection."""
    chosen = path or _override_path or os.environ.get("HARNESS_LAB") or (DEFAULT_FILE if DEFAULT_FILE.is_file() else None)
    return load_lab(chosen) if chosen else detect()


# ------------------------------------------------------------------ flashers
class EmulatedFlasher:
    """`flasher = "emulated"`: the board is an EmulatedBoard behind a pseudo-terminal, one per lab row.
    Flashing loads the ELF and boots it; the port is the pty's path."""
    name = "emulated"
    _bridges: dict = {}

    def bridge(self, board: Board, entry: LabBoard):
        from harness.backends.pty import EmulatedPty
        key = (entry.source, entry.kind, entry.port)
        if key not in self._bridges:
            self._bridges[key] = EmulatedPty(board)
        return self._bridges[key]

    def port(self, board: Board, entry: LabBoard) -> str:
        return self.bridge(board, entry).port

    def flash(self, board: Board, elf: Path, entry: LabBoard) -> None:
        self.bridge(board, entry).load(elf)

    def reset(self, board: Board, entry: LabBoard) -> None:
        self.bridge(board, entry).reset()

    @classmethod
    def close_all(cls) -> None:
        for b in cls._bridges.values():
            b.close()
        cls._bridges.clear()


_EMULATED = EmulatedFlasher()


def flashers() -> dict:
    return {**FLASHERS, _EMULATED.name: _EMULATED}


def flasher_for(entry: LabBoard):
    try:
        return flashers()[entry.flasher]
    except KeyError:
        raise HarnessError(f"unknown flasher {entry.flasher!r}; known: {', '.join(flashers())}") from None


def main(argv: list[str]) -> int:
    try:
        lab = default_lab(argv[0] if argv else None)
    except HarnessError as e:
        print(e, file=sys.stderr)
        return 1
    print(lab.describe())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
