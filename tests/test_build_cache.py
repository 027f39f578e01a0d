"""The firmware build cache under concurrent processes (pytest -n, run_matrix): several processes
building the same key at once all get the same complete ELF, and nothing half-written is left."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROBE = ROOT / "tests" / "firmware" / "engine_probe.c"

SCRIPT = f"""
import hashlib, sys
from harness.board import load_board
from harness.build import BARE_SOURCES, build_firmware
fw = build_firmware(load_board("nucleo_f446re"), {{}}, name="engine_probe",
                    sources=[__import__("pathlib").Path({str(PROBE)!r}), *BARE_SOURCES])
print(fw.elf, hashlib.sha256(fw.elf.read_bytes()).hexdigest())
"""


def test_concurrent_builds_of_one_key(tmp_path):
    env = {**os.environ, "HARNESS_CACHE": str(tmp_path), "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", SCRIPT], env=env, cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(4)]
    results = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in results]
    outputs = {out.strip() for out, _ in results}
    assert len(outputs) == 1                                   # one path, one content
    elf = Path(outputs.pop().split()[0])
    assert elf.is_file() and elf.parent.parent == tmp_path / "fw"
    assert sorted(p.name for p in (tmp_path / "fw").iterdir()) == [elf.parent.name]   # no temp folders left
    assert {p.name for p in elf.parent.iterdir()} >= {"engine_probe.elf", "board.h", "link.ld", "engine_probe.map"}
