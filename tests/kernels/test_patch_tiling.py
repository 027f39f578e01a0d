"""Patch-based inference's tiling arithmetic (harness/plan/patch.py, tiling.py), on the host build, against
TFLM byte for byte: seeded random CNN stems (kernels 1-7, strides 1-2, dilation 2, SAME and VALID, depthwise,
average and max pools, PAD, residual ADDs), every split the planner allows, even and uneven grids, with the
halos computed again and with the rows' halo cache. The MAC counts of patched plans are checked against ones
worked out by hand. HARNESS_SWEEP=large runs more models."""
import os

import numpy as np
import pytest

from harness.host_runtime import HostModel
from harness.plan import patch
from harness.plan.model import load_model
from tflite_synth import Synth, tflm

LARGE = os.environ.get("HARNESS_SWEEP") == "large"
SAME, VALID = 0, 1


class Stem:
    """A random int8 CNN stem built op by op; `x` is the current activation tensor and its shape."""

    def __init__(self, rng, h: int, w: int, c: int):
        self.s, self.rng = Synth(), rng
        self.x = self.input = self.s.tensor((1, h, w, c), np.int8, 0.05, int(rng.integers(-20, 20)))
        self.shape, self.scale = (h, w, c), 0.05

    def _act(self, shape, scale):
        return self.s.tensor((1, *shape), np.int8, scale, int(self.rng.integers(-10, 10)))

    def _out(self, n, k, s, d, padding):
        eff = (k - 1) * d + 1
        return (n + s - 1) // s if padding == SAME else (n + s - eff) // s

    def conv(self, k, stride=1, dilation=1, padding=SAME, cout=None, depthwise=False):
        h, w, c = self.shape
        cout = c if depthwise else (cout or int(self.rng.integers(2, 7)))
        oh, ow = self._out(h, k, stride, dilation, padding), self._out(w, k, stride, dilation, padding)
        if min(oh, ow) < 1:
            return
        wshape = (1, k, k, cout) if depthwise else (cout, k, k, c)
        wscale = self.rng.uniform(0.002, 0.02, size=cout).astype(np.float32)
        weights = self.s.tensor(wshape, np.int8, wscale, np.zeros(cout, np.int64),
                                self.rng.integers(-127, 128, size=wshape).astype(np.int8))
        weights_q = self.s.graph.tensors[weights].quantization
        weights_q.quantizedDimension = 3 if depthwise else 0
        bias = self.s.tensor((cout,), np.int32, self.scale * wscale, np.zeros(cout, np.int64),
                             self.rng.integers(-500, 500, size=cout).astype(np.int32))
        out_scale = self.scale * float(wscale.mean()) * 127 * np.sqrt(k * k * (1 if depthwise else c)) / 20
        y = self._act((oh, ow, cout), out_scale)
        opts = dict(padding=padding, strideW=stride, strideH=stride, dilationWFactor=dilation,
                    dilationHFactor=dilation, fusedActivationFunction=int(self.rng.integers(0, 2)))
        if depthwise:
            self.s.op("DEPTHWISE_CONV_2D", [self.x, weights, bias], [y],
                      self.s.options("DepthwiseConv2DOptions", depthMultiplier=1, **opts))
        else:
            self.s.op("CONV_2D", [self.x, weights, bias], [y], self.s.options("Conv2DOptions", **opts))
        self.x, self.shape, self.scale = y, (oh, ow, cout), out_scale

    def pool(self, kind, k, stride, padding):
        h, w, c = self.shape
        oh, ow = self._out(h, k, stride, 1, padding), self._out(w, k, stride, 1, padding)
        if min(oh, ow) < 1:
            return
        q = self.s.graph.tensors[self.x].quantization
        y = self.s.tensor((1, oh, ow, c), np.int8, self.scale, q.zeroPoint[0])
        self.s.op(kind, [self.x], [y], self.s.options("Pool2DOptions", padding=padding, strideW=stride,
                                                      strideH=stride, filterWidth=k, filterHeight=k))
        self.x, self.shape = y, (oh, ow, c)

    def pad(self):
        """PAD with random spatial and channel paddings (TFLM fills with the output's zero point)."""
        h, w, c = self.shape
        p = self.rng.integers(0, 3, size=(4, 2)).astype(np.int32)
        p[0] = 0
        paddings = self.s.tensor((4, 2), np.int32, data=p)
        q = self.s.graph.tensors[self.x].quantization
        shape = (h + p[1].sum(), w + p[2].sum(), c + p[3].sum())
        y = self.s.tensor((1, *shape), np.int8, self.scale, q.zeroPoint[0])
        self.s.op("PAD", [self.x, paddings], [y])
        self.x, self.shape = y, tuple(int(v) for v in shape)

    def residual(self):
        """x + conv3x3(x): the skip and the branch inside the stage."""
        skip, skip_scale, shape = self.x, self.scale, self.shape
        self.conv(3, cout=shape[2])
        y = self._act(shape, max(skip_scale, self.scale) * 1.5)
        self.s.op("ADD", [skip, self.x], [y], self.s.options("AddOptions", fusedActivationFunction=0))
        self.x, self.scale = y, max(skip_scale, self.scale) * 1.5

    def save(self):
        return self.s.save([self.input], [self.x])


def random_stem(seed: int):
    rng = np.random.default_rng(seed)
    stem = Stem(rng, int(rng.integers(12, 25)), int(rng.integers(12, 25)), int(rng.integers(1, 4)))
    for _ in range(int(rng.integers(2, 6))):
        pick = int(rng.integers(0, 7))
        if pick == 0:
            stem.conv(int(rng.integers(1, 8)), stride=int(rng.integers(1, 3)), padding=int(rng.integers(0, 2)))
        elif pick == 1:
            stem.conv(3, dilation=2, padding=int(rng.integers(0, 2)))
        elif pick == 2:
            stem.conv(int(rng.choice([3, 5])), stride=int(rng.integers(1, 3)), depthwise=True)
        elif pick == 3:
            stem.pool("AVERAGE_POOL_2D", int(rng.integers(2, 4)), int(rng.integers(1, 3)), int(rng.integers(0, 2)))
        elif pick == 4:
            stem.pool("MAX_POOL_2D", 3, int(rng.integers(1, 3)), SAME)
        elif pick == 5:
            stem.pad()
        else:
            stem.residual()
    return stem.save()


def _same_as_tflm(path, split, inputs=3):
    g = load_model(path)
    host, ref = HostModel(patch.plan(g, split), "patched"), tflm(path)
    t = g.tensor(g.inputs[0])
    rng = np.random.default_rng(1)
    for _ in range(inputs):
        x = rng.integers(-128, 128, size=t.shape).astype(np.int8)
        ref.set_input(x, 0)
        ref.invoke()
        assert host.run([x]) == [ref.get_output(0).tobytes()], f"{split} differs from TFLM"


@pytest.mark.parametrize("cache", [False, True], ids=["recompute", "cache"])
@pytest.mark.parametrize("seed", range(24 if LARGE else 6))
def test_every_split_of_a_random_stem_is_tflms(seed, cache):
    """With the cache, up to 8 rows of tiles (thin tiles are where it pays, and where a tile's new rows can
    be few, none, or padding alone)."""
    path = random_stem(seed)
    g = load_model(path)
    ends = patch.stage_ends(g)
    assert ends, "every op of these stems is patchable"
    rng = np.random.default_rng(seed)
    for s in ends:
        _, h, w, _ = g.tensor(g.ops[s].outputs[0]).shape
        rows = int(rng.integers(1, min(h, 8 if cache else 4) + 1))
        grid = (rows, int(rng.integers(1, min(w, 4) + 1)))     # uneven too
        _same_as_tflm(path, patch.Split(s, grid, cache))


def test_macs_of_a_two_conv_chain_by_hand():
    """Two 3x3 SAME convs on 8x8 in 2x2 tiles: each tile of the second conv's 4x4 output needs a 5x5 tile
    of the first's output (one halo row and column toward the image's middle), so the first conv computes
    4 x 25 = 100 pixels instead of 64; the second its 64. MACs = pixels x 9 x in-channels x out-channels."""
    stem = Stem(np.random.default_rng(0), 8, 8, 2)
    stem.conv(3, cout=3)
    stem.conv(3, cout=4)
    path = stem.save()
    low = patch.plan(load_model(path), patch.Split(1, (2, 2)))
    assert low.macs == 100 * 9 * 2 * 3 + 64 * 9 * 3 * 4
    _same_as_tflm(path, patch.Split(1, (2, 2)))


def test_macs_of_a_two_conv_chain_with_the_halo_cache_by_hand():
    """The same chain in 2x2 tiles with the rows' halo cached: tiles run down each column and the first
    conv's rows the tile above computed are kept, so each column's 8 rows of it are computed once, but
    still 5 columns wide for 4 of the output (the columns' halo is computed again): 2 x 8 x 5 = 80 pixels
    instead of 100. In 4x1 tiles nothing is computed twice: layer by layer's MACs."""
    stem = Stem(np.random.default_rng(0), 8, 8, 2)
    stem.conv(3, cout=3)
    stem.conv(3, cout=4)
    path = stem.save()
    g = load_model(path)
    assert patch.plan(g, patch.Split(1, (2, 2), cache=True)).macs == 80 * 9 * 2 * 3 + 64 * 9 * 3 * 4
    assert patch.plan(g, patch.Split(1, (4, 1), cache=True)).macs == 64 * 9 * 2 * 3 + 64 * 9 * 3 * 4
    _same_as_tflm(path, patch.Split(1, (2, 2), cache=True))
    _same_as_tflm(path, patch.Split(1, (4, 1), cache=True))


@pytest.mark.parametrize("cache", [False, True], ids=["recompute", "cache"])
def test_a_tile_of_padding_alone(cache):
    """PAD with 3 rows and columns of padding before and after a 6x6 input, split into 12x12 tiles 1 pixel
    high: the first and last tiles are padding alone, which read no input; the planner grows them to one
    row of it (the values computed again), and the output is still TFLM's."""
    stem = Stem(np.random.default_rng(0), 6, 6, 2)
    stem.conv(1, cout=2)
    p = np.array([[0, 0], [3, 3], [3, 3], [0, 0]], np.int32)
    q = stem.s.graph.tensors[stem.x].quantization
    y = stem.s.tensor((1, 12, 12, 2), np.int8, stem.scale, q.zeroPoint[0])
    stem.s.op("PAD", [stem.x, stem.s.tensor((4, 2), np.int32, data=p)], [y])
    stem.x, stem.shape = y, (12, 12, 2)
    stem.conv(3, cout=2)
    path = stem.save()
    _same_as_tflm(path, patch.Split(1, (12, 3), cache))
    _same_as_tflm(path, patch.Split(2, (12, 1), cache))


def test_a_view_is_bytes_of_its_tensor_and_no_live_buffer_shares_them():
    """The arena planner's views (a tile's rows inside its buffer): at the offset asked, and the whole
    group's bytes kept from any buffer live at the same time, for every placement order."""
    from harness.plan.memory import GreedyPlanner
    p = GreedyPlanner()
    p.add_buffer(0, 1000, 0, 2)       # a tile buffer
    p.add_buffer(1, 400, 1, 1)        # its last 400 bytes, written by a kernel
    p.add_buffer(2, 300, 2, 3)        # 300 bytes of it from another's offset 0 on
    p.add_buffer(3, 900, 1, 2)        # live beside them
    p.add_buffer(4, 640, 3, 4)        # live beside view 2 only
    p.add_alias(1, 0, 600)
    p.add_alias(2, 1, 100)            # a view of a view: 700 bytes into buffer 0
    plan = p.plan()
    assert plan.offsets[1] == plan.offsets[0] + 600 and plan.offsets[2] == plan.offsets[0] + 700
    group = range(plan.offsets[0], plan.offsets[0] + 1000)
    for other in (3, 4):
        mine = range(plan.offsets[other], plan.offsets[other] + (900 if other == 3 else 640))
        assert not set(group) & set(mine)


def test_a_split_that_is_not_a_stage_is_refused():
    stem = Stem(np.random.default_rng(0), 8, 8, 2)
    stem.conv(3, cout=3)
    g = load_model(stem.save())
    with pytest.raises(patch.ModelError, match=r"op5:2x2: ops 0..5 are not a stage"):
        patch.patch_graph(g, patch.Split(5, (2, 2)))
    with pytest.raises(patch.ModelError, match="expected op<N>:<rows>x<cols>"):
        patch.Split.parse("7:3x3")
    with pytest.raises(patch.ModelError, match="expected op<N>:<rows>x<cols>"):
        patch.Split.parse("op7:3x3:cached")
    assert patch.Split.parse("op7:8x2:cache") == patch.Split(7, (8, 2), cache=True)
