"""What the MLPerf Tiny runner expects of a DUT running one of the four benchmark models: the id `profile`
names (the registry's `mlperf` field says which model is which benchmark), the format of the bytes the
runner downloads for it, and the result it prints. The firmware stays generic: these facts go into the
model image (harness/plan/emit.py), the conversions are done on the board (firmware/src/db.c, results.c).

Wire formats, as the reference DUTs (mlcommons/tiny benchmark/reference_submissions) read them:
kws01 int8 MFCC features (the input tensor's own bytes), vww01 and ic01 uint8 pixels, ad01 float32
log-mel features, quantized on the board with the input's scale and zero point; ad01's result is the mean
squared error of the dequantized output against those features, not the output itself."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.plan.model import ModelError, Tensor

WIRE = {"kws01": None, "vww01": np.uint8, "ic01": np.uint8, "ad01": np.float32}   # None: the input's dtype
MSE_RESULT = {"ad01"}


@dataclass(frozen=True)
class DutIO:
    name: str             # what `profile` answers in m-model-[...]
    wire: np.dtype        # element type of the downloaded bytes
    wire_bytes: int       # a complete download
    mse: bool             # the result is the reconstruction error, one number


def benchmark_of(model_id: str) -> str | None:
    from harness.registry import load_zoo
    entry = load_zoo().get(model_id)
    return entry.mlperf if entry is not None else None


def dut_io(model_id: str, inputs: list[Tensor], outputs: list[Tensor]) -> DutIO:
    """The model's DUT behaviour, from its input and output tensors in the graph's order; a model that is
    no benchmark takes its input tensors' own bytes, one after the other (`wire` is the first's type). A
    benchmark model whose input the benchmark's format cannot feed is refused, with the reason: a
    benchmark downloads one input tensor, and its result is of the first output."""
    bench = benchmark_of(model_id)
    if bench is None:
        return DutIO(model_id, np.dtype(inputs[0].dtype), sum(t.nbytes for t in inputs), False)
    if bench not in WIRE:
        raise ModelError(f"{model_id}: unknown MLPerf Tiny benchmark {bench!r} (known: {', '.join(WIRE)})")
    if len(inputs) != 1:
        raise ModelError(f"{model_id}: {bench} downloads one input; the model has {len(inputs)}")
    inp, out = inputs[0], outputs[0]
    have = np.dtype(inp.dtype)
    count = inp.nbytes // have.itemsize
    wire = have if WIRE[bench] is None else np.dtype(WIRE[bench])
    # the conversions firmware/src/db.c knows: pixels to int8 (minus 128) or float32 (the value), floats
    # quantized to int8/int16 with the input's parameters, or the bytes as they are
    known = wire == have or (wire == np.uint8 and have in (np.int8, np.float32)) or \
        (wire == np.float32 and have in (np.int8, np.int16) and inp.scales.size == 1)
    if not known:
        raise ModelError(f"{model_id}: {bench} sends {wire} values; the model's input is {have}"
                         f"{' quantized per channel' if inp.scales.size > 1 else ''}")
    mse = bench in MSE_RESULT
    if mse and (wire != np.float32 or out.nbytes // np.dtype(out.dtype).itemsize != count):
        raise ModelError(f"{model_id}: {bench}'s reconstruction error needs a float32 download and an output "
                         f"of the input's {count} elements")
    return DutIO(bench, wire, count * wire.itemsize, mse)
