"""What the element-wise activation sweeps share (LEAKY_RELU, HARD_SWISH, PRELU): a case's model is the
activation applied to the model's input itself, so the calibration data decides the input's scale and zero
point (a seeded normal of the case's own mean and spread), and every int8 value of the op's input can be
fed to it (broadcast_cases.every_value)."""
import numpy as np

from broadcast_cases import SCHEMES
from harness.tfgen import convert


def draw_input(rng) -> tuple[tuple, float, float]:
    """A shape (1-D to 4-D without the batch) and the calibration's mean and standard deviation: scales
    from about 0.002 to 1 and zero points across the int8 range."""
    rank = int(rng.integers(1, 5))
    shape = tuple(int(v) for v in rng.integers(1, 7, rank))
    sigma = float(np.exp(rng.uniform(np.log(0.05), np.log(20.0))))
    mu = sigma * float(rng.uniform(-1.5, 1.5))
    return shape, round(mu, 4), round(sigma, 4)


def convert_case(build, key: str, dtype: str, mu: float, sigma: float):
    """The case's .tflite: calibration N(mu, sigma) (int8 and int16); float32 is not calibrated."""
    return convert(build, key, folder="sweep", calibration=lambda rng, shape: rng.normal(mu, sigma, size=(1, *shape)),
                   **SCHEMES[dtype])
