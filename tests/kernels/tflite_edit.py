"""Test helper: a copy of a .tflite file with one tensor's quantization changed in place (same size, so
the flatbuffer stays valid). It builds the cases the converter never emits (e.g. CONCATENATION inputs with
their own scales, MEAN with equal input and output scales) so TFLM itself shows what it does with them."""
from __future__ import annotations

import struct
from pathlib import Path

import tflite


def _vector_start(table, field_offset: int) -> int | None:
    o = table._tab.Offset(field_offset)
    return table._tab.Vector(o) if o else None


def tensor_index(path: Path, name_part: str = "", *, op: str | None = None, which: str = "inputs",
                 k: int = 0) -> int:
    """A tensor by (part of) its name, or the k-th input/output of the first op of type `op`."""
    from harness.plan.model import load_model
    g = load_model(path)
    if op is not None:
        o = next(o for o in g.ops if o.name == op)
        return int(getattr(o, which)[k])
    return next(t.index for t in g.tensors if name_part in t.name)


def with_quantization(src: Path, dst: Path, tensor: int, *, scale: float | None = None,
                      zero_point: int | None = None) -> Path:
    """Write `src` to `dst` with tensor `tensor`'s (per-tensor) scale and/or zero point replaced."""
    buf = bytearray(src.read_bytes())
    model = tflite.Model.GetRootAsModel(buf, 0)
    q = model.Subgraphs(0).Tensors(tensor).Quantization()
    if scale is not None:
        pos = _vector_start(q, 8)
        struct.pack_into("<f", buf, pos, scale)
    if zero_point is not None:
        pos = _vector_start(q, 10)
        struct.pack_into("<q", buf, pos, zero_point)
    dst.write_bytes(bytes(buf))
    return dst
