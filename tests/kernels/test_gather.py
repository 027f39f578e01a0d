"""GATHER: seeded Keras models -- tf.gather with constant positions (scalar, 1-D or 2-D; any axis; batch_dims
0 or 1; repeats) on the input or on a differently quantized Dense branch, and embedding lookups (an int32
model input gathering rows of a constant table) -- int8 and float32 data, our host runtime vs TFLM byte for
byte, and a few cases on the emulated M4 and M7 (all of them with HARNESS_SWEEP=large, which also widens the
sweep)."""
import hashlib
import os

import numpy as np
import pytest

from harness.build import CACHE
from harness.errors import HarnessError
from harness.host_runtime import HostModel
from harness.plan.lower import lower
from harness.plan.model import load_model
from harness.sweep import run_case
from harness.tfgen import convert
from on_board import BOARDS, board_mismatches
from tflite_synth import compare, tflm

LARGE = os.environ.get("HARNESS_SWEEP") == "large"


def _gather(shape, axis, positions, batch_dims, branch):
    """tf.gather(t, positions, axis, batch_dims) of the (1, *shape) tensor; positions a nested tuple."""
    def build(tf):
        x = tf.keras.Input(shape=shape, batch_size=1)
        y = x
        if branch:
            y = tf.keras.layers.Reshape(shape)(tf.keras.layers.Dense(int(np.prod(shape)))(tf.keras.layers.Flatten()(x)))
        idx = np.array(positions, np.int32)
        return tf.keras.Model(x, tf.keras.layers.Lambda(
            lambda t: tf.gather(t, tf.constant(idx), axis=axis, batch_dims=batch_dims))(y))
    return build


def _cases(n: int, seed: int):
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < n:
        rank = int(rng.integers(1, 4))                         # without the batch dimension
        shape = tuple(int(v) for v in rng.integers(1, 7, rank))
        axis = int(rng.integers(1, rank + 1))
        batch_dims = 1 if rng.random() < 0.2 else 0            # the batch dimension (1) as gather's batch
        pos_shape = [(), (int(rng.integers(1, 6)),), (int(rng.integers(1, 4)), int(rng.integers(1, 4)))][int(rng.integers(3))]
        if batch_dims:
            pos_shape = (1, *pos_shape)
        positions = rng.integers(0, shape[axis - 1], pos_shape).tolist()
        out = int(np.prod(shape)) // shape[axis - 1] * max(1, int(np.prod(pos_shape)))
        if out > 600:
            continue
        if rng.random() < 0.25:
            axis -= rank + 1                                   # some negative
        cases.append((shape, axis, _tuple(positions), batch_dims, bool(rng.random() < 0.5),
                      "f32" if rng.random() < 0.3 else "i8"))
    return cases


def _tuple(v):
    return tuple(_tuple(x) for x in v) if isinstance(v, list) else int(v)


EDGES = [
    ((5, 4), 1, (4, 0, 2), 0, False, "i8"),                  # rows, reordered
    ((5, 4), 2, (3, 3, 1, 0, 1), 0, True, "i8"),             # columns, repeats
    ((6, 3, 2), 2, ((2, 0), (1, 1)), 0, True, "i8"),         # 2-D positions
    ((6, 3, 2), -1, 1, 0, False, "i8"),                      # a scalar position drops the axis
    ((4, 5), 1, ((3, 1, 0),), 1, True, "i8"),                # batch_dims 1
    ((5, 4), 1, (4, 0, 2), 0, True, "f32"),
    ((6, 3, 2), 3, ((1, 0), (0, 1)), 0, False, "f32"),
]
CASES = EDGES + _cases(60 if LARGE else 20, seed=44)
BOARD_CASES = CASES if LARGE else [EDGES[1], EDGES[5]]


def _key(case) -> str:
    return "gather/v1/" + "-".join(str(v).replace(" ", "") for v in case)


@pytest.mark.parametrize("case", CASES, ids=_key)
def test_gather_matches_tflm(case):
    r = run_case(_gather(*case[:5]), _key(case), float32=case[5] == "f32")
    assert "GATHER" in r.ops, r.ops
    assert r.mismatches == 0 and r.bit_exact, r.first_diff


@pytest.mark.emulated
@pytest.mark.parametrize("board", BOARDS)
@pytest.mark.parametrize("case", BOARD_CASES, ids=_key)
def test_gather_bit_exact_on_the_emulated_board(case, board):
    path = convert(_gather(*case[:5]), _key(case), folder="sweep", float32=case[5] == "f32")
    assert board_mismatches(path, board, "gather") == (0, 0)


# Embedding lookups: the positions are the model's int32 input, the data a constant table in flash.
def embedding_model(vocab: int, dim: int, seq: int, float32: bool, seed: int = 5):
    """tf.gather of a seeded constant table by the int32 input (Keras 3's Embedding layer adds a LESS and a
    SELECT to wrap negative ids), converted as int8 (the table and the output quantized; the input stays
    int32) or float32."""
    from harness.tfgen import _tf, _write
    key = f"gather/v2/embedding|{vocab}|{dim}|{seq}|{float32}|{seed}"
    out = CACHE / "sweep" / "gather" / f"{hashlib.sha256(key.encode()).hexdigest()[:16]}.tflite"
    if out.is_file():
        return out
    tf = _tf()
    tf.keras.utils.set_random_seed(seed)
    x = tf.keras.Input((seq,), batch_size=1, dtype="int32")
    table = np.random.default_rng(seed).normal(0.0, 1.0, (vocab, dim)).astype(np.float32)
    model = tf.keras.Model(x, tf.keras.layers.Lambda(lambda t: tf.gather(tf.constant(table), t),
                                                      output_shape=(seq, dim))(x))
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    if not float32:
        rng = np.random.default_rng(seed)
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = lambda: ([rng.integers(0, vocab, (1, seq)).astype(np.int32)] for _ in range(32))
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_output_type = tf.int8
    return _write(out, conv.convert())


def _positions(vocab: int, seq: int, n: int, seed: int = 3) -> list[np.ndarray]:
    """Valid positions: seeded uniform over the table, plus the first and last rows."""
    rng = np.random.default_rng(seed)
    xs = [rng.integers(0, vocab, (1, seq)).astype(np.int32) for _ in range(n)]
    return xs + [np.zeros((1, seq), np.int32), np.full((1, seq), vocab - 1, np.int32)]


EMBEDDINGS = [(20, 8, 6, False), (7, 3, 10, False), (20, 8, 6, True), (50, 16, 4, True)]


@pytest.mark.parametrize("vocab,dim,seq,float32", EMBEDDINGS)
def test_embedding_lookup_matches_tflm(vocab, dim, seq, float32):
    path = embedding_model(vocab, dim, seq, float32)
    g = load_model(path)
    op = next(o for o in g.ops if o.name == "GATHER")
    assert g.tensor(op.inputs[0]).is_constant and not g.tensor(op.inputs[1]).is_constant
    assert np.dtype(g.tensor(g.outputs[0]).dtype) == (np.float32 if float32 else np.int8)
    bad, first = compare(path, _positions(vocab, seq, 6))
    assert bad == 0, first


@pytest.mark.emulated
@pytest.mark.parametrize("board", BOARDS)
@pytest.mark.parametrize("float32", [False, True])
def test_embedding_lookup_bit_exact_on_the_emulated_board(float32, board):
    path = embedding_model(20, 8, 6, float32)
    assert board_mismatches(path, board, "embedding", xs=[[x] for x in _positions(20, 6, 2)]) == (0, 0)


def test_position_outside_the_table_fails_the_inference_as_in_tflm():
    """TFLM's gather fails an inference whose (run-time) position is outside the table; so does ours (the
    kernel's TM_ERR_PARAM), rather than reading past the table."""
    path = embedding_model(20, 8, 6, False)
    bad = np.array([[0, 1, 20, 2, 3, 4]], np.int32)
    with pytest.raises(HarnessError, match="tm_invoke returned 2"):
        HostModel(lower(load_model(path))).run([bad])
    ref = tflm(path)
    ref.set_input(bad, 0)
    with pytest.raises(RuntimeError):
        ref.invoke()
