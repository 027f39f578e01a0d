"""The conv/FC DSP kernel's per-channel requantization records (tm_requantize_rq in
firmware/runtime/tm_quant.h): everything the bounded requantization of one output channel needs, computed
once here instead of per output in the kernel, and the proof that the record form is exact for an op.

A record is len(RQ_FIELDS) int32 words in the order of tm_quant.h's TM_RQ_* enum (the same names)."""
from __future__ import annotations

import numpy as np

RQ_FIELDS = ("bias2", "mult", "addend", "right")


def sum_bound(w: np.ndarray, bias: np.ndarray | None, in_offset: int) -> np.ndarray:
    """Per output channel, a bound on |sum + bias| over every input the op can see: w is [out_c][K] int8,
    each tap's input x + in_offset with x in [-128, 127] (or 0, padding)."""
    x_max = max(abs(-128 + int(in_offset)), abs(127 + int(in_offset)))
    w_abs = np.abs(np.asarray(w, np.int64)).sum(axis=1)
    b_abs = np.abs(np.asarray(bias, np.int64)) if bias is not None else np.zeros(len(w_abs), np.int64)
    return b_abs + x_max * w_abs


def rq_records(w: np.ndarray, bias: np.ndarray | None, in_offset: int, mult, shift,
               out_zero_point: int) -> np.ndarray | None:
    """[out_c][len(RQ_FIELDS)] int32 records, or None where tm_requantize_rq's precondition (tm_quant.h)
    does not hold for every channel: multiplier >= 0; shift <= -1 (left = 0, right >= 1); |x| < 2^30 for
    every x = sum + bias (so x' = 2x fits int32, as tm_requantize_bounded needs); and the high word
    y + addend - [x < 0] in int32, y being the high multiply floor((x' * mult + 2^31) / 2^32), whose
    magnitude is at most floor((2 * bound * mult + 2^31) / 2^32) + 1."""
    mult = np.asarray(mult, np.int64)
    shift = np.asarray(shift, np.int64)
    bound = sum_bound(w, bias, in_offset)
    if (mult < 0).any() or (shift > -1).any() or (bound >= 2**30).any():
        return None
    right = -shift
    half = np.left_shift(np.int64(1), right - 1)
    addend = half + int(out_zero_point) * np.left_shift(np.int64(1), right)
    y_max = ((2 * bound * mult + 2**31) >> 32) + 1
    if (y_max + np.abs(addend) + 1 >= 2**31).any():
        return None
    b = np.asarray(bias, np.int64) if bias is not None else np.zeros(len(bound), np.int64)
    return np.stack([2 * b, mult, addend, right], axis=1).astype(np.int32)
