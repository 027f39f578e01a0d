"""SVDF (integer: int8 activations, int16 or int8 state) against TFLM, byte for byte, over sequences of
inferences: the state is a variable tensor, so each output depends on every earlier input, and the state
itself is compared after each inference too (TFLM's interpreter keeps its tensors for GetTensor).

Keras has no SVDF layer, so the models are built by hand (tflite_synth): random shapes, ranks, weights
and scales, with the state scale chosen around the feature products' range (some saturate) and int8 state
zero points anywhere (TFLM fills an int8 state with its zero point at start-up)."""
import ctypes
import os
from pathlib import Path

import numpy as np
import pytest

from harness.host_runtime import HostModel
from harness.plan.lower import lower
from harness.plan.model import ModelError, load_model
from harness.sweep import compare_on_host
from tflite_synth import Synth, tflm
from variable_state import compare_with_state

LARGE = os.environ.get("HARNESS_SWEEP") == "large"
SHARED = Path(__file__).resolve().parents[3] / "shared" / "models" / "tflite-micro"


def build_svdf(rng, batches, input_size, units, rank, memory, state_dtype, *, with_state_zp=True):
    filters = units * rank
    f32 = np.float32
    s_in, s_wf, s_wt = (f32(np.exp(rng.uniform(np.log(lo), np.log(hi))))
                        for lo, hi in ((0.005, 0.5), (0.002, 0.05), (1e-4, 0.02)))
    state_max = float(np.iinfo(state_dtype).max)
    typical_dot = 60.0 * 60.0 * np.sqrt(input_size)
    s_state = f32(s_in * s_wf * typical_dot / state_max * np.exp(rng.uniform(np.log(0.05), np.log(5.0))))
    typical_time = 60.0 * (state_max / 3) * np.sqrt(memory * rank)
    s_out = f32(s_state * s_wt * typical_time / 127.0 * np.exp(rng.uniform(np.log(0.05), np.log(5.0))))
    s_bias = s_state * s_wt                                     # float32 product: TFLM checks it to 1e-5
    zp_state = int(rng.integers(-60, 60)) if (state_dtype == np.int8 and with_state_zp) else 0
    wt_max = int(np.iinfo(state_dtype).max)
    s = Synth()
    x = s.tensor((batches, input_size), np.int8, s_in, int(rng.integers(-128, 128)))
    wf = s.tensor((filters, input_size), np.int8, s_wf, 0,
                  data=rng.integers(-127, 128, size=(filters, input_size)).astype(np.int8))
    wt = s.tensor((filters, memory), state_dtype, s_wt, 0,
                  data=rng.integers(-wt_max, wt_max + 1, size=(filters, memory)).astype(state_dtype))
    bias = s.tensor((units,), np.int32, s_bias, 0,
                    data=rng.integers(-(1 << 20), 1 << 20, size=units).astype(np.int32))
    state = s.tensor((batches, memory * filters), state_dtype, s_state, zp_state, variable=True)
    out = s.tensor((batches, units), np.int8, s_out, int(rng.integers(-128, 128)))
    s.op("SVDF", [x, wf, wt, bias, state], [out], s.options("SVDFOptions", rank=rank, fusedActivationFunction=1))
    return s.save([x], [out])


def _cases(n, seed):
    rng = np.random.default_rng(seed)
    out = [pytest.param(1, 8, 4, 1, 5, np.int16, id="small-s16"), pytest.param(1, 8, 4, 1, 5, np.int8, id="small-s8"),
           pytest.param(2, 13, 3, 2, 7, np.int16, id="batch2-rank2-s16"),
           pytest.param(3, 5, 2, 3, 1, np.int8, id="memory1-s8"), pytest.param(1, 1, 1, 1, 1, np.int16, id="tiny")]
    for i in range(n):
        out.append(pytest.param(int(rng.integers(1, 4)), int(rng.integers(1, 48)), int(rng.integers(1, 17)),
                                int(rng.integers(1, 4)), int(rng.integers(1, 13)),
                                np.int16 if i % 2 == 0 else np.int8, id=f"r{i}"))
    return out


@pytest.mark.parametrize("batches,input_size,units,rank,memory,state_dtype", _cases(80 if LARGE else 12, 17))
def test_svdf_sequence(batches, input_size, units, rank, memory, state_dtype):
    rng = np.random.default_rng(batches * 1000003 + input_size * 1009 + units * 101 + rank * 11 + memory)
    path = build_svdf(rng, batches, input_size, units, rank, memory, state_dtype)
    problems = compare_with_state(path, steps=3 * memory + 4, seed=1)
    assert not problems, "; ".join(problems[:5])


def test_state_persists_and_restarts_on_a_new_host_model():
    """The state carries over from one inference to the next, and a new HostModel (a fresh boot) starts it
    over, even though dlopen hands back the same library."""
    path = build_svdf(np.random.default_rng(3), 1, 8, 4, 1, 4, np.int8)
    assert not compare_with_state(path, steps=6, seed=2)
    assert not compare_with_state(path, steps=6, seed=2)


@pytest.mark.parametrize("name", ["keyword_scrambled.tflite", "keyword_scrambled_8bit.tflite"])
def test_keyword_models(name):
    """TFLM's SVDF keyword models: QUANTIZE int16->int8, 7 SVDFs, FULLY_CONNECTED, SOFTMAX int8->int16,
    QUANTIZE int16->int32. Their output saturates on random inputs, so every state is compared as well."""
    path = SHARED / name
    if not path.is_file():
        pytest.skip(f"{name} is not on this machine")
    r = compare_on_host(path, inputs=10)
    assert r.mismatches == 0, r.first_diff
    low = lower(load_model(path))
    host = HostModel(low)
    ref = tflm(path, preserve_all_tensors=True)
    rng = np.random.default_rng(4)
    for k in range(12):
        x = (rng.integers(-32768, 32768, size=(1, 96)) // (1 if k % 2 else 64)).astype(np.int16)
        assert host.run([x]) == [(ref.set_input(x, 0), ref.invoke(), ref.get_output(0).tobytes())[2]]
        for t in (t for t in low.graph.tensors if t.is_variable):
            mine = np.frombuffer(ctypes.string_at(host._arena + low.plan.offsets[t.index], t.nbytes), t.dtype)
            assert np.array_equal(mine, ref.GetTensor(t.index, 0)["tensor_data"].reshape(-1)), (k, t.name)


def _refused(path, match):
    with pytest.raises(ModelError, match=match):
        lower(load_model(path))


def test_refuses_state_that_is_not_variable():
    s = Synth()
    x = s.tensor((1, 4), np.int8, 0.1, 0)
    wf = s.tensor((2, 4), np.int8, 0.01, 0, data=np.ones((2, 4), np.int8))
    wt = s.tensor((2, 3), np.int16, 0.001, 0, data=np.ones((2, 3), np.int16))
    b = s.tensor((2,), np.int32, np.float32(0.05) * np.float32(0.001), 0, data=np.zeros(2, np.int32))
    st = s.tensor((1, 6), np.int16, 0.05, 0, variable=False)
    out = s.tensor((1, 2), np.int8, 0.1, 0)
    s.op("SVDF", [x, wf, wt, b, st], [out], s.options("SVDFOptions", rank=1))
    _refused(s.save([x], [out]), r"op 0 SVDF .*variable")


def test_refuses_mixed_state_and_time_weight_types():
    s = Synth()
    x = s.tensor((1, 4), np.int8, 0.1, 0)
    wf = s.tensor((2, 4), np.int8, 0.01, 0, data=np.ones((2, 4), np.int8))
    wt = s.tensor((2, 3), np.int8, 0.001, 0, data=np.ones((2, 3), np.int8))
    b = s.tensor((2,), np.int32, np.float32(0.05) * np.float32(0.001), 0, data=np.zeros(2, np.int32))
    st = s.tensor((1, 6), np.int16, 0.05, 0, variable=True)
    out = s.tensor((1, 2), np.int8, 0.1, 0)
    s.op("SVDF", [x, wf, wt, b, st], [out], s.options("SVDFOptions", rank=1))
    _refused(s.save([x], [out]), r"op 0 SVDF .*both be int16 or both int8")
