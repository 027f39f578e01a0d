"""The one path from a model to firmware: .tflite -> graph -> plan (harness/plan) -> image (model_data.c)
-> ELF (harness/build.py). Every caller -- harness check, the pytest plugin, the Robot library, bench,
profile, the calibration workload and the hardware measurements -- goes through here, so the sequence is
written once and the callers only say what they do with its result."""
from __future__ import annotations

from pathlib import Path

from harness.board import Board
from harness.build import DoesNotFit, Firmware, build_firmware
from harness.plan.emit import emit_model_c, hot_functions
from harness.plan.lower import Lowered, lower
from harness.plan.model import Graph, load_model

# How much larger the regions of a build are stretched to measure an image that does not fit (never run).
OVERSIZE = 16


def plan(model_path: Path | str) -> tuple[Graph, Lowered]:
    """The model's graph and its layer-by-layer plan; raises ModelError for a model the runtime refuses."""
    graph = load_model(Path(model_path))
    return graph, lower(graph)


def image(low: Lowered, model_id: str, constants_in_ram: bool = False) -> dict[str, str]:
    """The generated sources of a plan: the model image the firmware is linked with."""
    return {"model_data.c": emit_model_c(low, model_id, constants_in_ram=constants_in_ram)}


def build(board: Board, low: Lowered, model_id: str, name: str | None = None,
          constants_in_ram: bool = False) -> Firmware:
    """The plan's firmware for `board` (cached by source hash); raises DoesNotFit when it overflows the
    board's flash or RAM. `name` names the build (default the model id; a patch plan adds its split)."""
    return build_firmware(board, image(low, model_id, constants_in_ram), name=name or model_id,
                          hot=hot_functions(low))


def build_or_measure(board: Board, low: Lowered, model_id: str, name: str | None = None) -> tuple[Firmware, bool]:
    """(firmware, fits): the plan's firmware when it fits the board; else a build with stretched regions,
    only to measure by how much it does not fit (never to run), and False."""
    try:
        return build(board, low, model_id, name), True
    except DoesNotFit:
        return build_firmware(board, image(low, model_id), name=name or model_id, oversize=OVERSIZE,
                              hot=hot_functions(low)), False


def model_firmware(board: Board, model_path: Path | str, model_id: str) -> tuple[Firmware, Graph, Lowered]:
    """plan() then build(): the model's firmware for `board` with the graph and plan it was built from."""
    graph, low = plan(model_path)
    return build(board, low, model_id), graph, low
