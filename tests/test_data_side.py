"""The memory system's data side (native/blockcount.c bc_mem_hook; docs/cycle-model.md, "Memory system"):
the same model built twice, its constants (weights, biases, quantization tables) read from the flash or
copied to SRAM at reset. On every board both builds compute the same bytes as TFLM; the build that streams
its weights from the flash is slower by the data-side stalls the model charged (the core's cycles, the same
instructions, are equal), and those stalls are at least one flash read per line of weights."""
from __future__ import annotations

import numpy as np
import pytest

from harness import registry
from harness.backends.emulated import EmulatedBoard
from harness.board import available_boards, load_board
from harness.pipeline import build
from harness.plan.lower import lower
from harness.plan.model import load_model
from harness.protocol import DutClient
from harness.reference import TflmReference, random_inputs

pytestmark = pytest.mark.emulated

MODEL = "gen_ad_fc_s"       # a dense autoencoder: every weight is read once per inference


def _infer(board, low, mid, in_ram: bool, x: np.ndarray):
    fw = build(board, low, mid, name=f"{mid}-{'ram' if in_ram else 'flash'}", constants_in_ram=in_ram)
    engine = EmulatedBoard(board, fw.elf)
    client = DutClient(engine)
    client.wait_ready()
    client.load_inputs(x)
    raw = client.infer(1, 0).outputs
    cycles = client.stats()["cycles"]
    return raw, cycles, engine.events_between_reads(cycles)


@pytest.mark.parametrize("name", available_boards())
def test_weights_in_flash_cost_their_line_reads(name):
    board = load_board(name)
    mid, path = registry.resolve(MODEL)
    graph = load_model(path)
    low = lower(graph)
    x = random_inputs(low.input_tensors, 1, 0)[0]
    expected = TflmReference(path).run(x)
    raw_f, cycles_f, ev_f = _infer(board, low, mid, False, x)
    raw_r, cycles_r, ev_r = _infer(board, low, mid, True, x)
    assert raw_f == raw_r == expected
    weights = sum(c.fields["weights"].data.nbytes for c in low.calls if "weights" in c.fields)
    line = 16 if name == "nucleo_f446re" else 32
    latency = 5 if name == "nucleo_f446re" else 7
    # every weight line read from the flash at least once, at the flash's wait states
    assert ev_f["dcache_misses"] >= weights // line
    assert ev_f["data_stall_cycles"] >= (weights // line) * latency
    # the SRAM build reads only the op table and literals from the flash
    assert ev_r["data_reads"] < ev_f["data_reads"] // 10
    # the same instructions: the difference is the data side's stalls and nothing else
    # the same instructions: the core's cycles are equal, the difference is the memory system's stalls,
    # the data side's nearly all (a data stall can also hide part of a prefetch on the F446)
    assert cycles_f - ev_f["stall_cycles"] == cycles_r - ev_r["stall_cycles"]
    assert ev_f["fetch_lines"] == ev_r["fetch_lines"]
    data = ev_f["data_stall_cycles"] - ev_r["data_stall_cycles"]
    assert abs((cycles_f - cycles_r) - data) <= 0.01 * data
