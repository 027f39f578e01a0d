"""The host's quantization formulas against their definitions (TFLM's QuantizeMultiplier contract)."""
import math

import numpy as np
import pytest

from harness.plan.quant import quantize_multiplier, tfl_round


@pytest.mark.parametrize("real,expected", [(0.5, (1 << 30, 0)), (1.0, (1 << 30, 1)), (0.25, (1 << 30, -1)),
                                           (0.0, (0, 0)), (2.0 ** -40, (0, 0))])
def test_exact_cases(real, expected):
    assert quantize_multiplier(real) == expected


def test_round_half_away_from_zero():
    assert [tfl_round(x) for x in (0.5, 1.5, -0.5, -1.5, 2.4999)] == [1, 2, -1, -2, 2]


def test_multiplier_reconstructs_the_real_value():
    rng = np.random.default_rng(7)
    for real in np.exp(rng.uniform(math.log(1e-6), math.log(4.0), 2000)):
        q, shift = quantize_multiplier(float(real))
        assert (1 << 30) <= q < (1 << 31)                # normalised to [0.5, 1) in Q31
        assert abs(q * 2.0 ** (shift - 31) - real) <= real * 2.0 ** -31
