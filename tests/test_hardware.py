"""Real boards on a lab runner (`pytest -m hardware`, lab.toml or detected ST-Links): flash, talk over
the serial port with the same protocol client as the emulator, and record what only silicon knows:
DWT cycles, wall-clock latency per inference and MLPerf's m-lap-us, stack and arena high-water.

A board not attached skips with "no port for <board>". Each cell's figures are JUnit properties and a
report in reports/hardware/<model>-<board>.json with `source: hardware`, in the format of
`harness check --json`, so emulator figures can be calibrated against them.

In CI the same tests run against emulated boards behind pseudo-terminals (a lab.toml whose flasher is
`emulated`; tests/test_serial_pty.py), so this path is never dead code.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from harness.backends import open_board
from harness.board import load_board
from harness.protocol import DutClient
from harness.pytest_plugin import HW_INPUTS, cycles_of, record_verdict
from harness.reference import random_inputs

pytestmark = pytest.mark.hardware

REPORTS = Path(os.environ.get("HARNESS_REPORTS", Path(__file__).resolve().parent.parent / "reports"))
TIMED_INFERENCES = 10


def test_on_silicon(hw_cell, lab_board, harness_session, record_property):
    entry = lab_board(hw_cell.board)
    # Flash, then bit-exact with TFLM and the fit with the measured stack: harness check's own path.
    v = harness_session.verdict(hw_cell, backend="hardware", inputs=HW_INPUTS)
    record_verdict(record_property, v, "hardware")
    if v.status == "unsupported":
        pytest.skip(f"unsupported: {v.reasons[0]}")
    assert v.status != "error", "\n".join(v.reasons)
    if v.fit is not None and not v.fit.fits:
        pytest.skip(f"does not fit {hw_cell.board}: not flashed")
    assert v.mismatches == 0, f"{v.mismatches} of {v.inputs} outputs differ from TFLM"

    # What only the board knows: the firmware is still there, so reset it and time inferences.
    board = load_board(hw_cell.board)
    fw, graph, low = harness_session.firmware(hw_cell)
    dut = open_board("hardware", board, fw.elf, entry=entry, flash=False)
    try:
        client = DutClient(dut)
        client.wait_ready()
        client.load_inputs(random_inputs(low.input_tensors, 1, 0)[0])
        start = time.monotonic()
        run = client.infer(TIMED_INFERENCES, 1)
        wall_s = time.monotonic() - start
        stats = client.stats()
    finally:
        dut.close()
    lap_us = (run.lap_us[1] - run.lap_us[0]) / TIMED_INFERENCES
    silicon = {"cycles": stats["cycles"], "lap_us_per_inference": round(lap_us, 1),
               "wall_us_per_inference": round(1e6 * wall_s / TIMED_INFERENCES, 1),
               "stack_bytes": stats["stack"], "arena_bytes": stats["arena"],
               "port": dut.port_name, "flasher": entry.flasher}
    for k, value in silicon.items():
        record_property(k, value)

    assert stats["cycles"] > 0 and stats["stack"] > 0 and cycles_of(v) > 0
    assert lap_us > 0
    if entry.flasher != "emulated":     # an emulated lab board's time is virtual: faster or slower than wall time
        assert lap_us <= 1e6 * wall_s / TIMED_INFERENCES, "m-lap-us brackets only the inferences"
    # m-lap-us comes from the same DWT counter: per inference it is the cycles in microseconds, plus the
    # input copy and loop around each inference.
    invoke_us = stats["cycles"] / (board.clock_hz / 1e6)
    assert invoke_us - 1 <= lap_us <= 1.10 * invoke_us + 2

    out = REPORTS / "hardware" / f"{hw_cell.model}-{hw_cell.board}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({**v.as_dict(), "source": "hardware", "silicon": silicon}, indent=2) + "\n")
