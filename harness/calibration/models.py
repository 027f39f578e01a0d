"""Candidate mappings from the emulator's counts to real cycles, fitted by least squares on relative
residuals and compared by leave-one-out cross-validation.

Each candidate is linear in its coefficients: real_cycles = X · beta, where a row of X holds features of
one measurement (modelled cycles, executed instructions, modelled cycles per op type, a constant). The
fit minimises the sum of squared *relative* residuals ((predicted - measured) / measured), because the
workload spans orders of magnitude in latency and a table is judged by its relative error per model.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from harness.errors import HarnessError


@dataclass(frozen=True)
class Point:
    """One measurement: what the emulator counted for a firmware build and what the board took."""
    real_cycles: float                       # measured latency x board clock
    cycles: int                              # modelled cycles per inference (emulated)
    instructions: int | None = None          # executed instructions per inference (emulated)
    ops: dict[str, int] | None = None        # modelled cycles per op type, when a per-op profile exists
    label: str = ""                          # model or firmware, for the residual report


@dataclass(frozen=True)
class Candidate:
    name: str
    description: str
    features: Callable[[list[Point]], list[str] | None]   # feature names for this data, None if unusable
    row: Callable[[Point, list[str]], list[float] | None]  # one row of X, None if the point lacks inputs


def _has_instructions(points):
    return ["cycles", "instructions"] if all(p.instructions is not None for p in points) else None


def _op_features(points):
    if not points or any(p.ops is None for p in points):
        return None
    return sorted({op for p in points for op in p.ops})


def _op_row(p: Point, names: list[str]):
    if p.ops is None or any(op not in names for op in p.ops):
        return None          # an op type the fit never saw has no coefficient
    return [float(p.ops.get(op, 0)) for op in names]


CANDIDATES: dict[str, Candidate] = {c.name: c for c in (
    Candidate("scale", "real = a x modelled cycles",
              lambda pts: ["cycles"], lambda p, n: [float(p.cycles)]),
    Candidate("affine", "real = a x modelled cycles + b (a fixed cost per inference)",
              lambda pts: ["cycles", "const"], lambda p, n: [float(p.cycles), 1.0]),
    Candidate("cycles+instructions", "real = a x modelled cycles + b x instructions",
              _has_instructions,
              lambda p, n: None if p.instructions is None else [float(p.cycles), float(p.instructions)]),
    Candidate("per-op", "real = sum over op types of a_op x modelled cycles in that op type",
              _op_features, _op_row),
)}


def points_needed(n_params: int) -> int:
    """Measurements needed to fit a candidate: every leave-one-out fit keeps at least n_params + 1
    points (one degree of freedom left to see a residual), and never fewer than 5 builds in all, so one
    odd build cannot make the table."""
    return max(5, 2 * n_params + 3)


@dataclass
class FitResult:
    candidate: str
    features: list[str]
    coefficients: list[float]
    n: int
    fit_rms_rel: float                      # RMS relative residual of the fit on all points
    loo_rms_rel: float                      # RMS relative error of each point predicted by a fit without it
    loo_max_rel: float
    residuals: list[tuple[str, float, float]] = field(default_factory=list)   # (label, fit rel, LOO rel)

    @property
    def rel_err(self) -> float:
        """The relative error stated with a prediction: twice the LOO RMS (about 95 % for normal errors),
        and never below the worst point left out."""
        return max(2 * self.loo_rms_rel, self.loo_max_rel)

    def predict(self, point: Point) -> float | None:
        row = CANDIDATES[self.candidate].row(point, self.features)
        return None if row is None else float(np.dot(row, self.coefficients))


def _independent(X: np.ndarray, y: np.ndarray) -> bool:
    """The features are not (nearly) proportional to each other in these rows: the weighted design's
    columns, each scaled to unit length, are well conditioned."""
    Xw = X / y[:, None]
    norms = np.linalg.norm(Xw, axis=0)
    return bool(np.all(norms > 0)) and np.linalg.cond(Xw / norms) < 1e4


def _solve(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    w = 1.0 / y                              # relative residuals
    beta, *_ = np.linalg.lstsq(X * w[:, None], y * w, rcond=None)
    return beta


def fit_candidate(name: str, points: list[Point]) -> FitResult | str:
    """The candidate fitted to `points`, or why it cannot be (too few points, missing inputs)."""
    cand = CANDIDATES[name]
    names = cand.features(points)
    if names is None:
        return "the measurements lack its inputs"
    need = points_needed(len(names))
    if len(points) < need:
        return f"needs at least {need} measurements, has {len(points)}"
    rows = [cand.row(p, names) for p in points]
    X = np.array(rows, dtype=float)
    y = np.array([p.real_cycles for p in points], dtype=float)
    if not _independent(X, y):
        return "its inputs do not vary independently in these measurements"
    beta = _solve(X, y)
    fit_rel = (X @ beta - y) / y
    loo_rel = np.empty(len(points))
    for i in range(len(points)):
        keep = np.arange(len(points)) != i
        if not _independent(X[keep], y[keep]):
            return f"leaving out {points[i].label or i} leaves its inputs undetermined"
        loo_rel[i] = (X[i] @ _solve(X[keep], y[keep]) - y[i]) / y[i]
    return FitResult(name, names, [float(b) for b in beta], len(points),
                     float(math.sqrt(np.mean(fit_rel ** 2))), float(math.sqrt(np.mean(loo_rel ** 2))),
                     float(np.max(np.abs(loo_rel))),
                     [(p.label, float(f), float(l)) for p, f, l in zip(points, fit_rel, loo_rel)])


def choose(points: list[Point]) -> tuple[FitResult, dict[str, FitResult | str]]:
    """Every candidate fitted; the chosen one has the smallest leave-one-out error (the simpler one on a
    tie). Raises HarnessError, saying how many measurements are needed, when none can be fitted."""
    results = {name: fit_candidate(name, points) for name in CANDIDATES}
    fitted = [r for r in results.values() if isinstance(r, FitResult)]
    if not fitted:
        raise HarnessError(f"cannot calibrate from {len(points)} measurement(s): at least "
                           f"{points_needed(1)} distinct firmware builds are needed (the simplest mapping, "
                           f"one scale factor, is checked by leave-one-out cross-validation)")
    best = min(fitted, key=lambda r: (round(r.loo_rms_rel, 6), len(r.features)))
    return best, results
