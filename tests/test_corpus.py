"""Issue 18's test corpus: the small models the project generates itself (harness/zoo_gen.py, `corpus = true`
in models/zoo.toml), one per blocker a corpus of public microcontroller models met: a uint8-I/O image
classifier, Keras' dynamic reshape (SHAPE -> STRIDED_SLICE -> PACK -> RESHAPE), a clip written as MAXIMUM /
MINIMUM, a TRANSPOSE, an LSTM keyword model, two outputs. Each model still has its blocker (read by TFLite's
own interpreter, not by our loader), and on every board it is what `harness check` makes of it: bit-exact
with TFLM on the seeded and the real inputs of its task, or an honest no-fit (a measured shortfall)."""
import numpy as np
import pytest

from harness import registry
from harness.board import available_boards
from harness.pytest_plugin import ZooCell

pytestmark = pytest.mark.emulated

# What each model is in the corpus for: TFLite ops it must contain, the dtype of its input and outputs, and
# how many outputs it has (the table of issue 18).
BLOCKERS = {
    "gen_vww_uint8_xs": ({"QUANTIZE"}, np.uint8, 1),
    "gen_har_reshape_xs": ({"SHAPE", "STRIDED_SLICE", "PACK", "RESHAPE"}, np.int8, 1),
    "gen_kws_clip_xs": ({"MAXIMUM", "MINIMUM"}, np.int8, 1),
    "gen_kws_transpose_xs": ({"TRANSPOSE"}, np.int8, 1),
    "gen_kws_lstm_xs": ({"UNIDIRECTIONAL_SEQUENCE_LSTM"}, np.int8, 1),
    "gen_vww_two_outputs_xs": (set(), np.int8, 2),
}
CORPUS = sorted(m.id for m in registry.load_zoo().values() if m.corpus)


def test_the_registry_holds_the_corpus():
    assert CORPUS == sorted(BLOCKERS)


@pytest.mark.parametrize("model", CORPUS)
def test_each_model_has_its_blocker(model):
    import tensorflow as tf
    ops, dtype, outputs = BLOCKERS[model]
    path = registry.resolve(model)[1]
    interpreter = tf.lite.Interpreter(model_path=str(path))
    assert ops <= {op["op_name"] for op in interpreter._get_ops_details()}
    assert [d["dtype"] for d in interpreter.get_input_details()] == [dtype]
    assert [d["dtype"] for d in interpreter.get_output_details()] == [dtype] * outputs


CELLS = [ZooCell(m, b, registry.load_zoo()[m].expected_to_fit(b)) for m in CORPUS for b in available_boards()]


@pytest.mark.parametrize("cell", [pytest.param(c, id=c.id, marks=pytest.mark.xdist_group(c.id)) for c in CELLS])
def test_bit_exact_or_no_fit(cell, harness_session):
    """The cell as `harness check` runs it (test_zoo's session cache: a cell test_zoo also selects runs once)."""
    v = harness_session.verdict(cell)
    assert v.status in ("pass", "no-fit"), "; ".join(v.reasons)
    if v.status == "no-fit":        # honest: the measured need is over the board's size
        assert any(r.used > r.size for r in v.fit.regions), v.reasons
        return
    assert v.inputs > 0 and v.mismatches == 0
    assert v.real_mismatches in (None, 0)
    assert len(v.outputs) == BLOCKERS[cell.model][2]
