"""Ctrl-C and SIGTERM stop `harness check` (issue 14 item 10): every worker process ends within 10 s, the
cells finished so far are written as a report marked interrupted, the exit status is 130 / 143, no
interrupt is reported as a firmware fault, and the next run works."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.emulated

ROOT = Path(__file__).resolve().parent.parent
BOARDS = ["nucleo_f446re", "nucleo_f746zg", "nucleo_f767zi"]


def harness(*args: str, **kw) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "harness", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT, **kw)


def children(pid: int) -> set[int]:
    """The processes whose parent is `pid` (from /proc)."""
    out = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.add(int(stat.parent.name))
    return out


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.parametrize("sig,jobs", [(signal.SIGINT, 2), (signal.SIGTERM, 2), (signal.SIGINT, 1)])
def test_a_signal_stops_every_worker_and_keeps_the_finished_cells(tmp_path, small_model, sig, jobs):
    """jobs 1: the cells run in the harness's own process, the signal lands in the emulator or a build."""
    models = ["gen_ad_fc_s", str(small_model[1])]
    cells = len(models) * len(BOARDS)
    reports = tmp_path / "reports"
    args = [a for m in models for a in ("-m", m)] + [a for b in BOARDS for a in ("-b", b)]
    proc = harness("check", *args, "--jobs", str(jobs), "--inputs", "150", "--report-dir", str(reports))
    err_lines: list[str] = []
    finished = threading.Event()

    def read_err():
        for line in proc.stderr:
            err_lines.append(line)
            if line.startswith("done: "):           # one line per finished cell when stderr is not a terminal
                finished.set()
    reader = threading.Thread(target=read_err, daemon=True)
    reader.start()
    try:
        assert finished.wait(240), "".join(err_lines)
        workers = children(proc.pid)
        assert len(workers) >= jobs or jobs == 1, workers     # the pool's processes
        sent = time.monotonic()
        proc.send_signal(sig)
        proc.wait(timeout=10)
        took = time.monotonic() - sent
        while any(alive(p) for p in workers) and time.monotonic() - sent < 10:
            time.sleep(0.1)
        left = [p for p in workers if alive(p)]
    finally:
        proc.kill()
    reader.join(5)
    err = "".join(err_lines)
    assert proc.returncode == 128 + sig, err
    assert not left, f"workers still running: {left}"
    assert took < 10
    assert "Traceback" not in err and "FAULT" not in err and "Exception ignored" not in err, err
    assert f"interrupted ({signal.Signals(sig).name})" in err, err
    (folder,) = [p for p in reports.iterdir() if not p.name.startswith(".")]
    doc = json.loads((folder / "results.json").read_text())
    assert doc["meta"]["interrupted"] == signal.Signals(sig).name and doc["meta"]["cells_planned"] == cells
    done = [c for c in doc["cells"]]
    assert 1 <= len(done) < cells
    assert all(c["status"] == "pass" for c in done), [c["reasons"] for c in done]     # no made-up fault
    assert "interrupted" in (folder / "summary.md").read_text().splitlines()[2]
    assert 'name="interrupted"' in (folder / "junit.xml").read_text()
    if sig == signal.SIGTERM:                       # the next run works (the build cache is whole)
        again = harness("check", "-m", "gen_ad_fc_s", "-b", BOARDS[0], "--inputs", "2", "--report-dir", str(reports))
        out, err = again.communicate(timeout=240)
        assert again.returncode == 0, err


@pytest.mark.parametrize("signum,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupt_outside_a_commands_own_handling_stops_it_cleanly(signum, code, capsys):
    """Ctrl-C while a command still loads its boards and models (before run_matrix takes it): `stopped:
    interrupted`, exit 130 / 143, not click's `Aborted!` with exit 1."""
    import typer
    from harness.interrupt import Interrupted
    from harness.terminal import exit_on_error
    with pytest.raises(typer.Exit) as e:
        with exit_on_error():
            raise Interrupted(signum)
    assert e.value.exit_code == code
    assert f"stopped: interrupted ({signal.Signals(signum).name})" in capsys.readouterr().err
