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
    mlperf: str | None = None      # the MLPerf Tiny benchmark id (kws01, vww01, ic01, ad01) of a reference model
    corpus: bool = False           # issue 18's test corpus (tests/test_corpus.py), not in the default test cells

    def expected_to_fit(self, board: str) -> bool | None:
        """The registry's expectation: `expect_fit`, else the paper's `runs_on`, else none (None)."""
        boards = self.expect_fit if self.expect_fit is not None else self.paper.get("runs_on")
        return None if boards is None else board in boards


def search_dirs() -> list[Path]:
    dirs = [ROOT / "models"]
    for p in (Path(p) for p in os.environ.get("HARNESS_MODELS", "").split(":") if p):
        if not p.is_dir():     # a typo would otherwise silently leave its models out of every run
            raise HarnessError(f"$HARNESS_MODELS names {p}, which is not a folder")
        dirs.append(p)
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
            if model.sha256 and sha256_of(p) != model.sha256.lower():
                raise HarnessError(f"{p}: sha256 differs from the registry's for {model.id}")
            return p
    return None


def sha256_of(path: Path) -> str:
    """The hex SHA-256 of a file's bytes (models here; firmware builds in harness/calibration)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def match(path: Path, zoo: dict[str, ZooModel] | None = None) -> ZooModel | None:
    """The registry entry a model file is, by content only: its sha256 equals the entry's. The file's name
    plays no part, and an entry without a sha256 (the generated ones) never matches a path."""
    zoo = load_zoo() if zoo is None else zoo
    digest = sha256_of(path)
    return next((m for m in zoo.values() if m.sha256 and m.sha256.lower() == digest), None)


def path_id(path: Path, zoo: dict[str, ZooModel] | None = None) -> str:
    """The id a .tflite path is checked under: the registry's id when its bytes are a registered model's
    (whatever the file is called), else the file's stem, or its name when that stem is a registry id the
    bytes are not (a modified `ad_large_int8.tflite` is `ad_large_int8.tflite`, an unregistered model,
    never given ad_large_int8's expectations)."""
    zoo = load_zoo() if zoo is None else zoo
    entry = match(path, zoo)
    if entry is not None:
        return entry.id
    return Path(path).name if Path(path).stem in zoo else Path(path).stem


def resolve(spec: str) -> tuple[str, Path]:
    """A registry id or the path of any .tflite file -> (id, path); a path's id is path_id's."""
    p = Path(spec)
    if p.suffix == ".tflite":
        if not p.is_file():
            raise HarnessError(f"no model file at {p}" + (" (a folder)" if p.is_dir() else ""))
        _readable(p)
        return path_id(p), p
    zoo = load_zoo()
    if spec not in zoo:
        raise HarnessError(f"unknown model {spec!r}; known: {', '.join(zoo)} (or give a .tflite path)")
    path = locate(zoo[spec])
    if path is None:
        raise HarnessError(f"model {spec}: {zoo[spec].file} not found in {', '.join(map(str, search_dirs()))}")
    return spec, path


def _readable(path: Path) -> None:
    """Refuse a named file that is no TFLite model (empty, truncated, another format) before any build;
    a model we cannot run is still the `unsupported` verdict of its cells."""
    from harness.plan.model import ModelError, NotAModel, load_model
    try:
        load_model(path)
    except NotAModel:
        raise
    except ModelError:
        pass


def available() -> list[tuple[str, Path]]:
    """Every registered model whose file is on this machine (generated ones always are)."""
    out = []
    for m in load_zoo().values():
        p = locate(m)
        if p is not None:
            out.append((m.id, p))
    return out
