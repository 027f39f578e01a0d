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
