"""The 16-bit sigmoid table of the integer LSTM's gates (firmware/kernels/lut_int16.h), derived here
rather than copied: sigmoid(i / 24) for i = 0..255 in 0.16 fixed point, each point lowered or raised by
half the linear interpolation's error at the middle of its segment (the chord's midpoint against
sigmoid's value there), so interpolating between two entries errs about equally at the knots and in the
middle; the last entry is 65535, the value the kernel uses for every input past the table (its
saturation), so the last segment runs into it. Checked two ways: the header must be this function's
output (tests/kernels/test_lstm.py), and the LSTM built on it is bit-exact with TFLM's."""
from __future__ import annotations

import math

STEP = 1.0 / 24.0            # the table's input step (the kernel's 3 * 2^12 / 2^9 input units per entry)
ENTRIES = 256
ONE = 65536                  # 0.16 fixed point


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def sigmoid_table_u16() -> list[int]:
    out = []
    for i in range(ENTRIES - 1):
        x = i * STEP
        chord_mid = (_sigmoid(x) + _sigmoid(x + STEP)) / 2
        err = chord_mid - _sigmoid(x + STEP / 2)        # the interpolation's error mid-segment
        out.append(min(ONE - 1, math.floor((_sigmoid(x) - err / 2) * ONE + 0.5)))
    return out + [ONE - 1]


def header_table() -> str:
    """The C initializer lines of the table, as lut_int16.h holds them (16 per line)."""
    t = sigmoid_table_u16()
    return "\n".join("    " + ", ".join(str(v) for v in t[k:k + 16]) + ("," if k + 16 < ENTRIES else "")
                     for k in range(0, ENTRIES, 16))


if __name__ == "__main__":        # python -m harness.plan.lut: the lines to paste into lut_int16.h
    print(header_table())
