"""Per-op sweeps: a single-op (or small) model built with TensorFlow, run through our runtime built for
the host (or for an emulated board) and through TFLM on seeded random inputs; the outputs must agree
(harness.reference.outputs_agree: the same bytes for integer outputs, a stated tolerance for float ones)."""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from harness.errors import HarnessError
from harness.host_runtime import HostModel
from harness.plan.lower import lower
from harness.plan.model import load_model
from harness.reference import TflmReference, each_output_agrees, random_inputs
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
                    kernels: str = "optimized", extra: Sequence = ()) -> CaseResult:
    """`kernels`: the kernel set the planner picks from (harness/plan/optimize.py); `extra`: model inputs
    (one array per input tensor) run after the seeded random ones (e.g. every int8 value of an
    element-wise op's input)."""
    path = Path(path)
    low = lower(load_model(path), kernels)
    return _compare(low, path, HostModel(low).run, inputs, seed, key, extra)


def _compare(low, path: Path, run: Callable, inputs: int, seed: int, key: str, extra: Sequence) -> CaseResult:
    """`run(x)`: our output bytes for model input x (every output's), against TFLM's."""
    ref = TflmReference(path)
    t_outs = low.output_tensors
    bad, first, worst, exact = 0, "", 0.0, True
    xs = [*random_inputs(low.input_tensors, inputs, seed), *extra]
    for x in xs:
        ours, theirs = run(x), ref.run(x)
        agreement = each_output_agrees(ours, theirs, t_outs)
        worst, exact = max([worst, *(d for _, d in agreement)]), exact and ours == theirs
        if not all(a for a, _ in agreement):
            bad += 1
            if not first:
                k = next(k for k, (a, _) in enumerate(agreement) if not a)
                o, t = (ours[k], theirs[k]) if k < min(len(ours), len(theirs)) else (b"", b"")
                i = next((j for j in range(min(len(o), len(t))) if o[j] != t[j]), 0)
                first = (f"output {k}: " if len(t_outs) > 1 else "") + (
                    f"first differing byte {i}: ours {o[i]} TFLM {t[i]}; max |difference| {agreement[k][1]!r}"
                    if i < min(len(o), len(t)) else f"{len(o)} bytes, TFLM {len(t)}")
    return CaseResult(key or path.name, path, low.graph.op_names, len(xs), bad, first, worst, exact,
                      [c.kernel for c in low.calls])


def run_case(build: Callable, key: str, *, inputs: int = 5, seed: int = 0, int16x8: bool = False,
             float32: bool = False, kernels: str = "optimized") -> CaseResult:
    return compare_on_host(convert(build, key, int16x8=int16x8, float32=float32, folder="sweep"), inputs, seed, key,
                           kernels)


def kernel_sources(low) -> list[Path]:
    """The firmware's sources for `low` with only the kernel files that name one of its calls' kernels
    (firmware/src and runtime whole): the linker keeps only what is called either way (--gc-sections), so
    the image runs the same kernel code, and a sweep case builds in about a quarter of the time."""
    from harness.build import FIRMWARE
    wanted = re.compile(r"\b(" + "|".join(sorted({re.escape(c.kernel) for c in low.calls})) + r")\b\s*[(,]")
    kernels = [p for p in sorted((FIRMWARE / "kernels").rglob("*.c")) if wanted.search(p.read_text())]
    return sorted((FIRMWARE / "src").glob("*.c")) + sorted((FIRMWARE / "runtime").glob("*.c")) + kernels


def compare_on_board(path: Path | str, board: str, inputs: int = 3, seed: int = 0, key: str = "",
                     kernels: str = "optimized", extra: Sequence = ()) -> CaseResult:
    """compare_on_host's check on an emulated board: the plan's firmware (kernel_sources; all sources
    when a kernel file needs another's code), the same seeded inputs downloaded, TFLM's outputs compared."""
    from harness.backends.emulated import EmulatedBoard
    from harness.board import load_board
    from harness.build import build_firmware
    from harness.pipeline import image
    from harness.protocol import DutClient
    path = Path(path)
    low = lower(load_model(path), kernels)
    b = load_board(board)
    name = "sweep-" + hashlib.sha256(f"{path.resolve()}|{kernels}".encode()).hexdigest()[:12]
    source = image(low, name)
    try:
        fw = build_firmware(b, source, name=name, sources=kernel_sources(low))
    except HarnessError as e:
        if "undefined reference" not in str(e):
            raise
        fw = build_firmware(b, source, name=name)
    client = DutClient(EmulatedBoard(b, fw.elf))
    client.wait_ready()

    def run(x) -> list[bytes]:
        client.load_inputs(x)
        return client.infer(1, 0).outputs
    return _compare(low, path, run, inputs, seed, key, extra)
