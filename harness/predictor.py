"""`harness.predict(model, board)`: flash, SRAM and latency of a model on a board without building
firmware, running the emulator or needing a toolchain: the model is planned (harness/pipeline.plan: the
arena is the planner's, exact), and the plan is priced by the cost model `harness characterize` fitted
for the board (harness/costmodel.py), read from renode/characterization/characterization.json (or the
file or folder $HARNESS_CHARACTERIZATION names). The latency goes through the board's calibration table
(harness/calibration), as `harness check`'s does.

The error stated with each figure is honest about where it comes from: the cost model's
leave-one-sample-out error (twice its mean, never below its worst case, as the calibration's tables
state theirs), doubled when the model has a kernel or a layer size the samples did not cover, plus the
calibration table's own error of turning cycles into milliseconds; a kernel no sample ran makes the
latency's error +-100 % (its layers are priced as another kernel of the op, or not at all).
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from harness.costmodel import NEVER
from harness.errors import HarnessError

DEFAULT = Path(__file__).resolve().parent.parent / "renode" / "characterization" / "characterization.json"
ENV = "HARNESS_CHARACTERIZATION"


@dataclass
class Prediction:
    model: str
    board: str
    flash: int
    flash_err: int
    sram: int
    sram_err: int
    arena: int
    stack: int                   # high-water: the deepest layer's frames + its stack array
    macs: int
    cycles: float                # emulated cycles the cost model predicts
    latency_ms: float
    latency_err_ms: float        # model_err + table_err
    latency_model_err_ms: float  # the cost model's (leave-one-sample-out)
    latency_table_err_ms: float  # the board's calibration table's (cycles -> ms)
    latency_status: str
    fit: str                     # which characterization, with its provenance
    outside: list[str] = field(default_factory=list)   # what of the model the samples did not cover

    def as_dict(self) -> dict:
        return asdict(self)


def _source() -> Path:
    p = Path(os.environ.get(ENV) or DEFAULT)
    return p / "characterization.json" if p.is_dir() else p


@functools.lru_cache(maxsize=4)
def _load(path: Path) -> dict:
    if not path.is_file():
        raise HarnessError(f"no characterization at {path}: run `harness characterize --out {path.parent}`")
    doc = json.loads(path.read_text())
    if not doc.get("cost_model"):
        raise HarnessError(f"{path}: no cost model in it (no sample ran)")
    return doc


def characterized_boards() -> list[str]:
    return list(_load(_source())["cost_model"])


def _tflite(model, model_id: str | None) -> tuple[Path, str]:
    """A .tflite path for a path, the bytes of one, or a Keras model (converted here, seeded)."""
    from harness.build import CACHE
    if isinstance(model, (str, Path)):
        p = Path(model)
        if not p.is_file():
            raise HarnessError(f"no model file {str(p)!r}")
        return p, model_id or p.stem
    if isinstance(model, (bytes, bytearray)):
        digest = hashlib.sha256(model).hexdigest()[:16]
        p = CACHE / "predict" / f"{digest}.tflite"
        if not p.is_file():
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(bytes(model))
        return p, model_id or f"model_{digest[:8]}"
    if hasattr(model, "to_json") and hasattr(model, "get_weights"):
        from harness.tfgen import convert
        h = hashlib.sha256(model.to_json().encode())
        for w in model.get_weights():
            h.update(w.tobytes())
        return convert(lambda tf: model, f"predict-keras:{h.hexdigest()}", folder="predict"), model_id or model.name
    raise HarnessError(f"cannot predict from a {type(model).__name__}: give a .tflite path, its bytes or a Keras model")


@functools.lru_cache(maxsize=8)
def _table(board: str):
    from harness.calibration import table_for
    return table_for(board)


def predict(model, board: str, model_id: str | None = None) -> Prediction:
    """The model's flash, SRAM and latency on `board` (a name), from the shipped characterization."""
    from harness import pipeline
    from harness.costmodel import plan_features, predict_cycles, predict_events, predict_memory
    path, mid = _tflite(model, model_id)
    doc_path = _source()
    doc = _load(doc_path)
    cm = doc["cost_model"].get(board)
    if cm is None:
        raise HarnessError(f"{board} is not characterized in {doc_path} (boards: {', '.join(doc['cost_model'])})")
    _, low = pipeline.plan(path)
    feats = plan_features(low, mid)
    cycles, outside = predict_cycles(cm["cycles"], feats)
    mem = predict_memory(cm["memory"], feats)
    outside = outside + mem["outside"]
    # the stated error: the leave-one-sample-out error of the latency (the cycles and the memory events
    # together, through the table) where the characterization has it, else of the cycles
    mean, worst = ((cm["loo_latency_mean_abs_rel"], cm["loo_latency_max_abs_rel"])
                   if cm.get("loo_latency_max_abs_rel") is not None else (cm["loo_mean_abs_rel"], cm["loo_max_abs_rel"]))
    rel = max(2 * mean, worst) if worst is not None else 0.5
    if any(NEVER in o for o in outside):
        rel = max(2 * rel, 1.0)     # a kernel no sample ran: its layers' time is a guess, said as +-100 %
    elif outside:
        rel *= 2                    # layers larger than the samples': an extrapolation
    p = _table(board).predict(cycles, events=predict_events(cm["cycles"], feats))
    model_err = rel * p.latency_ms
    fit = (f"{doc_path.name} {doc['created']}: {len(cm['samples'])} samples of {', '.join(doc['backbones'])} "
           f"(seed {doc['seed']}), per-kernel cycles and memory events, latency LOO mean {100 * (mean or 0):.1f} % "
           f"max {100 * (worst or 0):.1f} %")
    return Prediction(mid, board, mem["flash"], mem["flash_err"], mem["sram"], mem["sram_err"], mem["arena"],
                      mem["stack"], feats["macs"], cycles, p.latency_ms, model_err + p.latency_err_ms,
                      model_err, p.latency_err_ms, p.status, fit, outside)
