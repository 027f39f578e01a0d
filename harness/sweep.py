"""Per-op sweeps: a single-op (or small) model built with TensorFlow, run through our runtime built for
the host and through TFLM on seeded random inputs; the outputs must agree (harness.reference.outputs_agree:
the same bytes for integer outputs, a stated tolerance for float ones)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from harness.host_runtime import HostModel
from harness.plan.lower import lower
from harness.plan.model import load_model
from harness.reference import TflmReference, outputs_agree, random_inputs
from harness.tfgen import convert


@dataclass
class CaseResult:
    key: str
    path: Path
    ops: list[str]
    inputs: int
    mismatches: int
    first_diff: str = ""
    max_abs_diff: float = 0.0      # over all inputs, in the output's units (0.0: bit-exact)
    bit_exact: bool = True         # every output the same bytes as TFLM's
    kernels: list[str] = field(default_factory=list)   # the C kernel of each call, in order


def compare_on_host(path: Path | str, inputs: int = 5, seed: int = 0, key: str = "",
                    kernels: str = "optimized") -> CaseResult:
    """`kernels`: the kernel set the planner picks from (harness/plan/optimize.py)."""
    path = Path(path)
    low = lower(load_model(path), kernels)
    host, ref = HostModel(low), TflmReference(path)
    t_out = low.graph.tensor(low.output)
    bad, first, worst, exact = 0, "", 0.0, True
    for x in random_inputs(low.graph.tensor(low.input), inputs, seed):
        ours, theirs = host.run(x), ref.run(x)
        agree, diff = outputs_agree(ours, theirs, t_out)
        worst, exact = max(worst, diff), exact and ours == theirs
        if not agree:
            bad += 1
            if not first:
                i = next((k for k in range(min(len(ours), len(theirs))) if ours[k] != theirs[k]), 0)
                first = f"first differing byte {i}: ours {ours[i]} TFLM {theirs[i]}; max |difference| {diff!r}"
    return CaseResult(key or path.name, path, low.graph.op_names, inputs, bad, first, worst, exact,
                      [c.kernel for c in low.calls])


def run_case(build: Callable, key: str, *, inputs: int = 5, seed: int = 0, int16x8: bool = False,
             float32: bool = False, kernels: str = "optimized") -> CaseResult:
    return compare_on_host(convert(build, key, int16x8=int16x8, float32=float32, folder="sweep"), inputs, seed, key,
                           kernels)
