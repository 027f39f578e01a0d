"""The official MLPerf Tiny host runner against the emulated board behind a pseudo-terminal, for the four
benchmarks: tests/mlperf_runner_replay.py sends the runner's bytes and parses the answers its way, and
every result must be TFLM's on the input the reference DUT makes of the runner's bytes (int8 MFCC as
is; uint8 pixels minus 128 for an int8 model, as floats for the float32 IC model; ad01's float32
features quantized with the model's input parameters, the result the mean squared error of the
dequantized output against them). Shorter runs than the runner's, to keep CI time small: performance
mode is `infer 2 1` in the runner's loop of 5 (the runner: `infer 70 10` .. `infer 1500 10`) and accuracy
mode sends 3 inputs (ad01: the first 3 windows of the sample file)."""
from __future__ import annotations

import numpy as np
import pytest

from harness.backends.pty import EmulatedPty
from harness.board import load_board
from harness.mlperf import DutIO, dut_io
from harness.plan.model import ModelError, Tensor
from harness.plan.quant import affine_quantize
from harness.pytest_plugin import ZooCell
from harness.reference import FLOAT_ATOL, FLOAT_RTOL, TflmReference
from harness.registry import load_zoo
from mlperf_runner_replay import RunnerReplay, script_for, windows

pytestmark = [pytest.mark.emulated, pytest.mark.alone]      # alone: the runner's 5 s per line is wall time

BOARD = "nucleo_f746zg"      # holds all four, the float32 IC model included
BENCHMARKS = {"kws01": "kws_ref_model", "vww01": "vww_96_int8", "ic01": "ic_resnet8_float", "ad01": "ad01_int8"}
AD01_SAMPLE = "mlcommons-tiny/datasets/ad01_sample_normal_id_01_00000000_hist_librosa.bin"
# `infer 1 1` (the scripts' N and W shortened): the runner waits at most 5 s for each line, and on the
# emulated F746ZG one ic01 inference now takes ~2.8 s of wall time (0.5 s before the memory system's data
# side: every load and store, once any memory hook exists, takes Unicorn's slow path, and each hooked one
# restores the CPU state first), so N = 2 would exceed it; and only on an otherwise idle core (marker alone).
PERF_INFER, PERF_LOOPS, ACCURACY_INPUTS = (1, 1), 5, 3


def test_the_registry_names_the_four_benchmarks():
    zoo = load_zoo()
    assert {bench: zoo[model].mlperf for bench, model in BENCHMARKS.items()} == {b: b for b in BENCHMARKS}
    assert sum(m.mlperf is not None for m in zoo.values()) == 4


def dataset(bench: str, count: int) -> list[bytes]:
    """Inputs in the runner's format: the dataset .bin files are not public, so seeded random ones of the
    right size, except ad01, whose sample file ../shared has."""
    if bench == "ad01":
        from conftest import shared_model
        return [shared_model(AD01_SAMPLE).read_bytes()]
    size = {"kws01": 490, "vww01": 96 * 96 * 3, "ic01": 32 * 32 * 3}[bench]
    rng = np.random.default_rng(14)
    dtype = np.int8 if bench == "kws01" else np.uint8
    return [rng.integers(np.iinfo(dtype).min, np.iinfo(dtype).max, size, endpoint=True, dtype=dtype).tobytes()
            for _ in range(count)]


def reference_results(bench: str, wire: bytes, graph, low, tflm: TflmReference) -> tuple[list[float], bytes]:
    """TFLM's answer on what the reference DUT makes of `wire`: (result values in float32, output bytes)."""
    inp, out = graph.tensor(low.inputs[0]), graph.tensor(low.outputs[0])
    if bench == "kws01":
        x = np.frombuffer(wire, np.int8)
    elif np.dtype(inp.dtype) == np.float32:                        # ic01's float model: pixel values
        x = np.frombuffer(wire, np.uint8).astype(np.float32)
    elif bench in ("vww01", "ic01"):
        x = (np.frombuffer(wire, np.uint8).astype(np.int16) - 128).astype(np.int8)
    else:                                                          # ad01: TFLM QUANTIZE of each float
        features = np.frombuffer(wire, "<f4")
        x = affine_quantize(features, inp.scales[0], inp.zero_point, np.int8)
    [raw] = tflm.run([x.reshape(inp.shape)])
    if np.dtype(out.dtype) == np.float32:
        values = np.frombuffer(raw, np.float32)
    else:
        values = (np.frombuffer(raw, out.dtype).astype(np.float32) - np.float32(out.zero_point)) * \
            np.float32(out.scales[0])
    if bench != "ad01":
        return [float(v) for v in values], raw
    total = np.float32(0)            # the reference DUT's single-precision sum, in order, then / 640
    for v, f in zip(values, features):
        d = np.float32(v - f)
        total = np.float32(total + d * d)
    return [float(np.float32(total / np.float32(len(values))))], raw


def same_results(printed: list[float], expected: list[float], float_output: bool) -> bool:
    """Integer outputs and the MSE use the host's float32 operations in the same order: the printed
    `%0.3f` text must be the host value's. A float32 output may also differ by the float kernels'
    tolerance (harness/reference.py), so half a thousandth plus that."""
    if len(printed) != len(expected):
        return False
    if not float_output:
        return printed == [float(f"{v:.3f}") for v in expected]
    bound = 0.0005 + FLOAT_RTOL * max(abs(v) for v in expected) + FLOAT_ATOL
    return all(abs(p - e) <= bound for p, e in zip(printed, expected))


@pytest.fixture(scope="module", params=list(BENCHMARKS))
def served(request, harness_session):
    """(benchmark id, runner replay at the booted board, graph, lowered, TFLM) for one benchmark."""
    bench = request.param
    fw, graph, low = harness_session.firmware(ZooCell(BENCHMARKS[bench], BOARD))
    board = load_board(BOARD)
    with EmulatedPty(board) as bridge:
        runner = RunnerReplay(bridge.port, board.console.baud)
        bridge.load(fw.elf)
        assert runner.wait_boot()[-1] == "m-ready"
        yield bench, runner, graph, low, TflmReference(graph.path)
        runner.close()


def test_the_runner_finds_the_test_script(served):
    bench, runner, *_ = served
    assert runner.get_name().startswith("tinyml-harness")
    profile = runner.get_profile()
    assert profile["profile"] == "ULPMark for tinyML Firmware V0.0.1"
    assert profile["model"] == bench
    script_for(profile["model"], "p")          # the runner's lookup: raises as the runner would


def check_mode(served, mode: str, loops: int, n: int, w: int):
    bench, runner, graph, low, tflm = served
    float_output = np.dtype(graph.tensor(low.outputs[0]).dtype) == np.float32
    files = dataset(bench, loops if bench != "ad01" else 1)
    sent = [win for data in files for win in windows(bench, data, mode)][:loops]
    if bench == "ad01" and mode == "p":
        sent = sent * loops                    # performance mode sends the first window every loop
    for wire in sent:
        answer = runner.load(wire)
        assert f"m-[Expecting {len(wire)} bytes]" in answer and "m-load-done" in answer
        assert not [ln for ln in answer if ln.startswith("e-")]
        got = runner.infer(n, w)
        assert [ln for ln in got.lines if ln.startswith("m-") and "lap" not in ln and "results" not in ln] == [
            f"m-warmup-start-{w}", "m-warmup-done", f"m-infer-start-{n}", "m-infer-done", "m-ready"]
        assert got.start_time is not None and got.end_time is not None and got.throughput(n) > 0
        expected, raw = reference_results(bench, wire, graph, low, tflm)
        assert same_results(got.results, expected, float_output), (got.results, expected)
        if not float_output:                   # our extra line: the output tensor's bytes are TFLM's
            assert next(ln for ln in got.lines if ln.startswith("m-results-raw-")) == f"m-results-raw-[{raw.hex()}]"


def test_performance_mode(served):
    check_mode(served, "p", PERF_LOOPS, *PERF_INFER)


def test_accuracy_mode(served):
    bench = served[0]
    n, w, _ = script_for(bench, "a")
    check_mode(served, "a", ACCURACY_INPUTS, n, w)
    runner = served[1]
    last = runner.send_command("results")
    runner.send_command("db load 2560" if bench == "ad01" else "db load 1")   # a new download begins ...
    runner.send_command("db " + "00" * 31)
    assert runner.send_command("results") == last                  # ... `results` is still the last one's


def test_infer_without_a_complete_load_is_an_error(harness_session, small_model):
    """A refused `db load`, or one whose bytes never all arrived, leaves nothing to infer on: `infer`
    answers an e- line and m-ready, never results computed on stale or partial input."""
    fw, graph, low = harness_session.firmware(ZooCell(small_model[0], "nucleo_f446re", path=str(small_model[1])))
    size = graph.tensor(low.inputs[0]).nbytes
    board = load_board("nucleo_f446re")
    with EmulatedPty(board) as bridge:
        runner = RunnerReplay(bridge.port, board.console.baud)
        bridge.load(fw.elf)
        runner.wait_boot()

        def refused(lines: list[str]) -> bool:
            return lines[-1] == "m-ready" and any(ln.startswith("e-[") for ln in lines) and \
                not any(ln.startswith("m-results") for ln in lines)

        assert refused(runner.send_command(f"db load {size + 4}"))
        assert refused(runner.send_command("db " + "00" * size))     # no load in progress: said, not dropped
        assert refused(runner.send_command("infer 1 0"))
        runner.send_command(f"db load {size}")                        # announced, never sent
        assert refused(runner.send_command("infer 1 0"))
        assert "m-load-done" in runner.load(bytes(size))
        assert any(ln.startswith("m-results-[") for ln in runner.infer(1, 0).lines)
        assert refused(runner.send_command(f"db load {size + 4}"))   # a failed load forgets the last one
        assert refused(runner.send_command("infer 1 0"))
        runner.close()


def tensor(shape, dtype, scale=None, zero_point=0) -> Tensor:
    scales = np.array([] if scale is None else [scale], np.float32)
    return Tensor(0, "t", tuple(shape), np.dtype(dtype), scales, np.array([zero_point], np.int64), 0, None)


def test_a_benchmark_model_its_format_cannot_feed_is_refused_by_name():
    """The image is refused on the host, with the reason, rather than converting wrongly on the board."""
    with pytest.raises(ModelError, match=r"vww_96_int8: vww01 sends uint8 values; the model's input is int16"):
        dut_io("vww_96_int8", [tensor((1, 96, 96, 3), np.int16, 0.01)], [tensor((1, 2), np.int8, 0.1)])
    with pytest.raises(ModelError, match=r"ad01_int8: ad01's reconstruction error needs .* output of the input's 640"):
        dut_io("ad01_int8", [tensor((1, 640), np.int8, 0.4, 89)], [tensor((1, 8), np.int8, 0.3)])
    # no benchmark: the input tensor's own bytes, the model's own id
    assert dut_io("hello_world_int8", [tensor((1, 1), np.int8, 0.02)], [tensor((1, 1), np.int8, 0.01)]) == \
        DutIO("hello_world_int8", np.dtype(np.int8), 1, False)
    assert dut_io("ad01_int8", [tensor((1, 640), np.int8, 0.4, 89)], [tensor((1, 640), np.int8, 0.3)]) == \
        DutIO("ad01", np.dtype(np.float32), 2560, True)
    # several inputs: a benchmark downloads one; any other model takes their bytes one after the other
    with pytest.raises(ModelError, match=r"kws_ref_model: kws01 downloads one input; the model has 2"):
        dut_io("kws_ref_model", [tensor((1, 490), np.int8, 0.1)] * 2, [tensor((1, 12), np.int8, 0.1)])
    assert dut_io("some_model", [tensor((1, 6), np.int8, 0.1), tensor((1, 2, 5), np.int16, 0.2)],
                  [tensor((1, 3), np.int8, 0.1)]) == DutIO("some_model", np.dtype(np.int8), 26, False)
