"""The model zoo registry (models/zoo.toml): ids to files, never copying third-party models in."""
from __future__ import annotations

import hashlib
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import HarnessError

ROOT = Path(__file__).resolve().parent.parent
ZOO = ROOT / "models" / "zoo.toml"


@dataclass
class ZooModel:
    id: str
    task: str
    file: str | None = None
    generate: str | None = None
    sha256: str | None = None
    input: str = ""
    labels: str | None = None
    paper: dict = field(default_factory=dict)
    expect_fit: list[str] | None = None

    def expected_to_fit(self, board: str) -> bool | None:
        """The registry's expectation: `expect_fit`, else the paper's `runs_on`, else none (None)."""
        boards = self.expect_fit if self.expect_fit is not None else self.paper.get("runs_on")
        return None if boards is None else board in boards


def search_dirs() -> list[Path]:
    dirs = [ROOT / "models"]
    dirs += [Path(p) for p in os.environ.get("HARNESS_MODELS", "").split(":") if p]
    dirs.append(ROOT.parent / "shared" / "models")
    return dirs


def load_zoo(path: Path = ZOO) -> dict[str, ZooModel]:
    data = tomllib.loads(path.read_text())
    return {m["id"]: ZooModel(**m) for m in data.get("model", [])}


def locate(model: ZooModel) -> Path | None:
    """The model's file, or None when it is not on this machine. A generated model is built on demand."""
    if model.generate:
        from harness.zoo_gen import generate
        return generate(model.generate)
    for d in search_dirs():
        p = d / model.file
        if p.is_file():
            if model.sha256 and hashlib.sha256(p.read_bytes()).hexdigest() != model.sha256:
                raise HarnessError(f"{p}: sha256 differs from the registry's for {model.id}")
            return p
    return None


def resolve(spec: str) -> tuple[str, Path]:
    """A registry id or the path of any .tflite file -> (id, path)."""
    p = Path(spec)
    if p.suffix == ".tflite":
        if not p.is_file():
            raise HarnessError(f"no model file at {p}")
        return p.stem, p
    zoo = load_zoo()
    if spec not in zoo:
        raise HarnessError(f"unknown model {spec!r}; known: {', '.join(zoo)} (or give a .tflite path)")
    path = locate(zoo[spec])
    if path is None:
        raise HarnessError(f"model {spec}: {zoo[spec].file} not found in {', '.join(map(str, search_dirs()))}")
    return spec, path


def available() -> list[tuple[str, Path]]:
    """Every registered model whose file is on this machine (generated ones always are)."""
    out = []
    for m in load_zoo().values():
        p = locate(m)
        if p is not None:
            out.append((m.id, p))
    return out
