"""Patch-based inference on real image models (host build against TFLM, 20 seeded inputs) and the
`harness patch` command. The tiling arithmetic itself is swept in tests/kernels/test_patch_tiling.py."""
import subprocess
import sys

import pytest

from conftest import shared_model
from harness.host_runtime import HostModel
from harness.plan import patch
from harness.plan.model import load_model
from harness.reference import TflmReference, random_inputs

IMAGE_MODELS = ["tflite-micro/person_detect.tflite", "mlcommons-tiny/vww_96_int8.tflite",
                "ml-zoo/vww2_50_50_INT8.tflite", "ml-zoo/vww3_128_128_INT8.tflite"]


GENERATED = ["gen_mcunet_f446", "gen_mobilenet_v2_035_160"]


def _model(name):
    if name in GENERATED:
        from harness import registry
        return registry.resolve(name)[1]
    return shared_model(name)


@pytest.mark.parametrize("budget", [0.15, 0.05])
@pytest.mark.parametrize("name", IMAGE_MODELS + GENERATED, ids=lambda r: r.split("/")[-1].removesuffix(".tflite"))
def test_chosen_patch_plan_is_tflms_and_smaller(name, budget):
    """The plan the search chooses within 15 % more MACs and within 5 % (where the halo cache wins)."""
    path = _model(name)
    g = load_model(path)
    cands = patch.candidates(g, max_overhead=budget)
    chosen = patch.choose(cands, budget)
    assert chosen.split is not None and chosen.overhead <= budget
    assert chosen.arena < cands[0].arena
    host, ref = HostModel(patch.plan(g, chosen.split), "patched"), TflmReference(path)
    for x in random_inputs([g.tensor(g.inputs[0])], 20, seed=0):
        assert host.run(x) == ref.run(x), f"{chosen} differs from TFLM"


def test_mobilenet_v2_accounting_by_hand_and_the_streamed_quarter():
    """Keras' MobileNetV2-0.35 at 160x160: layer by layer, the peak is block 1's stride-2 depthwise conv,
    its 80x80x48 input and 40x40x48 output, plus the 160x160x3 input kept whole (MCUNetV2's accounting
    streams the input: without it). With the rows' halo cached, a plan within 5 % more MACs needs at most
    a quarter of that without the input (issue 17's target, in MCUNetV2's accounting; with the input kept
    whole the input alone is a sixth of layer by layer's: docs/patch.md)."""
    g = load_model(_model("gen_mobilenet_v2_035_160"))
    peak, image = 80 * 80 * 48 + 40 * 40 * 48, 160 * 160 * 3
    cands = patch.candidates(g, max_overhead=0.05)
    base, chosen = cands[0], patch.choose(cands, 0.05)
    assert (base.arena, base.streamed) == (peak + image, peak)
    assert chosen.split.cache and chosen.overhead <= 0.05
    assert chosen.streamed <= peak / 4


def _harness(*args):
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True, text=True, timeout=600)


def test_patch_command_prints_the_front_and_writes_the_figure(tmp_path):
    """On the project's own generated MobileNet (no ../shared needed)."""
    r = _harness("patch", "-m", "gen_vww_mobilenet_xs", "-b", "nucleo_f446re", "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert "<- chosen" in r.stdout and "layer by layer" in r.stdout and "plans searched" in r.stdout
    assert (tmp_path / "patch.png").stat().st_size > 0


def test_patch_command_refuses_a_negative_budget():
    r = _harness("patch", "-m", "hello_world_int8", "--patch-overhead", "-1")
    assert r.returncode != 0 and r.stderr.startswith("error:") and "Traceback" not in r.stderr


@pytest.mark.emulated
def test_check_runs_the_patch_plan_and_a_model_that_fits_only_with_it_passes(tmp_path):
    """A stem whose full-resolution 64x64x32 activation (128 KB) plus its input exceeds the F446RE's SRAM
    layer by layer; the patched plan is built, run on the emulated board bit-exact with TFLM and fits, so
    the cell passes with the reason; the report has the side-by-side table."""
    import json
    import sys as _sys
    from pathlib import Path
    _sys.path.insert(0, str(Path(__file__).parent / "kernels"))
    import numpy as np
    from test_patch_tiling import Stem
    stem = Stem(np.random.default_rng(3), 64, 64, 3)
    stem.conv(3, cout=32)
    stem.conv(3, stride=2, cout=8)
    model = stem.save()
    r = _harness("check", "-b", "nucleo_f446re", "-m", str(model), "--inputs", "2", "--patch", "auto",
                 "--json", "--report-dir", str(tmp_path))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    (v,) = json.loads(r.stdout)
    assert v["status"] == "pass" and not v["fit"]["fits"], v["reasons"]
    assert any(s.startswith("fits with patch-based inference: peak ") for s in v["reasons"]), v["reasons"]
    p = v["patch"]
    assert p["status"] == "pass" and p["fits"] and p["mismatches"] == 0 and p["cycles"] > 0
    assert p["arena_bytes"] < v["arena_bytes"] and p["sram_used"] <= 128 * 1024 < v["fit"]["sram"]["used"]
    summary = next(tmp_path.glob("*/summary.md")).read_text()
    assert "## Patch-based inference" in summary and p["split"] in summary


def test_check_refuses_a_malformed_split():
    r = _harness("check", "-b", "nucleo_f446re", "-m", "hello_world_int8", "--patch", "7:3x3")
    assert r.returncode != 0 and r.stderr.startswith("error:") and "op<N>:<rows>x<cols>" in r.stderr


@pytest.mark.emulated
def test_the_mcunet_like_model_runs_on_the_f446re_only_with_patches():
    """gen_mcunet_f446 (the project's own, no ../shared needed): layer by layer its SRAM exceeds the
    F446RE's 128 KB (the registry expects no fit there); with the search's patch plan it fits and is
    bit-exact with TFLM on 20 seeded inputs on the emulated board."""
    from harness import registry
    from harness.board import load_board
    from harness.check import check_cell
    mid, path = registry.resolve("gen_mcunet_f446")
    board = load_board("nucleo_f446re")
    v = check_cell(mid, path, board, inputs=20, expected_fit=False, patch="auto")
    assert not v.fit.fits and v.fit.sram.used > board.sram_size
    p = v.patch
    assert p["status"] == "pass" and p["fits"] and p["sram_used"] <= board.sram_size, p
    assert p["mismatches"] == 0 and p["overhead"] <= 0.15
    assert v.status == "pass" and any(r.startswith("fits with patch-based inference") for r in v.reasons)


@pytest.mark.emulated
def test_bench_patch_says_when_no_patch_plan_helps():
    """gen_ad_fc_s (dense layers only, no stage that runs in tiles): no patch plan has a smaller arena, so the
    bench's row says so and the cell stays a layer-by-layer pass. (gen_vww_mobilenet_xs was this case until
    the halo cache: op6:6x1:cache now takes its arena from 6,912 B to 5,184 B.)"""
    r = _harness("bench", "patch", "-m", "gen_ad_fc_s", "-b", "nucleo_f767zi", "--inputs", "1")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "gen_ad_fc_s" in r.stdout and "no patch plan has a smaller arena" in r.stdout, r.stdout
