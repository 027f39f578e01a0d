"""QUANTIZE and DEQUANTIZE against TFLM, byte for byte (float outputs compared as bits).

- float32 -> int8/int16: TFLM rounds x / scale in single precision, half away from zero. The inputs
  include exact ties ((k + 1/2) * scale), their float neighbours, values far outside the range, +-inf,
  NaN and -0.0, next to normal draws around the quantized range.
- every integer pair TFLM requantizes (int8/int16/int32 in and out, uint8 <-> int8), with effective
  scales below and above one; uint8 <-> int8 also with zero point 128 and equal scales (TFLM's XOR 0x80
  shortcut);
- int8/int16/uint8 -> float32;
- a Keras model converted with float input and output (QUANTIZE -> FULLY_CONNECTED -> LOGISTIC ->
  DEQUANTIZE), as the converter really emits them."""
import os

import numpy as np
import pytest

from harness.plan.lower import lower
from harness.plan.model import ModelError, load_model
from harness.tfgen import convert
from tflite_synth import Synth, compare

LARGE = os.environ.get("HARNESS_SWEEP") == "large"
_BITS = {np.int8: 8, np.uint8: 8, np.int16: 16, np.int32: 32}


def float_inputs(shape, scale, zero_point, dtype, rng, count=6):
    """Draws over (a bit beyond) the representable range, with ties, near-ties and special values mixed in."""
    info = np.iinfo(dtype)
    lo, hi = (info.min - zero_point) * scale, (info.max - zero_point) * scale
    n = int(np.prod(shape))
    f32 = np.float32(scale)
    xs = []
    for k in range(count):
        x = rng.uniform(1.25 * lo, 1.25 * hi, size=n).astype(np.float32)
        ties = (rng.integers(info.min, info.max, size=n) - zero_point + 0.5).astype(np.float32) * f32
        pick = rng.random(n)
        x = np.where(pick < 0.3, ties, x)
        x = np.where((pick >= 0.3) & (pick < 0.4), np.nextafter(ties, np.float32(np.inf)), x)
        x = np.where((pick >= 0.4) & (pick < 0.5), np.nextafter(ties, np.float32(-np.inf)), x)
        if k == 0:
            special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e30, -1e30, 3e9 * scale, -3e9 * scale,
                                f32 * np.float32(0.5), -f32 * np.float32(0.5)], np.float32)
            x[:min(n, special.size)] = special[:n]
        xs.append(x.astype(np.float32).reshape(shape))
    return xs


def _single(op, shape, in_dtype, out_dtype, in_q, out_q):
    s = Synth()
    a = s.tensor(shape, in_dtype, *(in_q or (None, 0)))
    b = s.tensor(shape, out_dtype, *(out_q or (None, 0)))
    s.op(op, [a], [b])
    return s.save([a], [b])


def _scale(rng, lo=1e-4, hi=10.0):
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def _zp(rng, dtype):
    return 0 if dtype == np.int32 else int(rng.integers(np.iinfo(dtype).min, np.iinfo(dtype).max + 1))


def _float_cases(n):
    rng = np.random.default_rng(21)
    out = [pytest.param(np.int8, 0.5, 3, id="int8-zp3"), pytest.param(np.int8, 0.5, -3, id="int8-zp-3"),
           pytest.param(np.int16, 1e-3, 0, id="int16-zp0")]
    for i in range(n):
        dt = np.int8 if i % 2 == 0 else np.int16
        out.append(pytest.param(dt, _scale(rng), _zp(rng, dt) if dt == np.int8 else 0, id=f"r{i}"))
    return out


@pytest.mark.parametrize("out_dtype,scale,zp", _float_cases(60 if LARGE else 8))
def test_quantize_float(out_dtype, scale, zp):
    shape = (2, 37)
    path = _single("QUANTIZE", shape, np.float32, out_dtype, None, (scale, zp))
    rng = np.random.default_rng(int(scale * 1e6) % 2**32)
    bad, first = compare(path, float_inputs(shape, scale, zp, out_dtype, rng))
    assert bad == 0, f"{bad} inputs differ from TFLM; {first}"


PAIRS = [(np.int8, np.int8), (np.int8, np.int16), (np.int8, np.int32), (np.int16, np.int8), (np.int16, np.int16),
         (np.int16, np.int32), (np.int32, np.int8), (np.int32, np.int16), (np.uint8, np.int8), (np.int8, np.uint8)]


def _int_cases(per_pair):
    rng = np.random.default_rng(33)
    out = []
    for a, b in PAIRS:
        for j in range(per_pair):
            sa = _scale(rng)
            ratio = float(np.exp(rng.uniform(np.log(1e-3), np.log(1e3 if j % 2 else 1.0))))
            out.append(pytest.param(a, b, sa, _zp(rng, a), sa / ratio, _zp(rng, b),
                                    id=f"{np.dtype(a).name}-{np.dtype(b).name}-{j}"))
    # uint8 I/O as converters emit it: zero point 128 against its int8 twin (same scale: TFLM's XOR 0x80
    # shortcut), and with effective scales above and below one
    for a, b, za, zb in [(np.uint8, np.int8, 128, 0), (np.int8, np.uint8, 0, 128)]:
        name = f"{np.dtype(a).name}-{np.dtype(b).name}"
        out += [pytest.param(a, b, 0.02, za, 0.02, zb, id=f"{name}-zp128-same-scale"),
                pytest.param(a, b, 1 / 255, za, 1 / 255, zb, id=f"{name}-zp128-scale1_255"),
                pytest.param(a, b, 0.02, za, 0.05, zb + 3, id=f"{name}-zp128-ratio0.4"),
                pytest.param(a, b, 0.05, za, 0.02, zb - 5, id=f"{name}-zp128-ratio2.5"),
                pytest.param(a, b, 0.013, za - 128 + 7 if a == np.uint8 else 7, 0.0041,
                             zb - 128 + 250 if b == np.uint8 else -120, id=f"{name}-ratio3.2-edge-zp")]
    return out


@pytest.mark.parametrize("in_dtype,out_dtype,in_scale,in_zp,out_scale,out_zp", _int_cases(12 if LARGE else 2))
def test_requantize_int(in_dtype, out_dtype, in_scale, in_zp, out_scale, out_zp):
    shape = (1, 300)
    path = _single("QUANTIZE", shape, in_dtype, out_dtype, (in_scale, in_zp), (out_scale, out_zp))
    rng = np.random.default_rng(7)
    info = np.iinfo(in_dtype)
    xs = [rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=in_dtype) for _ in range(3)]
    # and values near the zero point, where the rescaled result stays in range
    span = min(info.max, 4 * (1 << (_BITS[out_dtype] - 1)) * max(1, int(out_scale / in_scale)))
    xs += [np.clip(in_zp + rng.integers(-span, span, size=shape), info.min, info.max).astype(in_dtype)
           for _ in range(3)]
    bad, first = compare(path, xs)
    assert bad == 0, f"{bad} inputs differ from TFLM; {first}"


def _dequant_cases(n):
    rng = np.random.default_rng(45)
    out = [pytest.param(np.int8, 0.1, -128, id="int8"), pytest.param(np.int16, 1 / 32768, 0, id="int16"),
           pytest.param(np.uint8, 1 / 255, 0, id="uint8-zp0"), pytest.param(np.uint8, 0.037, 128, id="uint8-zp128"),
           pytest.param(np.uint8, 2.5, 201, id="uint8-zp201")]
    for i in range(n):
        dt = np.int8 if i % 2 == 0 else np.int16
        out.append(pytest.param(dt, _scale(rng, 1e-6, 1e3), _zp(rng, dt), id=f"r{i}"))
    return out


@pytest.mark.parametrize("in_dtype,scale,zp", _dequant_cases(40 if LARGE else 6))
def test_dequantize(in_dtype, scale, zp):
    shape = (1, 256)
    path = _single("DEQUANTIZE", shape, in_dtype, np.float32, (scale, zp), None)
    rng = np.random.default_rng(9)
    info = np.iinfo(in_dtype)
    xs = [rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=in_dtype) for _ in range(4)]
    if in_dtype == np.int8:
        xs.append(np.arange(-128, 128, dtype=np.int8).reshape(shape))
    if in_dtype == np.uint8:
        xs.append(np.arange(0, 256, dtype=np.uint8).reshape(shape))
    bad, first = compare(path, xs)
    assert bad == 0, f"{bad} inputs differ from TFLM; {first}"


def test_quantize_dequantize_chain_int16():
    """float -> int16 -> float in one graph: both conversions, the intermediate in the arena."""
    s = Synth()
    a = s.tensor((1, 64), np.float32)
    b = s.tensor((1, 64), np.int16, 3e-4, 0)
    c = s.tensor((1, 64), np.float32)
    s.op("QUANTIZE", [a], [b])
    s.op("DEQUANTIZE", [b], [c])
    path = s.save([a], [c])
    bad, first = compare(path, float_inputs((1, 64), 3e-4, 0, np.int16, np.random.default_rng(1)))
    assert bad == 0, first


KERAS = [(16, 8, 0.3), (40, 3, 2.0)]
if LARGE:
    KERAS += [(f, u, w) for f in (5, 64) for u in (1, 20) for w in (0.05, 1.0)]


@pytest.mark.parametrize("features,units,weight_std", KERAS)
def test_float_io_model(features, units, weight_std):
    def build(tf):
        i = tf.keras.Input((features,))
        init = tf.keras.initializers.RandomNormal(stddev=weight_std, seed=8)
        x = tf.keras.layers.Dense(units, kernel_initializer=init, bias_initializer=init)(i)
        return tf.keras.Model(i, tf.keras.layers.Activation("sigmoid")(x))

    path = convert(build, f"float_io_dense_sigmoid_{features}_{units}_{weight_std}", folder="sweep", float_io=True)
    g = load_model(path)
    assert g.op_names == ["QUANTIZE", "FULLY_CONNECTED", "LOGISTIC", "DEQUANTIZE"]
    q = g.tensor(g.ops[0].outputs[0])
    xs = float_inputs((1, features), q.scale, q.zero_point, np.int8, np.random.default_rng(2))
    bad, first = compare(path, xs)
    assert bad == 0, f"{bad} inputs differ from TFLM; {first}"


def test_refuses_per_channel_output():
    path = _single("QUANTIZE", (1, 4), np.float32, np.int8, None, ([0.1, 0.2, 0.3, 0.4], [0, 0, 0, 0]))
    with pytest.raises(ModelError, match=r"op 0 QUANTIZE .*per tensor"):
        lower(load_model(path))


@pytest.mark.parametrize("op,a,b", [("QUANTIZE", np.int32, np.int32), ("QUANTIZE", np.float32, np.int32),
                                    ("QUANTIZE", np.uint8, np.int16), ("QUANTIZE", np.int16, np.uint8),
                                    ("DEQUANTIZE", np.int32, np.float32)])
def test_refuses_unsupported_types(op, a, b):
    path = _single(op, (1, 4), a, b, None if a == np.float32 else (0.1, 0), None if b == np.float32 else (0.2, 0))
    with pytest.raises(ModelError, match=rf"op 0 {op} "):
        lower(load_model(path))


@pytest.mark.parametrize("out_dtype,scale,zp", _float_cases(4))
def test_host_affine_quantize_is_tflms(out_dtype, scale, zp):
    """quant.affine_quantize (the host's twin of tm_quantize_f32: real inputs, MLPerf Tiny ad01 windows) gives
    TFLM's QUANTIZE bytes on ties, near-ties, saturating values, infinities and NaN."""
    from harness.plan.quant import affine_quantize
    from tflite_synth import tflm
    shape = (2, 37)
    ref = tflm(_single("QUANTIZE", shape, np.float32, out_dtype, None, (scale, zp)))
    for x in float_inputs(shape, scale, zp, out_dtype, np.random.default_rng(5)):
        ref.set_input(x, 0)
        ref.invoke()
        assert np.array_equal(affine_quantize(x, scale, zp, out_dtype), ref.get_output(0))
