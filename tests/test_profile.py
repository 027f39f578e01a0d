"""Per-op profiles of one inference (harness/profile.py, `harness profile`).

The reference for the totals is the firmware's own DWT CYCCNT measurement of the same inference
(`stats`, what `harness check` reports as cycles per inference): the profile's rows, placed at the
engine's tick count of the firmware's first CYCCNT read, must give exactly that reading. The op list is
checked against the .tflite's operators, and each op's per-function split (snapshots of the engine's
native per-function profile) against the op's own total (watch-point counts)."""
from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from harness.board import load_board
from harness.cli import app
from harness.plan.model import load_model
from harness.profile import collapsed, profile_model, speedscope
from tests.conftest import shared_model

pytestmark = pytest.mark.emulated

NO_KERNEL = {"RESHAPE", "SQUEEZE", "EXPAND_DIMS"}     # aliases: no kernel runs (harness/plan)


def _check_sums(p):
    # the rows placed at the first CYCCNT read give the firmware's second reading, exactly
    tpc = p.ticks_per_cycle
    start = p.window_start_ticks
    assert (start + p.ticks) // tpc - start // tpc == p.firmware_cycles
    assert p.window_cycles == p.firmware_cycles
    for _, seg in p.rows:
        assert sum(i for i, _ in seg.functions.values()) == seg.instructions
        assert sum(t for _, t in seg.functions.values()) == seg.ticks
    for r in p.ops:
        assert r.ticks > 0 and r.functions[r.kernel][1] > 0
    # the ops are the inference: tm_invoke's loop and the timing code are a few dozen instructions (their
    # cycles in one cold inference also hold the flash's first instruction-cache misses, 5-7 cycles each)
    assert p.dispatch.instructions + p.timing.instructions < 12 * (len(p.ops) + 4)


def test_kws_micronet_s_on_f746zg_ops_sum_to_the_firmware_measurement():
    path = shared_model("ml-zoo/kws_micronet_s.tflite")
    p = profile_model(load_board("nucleo_f746zg"), path, "kws_micronet_s")
    graph = load_model(path)
    assert [r.op for r in p.ops] == [op.name for op in graph.ops if op.name not in NO_KERNEL]
    _check_sums(p)
    assert sum(r.ticks for r in p.ops) > 0.99 * p.ticks
    values = [int(ln.rsplit(" ", 1)[1]) for ln in collapsed(p).splitlines()]
    assert abs(sum(values) - p.firmware_cycles) <= 1                   # half cycles of the M7 model rounded
    # memory: the stack grows during the inference; the arena written fits the plan and holds the input
    assert 0 < p.stack_at_invoke < p.stack_high_water < 64 * 1024
    assert p.arena_exact
    assert graph.tensor(graph.inputs[0]).nbytes <= p.arena_written <= p.arena_extent <= p.arena_bytes


def test_profile_outputs_and_cli(tmp_path, small_model):
    mid, path = small_model
    p = profile_model(load_board("nucleo_f446re"), path, mid)
    _check_sums(p)
    assert p.ticks_per_cycle == 1
    assert sum(p.cycles(s) for _, s in p.rows) == p.firmware_cycles      # the M4: whole cycles

    lines = collapsed(p).splitlines()
    assert all(re.fullmatch(r"[^ ].* \d+", ln) for ln in lines)          # whole counts, as the format takes
    assert sum(int(ln.rsplit(" ", 1)[1]) for ln in lines) == p.firmware_cycles
    assert all(ln.startswith("inference;op ") or ln.startswith("inference;tm_invoke") or
               ln.startswith("inference;timing") for ln in lines)
    assert f"inference;op 0 {p.ops[0].op};{p.ops[0].kernel} " in collapsed(p)

    doc = speedscope(p)
    frames = [f["name"] for f in doc["shared"]["frames"]]
    evented, sampled = doc["profiles"]
    assert evented["type"] == "evented" and sampled["type"] == "sampled"
    assert sum(sampled["weights"]) == p.firmware_cycles
    stack, last = [], 0
    for ev in evented["events"]:                        # properly nested, in time order
        assert ev["at"] >= last
        last = ev["at"]
        if ev["type"] == "O":
            stack.append(ev["frame"])
        else:
            assert stack.pop() == ev["frame"]
    assert not stack and last == p.firmware_cycles
    assert {f"op {r.index} {r.op}" for r in p.ops} <= set(frames)

    res = CliRunner().invoke(app, ["profile", "--board", "nucleo_f446re", "--model", str(path), "--out",
                                   str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert f"{p.firmware_cycles:,} cycles" in res.output
    written = json.loads(next(tmp_path.glob("*.profile.json")).read_text())
    assert written["firmware_cycles"] == p.firmware_cycles
    assert len(list(tmp_path.glob("*.speedscope.json"))) == 1
