"""Our runtime's C, built for the host, gives TFLM's bytes; the planner's arena is sound."""
import pytest

from conftest import shared_model
from harness.host_runtime import HostModel
from harness.errors import HarnessError
from harness.plan.lower import lower, verify_plan
from harness.plan.model import ModelError, load_model
from harness.reference import TflmReference, random_inputs, tflm_arena


def _bit_exact(path, n=20):
    low = lower(load_model(path))
    host, ref = HostModel(low), TflmReference(path)
    xs = random_inputs(low.input_tensors, n, seed=1)
    return sum(host.run(x) == ref.run(x) for x in xs), low


@pytest.mark.parametrize("rel", ["tflite-micro/hello_world_int8.tflite", "mlcommons-tiny/ad01_int8.tflite"])
def test_shared_models_bit_exact(rel):
    same, _ = _bit_exact(shared_model(rel))
    assert same == 20


def test_generated_model_bit_exact(generated_model):
    same, low = _bit_exact(generated_model)
    assert same == 20


def test_a_broken_plan_is_caught(generated_model):
    """verify_plan (run on every lowering) re-derives lifetimes itself: two live tensors at one offset fail."""
    low = lower(load_model(generated_model))
    t_in, first_out = low.inputs[0], low.calls[0].op.outputs[0]
    low.plan.offsets[first_out] = low.plan.offsets[t_in]
    with pytest.raises(HarnessError, match="overlaps"):
        verify_plan(low)


def test_unsupported_op_is_named(tmp_path):
    """An op no lowering knows is refused by name before anything is built."""
    from harness.plan.ops import LOWERINGS
    graph = load_model(shared_model("mlcommons-tiny/ad01_int8.tflite"))
    graph.ops[3].name = "GATHER_ND"
    assert "GATHER_ND" not in LOWERINGS
    with pytest.raises(ModelError, match="unsupported op.*GATHER_ND"):
        lower(graph)


def test_hybrid_model_is_refused_naming_the_op():
    """Float activations with int8 conv weights: TFLM refuses these ("Hybrid models are not supported"), so
    do we (float32 models are supported: tests/kernels/test_float.py)."""
    with pytest.raises(ModelError, match=r"op 0 CONV_2D.*hybrid"):
        lower(load_model(shared_model("mlcommons-tiny/kws_ref_model_float32.tflite")))


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


SHARED_INT8 = ["ml-zoo/kws_micronet_s.tflite", "ml-zoo/kws_micronet_m.tflite", "ml-zoo/ad_small_int8.tflite",
               "ml-zoo/ad_large_int8.tflite", "ml-zoo/ds_cnn_s_quantized.tflite", "ml-zoo/ds_cnn_m_quantized.tflite",
               "ml-zoo/ds_cnn_l_quantized.tflite", "ml-zoo/vww2_50_50_INT8.tflite", "ml-zoo/vww3_128_128_INT8.tflite",
               "mlcommons-tiny/ad01_int8.tflite", "mlcommons-tiny/kws_ref_model.tflite",
               "mlcommons-tiny/vww_96_int8.tflite", "tflite-micro/person_detect.tflite",
               "tflite-micro/micro_speech_quantized.tflite", "tflite-micro/hello_world_int8.tflite",
               "tflite-micro/keyword_scrambled.tflite", "tflite-micro/keyword_scrambled_8bit.tflite"]


@pytest.mark.parametrize("rel", SHARED_INT8, ids=lambda r: r.split("/")[1].removesuffix(".tflite"))
def test_arena_within_tflm_and_lower_bound(rel):
    """Our arena against TFLM's (its RecordingMicroAllocator; we hold SVDF state in the arena, TFLM in
    its persistent tail, so the comparison is with TFLM's head + the state we keep) and the liveness bound."""
    path = shared_model(rel)
    low = lower(load_model(path))
    tflm = tflm_arena(path)
    state = sum((t.nbytes + 1 + 15) // 16 * 16 for t in low.graph.tensors if t.is_variable)
    assert low.plan.arena_bytes <= tflm["head"] + state
    assert low.plan.arena_bytes <= tflm["total"]
    assert low.plan.lower_bound <= low.plan.arena_bytes <= 1.1 * low.plan.lower_bound


def test_runtime_markdown_replaces_only_the_table(tmp_path):
    """`harness runtime --markdown FILE` on a file with prose around its table (docs/runtime-table.md):
    the prose stays byte for byte, the table is the new one."""
    from harness import runtime_table
    row = runtime_table.Row(model="m", ops="ADD", status="bit-exact (1/1)", arena=16, lower_bound=16,
                            tflm_arena=32, tflm_head=16, image_bytes=8, tflite_bytes=900)
    page = tmp_path / "table.md"
    before, after = "# Coverage\n\nwhy the table says what it says\n\n", "\nnotes after the table\n"
    page.write_text(before + runtime_table.HEADER + "\n|---|\n| old | row |\n" + after)
    runtime_table.write_markdown(page, [row])
    assert page.read_text() == before + runtime_table.markdown([row]) + after
    fresh = tmp_path / "new.md"
    runtime_table.write_markdown(fresh, [row])
    assert fresh.read_text() == runtime_table.markdown([row])
    assert "| m | ADD | bit-exact (1/1) | 16 | 16 | 32 (16) | 8 | 900 |" in fresh.read_text()
