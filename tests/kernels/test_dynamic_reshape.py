"""Keras models whose batch size is left open (the default for a Keras Input), so the converter writes
each reshape as a chain on the tensor's shape: SHAPE -> STRIDED_SLICE -> PACK -> RESHAPE (Keras' Reshape
and Flatten), or with CONCATENATION, int32 arithmetic and CAST (a tf.reshape of a computed shape). On the
board the batch is 1, the chain folds at plan time (harness/plan/fold.py), and what is left must be the
model's compute ops plus aliased RESHAPEs: no kernel and no arena for the chain (the arena is the same as
the same model's with a fixed batch of 1, whose reshapes the converter wrote as constants), and the
outputs TFLM's, byte for byte, on the host and on the emulated M4 and M7."""
from __future__ import annotations

import pytest

from harness.plan.lower import lower
from harness.plan.model import load_model
from harness.sweep import compare_on_host
from harness.tfgen import convert

SHAPE_OPS = {"SHAPE", "STRIDED_SLICE", "PACK", "CONCATENATION", "ADD", "SUB", "MUL", "MAXIMUM", "CAST"}


def _keras(batch):
    """Keras' own Reshape and Flatten, three times."""
    def build(tf):
        x = tf.keras.Input(shape=(6, 5, 3), batch_size=batch)
        y = tf.keras.layers.Conv2D(4, 3, activation="relu")(x)
        y = tf.keras.layers.Reshape((-1,))(y)
        y = tf.keras.layers.Dense(6)(y)
        y = tf.keras.layers.Reshape((2, 3))(y)
        return tf.keras.Model(x, tf.keras.layers.Flatten()(y))
    return build


def _concat(batch):
    """tf.reshape to the batch (sliced off the shape) concatenated with a constant."""
    def build(tf):
        x = tf.keras.Input(shape=(6, 5, 3), batch_size=batch)
        y = tf.keras.layers.Conv2D(4, 3, activation="relu")(x)
        y = tf.keras.layers.Lambda(lambda t: tf.reshape(t, tf.concat([tf.shape(t)[:1], [48]], 0)),
                                   output_shape=(48,))(y)
        return tf.keras.Model(x, tf.keras.layers.Dense(5)(y))
    return build


def _arith(batch):
    """tf.reshape to a batch computed with int32 arithmetic and casts (TFLM's FLOOR_DIV and GATHER take
    no int32, so the chain keeps to ops TFLM runs: it must load the model to be the reference)."""
    def build(tf):
        x = tf.keras.Input(shape=(6, 5, 3), batch_size=batch)
        y = tf.keras.layers.Conv2D(4, 3)(x)

        def reshape(t):
            n = tf.shape(t)[0]
            n = tf.maximum(n * 3 - (n + n), 1)
            n = tf.cast(tf.cast(n, tf.float32), tf.int32)
            return tf.reshape(t, tf.stack([n, 48]))
        y = tf.keras.layers.Lambda(reshape, output_shape=(48,))(y)
        return tf.keras.Model(x, tf.keras.layers.Dense(5)(y))
    return build


MODELS = {"keras": (_keras, {"SHAPE", "STRIDED_SLICE", "PACK"}),
          "concat": (_concat, {"SHAPE", "STRIDED_SLICE", "CONCATENATION"}),
          "arith": (_arith, {"SHAPE", "STRIDED_SLICE", "ADD", "SUB", "MUL", "MAXIMUM", "CAST", "PACK"})}


def model(name: str, batch: int | None = None):
    return convert(MODELS[name][0](batch), f"dynamic_reshape/v1/{name}/{batch}", folder="sweep")


@pytest.mark.parametrize("name", MODELS)
def test_the_shape_chain_folds_into_aliased_reshapes(name):
    g = load_model(model(name))
    assert MODELS[name][1] <= set(g.op_names), g.op_names        # the converter really wrote the chain
    low = lower(g)
    assert {c.op.name for c in low.calls} <= {"CONV_2D", "FULLY_CONNECTED"}
    assert len(low.calls) == 2
    for op in g.ops:
        if op.name in SHAPE_OPS:          # every chain op folded: its output is a constant, off the arena
            assert all(g.tensor(t).is_constant and t not in low.plan.offsets for t in op.outputs)
        if op.name == "RESHAPE":          # and every reshape shares its input's bytes
            assert low.plan.offsets[op.outputs[0]] == low.plan.offsets[op.inputs[0]]
            assert op.outputs[0] in low.plan.aliases or op.inputs[0] in low.plan.aliases
    static = load_model(model(name, batch=1))
    assert "SHAPE" not in static.op_names                       # its reshapes are constants already
    assert low.plan.arena_bytes == lower(static).plan.arena_bytes


@pytest.mark.parametrize("kernels", ["optimized", "reference"])
@pytest.mark.parametrize("name", MODELS)
def test_bit_exact_with_tflm_on_the_host(name, kernels):
    r = compare_on_host(model(name), inputs=6, seed=4, kernels=kernels)
    assert r.mismatches == 0 and r.bit_exact, r.first_diff


@pytest.mark.emulated
@pytest.mark.parametrize("board", ["nucleo_f446re", "nucleo_f746zg"])
@pytest.mark.parametrize("name", ["keras", "arith"])
def test_bit_exact_with_tflm_on_the_emulated_boards(name, board):
    """The whole `harness check` cell: built, run on the emulated M4 / M7, compared with TFLM."""
    from harness.board import load_board
    from harness.check import check_cell
    v = check_cell(f"dynamic_reshape_{name}", model(name), load_board(board), inputs=3, seed=1)
    assert v.status == "pass", v.reasons
    assert (v.inputs, v.mismatches) == (3, 0)
