"""The lab inventory: lab.toml, ST-Link detection by USB VID:PID, finding a board's port."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from harness import lab as labmod
from harness.errors import HarnessError
from harness.lab import LabBoard, detect, load_lab


@dataclass
class FakePort:
    device: str
    vid: int | None
    pid: int | None
    serial_number: str | None = None
    description: str = ""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "lab.toml"
    p.write_text(text)
    return p


def test_a_lab_file(tmp_path):
    lab = load_lab(write(tmp_path, """
[[board]]
kind = "nucleo_f446re"
port = "/dev/ttyACM0"
flasher = "st-flash"

[[board]]
kind = "nucleo_f767zi"
stlink = "0670FF485750"
flasher = "pyocd"
baud = 921600
"""))
    assert [b.kind for b in lab.boards] == ["nucleo_f446re", "nucleo_f767zi"]
    f446 = lab.find("nucleo_f446re")
    assert (f446.port, f446.flasher, f446.baud, f446.timeout) == ("/dev/ttyACM0", "st-flash", None, 5.0)
    assert lab.find("nucleo_f767zi").baud == 921600
    assert lab.find("nucleo_f746zg") is None
    assert "lists 2 board(s)" in lab.describe()


@pytest.mark.parametrize("text, message", [
    ('[[board]]\nkind = "nucleo_f446re"\nport = "/dev/x"\nspeed = 1\n', r"unknown key\(s\) speed"),
    ('[[board]]\nkind = "nucleo_h743"\nport = "/dev/x"\n', "kind 'nucleo_h743' is not one of"),
    ('[[board]]\nkind = "nucleo_f446re"\n', "give `port` or `stlink`"),
    ('[[board]]\nkind = "nucleo_f446re"\nport = "/dev/x"\nflasher = "jlink"\n', "flasher 'jlink' is not one of"),
    ('[boards]\nkind = "x"\n', r"unknown table\(s\) boards"),
    ('[[board]\n', "lab.toml"),
])
def test_lab_file_mistakes_are_named(tmp_path, text, message):
    with pytest.raises(HarnessError, match=message):
        load_lab(write(tmp_path, text))


PORTS = [
    FakePort("/dev/ttyACM0", 0x0483, 0x374B, "066DFF485750", "STM32 STLink"),
    FakePort("/dev/ttyACM1", 0x0483, 0x374E, "003A00283133", "STLINK-V3"),
    FakePort("/dev/ttyUSB0", 0x0403, 0x6001, "FT123", "FT232R"),            # an FTDI cable: not ours
    FakePort("/dev/ttyACM2", 0x0483, 0x3748, "ABC", "ST-LINK/V2"),          # V2: no virtual COM port
    FakePort("/dev/ttyS0", None, None),
]


def test_detection_by_vid_pid():
    kinds = {"/dev/ttyACM0": "nucleo_f446re", "/dev/ttyACM1": None}
    lab = detect(PORTS, probe=kinds.get)
    assert [(b.port, b.kind, b.stlink) for b in lab.boards] == [
        ("/dev/ttyACM0", "nucleo_f446re", "066DFF485750"), ("/dev/ttyACM1", None, "003A00283133")]
    assert all(b.source == "detected" for b in lab.boards)
    assert lab.find("nucleo_f446re").port == "/dev/ttyACM0"
    assert lab.find("nucleo_f746zg") is None                      # unidentified is not guessed...
    assert lab.find("nucleo_f746zg", only_requested=True).port == "/dev/ttyACM1"   # ...unless asked for
    assert "2 ST-Link port(s) detected" in lab.describe()


def test_a_port_from_the_stlink_serial(monkeypatch):
    monkeypatch.setattr(labmod, "_comports", lambda: PORTS)
    assert LabBoard("nucleo_f446re", stlink="003A00283133").resolve_port() == "/dev/ttyACM1"
    with pytest.raises(HarnessError, match="no serial port for ST-Link 123"):
        LabBoard("nucleo_f446re", stlink="123").resolve_port()


def test_the_default_inventory(tmp_path, monkeypatch):
    f = write(tmp_path, '[[board]]\nkind = "nucleo_f746zg"\nport = "/dev/ttyACM3"\n')
    monkeypatch.setattr(labmod, "_override_path", None)
    monkeypatch.setenv("HARNESS_LAB", str(f))
    assert labmod.default_lab().find("nucleo_f746zg").port == "/dev/ttyACM3"
    monkeypatch.delenv("HARNESS_LAB")
    monkeypatch.setattr(labmod, "DEFAULT_FILE", tmp_path / "absent.toml")
    monkeypatch.setattr(labmod, "_comports", lambda: [])
    lab = labmod.default_lab()
    assert lab.boards == [] and lab.path is None


def test_the_emulated_lab_file_is_valid():
    lab = load_lab(Path(__file__).resolve().parent / "lab_emulated.toml")
    assert sorted(b.kind for b in lab.boards) == ["nucleo_f446re", "nucleo_f746zg", "nucleo_f767zi"]
    assert {b.flasher for b in lab.boards} == {"emulated"}


def test_lab_with_a_space_and_a_path_outside_the_repository_is_a_usage_error(tmp_path):
    """`pytest --lab PATH`: pytest settles its root before loading the plugin that knows --lab, so it reads
    PATH as a test path and takes the common folder of PATH and the repository as its root (the
    repository's configuration and markers lost). Said plainly with the fix, instead of a broken run."""
    import subprocess
    import sys
    root = Path(__file__).resolve().parent.parent
    lab = tmp_path / "lab.toml"
    lab.write_text("")
    # no test path, as `pytest -m hardware --lab lab.toml` is run: a test path inside the repository
    # would have let pytest find pyproject.toml after all
    proc = subprocess.run([sys.executable, "-m", "pytest", "-m", "hardware", "--co", "-q", "-p", "no:cacheprovider",
                           "--lab", str(lab)], cwd=root, capture_output=True, text=True, timeout=300)
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0, text[-2000:]
    assert f"--lab={lab}" in text and "HARNESS_LAB" in text, text[-2000:]
    assert "Traceback" not in text
    ok = subprocess.run([sys.executable, "-m", "pytest", "tests/test_lab.py", "-k", "vid_pid", "--co", "-q",
                         "-p", "no:cacheprovider", f"--lab={lab}"], cwd=root, capture_output=True, text=True,
                        timeout=120)
    assert ok.returncode == 0 and "1/" in ok.stdout, ok.stdout[-2000:] + ok.stderr[-2000:]
