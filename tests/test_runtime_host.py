"""Our runtime's C, built for the host, gives TFLM's bytes; the planner's arena is sound."""
import numpy as np
import pytest

from conftest import shared_model
from harness.host_runtime import HostModel
from harness.plan.lower import lower
from harness.plan.model import ModelError, load_model
from harness.reference import TflmReference, random_inputs


def _bit_exact(path, n=20):
    low = lower(load_model(path))
    host, ref = HostModel(low), TflmReference(path)
    xs = random_inputs(low.graph.tensor(low.input), n, seed=1)
    return sum(host.run(x) == ref.run(x) for x in xs), low


@pytest.mark.parametrize("rel", ["tflite-micro/hello_world_int8.tflite", "mlcommons-tiny/ad01_int8.tflite"])
def test_shared_models_bit_exact(rel):
    same, _ = _bit_exact(shared_model(rel))
    assert same == 20


def test_generated_model_bit_exact(generated_model):
    same, low = _bit_exact(generated_model)
    assert same == 20


def test_arena_plan_is_sound(generated_model):
    low = lower(load_model(generated_model))
    plan, g = low.plan, low.graph
    spans = {}
    for step, op in enumerate(g.ops):
        for t in op.inputs + op.outputs:
            if t >= 0 and not g.tensor(t).is_constant:
                a, b = spans.get(t, (step, step))
                spans[t] = (min(a, step), max(b, step))
    for t, (a, b) in spans.items():
        for u, (c, d) in spans.items():
            if t < u and a <= d and c <= b:        # live together: must not share bytes
                lo_t, lo_u = plan.offsets[t], plan.offsets[u]
                assert lo_t + g.tensor(t).nbytes <= lo_u or lo_u + g.tensor(u).nbytes <= lo_t
    assert plan.lower_bound <= plan.arena_bytes <= 1.1 * plan.lower_bound + 16 * len(spans)


def test_unsupported_op_is_named(tmp_path):
    """An op no lowering knows is refused by name before anything is built."""
    from harness.plan.ops import LOWERINGS
    graph = load_model(shared_model("mlcommons-tiny/ad01_int8.tflite"))
    graph.ops[3].name = "GATHER_ND"
    assert "GATHER_ND" not in LOWERINGS
    with pytest.raises(ModelError, match="unsupported op.*GATHER_ND"):
        lower(graph)


def test_float_model_is_refused_naming_the_op():
    with pytest.raises(ModelError, match=r"op 0 CONV_2D.*float32"):
        lower(load_model(shared_model("mlcommons-tiny/vww_96_float.tflite")))


def test_truncated_file_is_a_clear_error(tmp_path, generated_model):
    bad = tmp_path / "cut.tflite"
    bad.write_bytes(generated_model.read_bytes()[:2000])
    with pytest.raises(ModelError, match="cut.tflite"):
        lower(load_model(bad))


def test_not_a_tflite_file(tmp_path):
    bad = tmp_path / "x.tflite"
    bad.write_bytes(b"\x00" * 64)
    with pytest.raises(ModelError, match="not a TFLite flatbuffer"):
        load_model(bad)


def test_custom_signal_ops_are_named():
    path = shared_model("tflite-micro/audio_preprocessor_int8.tflite")
    with pytest.raises(ModelError, match="custom op.*SignalFilterBank"):
        load_model(path)
