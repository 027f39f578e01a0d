"""Models with several input or output tensors, end to end: a shared trunk with two heads of different
sizes and quantization (two outputs), and three inputs of different shapes and quantization joined by an
ADD and a CONCATENATION (the second input first read late in the graph). Every input is loaded (the
firmware splits one download in the graph's input order) and every output compared with TFLM's byte for
byte: on the host build, on the emulated M4 and M7, and through `harness check`; `harness runtime` runs
them with no blocker."""
import json

import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.host_runtime import HostModel
from harness.plan.lower import lower
from harness.plan.model import load_model
from harness.sweep import _compare, compare_on_host
from harness.tfgen import convert
from on_board import BOARDS, board_mismatches


def _two_outputs(tf):
    """Trunk conv -> head A: global average (MEAN), Dense, softmax (1x5); head B: 1x1 conv with tanh
    (1x6x6x3): two outputs of different sizes, scales and zero points."""
    L = tf.keras.layers
    x = tf.keras.Input(shape=(6, 6, 3), batch_size=1)
    h = L.Conv2D(8, 3, padding="same", activation="relu")(x)
    a = L.Softmax()(L.Dense(5)(L.GlobalAveragePooling2D()(h)))
    b = L.Conv2D(3, 1, activation="tanh")(h)
    return tf.keras.Model(x, [a, b])


def _several_inputs(tf):
    """Three inputs of different shapes: an image (6x6x3) through a conv, ADDed to a second image input
    (6x6x4), so that input is first read after the conv; pooled, flattened and CONCATENATEd with a Dense
    of a vector input (10); a Dense of 4 out."""
    L = tf.keras.layers
    img = tf.keras.Input(shape=(6, 6, 3), batch_size=1, name="img")
    side = tf.keras.Input(shape=(6, 6, 4), batch_size=1, name="side")
    vec = tf.keras.Input(shape=(10,), batch_size=1, name="vec")
    y = L.Add()([L.Conv2D(4, 3, padding="same")(img), side])
    z = L.Concatenate()([L.Flatten()(L.AveragePooling2D(3)(y)), L.Dense(6, activation="relu")(vec)])
    return tf.keras.Model([img, side, vec], L.Dense(4)(z))


@pytest.fixture(scope="module")
def models():
    return {"two_outputs": convert(_two_outputs, "multi_io/v1/two_outputs", folder="sweep"),
            "several_inputs": convert(_several_inputs, "multi_io/v1/several_inputs", folder="sweep")}


def test_the_models_have_several_inputs_or_outputs(models):
    """What the cases are about: two outputs of different sizes and quantization; three inputs of
    different sizes and quantization."""
    g = load_model(models["two_outputs"])
    outs = [g.tensor(t) for t in g.outputs]
    assert len(g.inputs) == 1 and len(outs) == 2
    assert outs[0].nbytes != outs[1].nbytes
    assert (outs[0].scale, outs[0].zero_point) != (outs[1].scale, outs[1].zero_point)
    g = load_model(models["several_inputs"])
    ins = [g.tensor(t) for t in g.inputs]
    assert len(ins) == 3 and len(g.outputs) == 1
    assert len({t.nbytes for t in ins}) == 3 and len({(t.scale, t.zero_point) for t in ins}) == 3


@pytest.mark.parametrize("name", ["two_outputs", "several_inputs"])
def test_bit_exact_on_host(name, models):
    r = compare_on_host(models[name], inputs=8, key=name)
    assert (r.mismatches, r.bit_exact) == (0, True), r.first_diff


def test_every_output_is_compared(models):
    """A fault in the second output only (its softmax given another input multiplier) is found, and named
    as output 1: the comparison does not stop at the first output."""
    path = models["two_outputs"]
    low = lower(load_model(path))
    last = next(c for c in low.calls if low.outputs[1] in c.op.outputs)
    assert last.kernel == "tm_softmax_s8"
    last.fields["input_multiplier"] = int(last.fields["input_multiplier"] * 0.9)
    r = _compare(low, path, HostModel(low, "faulty").run, 4, 0, "faulty", ())
    assert r.mismatches == 4 and r.first_diff.startswith("output 1: "), r.first_diff


@pytest.mark.emulated
@pytest.mark.parametrize("board", BOARDS)
@pytest.mark.parametrize("name", ["two_outputs", "several_inputs"])
def test_bit_exact_on_emulated_board(name, board, models):
    assert board_mismatches(models[name], board, f"multi-io-{name}") == (0, 0)


@pytest.mark.emulated
def test_check_passes_with_every_output_compared(models):
    r = CliRunner().invoke(app, ["check", "--board", "nucleo_f446re", "--model", str(models["two_outputs"]),
                                 "--inputs", "3", "--json"])
    assert r.exit_code == 0, r.output
    (cell,) = json.loads(r.stdout)
    assert cell["status"] == "pass" and cell["bit_exact"] is True, cell["reasons"]
    assert len(cell["outputs"]) == 2 and cell["output_mismatches"] == [0, 0]


def test_runtime_lists_no_blocker(models):
    for name in ("two_outputs", "several_inputs"):
        r = CliRunner().invoke(app, ["runtime", "-m", str(models[name]), "--inputs", "2"])
        assert r.exit_code == 0, r.output
        assert "output(s)" not in r.output and "bit-exact" in r.output
