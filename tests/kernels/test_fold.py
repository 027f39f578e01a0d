"""Plan-time constant folding (harness/plan/fold.py), op by op against the TFLite interpreter: seeded
single-op models whose inputs are constants (SHAPE and RANK: a graph input), built with tflite_synth; the
TFLite interpreter evaluates each, our folding evaluates the same op, and the two must give the same type,
shape and values. Then what the folding must refuse, and how lowering uses it."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from harness.plan.fold import EVALUATORS, NotFoldable, evaluate, fold
from harness.plan.lower import lower
from harness.plan.model import Graph, ModelError, Op, Tensor, load_model
from tflite_synth import Synth

NONE, RELU, RELU_N1_TO_1, RELU6 = 0, 1, 2, 3      # tflite ActivationFunctionType


def tflite_outputs(path, feed=None) -> list[np.ndarray]:
    """The TFLite interpreter's outputs for the model (graph inputs, if any, set to `feed` or zeros)."""
    from harness.tfgen import _tf
    tf = _tf()
    it = tf.lite.Interpreter(model_path=str(path))
    it.allocate_tensors()
    for d in it.get_input_details():
        it.set_tensor(d["index"], feed if feed is not None else np.zeros(d["shape"], d["dtype"]))
    it.invoke()
    # the Python API cannot return an empty tensor: its shape and type say it all
    return [np.zeros(d["shape"], d["dtype"]) if 0 in d["shape"] else np.array(it.get_tensor(d["index"]))
            for d in it.get_output_details()]


def single_op(name, inputs, out_dtypes, options=None, graph_input=None):
    """A model of one op: `inputs` are constant arrays (None: the graph input `graph_input`, a (shape,
    dtype) pair); outputs declared with shape [] (TFLite resizes them; ours does not read them)."""
    s = Synth()
    feeds, ins = [], []
    for v in inputs:
        if v is None:
            ins.append(s.tensor(graph_input[0], graph_input[1], name="x"))
            feeds.append(ins[-1])
        else:
            v = np.asarray(v)
            ins.append(s.tensor(v.shape, v.dtype, data=v))
    outs = [s.tensor([], dt) for dt in out_dtypes]
    s.op(name, ins, outs, options)
    return s.save(feeds, outs)


def ours(path) -> list[np.ndarray]:
    g = load_model(path)
    return evaluate(g, g.ops[0])


def assert_same(path):
    theirs, mine = tflite_outputs(path), ours(path)
    assert len(mine) == len(theirs)
    for a, b in zip(mine, theirs):
        assert a.dtype == b.dtype and a.shape == b.shape, (a.dtype, a.shape, b.dtype, b.shape)
        assert np.array_equal(a, b), (a, b)


def opts(name, **fields):
    return Synth().options(name, **fields)


# --- seeded cases, one list per op ----------------------------------------------------------------------

def _shape(rng, lo=1, hi=6, rank=None):
    rank = int(rng.integers(0, 5)) if rank is None else rank
    return tuple(int(d) for d in rng.integers(lo, hi, rank))


def _data(rng, shape, dtype=np.int32):
    if np.dtype(dtype) == np.float32:
        return rng.normal(0, 10, shape).astype(np.float32)
    if np.dtype(dtype) == np.bool_:
        return rng.integers(0, 2, shape).astype(np.bool_)
    info = np.iinfo(dtype)
    return rng.integers(max(info.min, -1000), min(info.max, 1000), shape, endpoint=True).astype(dtype)


def strided_slice_cases(n, seed=1):
    rng = np.random.default_rng(seed)
    cases = [  # Keras' dynamic reshape: the batch out of the shape vector, as a scalar
        (np.array([1, 6, 5, 3], np.int32), [0], [1], [1], 0, 0, 1),
        (np.array([1, 24], np.int32), [0], [1], [1], 0, 0, 0),
        (np.array([1, 2, 3, 4], np.int32), [-1], [0], [-1], 0, 1, 0),
        (np.array([1, 2, 3, 4], np.int32), [1], [0], [1], 0, 1, 0),   # end masked: to the end
    ]
    while len(cases) < n:
        shape = _shape(rng, 1, 7, int(rng.integers(1, 5)))
        rank = len(shape)
        strides = [int(rng.choice([-3, -2, -1, 1, 1, 2, 3])) for _ in range(rank)]
        begin = [int(rng.integers(-d - 2, d + 3)) for d in shape]
        end = [int(rng.integers(-d - 2, d + 3)) for d in shape]
        bmask, emask = int(rng.integers(0, 1 << rank)), int(rng.integers(0, 1 << rank))
        shrink = int(rng.integers(0, 1 << rank)) if rng.random() < 0.4 else 0
        for a in range(rank):   # a shrunk axis: a valid index, stride > 0 (TFLite reads either unchecked)
            if shrink >> a & 1:
                begin[a] = int(rng.integers(-shape[a], shape[a]))
                strides[a] = abs(strides[a])
        dtype = rng.choice([np.int32, np.int8, np.float32])
        cases.append((_data(rng, shape, dtype), begin, end, strides, bmask, emask, shrink))
    return cases


def slice_cases(n, seed=2):
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < n:
        shape = _shape(rng, 1, 7, int(rng.integers(1, 5)))
        begin = [int(rng.integers(0, d + 1)) for d in shape]
        size = [int(rng.integers(0, d - b + 1)) if rng.random() < 0.7 else -1 for b, d in zip(begin, shape)]
        idx = rng.choice([np.int32, np.int64])
        cases.append((_data(rng, shape, rng.choice([np.int32, np.int8])), np.array(begin, idx), np.array(size, idx)))
    return cases


def pack_cases(n, seed=3):
    rng = np.random.default_rng(seed)
    cases = [([np.array(1, np.int32), np.array(24, np.int32)], 0),        # Keras: PACK(batch, 24)
             ([np.array(1, np.int32), np.array(-1, np.int32)], 0)]
    while len(cases) < n:
        shape, k = _shape(rng, 1, 5, int(rng.integers(0, 4))), int(rng.integers(1, 5))
        dtype = rng.choice([np.int32, np.int64, np.float32])
        axis = int(rng.integers(-len(shape) - 1, len(shape) + 1))
        cases.append(([_data(rng, shape, dtype) for _ in range(k)], axis))
    return cases


def unpack_cases(n, seed=4):
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < n:
        shape = _shape(rng, 1, 5, int(rng.integers(1, 4)))
        axis = int(rng.integers(-len(shape), len(shape)))
        cases.append((_data(rng, shape, rng.choice([np.int32, np.float32])), axis))
    return cases


def concatenation_cases(n, seed=5):
    rng = np.random.default_rng(seed)
    cases = [([np.array([1], np.int32), np.array([2, 3], np.int32)], 0)]    # tf.concat of shape pieces
    while len(cases) < n:
        shape = list(_shape(rng, 1, 5, int(rng.integers(1, 4))))
        axis = int(rng.integers(-len(shape), len(shape)))
        dtype = rng.choice([np.int32, np.int64, np.float32])
        parts = []
        for _ in range(int(rng.integers(1, 4))):
            shape[axis] = int(rng.integers(1, 4))
            parts.append(_data(rng, tuple(shape), dtype))
        cases.append((parts, axis))
    return cases


def gather_cases(n, seed=6):
    rng = np.random.default_rng(seed)
    cases = [(np.array([1, 6, 5, 3], np.int32), np.array(0, np.int32), 0)]   # tf.gather(tf.shape(x), 0)
    while len(cases) < n:
        shape = _shape(rng, 1, 6, int(rng.integers(1, 4)))
        axis = int(rng.integers(-len(shape), len(shape)))
        ishape = _shape(rng, 1, 4, int(rng.integers(0, 3)))
        idx = rng.integers(0, shape[axis], ishape).astype(rng.choice([np.int32, np.int64]))
        cases.append((_data(rng, shape, rng.choice([np.int32, np.int8, np.float32])), idx, axis))
    return cases


CAST_TYPES = [np.int32, np.int64, np.float32, np.int8, np.uint8, np.int16, np.bool_]


def cast_cases(seed=7):
    """Every pair of the types above; float values within every integer target's range."""
    rng = np.random.default_rng(seed)
    cases = []
    for a in CAST_TYPES:
        for b in CAST_TYPES:
            if a == b:
                continue
            if np.dtype(a) == np.float32:
                v = rng.uniform(-127.9, 127.9, 12).astype(np.float32)
                v = np.abs(v) if np.dtype(b) == np.uint8 else v
                v[:3] = [0.0, -0.5, 0.75]
            else:
                v = _data(rng, (12,), a)
                v[:3] = [0, 1, -1 if np.iinfo(a).min < 0 else 255] if np.dtype(a) != np.bool_ else v[:3]
            cases.append((v, b))
    return cases


BINARY = ["ADD", "SUB", "MUL", "FLOOR_DIV", "FLOOR_MOD", "MAXIMUM", "MINIMUM"]
WITH_ACTIVATION = {"ADD": "AddOptions", "SUB": "SubOptions", "MUL": "MulOptions"}
# the types TFLite's kernels take for each op (int64 FLOOR_DIV is not one of them)
INT_TYPES = {"FLOOR_DIV": [np.int32]}


def binary_cases(per_op, seed=8):
    rng = np.random.default_rng(seed)
    cases = [("MUL", np.array(1, np.int32), np.array(24, np.int32), NONE),
             ("FLOOR_DIV", np.array(24, np.int32), np.array(-5, np.int32), NONE),
             ("FLOOR_MOD", np.array([7, -7, 7, -7], np.int32), np.array([3, 3, -3, -3], np.int32), NONE)]
    for name in BINARY:
        for k in range(per_op):
            out = _shape(rng, 1, 5, int(rng.integers(0, 4)))
            a = tuple(d if rng.random() < 0.7 else 1 for d in out)[int(rng.integers(0, len(out) + 1)):]
            b = tuple(d if rng.random() < 0.7 else 1 for d in out)
            dtype = rng.choice(INT_TYPES.get(name, [np.int32, np.int64]))
            x = rng.integers(-300, 301, a).astype(dtype)
            y = rng.integers(-300, 301, b).astype(dtype)
            if name in ("FLOOR_DIV", "FLOOR_MOD"):
                y[y == 0] = 7
            act = [NONE, RELU, RELU_N1_TO_1, RELU6][k % 4] if name in WITH_ACTIVATION else NONE
            cases.append((name, x, y, act))
    return cases


# --- the cases against the TFLite interpreter ------------------------------------------------------------

@pytest.mark.parametrize("case", strided_slice_cases(40), ids=lambda c: f"ss{c[0].shape}")
def test_strided_slice(case):
    v, begin, end, strides, bmask, emask, shrink = case
    o = opts("StridedSliceOptions", beginMask=bmask, endMask=emask, shrinkAxisMask=shrink)
    assert_same(single_op("STRIDED_SLICE", [v, np.array(begin, np.int32), np.array(end, np.int32),
                                            np.array(strides, np.int32)], [v.dtype], o))


@pytest.mark.parametrize("case", slice_cases(15), ids=lambda c: f"slice{c[0].shape}")
def test_slice(case):
    assert_same(single_op("SLICE", list(case), [case[0].dtype]))


@pytest.mark.parametrize("case", pack_cases(15), ids=lambda c: f"pack{len(c[0])}x{c[0][0].shape}@{c[1]}")
def test_pack(case):
    values, axis = case
    assert_same(single_op("PACK", values, [values[0].dtype], opts("PackOptions", valuesCount=len(values), axis=axis)))


@pytest.mark.parametrize("case", unpack_cases(10), ids=lambda c: f"unpack{c[0].shape}@{c[1]}")
def test_unpack(case):
    v, axis = case
    n = v.shape[axis]
    assert_same(single_op("UNPACK", [v], [v.dtype] * n, opts("UnpackOptions", num=n, axis=axis)))


@pytest.mark.parametrize("case", concatenation_cases(12), ids=lambda c: f"concat{len(c[0])}@{c[1]}")
def test_concatenation(case):
    parts, axis = case
    assert_same(single_op("CONCATENATION", parts, [parts[0].dtype], opts("ConcatenationOptions", axis=axis)))


@pytest.mark.parametrize("case", gather_cases(15), ids=lambda c: f"gather{c[0].shape}[{c[1].shape}]@{c[2]}")
def test_gather(case):
    params, idx, axis = case
    assert_same(single_op("GATHER", [params, idx], [params.dtype], opts("GatherOptions", axis=axis)))


@pytest.mark.parametrize("case", cast_cases(), ids=lambda c: f"{c[0].dtype}->{np.dtype(c[1])}")
def test_cast(case):
    v, to = case
    assert_same(single_op("CAST", [v], [to]))


@pytest.mark.parametrize("case", binary_cases(6), ids=lambda c: f"{c[0]}-{c[1].dtype}{c[1].shape}{c[2].shape}-a{c[3]}")
def test_binary(case):
    name, x, y, act = case
    o = opts(WITH_ACTIVATION[name], fusedActivationFunction=act) if name in WITH_ACTIVATION else None
    assert_same(single_op(name, [x, y], [x.dtype], o))


@pytest.mark.parametrize("shape", [(1, 6, 5, 3), (1, 24), (2, 3), ()])
@pytest.mark.parametrize("out", [np.int32, np.int64])
def test_shape_and_rank(shape, out):
    assert_same(single_op("SHAPE", [None], [out], opts("ShapeOptions", outType=4 if out == np.int64 else 2),
                          graph_input=(shape, np.int8)))
    if out == np.int32:
        assert_same(single_op("RANK", [None], [np.int32], graph_input=(shape, np.int8)))


@pytest.mark.parametrize("name,shape,out", [("RESHAPE", (2, 3, 4), (4, 6)), ("SQUEEZE", (1, 6, 1), (6,)),
                                            ("EXPAND_DIMS", (6, 2), (6, 1, 2))])
def test_reshape_family(name, shape, out):
    """TFLM shapes the output as the model says: the synth model gives the real output shape."""
    v = np.arange(np.prod(shape), dtype=np.int8).reshape(shape)
    s = Synth()
    x = s.tensor(shape, np.int8, data=v)
    extra = {"RESHAPE": [s.tensor([len(out)], np.int32, data=np.array(out, np.int32))],
             "EXPAND_DIMS": [s.tensor([], np.int32, data=np.array(1, np.int32))], "SQUEEZE": []}[name]
    y = s.tensor(out, np.int8)
    s.op(name, [x, *extra], [y], opts("SqueezeOptions", squeezeDims=[0, 2]) if name == "SQUEEZE" else None)
    assert_same(s.save([], [y]))


def test_every_evaluator_is_tested_here():
    tested = {"STRIDED_SLICE", "SLICE", "PACK", "UNPACK", "CONCATENATION", "GATHER", "CAST", "SHAPE", "RANK",
              "RESHAPE", "SQUEEZE", "EXPAND_DIMS", *BINARY}
    assert set(EVALUATORS) == tested


# --- what does not fold ----------------------------------------------------------------------------------

# (op, constant inputs, options, our reason, whether TFLite refuses the model too). Where TFLite computes
# something we still refuse: C leaves the result undefined (int overflow, a float out of an int's range),
# TFLite leaves the output unwritten (a shrunk axis walked backwards), or we do not fold it (float
# arithmetic, an ellipsis mask): the op then needs its kernel like any other.
REFUSALS = [
    ("FLOOR_DIV", [np.array([4], np.int32), np.array([0], np.int32)], None, "divides by zero", True),
    ("FLOOR_DIV", [np.array([4], np.int64), np.array([3], np.int64)], None, "only int32 arithmetic", True),
    ("STRIDED_SLICE", [np.arange(4, dtype=np.int32), np.array([0], np.int32), np.array([2], np.int32),
                       np.array([0], np.int32)], None, "stride is 0", True),
    ("GATHER", [np.arange(4, dtype=np.int32), np.array([4], np.int32)], None, "outside axis 0", True),
    ("ADD", [np.array([2**31 - 1], np.int32), np.array([1], np.int32)], None, "overflows int32", False),
    ("CAST", [np.array([3e9], np.float32)], None, "outside int32's range", False),
    ("STRIDED_SLICE", [np.arange(4, dtype=np.int32), np.array([1], np.int32), np.array([2], np.int32),
                       np.array([-1], np.int32)], ("StridedSliceOptions", {"shrinkAxisMask": 1}), "negative stride",
     False),
    ("ADD", [np.array([1.5], np.float32), np.array([1], np.float32)], None, "only int32 or int64", False),
    ("STRIDED_SLICE", [np.arange(4, dtype=np.int32), np.array([0], np.int32), np.array([2], np.int32),
                       np.array([1], np.int32)], ("StridedSliceOptions", {"ellipsisMask": 1}), "ellipsis", False),
]


@pytest.mark.parametrize("name,inputs,options,reason,tflite_refuses", REFUSALS, ids=[r[3] for r in REFUSALS])
def test_refusals_say_why(name, inputs, options, reason, tflite_refuses):
    out = np.int32 if name in ("CAST", "GATHER") or inputs[0].dtype == np.int32 else inputs[0].dtype
    path = single_op(name, inputs, [out], opts(options[0], **options[1]) if options else None)
    g = load_model(path)
    with pytest.raises(NotFoldable, match=reason):
        evaluate(g, g.ops[0])
    assert fold(g)[0] and not g.tensor(g.ops[0].outputs[0]).is_constant
    if tflite_refuses:
        with pytest.raises((RuntimeError, ValueError)):
            tflite_outputs(path)


def test_quantized_add_of_constants_is_left_to_its_kernel():
    """int8 arithmetic needs TFLite's requantization: folding leaves it (the ADD kernel would run)."""
    s = Synth()
    a = s.tensor([4], np.int8, scale=0.1, zero_point=0, data=np.array([1, 2, 3, 4], np.int8))
    b = s.tensor([4], np.int8, scale=0.1, zero_point=0, data=np.array([1, 2, 3, 4], np.int8))
    y = s.tensor([4], np.int8, scale=0.2, zero_point=0)
    s.op("ADD", [a, b], [y], opts("AddOptions"))
    g = load_model(s.save([], [y]))
    assert "only int32 or int64 arithmetic" in fold(g)[0]


def test_a_fold_only_op_on_run_time_values_is_refused_by_name():
    """SLICE has no kernel: on an activation (not a constant) the model is refused, naming it.
    (STRIDED_SLICE has one now: tests/kernels/test_strided_slice.py.)"""
    s = Synth()
    x = s.tensor([1, 8], np.int8, scale=0.1, zero_point=0, name="x")
    y = s.tensor([1, 4], np.int8, scale=0.1, zero_point=0)
    consts = [s.tensor([2], np.int32, data=np.array(v, np.int32)) for v in ([0, 0], [1, 4])]
    s.op("SLICE", [x, *consts], [y], opts("SliceOptions"))
    with pytest.raises(ModelError, match="unsupported op.*SLICE"):
        lower(load_model(s.save([x], [y])))


def test_a_fold_only_op_that_cannot_fold_says_why():
    s = Synth()
    x = s.tensor([1, 4], np.int8, scale=0.1, zero_point=0, name="x")
    y = s.tensor([1, 4], np.int8, scale=0.1, zero_point=0)
    c = s.tensor([2], np.int32, data=np.array([4, 0], np.int32))
    d = s.tensor([2], np.int32, data=np.array([1, 1], np.int32))
    shape = s.tensor([2], np.int32)
    s.op("FLOOR_DIV", [c, d], [shape])
    c0 = s.tensor([2], np.int32, data=np.array([1, 4], np.int32))
    shape2 = s.tensor([2], np.int32)
    s.op("FLOOR_DIV", [c0, shape], [shape2])           # 1 // 4, 4 // 0: a division by zero
    s.op("RESHAPE", [x, shape2], [y])
    with pytest.raises(ModelError, match="op 1 FLOOR_DIV does not fold: it divides by zero"):
        lower(load_model(s.save([x], [y])))


def test_a_variable_tensor_is_not_a_constant():
    """SVDF-style state may carry an initial value in the file; it still changes at run time."""
    q = (np.array([0.1], np.float32), np.array([0], np.int64), 0)
    state = Tensor(0, "state", (1, 4), np.dtype(np.int8), *q, np.zeros((1, 4), np.int8), is_variable=True)
    out = Tensor(1, "out", (4,), np.dtype(np.int8), *q, None)
    g = Graph(Path("synthetic.tflite"), [state, out],
              [Op(0, "RESHAPE", [0], [1], None)], [0], [1], 0)
    assert fold(g) == {} and not out.is_constant


def test_a_malformed_op_is_refused_with_a_reason():
    s = Synth()
    v = s.tensor([4], np.int32, data=np.arange(4, dtype=np.int32))
    b = s.tensor([1], np.int32, data=np.array([0], np.int32))
    y = s.tensor([1], np.int32)
    s.op("STRIDED_SLICE", [v, b], [y], opts("StridedSliceOptions"))      # end and strides missing
    g = load_model(s.save([], [y]))
    assert "malformed" in fold(g)[0]


def test_a_result_of_another_type_than_the_models_output_is_not_folded():
    """PACK of int32 values into an int64 tensor: TFLite refuses the model; we do not convert silently."""
    path = single_op("PACK", [np.array(1, np.int32), np.array(2, np.int32)], [np.int64],
                     opts("PackOptions", valuesCount=2, axis=0))
    g = load_model(path)
    assert "it computes int32, but the model's output" in fold(g)[0]
    with pytest.raises((RuntimeError, ValueError)):
        tflite_outputs(path)
