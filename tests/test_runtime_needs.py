"""`harness runtime -m MODEL` says what a model needs before anything is built (harness/plan/needs.py):
every op with its dtype case and whether the runtime runs, folds, aliases or lacks it, for any model
TFLite can load (uint8 I/O, an op we lack, two outputs, an LSTM's three subgraphs, float16 weights, a
builtin code no schema we read names), never a traceback; exit 3 when the model needs what the runtime
lacks, with nothing built.

The op list and dtype cases are checked against the TFLite interpreter's own reading of each model."""
from __future__ import annotations

import hashlib
import sys
from collections import Counter

import numpy as np
import pytest

from harness import cli
from harness.build import CACHE
from harness.plan.needs import FOLDED, MISSING, RUNS, UNCHECKED, assess
from harness.tfgen import _tf, _write, convert


def _transpose(tf):
    x = tf.keras.Input(shape=(4, 6, 3), batch_size=1)
    y = tf.keras.layers.Conv2D(4, 3, padding="same")(x)
    return tf.keras.Model(x, tf.keras.layers.Permute((2, 1, 3))(y))


def _depth_to_space(tf):
    """A conv, then an op the runtime has no kernel for."""
    x = tf.keras.Input(shape=(4, 6, 3), batch_size=1)
    y = tf.keras.layers.Conv2D(4, 3, padding="same")(x)
    return tf.keras.Model(x, tf.keras.layers.Lambda(lambda t: tf.nn.depth_to_space(t, 2))(y))


def _two_outputs(tf):
    x = tf.keras.Input(shape=(10,), batch_size=1)
    h = tf.keras.layers.Dense(8, activation="relu")(x)
    return tf.keras.Model(x, [tf.keras.layers.Dense(3)(h), tf.keras.layers.Dense(2)(h)])


def _lstm(tf):
    x = tf.keras.Input(shape=(8, 5), batch_size=1)
    return tf.keras.Model(x, tf.keras.layers.Dense(3)(tf.keras.layers.LSTM(6)(x)))


def _float16_weights():
    """A conv with float16 weights (the converter's float16 quantization): DEQUANTIZE float16 -> float32."""
    out = CACHE / "sweep" / "needs" / f"{hashlib.sha256(b'float16-conv-v1').hexdigest()[:16]}.tflite"
    if out.is_file():
        return out
    tf = _tf()
    tf.keras.utils.set_random_seed(3)
    x = tf.keras.Input(shape=(6, 6, 2), batch_size=1)
    conv = tf.lite.TFLiteConverter.from_keras_model(tf.keras.Model(x, tf.keras.layers.Conv2D(3, 3)(x)))
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.target_spec.supported_types = [tf.float16]
    return _write(out, conv.convert())


def _unknown_op():
    """A builtin code past every op our schema reader names (TFLite still reads the file)."""
    from kernels.tflite_synth import Synth
    s = Synth()
    x = s.tensor([1, 4], np.int8, scale=0.1, zero_point=0, name="x")
    y = s.tensor([1, 4], np.int8, scale=0.1, zero_point=0, name="y")
    s.op("", [x], [y], code=250)
    return s.save([x], [y])


@pytest.fixture(scope="module")
def models() -> dict:
    from kernels.test_dynamic_reshape import model as dynamic_reshape
    from kernels.test_uint8_io import uint8_io_model
    return {
        "transpose": convert(_transpose, "needs/v1/transpose", folder="sweep"),
        "depth_to_space": convert(_depth_to_space, "needs/v1/depth_to_space", folder="sweep"),
        "two_outputs": convert(_two_outputs, "needs/v1/two_outputs", folder="sweep"),
        "lstm": convert(_lstm, "needs/v1/lstm", folder="sweep", float32=True),
        "float16": _float16_weights(),
        "unknown_op": _unknown_op(),
        "uint8": uint8_io_model(),
        "dynamic_reshape": dynamic_reshape("keras"),
    }


def harness(argv: list[str], capsys, monkeypatch) -> tuple[int, str]:
    """`harness ARGV` through the console script's entry point; (exit status, stdout + stderr)."""
    monkeypatch.setattr(sys, "argv", ["harness", *argv])
    monkeypatch.setenv("COLUMNS", "400")          # one table row per line, to read it back
    code = 0
    try:
        cli.main()
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    got = capsys.readouterr()
    return code, got.out + got.err


@pytest.fixture
def nothing_built(monkeypatch):
    """Fails the test if the host runtime or a firmware image would be built."""
    def refuse(*a, **k):
        raise AssertionError("something was built")
    monkeypatch.setattr("harness.sweep.HostModel", refuse)
    monkeypatch.setattr("harness.build.build_firmware", refuse)


def tflite_ops(path) -> Counter:
    """(op name, input dtypes -> output dtypes) per op of the first subgraph, as the TFLite interpreter
    reads the model (no delegate, so every node is the model's own)."""
    tf = _tf()
    it = tf.lite.Interpreter(model_path=str(path), experimental_op_resolver_type=(
        tf.lite.experimental.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES))
    types = {t["index"]: np.dtype(t["dtype"]).name for t in it.get_tensor_details()}
    return Counter((op["op_name"], f"{', '.join(types[t] for t in op['inputs'] if t >= 0) or '-'} -> "
                                   f"{', '.join(types[t] for t in op['outputs']) or '-'}")
                   for op in it._get_ops_details())


@pytest.mark.parametrize("name", ["transpose", "two_outputs", "float16", "uint8", "dynamic_reshape"])
def test_the_ops_and_dtype_cases_are_tflites(name, models):
    ours = Counter()
    for n in assess(models[name]).needs:
        ours[(n.op, n.case.replace("const ", ""))] += n.count
    assert ours == tflite_ops(models[name])


def test_an_op_we_lack_is_named_and_nothing_is_built(models, capsys, monkeypatch, nothing_built):
    code, text = harness(["runtime", "-m", str(models["depth_to_space"]), "--inputs", "1"], capsys, monkeypatch)
    assert code == 3 and "Traceback" not in text, text
    assert "MISSING: no kernel for DEPTH_TO_SPACE" in text
    assert "lacks DEPTH_TO_SPACE" in text
    conv = next(ln for ln in text.splitlines() if "CONV_2D" in ln and "int8, const int8, const int32 -> int8" in ln)
    assert "runs: tm_conv2d_s8" in conv


def test_transpose_runs(models):
    """TRANSPOSE has a kernel (tests/kernels/test_transpose.py sweeps it against TFLM)."""
    needs = assess(models["transpose"])
    assert needs.runnable
    assert {n.detail for n in needs.needs if n.op == "TRANSPOSE"} == {"tm_transpose"}


@pytest.mark.parametrize("name,says", [
    ("lstm", "3 subgraphs; only single-subgraph models are supported"),
    ("float16", "has type FLOAT16, not supported"),
    ("unknown_op", "no kernel for OP250"),
])
def test_what_the_runtime_lacks_for_the_model_is_said(name, says, models, capsys, monkeypatch, nothing_built):
    code, text = harness(["runtime", "-m", str(models[name]), "--inputs", "1"], capsys, monkeypatch)
    assert code == 3 and "Traceback" not in text and "internal:" not in text, text
    assert says in text


def test_several_outputs_are_no_blocker(models):
    """Two output tensors: the runtime runs every output (tests/kernels/test_multi_io.py compares each)."""
    needs = assess(models["two_outputs"])
    assert needs.runnable and not needs.blockers


def test_a_model_of_several_subgraphs_lists_each_subgraphs_ops(models):
    needs = assess(models["lstm"])
    by_op = {n.op: n for n in needs.needs}
    assert by_op["WHILE (subgraph 0)"].status == MISSING
    assert {"LESS (subgraph 1)", "SPLIT (subgraph 2)", "TANH (subgraph 2)"} <= set(by_op)
    assert by_op["TANH (subgraph 2)"].status == UNCHECKED       # we have TANH, but the model is refused whole
    assert not needs.runnable


def test_needs_only_for_models_the_runtime_runs(models, capsys, monkeypatch, nothing_built):
    """--needs: the list and nothing else; uint8 I/O runs through the QUANTIZE kernels, the dynamic
    reshape's shape chain folds and its RESHAPEs alias."""
    code, text = harness(["runtime", "-m", str(models["uint8"]), "-m", str(models["dynamic_reshape"]), "--needs"],
                         capsys, monkeypatch)
    assert code == 0 and "Traceback" not in text, text
    lines = text.splitlines()
    assert any("QUANTIZE" in ln and "uint8 -> int8" in ln and "runs: tm_requantize_int" in ln for ln in lines)
    assert any("QUANTIZE" in ln and "int8 -> uint8" in ln and "runs: tm_requantize_int" in ln for ln in lines)
    for op in ("SHAPE", "STRIDED_SLICE", "PACK"):
        assert any(f"│ {op} " in ln and "folded" in ln for ln in lines), op
    assert any("│ RESHAPE " in ln and "aliased" in ln for ln in lines)
    needs = assess(models["dynamic_reshape"])
    assert needs.runnable and {n.status for n in needs.needs} == {RUNS, FOLDED, "aliased"}


def test_converting_a_model_prints_nothing(tmp_path):
    """TensorFlow's converter prints a SavedModel signature (Python) and its MLIR log (C++, on descriptor 2)
    for every model; `harness characterize` converts hundreds under a progress bar. A conversion in a
    fresh cache, in a process of its own: only the caller's own line comes out, on either stream."""
    import os
    import subprocess
    code = ("from harness.tfgen import convert\n"
            "def build(tf):\n"
            "    i = tf.keras.Input((8,))\n"
            "    return tf.keras.Model(i, tf.keras.layers.Dense(4)(i))\n"
            "print('made', convert(build, 'quiet', folder='quiet').is_file())\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "HARNESS_CACHE": str(tmp_path)})
    assert done.returncode == 0, done.stderr[-2000:]
    assert (done.stdout, done.stderr) == ("made True\n", "")
    assert len(list((tmp_path / "quiet").glob("*.tflite"))) == 1
