"""The reference: the real TFLM interpreter (PyPI tflite-micro) on the host, and the seeded inputs fed to
both it and the board."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from harness.plan.model import Tensor


def random_inputs(tensor: Tensor, count: int, seed: int) -> list[np.ndarray]:
    """Uniform over the tensor's whole integer range: every code path of the requantization is reached."""
    rng = np.random.default_rng(seed)
    info = np.iinfo(tensor.dtype)
    return [rng.integers(info.min, info.max, size=tensor.shape, endpoint=True, dtype=tensor.dtype)
            for _ in range(count)]


class TflmReference:
    def __init__(self, model_path: Path):
        from tflite_micro import runtime   # heavy import, only when a reference is needed
        self._interp = runtime.Interpreter.from_file(str(model_path))

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
