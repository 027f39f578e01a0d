"""One cell of the main job: (model, board) -> plan, firmware, run on the board, verdict."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from harness.backends import open_board  # noqa
from harness.board import Board
from harness.build import DoesNotFit, build_firmware
from harness.errors import HarnessError
from harness.fit import Fit, static_fit
from harness.plan.emit import emit_model_c
from harness.plan.lower import lower
from harness.plan.model import ModelError, load_model
from harness.protocol import DutClient
from harness.reference import TflmReference, random_inputs


@dataclass
class Verdict:
    model: str
    board: str
    status: str = "pass"                 # pass | fail | unsupported | error
    reasons: list[str] = field(default_factory=list)
    fit: Fit | None = None
    inputs: int = 0
    mismatches: int | None = None
    instructions: int | None = None      # per inference, from the board's DWT cycle counter
    arena_bytes: int | None = None
    arena_lower_bound: int | None = None
    macs: int | None = None
    model_bytes: int | None = None
    elf: str | None = None

    def fail(self, reason: str, status: str = "fail") -> None:
        if self.status == "pass":
            self.status = status
        self.reasons.append(reason)

    def as_dict(self) -> dict:
        d = {k: v for k, v in vars(self).items() if k != "fit"}
        d["fit"] = self.fit.as_dict() if self.fit else None
        d["bit_exact"] = self.mismatches == 0 if self.mismatches is not None else None
        return d


def check_cell(model_id: str, model_path: Path, board: Board, *, inputs: int = 20, seed: int = 0,
               backend: str = "emulated", progress: Callable[[str], None] = lambda s: None) -> Verdict:
    v = Verdict(model_id, board.name, inputs=inputs)
    try:
        graph = load_model(model_path)
        v.model_bytes = graph.size_bytes
        progress("planning")
        low = lower(graph)
    except ModelError as e:
        v.fail(str(e), "unsupported")
        return v
    v.arena_bytes, v.arena_lower_bound, v.macs = low.plan.arena_bytes, low.plan.lower_bound, low.macs
    sources = {"model_data.c": emit_model_c(low, model_id)}
    progress("building firmware")
    try:
        fw = build_firmware(board, sources, name=model_id)
    except DoesNotFit:
        big = build_firmware(board, sources, name=model_id, oversize=16)
        v.fit = static_fit(board, big.elf)
        v.elf = str(big.elf)
        v.fail(f"does not fit: flash {v.fit.flash.used} of {v.fit.flash.size} B, "
               f"static RAM {v.fit.static_ram} of {v.fit.sram.size} B")
        return v
    v.elf = str(fw.elf)
    try:
        _run(v, fw.elf, graph, low, board, backend, inputs, seed, progress)
    except HarnessError as e:
        v.fail(str(e), "error")
    return v


def _run(v: Verdict, elf: Path, graph, low, board: Board, backend: str, inputs: int, seed: int, progress) -> None:
    dut = open_board(backend, board, elf)
    client = DutClient(dut)
    client.wait_ready()
    reference = TflmReference(graph.path)
    v.mismatches = 0
    for i, x in enumerate(random_inputs(graph.tensor(low.input), inputs, seed)):
        progress(f"input {i + 1}/{inputs}")
        client.load(x.tobytes())
        got = client.infer(1, 0).raw
        if got != reference.run(x):
            v.mismatches += 1
    stats = client.stats()
    v.instructions = stats["cycles"]
    v.fit = static_fit(board, elf, stack=stats["stack"])
    if v.mismatches:
        v.fail(f"{v.mismatches} of {inputs} outputs differ from TFLM")
    if not v.fit.fits:
        v.fail(f"does not fit: SRAM {v.fit.sram.used} of {v.fit.sram.size} B with the stack")
