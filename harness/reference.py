"""The reference: the real TFLM interpreter (PyPI tflite-micro) on the host, and the seeded inputs fed to
both it and the board."""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from harness.plan.model import Tensor


def random_inputs(tensors: Sequence[Tensor], count: int, seed: int) -> list[list[np.ndarray]]:
    """`count` inputs of a model whose input tensors are `tensors` (in the graph's order): each one array
    per tensor. Integer tensors: uniform over the whole integer range, so every code path of the
    requantization is reached. float32 tensors: independent standard normal values N(0, 1), drawn in double
    from the same seeded generator and rounded to float32. One generator draws the first tensor's `count`
    arrays, then the next tensor's: a model's first input gets the same values whatever is beside it."""
    rng = np.random.default_rng(seed)
    per_tensor = []
    for tensor in tensors:
        if np.dtype(tensor.dtype) == np.float32:
            per_tensor.append([rng.standard_normal(size=tensor.shape).astype(np.float32) for _ in range(count)])
            continue
        info = np.iinfo(tensor.dtype)
        per_tensor.append([rng.integers(info.min, info.max, size=tensor.shape, endpoint=True, dtype=tensor.dtype)
                           for _ in range(count)])
    return [list(arrays) for arrays in zip(*per_tensor)]


# Float outputs agree with TFLM's when every element is within FLOAT_RTOL * max|TFLM's output| +
# FLOAT_ATOL of TFLM's (NaN where TFLM has NaN, the same infinities). Our float kernels use TFLM's operation
# order and the same single-precision roundings (no fused multiply-add), so on the host, with the same C
# library as the TFLM wheel, they are bit-exact. The tolerance covers the board's C library: newlib's expf
# on single-precision FPUs (F446, F746) is its older float algorithm, up to 2 ulps from glibc's (SOFTMAX,
# LOGISTIC); on the F767's double-precision FPU newlib's expf is glibc's algorithm and results match.
FLOAT_RTOL = 1e-5
FLOAT_ATOL = 1e-6


def outputs_agree(ours: bytes, theirs: bytes, tensor: Tensor) -> tuple[bool, float]:
    """THE rule for "our output is TFLM's": integer outputs must be the same bytes; float32 outputs must be
    within the tolerance above. Returns (agree, max |ours - theirs|) — the difference in the output's own
    units (0.0 when identical; inf when sizes, NaNs or infinities disagree)."""
    if len(ours) != len(theirs):
        return False, float("inf")
    if np.dtype(tensor.dtype) != np.float32:
        if ours == theirs:
            return True, 0.0
        a = np.frombuffer(ours, tensor.dtype).astype(np.int64)
        b = np.frombuffer(theirs, tensor.dtype).astype(np.int64)
        return False, float(np.max(np.abs(a - b)))
    if ours == theirs:
        return True, 0.0
    a = np.frombuffer(ours, np.float32).astype(np.float64)
    b = np.frombuffer(theirs, np.float32).astype(np.float64)
    nan_a, nan_b = np.isnan(a), np.isnan(b)
    inf_a, inf_b = np.isinf(a), np.isinf(b)
    if np.any(nan_a != nan_b) or np.any(inf_a != inf_b) or np.any(a[inf_a] != b[inf_b]):
        return False, float("inf")
    finite = ~(nan_a | inf_a)
    if not finite.any():
        return True, 0.0
    diff = float(np.max(np.abs(a[finite] - b[finite])))
    bound = FLOAT_RTOL * float(np.max(np.abs(b[finite]))) + FLOAT_ATOL
    return diff <= bound, diff


def each_output_agrees(ours: Sequence[bytes], theirs: Sequence[bytes],
                       tensors: Sequence[Tensor]) -> list[tuple[bool, float]]:
    """outputs_agree for every output of a model, in the graph's order: the model's output is TFLM's when
    each of them is. An output one side lacks disagrees (inf)."""
    n = min(len(ours), len(theirs), len(tensors))
    return [outputs_agree(ours[k], theirs[k], tensors[k]) if k < n else (False, float("inf"))
            for k in range(max(len(ours), len(theirs), len(tensors)))]


@contextlib.contextmanager
def _c_stderr() -> Iterator[list[str]]:
    """What the wheel's C++ prints on the C stderr inside the block (its diagnostics bypass Python's
    sys.stderr), kept off the terminal: the list holds the text once the block is done."""
    text: list[str] = []
    with tempfile.TemporaryFile() as f:
        saved = os.dup(2)
        try:
            os.dup2(f.fileno(), 2)
            yield text
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        f.seek(0)
        text.append(f.read().decode(errors="replace"))


class TflmReference:
    def __init__(self, model_path: Path):
        from tflite_micro import runtime   # heavy import, only when a reference is needed
        # The wheel's default arena is 10x the file size: too small for a small model with large activations.
        size = Path(model_path).stat().st_size
        self._interp = runtime.Interpreter.from_file(str(model_path), arena_size=max(10 * size, 1 << 20))
        # How many inputs and outputs TFLM itself sees (not our parser's count): the wheel has no count, so
        # the index past the last is the one its details refuse (and it prints why, kept off the terminal).
        self.n_inputs = self._count(self._interp.get_input_details)
        self.n_outputs = self._count(self._interp.get_output_details)

    @staticmethod
    def _count(details) -> int:
        n = 0
        with _c_stderr():
            while True:
                try:
                    details(n)
                except IndexError:
                    return n
                n += 1

    def run(self, xs: Sequence[np.ndarray]) -> list[bytes]:
        """One inference on a model input (one array per input tensor, as random_inputs gives): every
        output tensor's bytes, in the graph's order."""
        if len(xs) != self.n_inputs:
            raise ValueError(f"the model takes {self.n_inputs} input tensor(s); {len(xs)} given")
        for i, x in enumerate(xs):
            self._interp.set_input(x, i)
        self._interp.invoke()
        return [self._interp.get_output(k).tobytes() for k in range(self.n_outputs)]


def tflm_arena(model_path: Path) -> dict[str, int]:
    """TFLM's own arena figures (RecordingMicroAllocator): `total`, `head` (the planned, non-persistent
    tensors) and `tail` (persistent: tensor metadata, node structs, kernel buffers). The wheel prints
    them on the C stderr only, so the file descriptor is captured."""
    import re

    from tflite_micro import runtime
    interp = runtime.Interpreter.from_file(str(model_path))
    with _c_stderr() as said:
        interp.print_allocations()
    text = said[0]
    figures = dict(re.findall(r"Arena allocation (total|head|tail) (\d+) bytes", text))
    if len(figures) != 3:
        raise RuntimeError(f"cannot read TFLM's arena figures from: {text[:300]!r}")
    return {k: int(v) for k, v in figures.items()}
