"""`harness predict` (harness/predictor.py) against the firmware it does not build, and `harness
characterize`'s JSON against an independent computation.

Ground truth is never the predictor's own: flash and SRAM come from `harness check` (the linked ELF and
the run's stack high-water), latency from the emulated cycles of that run through the same table; the
characterization's line is recomputed with numpy.polyfit. The models: a sample of the KWS backbone the
shipped characterization never saw (seed 7; it was fitted on seed 0) and the zoo's generated DS-CNN.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import harness
from harness.board import load_board
from harness.calibration.workload import backbone_specs
from harness.characterize import sample_tflite

ROOT = Path(__file__).resolve().parent.parent
BOARD = "nucleo_f446re"


@pytest.fixture(scope="module")
def held_out() -> tuple[str, Path]:
    spec = backbone_specs("kws", 1, seed=7)[0]
    return spec.name, sample_tflite("kws", spec)


@pytest.mark.emulated
@pytest.mark.parametrize("which", ["held-out", "zoo"])
def test_predict_matches_the_checked_firmware(which, held_out):
    from harness.check import check_cell
    from harness.registry import resolve
    mid, path = held_out if which == "held-out" else resolve("gen_kws_dscnn_xs")
    p = harness.predict(path, BOARD, model_id=mid)
    v = check_cell(mid, path, load_board(BOARD), inputs=1)
    assert v.status == "pass", v.reasons
    assert abs(p.flash - v.fit.flash.used) <= 0.01 * v.fit.flash.used
    assert abs(p.sram - v.fit.sram.used) <= 0.01 * v.fit.sram.used
    assert p.arena == v.arena_bytes                       # the planner's arena, exact
    assert abs(p.latency_ms - v.latency_ms) <= 0.15 * v.latency_ms
    assert abs(p.latency_ms - v.latency_ms) <= p.latency_model_err_ms     # inside the band it states
    assert not p.outside


@pytest.mark.emulated
def test_a_kernel_set_no_sample_had_is_priced_by_its_kernels_code():
    """gen_har_reshape_xs runs convolutions and a softmax but no depthwise layer, which every sample with a
    softmax had: its code is the runtime's own + each kernel's call-graph closure, so flash and SRAM are
    within 1 % of the linked ELF's and the run's, inside the bands stated."""
    from harness.check import check_cell
    from harness import pipeline
    from harness.registry import resolve
    mid, path = resolve("gen_har_reshape_xs")
    kernels = {c.kernel for c in pipeline.plan(path, mid)[1].calls}
    assert {"tm_conv2d_s8_dsp", "tm_softmax_s8"} <= kernels and "tm_depthwise_conv2d_s8_dsp" not in kernels
    p = harness.predict(path, BOARD, model_id=mid)
    assert not p.outside
    v = check_cell(mid, path, load_board(BOARD), inputs=1)
    assert v.status == "pass", v.reasons
    assert abs(p.flash - v.fit.flash.used) <= min(p.flash_err, 0.01 * v.fit.flash.used)
    assert abs(p.sram - v.fit.sram.used) <= min(p.sram_err, 0.01 * v.fit.sram.used)


@pytest.mark.parametrize("backbone", ["kws", "vww", "ad"])
def test_the_shipped_characterization_is_of_this_runtime(backbone):
    """The shipped samples' flash is today's firmware's: the backbone's first F446RE sample rebuilt from its
    recorded parameters links to the bytes it recorded (a changed kernel or runtime function changes them,
    and then the characterization must be run again: its `command`). The linker is the reference."""
    from harness import pipeline
    from harness.fit import static_fit
    from harness.predictor import DEFAULT
    doc = json.loads(DEFAULT.read_text())
    rec = next(s for s in doc["samples"] if s["backbone"] == backbone and s["board"] == BOARD and s.get("fits"))
    spec = next(s for s in backbone_specs(backbone, doc["count"], seed=doc["seed"]) if s.name == rec["name"])
    assert spec.params == rec["params"]
    graph, low = pipeline.plan(sample_tflite(backbone, spec))
    board = load_board(BOARD)
    fw = pipeline.build(board, low, spec.name)
    assert static_fit(board, fw.elf).flash.used == rec["flash"], f"stale: run `{doc['command']}`"


def test_the_stack_arrays_are_the_kernels_own():
    """harness/plan/optimize.stack_array_bytes prices the variable-length arrays the DSP kernels declare:
    the constants and declarations it mirrors are still those of the C."""
    import re
    from harness.plan.optimize import DW_SLOTS, DW_WINDOW_MAX_CH
    dsp = ROOT / "firmware" / "kernels" / "dsp"
    dw = (dsp / "depthwise_conv2d_s8_dsp.c").read_text()
    assert int(re.search(r"#define DW_SLOTS (\d+)", dw)[1]) == DW_SLOTS
    assert int(re.search(r"#define DW_WINDOW_MAX_CH (\d+)", dw)[1]) == DW_WINDOW_MAX_CH
    assert "uint32_t words[(DW_SLOTS * 9 * ch + 3) / 4];" in dw
    assert "if (three && ch <= DW_WINDOW_MAX_CH) {" in dw
    assert "uint32_t words[p->depth];" in (dsp / "conv2d_s8_dsp.c").read_text()


def test_predict_needs_no_toolchain_and_builds_nothing(held_out, tmp_path, monkeypatch):
    """In a process whose PATH has no compiler at all, and here with the build and the emulator made to
    fail if anything reached them: the same answer."""
    import harness.build
    import harness.backends.emulated

    def refuse(*a, **k):
        raise AssertionError("predict built or emulated something")
    monkeypatch.setattr(harness.build, "build_firmware", refuse)
    monkeypatch.setattr(harness.backends.emulated.EmulatedBoard, "__init__", refuse)
    mid, path = held_out
    here = harness.predict(path, BOARD, model_id=mid).as_dict()
    env = {**os.environ, "PATH": str(tmp_path), "PYTHONPATH": str(ROOT)}
    code = "import harness, json, sys; print(json.dumps(harness.predict(sys.argv[1], sys.argv[2], sys.argv[3]).as_dict()))"
    done = subprocess.run([sys.executable, "-c", code, str(path), BOARD, mid], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout) == json.loads(json.dumps(here))


def test_predict_takes_bytes_like_a_path(held_out):
    mid, path = held_out
    assert harness.predict(path.read_bytes(), BOARD, model_id=mid) .as_dict() == \
        harness.predict(path, BOARD, model_id=mid).as_dict()


@pytest.mark.emulated
def test_characterize_writes_what_it_claims(tmp_path):
    """Three AD samples on one board: every sample measured, the line's figures as numpy's polyfit gives
    them, each leave-one-out error recomputed by hand, the three figures written."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "harness", "characterize", "--backbone", "ad", "-b", BOARD,
                           "--count", "3", "--seed", "5", "--out", str(tmp_path), "-j", "1"],
                          env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    doc = json.loads((tmp_path / "characterization.json").read_text())
    samples = [s for s in doc["samples"] if s.get("fits")]
    assert len(doc["samples"]) == 3 and len(samples) == 3
    for s in samples:
        assert s["cycles"] == s["runtime_cycles"] + sum(layer["cycles"] for layer in s["layers"])
        assert s["sram"] == s["static_ram"] + s["stack"] and s["flash"] > s["arrays"]
    x = np.array([s["macs"] for s in samples], float)
    y = np.array([s["latency_ms"] for s in samples], float)
    slope, intercept = np.polyfit(x, y, 1)
    fit = doc["linear"]["ad"][BOARD]
    assert fit["slope"] == pytest.approx(slope, rel=1e-9) and fit["intercept"] == pytest.approx(intercept, rel=1e-6, abs=1e-9)
    r2 = np.corrcoef(x, y)[0, 1] ** 2
    assert fit["r2"] == pytest.approx(r2, rel=1e-9)
    loo = [abs(y[i] - np.polyval(np.polyfit(np.delete(x, i), np.delete(y, i), 1), x[i])) for i in range(3)]
    assert fit["loo_max_abs_err"] == pytest.approx(max(loo), rel=1e-6)
    assert set(doc["cost_model"][BOARD]["samples"]) == {s["name"] for s in samples}
    for name in ("latency_vs_ops.png", "sram_vs_activations.png", "flash_vs_params.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.emulated
def test_ray_gives_the_local_pool_s_records():
    """Two AD samples on one board as tasks on a Ray instance started here, and in the local pool: the
    same measurements (timings aside), in the same order."""
    pytest.importorskip("ray")
    from harness import characterize
    pool = characterize.run(["ad"], [BOARD], 2, 11, jobs=1)
    ray = characterize.run(["ad"], [BOARD], 2, 11, engine="local")
    strip = lambda rs: [{k: v for k, v in r.items() if k != "seconds"} for r in rs]   # noqa: E731
    assert all("error" not in r for r in pool) and strip(ray) == strip(pool)


@pytest.mark.emulated
def test_nas_example_admits_only_what_check_passes():
    """examples/nas_constraints.py in a small configuration: every candidate harness.predict admitted
    also fits the F446RE budget in harness check."""
    sys.path.insert(0, str(ROOT / "examples"))
    import nas_constraints
    r = nas_constraints.search(count=2, seed=2)
    assert r["admitted"] and r["admitted_but_rejected"] == []
