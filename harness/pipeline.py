"""The one path from a model to firmware: .tflite -> graph -> plan (harness/plan) -> image (model_data.c)
-> ELF (harness/build.py). Every caller -- harness check, the pytest plugin, the Robot library, bench,
profile, the calibration workload and the hardware measurements -- goes through here, so the sequence is
written once and the callers only say what they do with its result."""
from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from harness.board import Board
from harness.build import DoesNotFit, Firmware, build_firmware
from harness.plan.emit import can_download_in_place, db_buffer_bytes, emit_model_c, hot_functions
from harness.plan.lower import Lowered, lower, replan
from harness.plan.model import Graph, load_model

# How much larger the regions of a build are stretched to measure an image that does not fit (never run).
OVERSIZE = 16


def plan(model_path: Path | str, model_id: str | None = None) -> tuple[Graph, Lowered]:
    """The model's graph and its layer-by-layer plan (layer_plan); raises ModelError for a model the
    runtime refuses. `model_id`: the id it is built under (a benchmark's download has its own format)."""
    graph = load_model(Path(model_path))
    return graph, layer_plan(graph, model_id)


def layer_plan(graph: Graph, model_id: str | None = None) -> Lowered:
    """Layer by layer, with the `db` download landing straight in the input tensor's place in the arena
    (kept whole through the inference, so an `infer N W` runs every inference on it) where that takes less
    SRAM than a download buffer beside the arena; else the plan that reuses the input's bytes (a tie keeps
    it: the image and its arena layout stay as they were). Either way the
    firmware holds harness_ram() bytes more than a deployment needs (build_or_measure drops them when only
    they are in the way)."""
    low = lower(graph)
    if not can_download_in_place(low, model_id or ""):
        return low
    kept = replan(low, keep_input=True)
    return kept if kept.plan.arena_bytes < low.plan.arena_bytes + db_buffer_bytes(low, model_id or "") else low


def harness_ram(low: Lowered, model_id: str | None = None) -> int:
    """The SRAM the image holds only for the harness, beyond a deployment's (which writes its input into the
    input tensor's place before each inference, into the plan that lets later tensors reuse those bytes):
    the download buffer, or what keeping the input whole adds to the arena (its inputs and outputs are
    the deployment's too)."""
    mid = model_id or ""
    if low.keep_input and can_download_in_place(low, mid):
        return max(0, low.plan.arena_bytes - replan(low, keep_input=False).plan.arena_bytes)
    return db_buffer_bytes(low, mid)


def image(low: Lowered, model_id: str, constants_in_ram: bool = False, infer_once: bool = False) -> dict[str, str]:
    """The generated sources of a plan: the model image the firmware is linked with (emit_model_c's options)."""
    return {"model_data.c": emit_model_c(low, model_id, constants_in_ram=constants_in_ram, infer_once=infer_once)}


def build(board: Board, low: Lowered, model_id: str, name: str | None = None,
          constants_in_ram: bool = False, infer_once: bool = False) -> Firmware:
    """The plan's firmware for `board` (cached by source hash); raises DoesNotFit when it overflows the
    board's flash or RAM. `name` names the build (default the model id; a patch plan adds its split)."""
    return build_firmware(board, image(low, model_id, constants_in_ram, infer_once), name=name or model_id,
                          hot=hot_functions(low))


class Built(NamedTuple):
    fw: Firmware
    fits: bool
    low: Lowered        # the plan the image was built from
    once: bool          # it downloads into an input tensor the plan reuses: one inference per download


def build_or_measure(board: Board, low: Lowered, model_id: str, name: str | None = None) -> Built:
    """The plan's firmware when it fits the board; else, when only the harness's bytes are in the way (the
    download buffer, or the input kept whole), the image of the plan that reuses the input's bytes,
    downloading into the input tensor and inferring once per download (a deployment's memory: it writes
    its input before each inference); else a build with stretched regions, only to measure by how much it
    does not fit (never to run), and fits False."""
    try:
        return Built(build(board, low, model_id, name), True, low, False)
    except DoesNotFit:
        pass
    if can_download_in_place(low, model_id):
        base = replan(low, keep_input=False)
        try:
            return Built(build(board, base, model_id, name, infer_once=True), True, base, True)
        except DoesNotFit:
            pass
    return Built(build_firmware(board, image(low, model_id), name=name or model_id, oversize=OVERSIZE,
                                hot=hot_functions(low)), False, low, False)


def model_firmware(board: Board, model_path: Path | str, model_id: str) -> tuple[Firmware, Graph, Lowered]:
    """plan() then build(): the model's firmware for `board` with the graph and plan it was built from."""
    graph, low = plan(model_path, model_id)
    return build(board, low, model_id), graph, low
