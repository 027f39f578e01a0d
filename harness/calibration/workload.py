"""The characterization workload: what a lab afternoon runs on a board to calibrate its table.

- generated models sampled from the zoo's backbones (harness/zoo_gen.py: dense autoencoder (AD), DS-CNN
  (KWS), MobileNet-style (VWW)) with seeded random widths and depths, as the MicroNets paper (section 3)
  samples its search space to relate latency to model shape;
- per-op microbenchmarks: one op per model, so a per-op-type mapping can be told apart from one scale.

`build_workload` converts them (harness/tfgen.py, cached by key), builds one firmware per (model, board),
copies the .tflite and the ELF into the output folder and writes `manifest.json` and `workload.csv` (the
calibration CSV with the emulated counts filled in and `measured_ms` empty, for the lab to complete).
"""
from __future__ import annotations

import json
import random
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from harness.board import load_board
from harness.build import DoesNotFit
from harness.calibration.measurements import Measurement, sha256_file, write_csv
from harness.errors import HarnessError
from harness.tfgen import convert


@dataclass(frozen=True)
class Spec:
    name: str
    kind: str                 # generated | microbench
    family: str
    params: dict
    build: Callable           # build(tf) -> keras.Model


def _ad(p):
    def build(tf):
        L = tf.keras.layers
        inp = tf.keras.Input(shape=(p["inputs"],))
        x = inp
        for units in p["widths"]:
            x = L.Dense(units, activation="relu")(x)
        return tf.keras.Model(inp, L.Dense(p["inputs"])(x))
    return build


def _kws(p):
    def build(tf):
        L = tf.keras.layers
        inp = tf.keras.Input(shape=(p.get("frames", 49), 10, 1), batch_size=1)
        x = L.Conv2D(p["channels"], (10, 4), strides=(2, 2), padding="same", activation="relu")(inp)
        for _ in range(p["blocks"]):
            x = L.DepthwiseConv2D(p.get("kernel", 3), padding="same", activation="relu")(x)
            x = L.Conv2D(p["channels"], 1, activation="relu")(x)
        x = L.AveragePooling2D(pool_size=x.shape[1:3])(x)
        return tf.keras.Model(inp, L.Softmax()(L.Dense(12)(L.Flatten()(x))))
    return build


def _vww(p):
    def build(tf):
        L = tf.keras.layers
        inp = tf.keras.Input(shape=(p["size"], p["size"], 1), batch_size=1)
        x = L.Conv2D(p["stem"], 3, strides=2, padding="same", activation="relu6")(inp)
        for ch, stride in p["blocks"]:
            y = L.DepthwiseConv2D(p.get("kernel", 3), strides=stride, padding="same", activation="relu6")(x)
            y = L.Conv2D(ch, 1)(y)
            x = L.Add()([x, y]) if stride == 1 and x.shape[-1] == ch else L.ReLU(6.0)(y)
        x = L.AveragePooling2D(pool_size=x.shape[1:3])(x)
        return tf.keras.Model(inp, L.Softmax()(L.Dense(2)(L.Flatten()(x))))
    return build


def _sample(rng: random.Random, family: str) -> dict:
    """One point of a backbone's search space (the MicroNets paper's section 3: widths, depths, kernel
    sizes, input resolution), drawn from `rng`. The one sampler of the project: the calibration workload
    and `harness characterize` both draw from it."""
    if family == "ad":
        depth = rng.randint(2, 5)
        return {"inputs": rng.choice([64, 128, 256]), "widths": [rng.choice([16, 32, 64, 128]) for _ in range(depth)]}
    if family == "kws":
        return {"channels": rng.choice([16, 24, 32, 48, 64]), "blocks": rng.randint(1, 4),
                "kernel": rng.choice([3, 5]), "frames": rng.choice([25, 49])}
    blocks, ch = [], rng.choice([8, 16])
    for _ in range(rng.randint(2, 4)):
        stride = rng.choice([1, 2])
        ch = ch if stride == 1 else min(64, ch * 2)
        blocks.append([ch, stride])
    return {"size": rng.choice([32, 48, 64]), "stem": blocks[0][0] if blocks[0][1] == 1 else rng.choice([8, 16]),
            "blocks": blocks, "kernel": rng.choice([3, 5])}


_BUILDERS = {"ad": _ad, "kws": _kws, "vww": _vww}
BACKBONES = tuple(_BUILDERS)


def _backbone_file(path: Path):
    """A user's backbone: a Python file defining `sample(rng: random.Random) -> dict` (one point of its
    search space, JSON-able) and `build(tf, params) -> keras.Model`."""
    import importlib.util
    if not path.is_file():
        raise HarnessError(f"no backbone {str(path)!r}: give one of {', '.join(BACKBONES)} or a .py file")
    spec = importlib.util.spec_from_file_location(f"backbone_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as e:      # noqa: BLE001 - the user's file: one line saying what broke
        raise HarnessError(f"{path}: cannot load the backbone: {type(e).__name__}: {e}") from None
    if not callable(getattr(module, "sample", None)) or not callable(getattr(module, "build", None)):
        raise HarnessError(f"{path}: a backbone file defines sample(rng) -> dict and build(tf, params) -> keras.Model")
    return module


def backbone_specs(backbone: str, count: int, seed: int = 0) -> list[Spec]:
    """`count` seeded samples of one backbone's search space: a built-in family (`ad`, `kws`, `vww`)
    or a backbone file (`_backbone_file`). The same (backbone, count, seed) gives the same specs."""
    rng = random.Random(f"{backbone}:{seed}")
    if backbone in _BUILDERS:
        family, draw, builder = backbone, lambda: _sample(rng, backbone), _BUILDERS[backbone]
    else:
        module = _backbone_file(Path(backbone))
        family, draw = Path(backbone).stem, lambda: module.sample(rng)
        builder = lambda p: (lambda tf: module.build(tf, p))        # noqa: E731
    out = []
    for i in range(count):
        p = draw()
        out.append(Spec(f"{family}_s{seed}_{i:02d}", "generated", family, p, builder(p)))
    return out


def _single(layer: Callable, shape: tuple, second: bool = False):
    def build(tf):
        L = tf.keras.layers
        inp = tf.keras.Input(shape=shape, batch_size=1)
        return tf.keras.Model(inp, L.Add()([inp, inp]) if second else layer(L)(inp))
    return build


# One op per model at a size where it dominates the firmware's fixed cost per inference.
MICROBENCHMARKS = {
    "conv2d_3x3": ((16, 16, 8), lambda L: L.Conv2D(16, 3, padding="same")),
    "conv2d_1x1": ((16, 16, 32), lambda L: L.Conv2D(32, 1)),
    "depthwise_3x3": ((24, 24, 32), lambda L: L.DepthwiseConv2D(3, padding="same")),
    "fully_connected": ((512,), lambda L: L.Dense(128)),
    "average_pool": ((32, 32, 16), lambda L: L.AveragePooling2D(2)),
    "max_pool": ((32, 32, 16), lambda L: L.MaxPooling2D(2)),
    "softmax": ((1000,), lambda L: L.Softmax()),
}


def specs(count: int, seed: int = 0, microbenchmarks: bool = True) -> list[Spec]:
    """`count` generated models (families in turn, seeded shapes) and the microbenchmarks."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        family = ("ad", "kws", "vww")[i % 3]
        p = _sample(rng, family)
        out.append(Spec(f"gen{i:02d}_{family}", "generated", family, p, _BUILDERS[family](p)))
    if microbenchmarks:
        for name, (shape, layer) in MICROBENCHMARKS.items():
            out.append(Spec(f"op_{name}", "microbench", name, {"shape": list(shape)}, _single(layer, shape)))
        out.append(Spec("op_add", "microbench", "add", {"shape": [32, 32, 16]}, _single(None, (32, 32, 16), True)))
    return out


def build_workload(out: Path, boards: list[str], count: int = 12, seed: int = 0, microbenchmarks: bool = True,
                   emulate: bool = True, progress: Callable[[str], None] = lambda s: None) -> Path:
    """Convert, build (and emulate, for the counts) every spec on every board into `out`; returns the
    manifest's path. Cells that do not fit a board are listed in the manifest as such, not built."""
    from harness import pipeline
    from harness.plan.model import ModelError
    from harness.profile import profile_firmware
    out = Path(out)
    (out / "models").mkdir(parents=True, exist_ok=True)
    entries, rows = [], []
    for spec in specs(count, seed, microbenchmarks):
        progress(f"{spec.name}: converting")
        key = f"calibration-workload:{spec.name}:{json.dumps(spec.params, sort_keys=True)}"
        tflite = out / "models" / f"{spec.name}.tflite"
        shutil.copyfile(convert(spec.build, key, seed=seed, folder="calibration"), tflite)
        try:
            graph, low = pipeline.plan(tflite)
        except ModelError as e:
            entries.append({"name": spec.name, "unsupported": str(e)})
            continue
        for board_name in boards:
            board = load_board(board_name)
            entry = {"name": spec.name, "kind": spec.kind, "family": spec.family, "params": spec.params,
                     "tflite": str(tflite.relative_to(out)), "board": board.name, "macs": low.macs}
            progress(f"{spec.name} on {board.name}: building")
            try:
                fw = pipeline.build(board, low, spec.name)
            except DoesNotFit as e:
                entries.append({**entry, "fits": False, "why": str(e)})
                continue
            elf = out / board.name / f"{spec.name}.elf"
            elf.parent.mkdir(exist_ok=True)
            shutil.copyfile(fw.elf, elf)
            entry.update(fits=True, elf=str(elf.relative_to(out)), firmware_sha256=sha256_file(elf))
            if emulate:                  # the seeded input the hardware test times, profiled per op
                progress(f"{spec.name} on {board.name}: emulating")
                prof = profile_firmware(board, elf, graph, low, spec.name, seed=0)
                entry["cycles"], entry["instructions"] = prof.firmware_cycles, prof.instructions
                entry["ops"] = prof.cycles_by_op_type()
                rows.append(Measurement(board.name, entry["firmware_sha256"], None, entry["cycles"],
                                        entry["instructions"], ops=entry["ops"], model=spec.name))
            entries.append(entry)
    if not any(e.get("fits") for e in entries):
        raise HarnessError("no workload model fits the boards given")
    manifest = out / "manifest.json"
    manifest.write_text(json.dumps({"seed": seed, "count": count, "boards": boards, "entries": entries}, indent=2) + "\n")
    if emulate:
        write_csv(rows, out / "workload.csv")
    return manifest
