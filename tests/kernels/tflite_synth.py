"""Hand-built .tflite files for kernel tests the Keras converter cannot produce (SVDF with its variable
state, QUANTIZE between integer types, int8 -> int16 SOFTMAX, float -> int QUANTIZE with chosen scales).

Uses TensorFlow's own generated schema (object API) loaded straight from its file, so building a model
does not import TensorFlow. TFLM is still the reference: these files only describe a graph."""
from __future__ import annotations

import hashlib
import os
import importlib.util
from pathlib import Path

import flatbuffers
import numpy as np

from harness.build import CACHE

_schema = None


def schema():
    global _schema
    if _schema is None:
        spec = importlib.util.find_spec("tensorflow")
        if spec is None or not spec.submodule_search_locations:
            raise RuntimeError("tensorflow is not installed: its schema_py_generated.py builds the test models")
        path = Path(list(spec.submodule_search_locations)[0]) / "lite" / "python" / "schema_py_generated.py"
        mod_spec = importlib.util.spec_from_file_location("_tflite_schema_fb", path)
        mod = importlib.util.module_from_spec(mod_spec)
        mod_spec.loader.exec_module(mod)
        _schema = mod
    return _schema


_TYPES = {np.dtype(np.float32): 0, np.dtype(np.int32): 2, np.dtype(np.int8): 9, np.dtype(np.int16): 7,
          np.dtype(np.uint8): 3, np.dtype(np.int64): 4, np.dtype(np.bool_): 6}


class Synth:
    """A single-subgraph model under construction: add tensors and ops, then `save(inputs, outputs)`
    (the file is cached under build/sweep/synth by its content)."""

    def __init__(self) -> None:
        s = schema()
        self.s = s
        self.model = s.ModelT()
        self.model.version = 3
        self.model.buffers = [s.BufferT()]          # buffer 0: the empty sentinel
        self.model.operatorCodes = []
        self.graph = s.SubGraphT()
        self.graph.tensors, self.graph.operators = [], []
        self.model.subgraphs = [self.graph]
        self._codes: dict[int, int] = {}

    def tensor(self, shape, dtype, scale=None, zero_point=0, data=None, variable=False, name="") -> int:
        s = self.s
        t = s.TensorT()
        t.shape = list(shape)
        t.type = _TYPES[np.dtype(dtype)]
        t.name = name or f"t{len(self.graph.tensors)}"
        t.isVariable = variable
        if scale is not None:
            q = s.QuantizationParametersT()
            q.scale = [float(v) for v in np.atleast_1d(scale)]
            q.zeroPoint = [int(v) for v in np.atleast_1d(zero_point)]
            t.quantization = q
        if data is not None:
            b = s.BufferT()
            b.data = np.frombuffer(np.ascontiguousarray(data, dtype=dtype).tobytes(), np.uint8)
            self.model.buffers.append(b)
            t.buffer = len(self.model.buffers) - 1
        else:
            self.model.buffers.append(s.BufferT())   # converter style: one (empty) buffer per tensor
            t.buffer = len(self.model.buffers) - 1
        self.graph.tensors.append(t)
        return len(self.graph.tensors) - 1

    def op(self, name: str, inputs, outputs, options=None, code: int | None = None) -> None:
        """`code`: a builtin code of its own (e.g. one no schema names), instead of `name`'s."""
        s = self.s
        code = getattr(s.BuiltinOperator, name) if code is None else code
        if code not in self._codes:
            oc = s.OperatorCodeT()
            oc.builtinCode = code
            oc.deprecatedBuiltinCode = min(code, 127)
            oc.version = 1
            self.model.operatorCodes.append(oc)
            self._codes[code] = len(self.model.operatorCodes) - 1
        o = s.OperatorT()
        o.opcodeIndex = self._codes[code]
        o.inputs, o.outputs = list(inputs), list(outputs)
        if options is not None:
            o.builtinOptionsType = getattr(s.BuiltinOptions, type(options).__name__[:-1])
            o.builtinOptions = options
        self.graph.operators.append(o)

    def options(self, cls_name: str, **fields):
        opts = getattr(self.s, cls_name + "T")()
        for k, v in fields.items():
            setattr(opts, k, v)
        return opts

    def save(self, inputs, outputs) -> Path:
        self.graph.inputs, self.graph.outputs = list(inputs), list(outputs)
        b = flatbuffers.Builder(1024)
        b.Finish(self.model.Pack(b), file_identifier=b"TFL3")
        data = bytes(b.Output())
        out = CACHE / "sweep" / "synth" / f"{hashlib.sha256(data).hexdigest()[:16]}.tflite"
        if not out.is_file():
            out.parent.mkdir(parents=True, exist_ok=True)
            tmp = out.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_bytes(data)
            tmp.replace(out)
        return out


def tflm(path: Path, preserve_all_tensors: bool = False):
    """TFLM's interpreter with an arena big enough for these tiny files (its default, 10x the file size,
    is not: SVDF's scratch alone can exceed it)."""
    from tflite_micro import runtime
    config = (runtime.InterpreterConfig.kPreserveAllTensors if preserve_all_tensors
              else runtime.InterpreterConfig.kAllocationRecording)
    return runtime.Interpreter.from_file(str(path), arena_size=max(10 * path.stat().st_size, 1 << 20),
                                         intrepreter_config=config)


def compare(path: Path, xs) -> tuple[int, str]:
    """Runs the inputs (arrays of a one-input model's input) in order through our host build and TFLM;
    (inputs whose outputs differ, first diff). Both sides see the same sequence, so variable tensors (SVDF
    state) evolve alike."""
    from harness.host_runtime import HostModel
    from harness.plan.lower import lower
    from harness.plan.model import load_model

    low = lower(load_model(path))
    host, ref = HostModel(low), tflm(path)
    bad, first = 0, ""
    for k, x in enumerate(xs):
        [ours] = host.run([x])
        ref.set_input(x, 0)
        ref.invoke()
        theirs = ref.get_output(0).tobytes()
        if ours != theirs:
            bad += 1
            if not first:
                i = next(j for j in range(len(ours)) if ours[j] != theirs[j])
                first = f"input {k}: first differing byte {i}: ours {ours[i]} TFLM {theirs[i]}"
    return bad, first
