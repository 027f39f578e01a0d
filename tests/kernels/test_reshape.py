"""RESHAPE / SQUEEZE / EXPAND_DIMS run no kernel: the planner aliases the output to the input's arena
bytes. These models check the bytes against TFLM and the plan itself: no call for the op, aliased tensors
at one offset, no two groups live at once overlapping, and the graph output readable at the end."""
from pathlib import Path

import numpy as np
import pytest

from harness.host_runtime import HostModel
from harness.plan.lower import lower, verify_plan
from harness.plan.model import Graph, ModelError, Op, Tensor, load_model
from harness.reference import TflmReference, random_inputs
from harness.tfgen import convert

ALIAS_OPS = {"RESHAPE", "SQUEEZE", "EXPAND_DIMS"}


def _chain(tf):
    """Reshape first and last: the output is an alias of the FULLY_CONNECTED output."""
    x = tf.keras.Input(shape=(4, 5, 3), batch_size=1)
    y = tf.keras.layers.Dense(24)(tf.keras.layers.Reshape((60,))(x))
    return tf.keras.Model(x, tf.keras.layers.Reshape((2, 3, 4))(y))


def _fanout(tf):
    """An alias of the input read by the last op, and another read by the first."""
    x = tf.keras.Input(shape=(4, 6), batch_size=1)
    a = tf.keras.layers.Dense(24)(tf.keras.layers.Reshape((24,))(x))
    b = tf.keras.layers.Reshape((6, 4))(a)
    c = tf.keras.layers.Reshape((6, 4))(x)
    return tf.keras.Model(x, tf.keras.layers.Add()([b, c]))


def _only(tf):
    """Nothing but a reshape: the output is the input's bytes, no kernel at all."""
    x = tf.keras.Input(shape=(4, 1, 3), batch_size=1)
    return tf.keras.Model(x, tf.keras.layers.Reshape((4, 3))(x))


def _middle(tf):
    """Pooling, reshape, dense, reshape, reshape: an alias of an alias as the output."""
    x = tf.keras.Input(shape=(6, 6, 2), batch_size=1)
    y = tf.keras.layers.AveragePooling2D(2)(x)
    y = tf.keras.layers.Dense(12)(tf.keras.layers.Reshape((18,))(y))
    y = tf.keras.layers.Reshape((3, 4))(y)
    return tf.keras.Model(x, tf.keras.layers.Reshape((3, 4, 1))(y))


def _mean_flatten(tf):
    """Global average pooling with keep_dims, then Flatten (a reshape) as the graph output."""
    x = tf.keras.Input(shape=(5, 5, 4), batch_size=1)
    y = tf.keras.layers.GlobalAveragePooling2D(keepdims=True)(x)
    return tf.keras.Model(x, tf.keras.layers.Flatten()(y))


MODELS = {"chain": _chain, "fanout": _fanout, "only": _only, "middle": _middle, "mean_flatten": _mean_flatten}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_reshape_is_an_alias_and_matches_tflm(name):
    path = convert(MODELS[name], f"reshape/v2/{name}", folder="sweep")
    low = lower(load_model(path))
    assert "RESHAPE" in low.graph.op_names
    verify_plan(low)
    host, ref = HostModel(low), TflmReference(path)
    for x in random_inputs(low.input_tensors, 5, seed=2):
        assert host.run(x) == ref.run(x)


def test_reshape_only_model_has_no_kernel_call():
    low = lower(load_model(convert(_only, "reshape/v2/only", folder="sweep")))
    assert low.calls == []
    assert low.plan.offsets[low.outputs[0]] == low.plan.offsets[low.inputs[0]]


# Hand-built graphs for what the converter never emits (SQUEEZE / EXPAND_DIMS ops of their own, a
# reshape of a constant, a bad reshape); these check the lowering and the plan only.

def _t(i, shape, data=None, scale=0.05, zp=0):
    return Tensor(i, f"t{i}", tuple(shape), np.dtype(np.int8), np.array([scale], np.float32),
                  np.array([zp], np.int64), 0, data)


def _graph(tensors, ops, inputs, outputs) -> Graph:
    return Graph(Path("synthetic.tflite"), tensors, ops, inputs, outputs, 0, "", [o.name for o in ops])


def _pad_op(index, i, o, pads_tensor):
    return Op(index, "PAD", [i, pads_tensor], [o], None)


def test_squeeze_and_expand_dims_alias():
    pads = Tensor(9, "pads", (3, 2), np.dtype(np.int32), np.zeros(0, np.float32), np.zeros(0, np.int64), 0,
                  np.array([[0, 0], [1, 1], [0, 0]], np.int32))
    tensors = [_t(0, (1, 4, 1, 3)), _t(1, (1, 4, 3)), _t(2, (1, 6, 3)), _t(3, (1, 6, 3, 1))] + [None] * 5 + [pads]
    ops = [Op(0, "SQUEEZE", [0], [1], None), _pad_op(1, 1, 2, 9), Op(2, "EXPAND_DIMS", [2, -1], [3], None)]
    low = lower(_graph(tensors, ops, [0], [3]))
    assert [c.op.name for c in low.calls] == ["PAD"]
    assert low.plan.offsets[1] == low.plan.offsets[0]
    assert low.plan.offsets[3] == low.plan.offsets[2]
    verify_plan(low)


def test_reshape_of_a_constant_is_folded():
    const = _t(1, (2, 3), data=np.arange(6, dtype=np.int8).reshape(2, 3))
    tensors = [_t(0, (3, 2)), const, _t(2, (3, 2)), _t(3, (3, 2))]
    ops = [Op(0, "RESHAPE", [1], [2], None), Op(1, "ADD", [0, 2], [3], None)]
    low = lower(_graph(tensors, ops, [0], [3]))
    assert [c.op.name for c in low.calls] == ["ADD"]
    assert low.graph.tensor(2).is_constant and 2 not in low.plan.offsets
    assert np.array_equal(low.calls[0].fields["in2_const"].data, np.arange(6, dtype=np.int8).reshape(3, 2))


def test_reshape_changing_the_element_count_is_refused():
    tensors = [_t(0, (1, 6)), _t(1, (1, 7))]
    with pytest.raises(ModelError, match="op 0 RESHAPE .*element count"):
        lower(_graph(tensors, [Op(0, "RESHAPE", [0], [1], None)], [0], [1]))
