"""Test helper for ops with variable tensors (SVDF's state, an LSTM's hidden and cell states): both sides
run the same sequence of inferences, and after each the outputs and every variable tensor are compared
(TFLM's interpreter keeps its tensors for GetTensor), so a state that drifts is caught before it shows
in an output."""
from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np

from harness.host_runtime import HostModel
from harness.plan.lower import lower
from harness.plan.model import load_model
from tflite_synth import tflm


def _draw(rng, tensor, quiet: bool) -> np.ndarray:
    """Integer inputs uniform over the type (every fourth a quiet one: a few units around the zero point);
    float32 inputs N(0, 1) (quiet: N(0, 0.01))."""
    shape = tensor.shape
    if np.dtype(tensor.dtype) == np.float32:
        return (rng.standard_normal(size=shape) * (0.01 if quiet else 1.0)).astype(np.float32)
    if quiet:
        return np.clip(tensor.zero_point + rng.integers(-3, 4, size=shape), -128, 127).astype(np.int8)
    return rng.integers(-128, 128, size=shape, dtype=np.int8)


def compare_with_state(path: Path, steps: int, seed: int) -> list[str]:
    """Runs `steps` inferences on both sides; returns what differed (outputs or state), in order."""
    low = lower(load_model(path))
    g = low.graph
    host = HostModel(low)
    ref = tflm(path, preserve_all_tensors=True)
    states = [t.index for t in g.tensors if t.is_variable]
    rng = np.random.default_rng(seed)
    problems = []
    for k in range(steps):
        x = _draw(rng, g.tensor(low.inputs[0]), quiet=k % 4 == 3)
        [ours] = host.run([x])
        ref.set_input(x, 0)
        ref.invoke()
        if ours != ref.get_output(0).tobytes():
            problems.append(f"step {k}: output differs")
        for v in states:
            t = g.tensor(v)
            mine = np.frombuffer(ctypes.string_at(host._arena + low.plan.offsets[v], t.nbytes), t.dtype)
            theirs = ref.GetTensor(v, 0)["tensor_data"].reshape(-1)
            if not np.array_equal(mine, theirs):
                i = int(np.flatnonzero(mine != theirs)[0])
                problems.append(f"step {k}: state {v} differs at {i}: ours {mine[i]} TFLM {theirs[i]}")
    return problems
