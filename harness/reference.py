"""The reference: the real TFLM interpreter (PyPI tflite-micro) on the host, and the seeded inputs fed to
both it and the board."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from harness.plan.model import Tensor


def random_inputs(tensor: Tensor, count: int, seed: int) -> list[np.ndarray]:
    """Integer tensors: uniform over the whole integer range, so every code path of the requantization is
    reached. float32 tensors: independent standard normal values N(0, 1), drawn in double from the same
    seeded generator and rounded to float32."""
    rng = np.random.default_rng(seed)
    if np.dtype(tensor.dtype) == np.float32:
        return [rng.standard_normal(size=tensor.shape).astype(np.float32) for _ in range(count)]
    info = np.iinfo(tensor.dtype)
    return [rng.integers(info.min, info.max, size=tensor.shape, endpoint=True, dtype=tensor.dtype)
            for _ in range(count)]


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


class TflmReference:
    def __init__(self, model_path: Path):
        from tflite_micro import runtime   # heavy import, only when a reference is needed
        # The wheel's default arena is 10x the file size: too small for a small model with large activations.
        size = Path(model_path).stat().st_size
        self._interp = runtime.Interpreter.from_file(str(model_path), arena_size=max(10 * size, 1 << 20))

    def run(self, x: np.ndarray) -> bytes:
        self._interp.set_input(x, 0)
        self._interp.invoke()
        return self._interp.get_output(0).tobytes()


def tflm_arena(model_path: Path) -> dict[str, int]:
    """TFLM's own arena figures (RecordingMicroAllocator): `total`, `head` (the planned, non-persistent
    tensors) and `tail` (persistent: tensor metadata, node structs, kernel buffers). The wheel prints
    them on the C stderr only, so the file descriptor is captured."""
    import os
    import re
    import tempfile

    from tflite_micro import runtime
    interp = runtime.Interpreter.from_file(str(model_path))
    with tempfile.TemporaryFile() as f:
        saved = os.dup(2)
        try:
            os.dup2(f.fileno(), 2)
            interp.print_allocations()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        f.seek(0)
        text = f.read().decode(errors="replace")
    figures = dict(re.findall(r"Arena allocation (total|head|tail) (\d+) bytes", text))
    if len(figures) != 3:
        raise RuntimeError(f"cannot read TFLM's arena figures from: {text[:300]!r}")
    return {k: int(v) for k, v in figures.items()}
