"""Per-op sweeps: a single-op (or small) model built with TensorFlow, run through our runtime built for
the host and through TFLM on seeded random inputs; the bytes must be the same."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from harness.host_runtime import HostModel
from harness.plan.lower import lower
from harness.plan.model import load_model
from harness.reference import TflmReference, random_inputs
from harness.tfgen import convert


@dataclass
class CaseResult:
    key: str
    path: Path
    ops: list[str]
    inputs: int
    mismatches: int
    first_diff: str = ""


def compare_on_host(path: Path | str, inputs: int = 5, seed: int = 0, key: str = "") -> CaseResult:
    path = Path(path)
    low = lower(load_model(path))
    host, ref = HostModel(low), TflmReference(path)
    bad, first = 0, ""
    for x in random_inputs(low.graph.tensor(low.input), inputs, seed):
        ours, theirs = host.run(x), ref.run(x)
        if ours != theirs:
            bad += 1
            if not first:
                i = next(k for k in range(len(ours)) if ours[k] != theirs[k])
                first = f"first differing byte {i}: ours {ours[i]} TFLM {theirs[i]}"
    return CaseResult(key or path.name, path, low.graph.op_names, inputs, bad, first)


def run_case(build: Callable, key: str, *, inputs: int = 5, seed: int = 0, int16x8: bool = False) -> CaseResult:
    return compare_on_host(convert(build, key, int16x8=int16x8, folder="sweep"), inputs, seed, key)
