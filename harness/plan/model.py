"""Read a .tflite flatbuffer (with the kept `tflite` reader) into a small, validated graph."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tflite
from tflite.BuiltinOperator import BuiltinOperator
from tflite.TensorType import TensorType

from harness.errors import HarnessError

OP_NAMES = {v: k for k, v in vars(BuiltinOperator).items() if not k.startswith("_")}
_DTYPES = {
    TensorType.INT8: np.int8, TensorType.UINT8: np.uint8, TensorType.INT16: np.int16,
    TensorType.INT32: np.int32, TensorType.FLOAT32: np.float32, TensorType.INT64: np.int64,
    TensorType.BOOL: np.bool_,
}
TYPE_NAMES = {v: k for k, v in vars(TensorType).items() if not k.startswith("_")}


class ModelError(HarnessError):
    """The .tflite file is unreadable or uses something we cannot run; the message names the tensor or op."""


class NotAModel(ModelError):
    """The file is no TFLite model at all (absent, another format, truncated): refused where it is named,
    whereas a readable model our runtime cannot run is a cell's `unsupported` verdict."""


@dataclass
class Tensor:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: np.dtype
    scales: np.ndarray            # float32, empty if not quantized
    zero_points: np.ndarray       # int64
    quantized_dim: int
    data: np.ndarray | None       # constant tensors only
    is_variable: bool = False     # keeps its value across invocations (e.g. SVDF state)

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * np.dtype(self.dtype).itemsize

    @property
    def is_constant(self) -> bool:
        return self.data is not None

    @property
    def scale(self) -> float:
        if self.scales.size == 0:
            raise ModelError(f"tensor {self.name!r} is not quantized")
        return float(self.scales[0])

    @property
    def zero_point(self) -> int:
        return int(self.zero_points[0]) if self.zero_points.size else 0


@dataclass
class Op:
    index: int
    name: str                     # builtin op name, e.g. FULLY_CONNECTED
    inputs: list[int]             # tensor indices, -1 for an absent optional input
    outputs: list[int]
    options: object | None        # the tflite *Options table, already typed
    # Explicit (top, left) padding instead of the options' SAME/VALID: a tile of a patch-based plan
    # (harness/plan/patch.py) pads only where it touches the image's border.
    pads: tuple[int, int] | None = None


@dataclass
class Graph:
    path: Path
    tensors: list[Tensor]
    ops: list[Op]
    inputs: list[int]
    outputs: list[int]
    size_bytes: int
    description: str = ""
    op_names: list[str] = field(default_factory=list)

    def tensor(self, i: int) -> Tensor:
        return self.tensors[i]


def _options(op, code: int):
    table = op.BuiltinOptions()
    if table is None:
        return None
    name = OP_NAMES.get(code, "")
    cls_name = "".join(part.capitalize() for part in name.split("_")) + "Options"
    cls_name = {"Conv2dOptions": "Conv2DOptions", "DepthwiseConv2dOptions": "DepthwiseConv2DOptions",
                "AveragePool2dOptions": "Pool2DOptions", "MaxPool2dOptions": "Pool2DOptions",
                "MeanOptions": "ReducerOptions", "Padv2Options": "PadV2Options",
                "SvdfOptions": "SVDFOptions",
                "UnidirectionalSequenceLstmOptions": "UnidirectionalSequenceLSTMOptions"}.get(cls_name, cls_name)
    cls = getattr(tflite, cls_name, None)
    if cls is None:
        return None
    opts = cls()
    opts.Init(table.Bytes, table.Pos)
    return opts


def load_model(path: str | Path) -> Graph:
    path = Path(path)
    if not path.is_file():
        raise NotAModel(f"no model file at {path}")
    buf = path.read_bytes()
    if len(buf) < 8 or buf[4:8] != b"TFL3":
        raise NotAModel(f"{path}: not a TFLite flatbuffer (file identifier {buf[4:8]!r}, expected b'TFL3')")
    try:
        model = tflite.Model.GetRootAsModel(buf, 0)
        if model.Version() != 3:
            raise NotAModel(f"{path}: schema version {model.Version()}, expected 3")
        if model.SubgraphsLength() != 1:
            raise ModelError(f"{path}: {model.SubgraphsLength()} subgraphs; only single-subgraph models are supported")
        g = model.Subgraphs(0)
        codes = []
        for i in range(model.OperatorCodesLength()):
            oc = model.OperatorCodes(i)
            # Newer schemas keep codes > 127 in BuiltinCode, older ones in DeprecatedBuiltinCode.
            codes.append((max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode()), oc.CustomCode()))
        ops = []
        for i in range(g.OperatorsLength()):
            op = g.Operators(i)
            code, custom = codes[op.OpcodeIndex()]
            name = f"CUSTOM:{custom.decode()}" if code == BuiltinOperator.CUSTOM else OP_NAMES.get(code, f"OP{code}")
            ops.append(Op(i, name, list(op.InputsAsNumpy()) if op.InputsLength() else [],
                          list(op.OutputsAsNumpy()) if op.OutputsLength() else [],
                          None if code == BuiltinOperator.CUSTOM else _options(op, code)))
        custom_ops = sorted({op.name for op in ops if op.name.startswith("CUSTOM:")})
        if custom_ops:   # e.g. TFLM's signal library: named before anything else can fail
            raise ModelError(f"{path}: needs custom op(s) {', '.join(n[7:] for n in custom_ops)}, "
                             "which only TFLM's own op resolver provides; not supported")
        tensors = [_read_tensor(model, g.Tensors(i), i, path, len(buf)) for i in range(g.TensorsLength())]
        inputs = [int(x) for x in g.InputsAsNumpy()]
        outputs = [int(x) for x in g.OutputsAsNumpy()]
        desc = (model.Description() or b"").decode(errors="replace")
    except ModelError:
        raise
    except Exception as e:  # the flatbuffer reader raises bare struct/index errors on corrupt files
        raise NotAModel(f"{path}: corrupt or truncated flatbuffer ({type(e).__name__}: {e})") from None
    for op in ops:
        for t in op.inputs + op.outputs:
            if t >= len(tensors):
                raise ModelError(f"{path}: op {op.index} ({op.name}) names tensor {t}, but there are {len(tensors)}")
    return Graph(path, tensors, ops, inputs, outputs, len(buf), desc, [op.name for op in ops])


def _read_tensor(model, t, index: int, path: Path, file_size: int) -> Tensor:
    name = (t.Name() or b"").decode(errors="replace")
    if t.Type() not in _DTYPES:
        raise ModelError(f"{path}: tensor {index} {name!r} has type {TYPE_NAMES.get(t.Type(), t.Type())}, not supported")
    dtype = np.dtype(_DTYPES[t.Type()])
    shape = tuple(int(d) for d in t.ShapeAsNumpy()) if t.ShapeLength() else ()
    if t.ShapeSignatureLength() and any(int(d) < 0 for d in t.ShapeSignatureAsNumpy()[1:]):
        raise ModelError(f"{path}: tensor {index} {name!r} has a dynamic shape {list(t.ShapeSignatureAsNumpy())}")
    if any(d < 0 for d in shape):
        raise ModelError(f"{path}: tensor {index} {name!r} has a dynamic shape {list(shape)}")
    q = t.Quantization()
    scales = np.asarray(q.ScaleAsNumpy(), np.float32) if q is not None and q.ScaleLength() else np.zeros(0, np.float32)
    zps = np.asarray(q.ZeroPointAsNumpy(), np.int64) if q is not None and q.ZeroPointLength() else np.zeros(0, np.int64)
    qdim = q.QuantizedDimension() if q is not None else 0
    data = None
    if t.Buffer() >= model.BuffersLength():
        raise ModelError(f"{path}: tensor {index} {name!r} refers to missing buffer {t.Buffer()}")
    b = model.Buffers(t.Buffer())
    if b is not None and b.Offset() > 1:   # large models keep buffers after the flatbuffer
        raise ModelError(f"{path}: tensor {index} {name!r} uses an external buffer; not supported")
    if b is not None and b.DataLength():
        raw = b.DataAsNumpy().tobytes()
        expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if len(raw) != expected:
            raise ModelError(f"{path}: tensor {index} {name!r}: buffer has {len(raw)} bytes, shape {list(shape)} "
                             f"of {dtype} needs {expected}")
        data = np.frombuffer(raw, dtype=dtype).reshape(shape)
    return Tensor(index, name, shape, dtype, scales, zps, qdim, data, bool(t.IsVariable()))
