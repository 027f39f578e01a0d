"""Candidate mappings from the emulator's counts to real cycles, fitted by least squares on relative
residuals and compared by leave-one-out cross-validation.

Each candidate is linear in its coefficients plus an optional fixed part: real_cycles = offset + X · beta,
where a row of X holds features of one measurement (modelled cycles, executed instructions, modelled
cycles per op type, memory-system event counts, a constant) and `offset` is a part of the prediction that
is not fitted (the core model's own cycles, for the candidates that only re-weigh the memory system's
stalls). The fit minimises the sum of squared *relative* residuals ((predicted - measured) / measured),
because the workload spans orders of magnitude in latency and a table is judged by its relative error per
model: with an offset that is least squares of (measured - offset) on X, weighted by 1 / measured.

Memory-system events (Point.events, from the emulator's memory model, EmulatedBoard.memory_events()):
  stall_cycles          cycles the model added for documented flash stalls, both sides (inside `cycles`)
  fetch_lines           instruction fetches that start a new flash line
  icache_hits           ... served by the instruction cache (F446: ART; F7: the M7's L1 I-cache)
  prefetched_lines      ... served by the prefetch buffer (sequential lines)
  icache_misses         ... read from the flash on demand
  data_reads            loads from the flash (weights, constants, literal pools)
  dcache_hits           ... served by the data cache (F446: ART; F7: the M7's L1 D-cache)
  dcache_misses         ... that read the flash
  data_stall_cycles     the part of stall_cycles those misses cost
A candidate that needs a key some measurement lacks is not fitted ("the measurements lack its inputs").
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
    events: dict[str, int] | None = None     # memory-system event counts per inference (module docstring)


def _zero(p: Point) -> float:
    return 0.0


@dataclass(frozen=True)
class Candidate:
    name: str
    description: str
    features: Callable[[list[Point]], list[str] | None]   # feature names for this data, None if unusable
    row: Callable[[Point, list[str]], list[float] | None]  # one row of X, None if the point lacks inputs
    # The fixed, not fitted, part of the prediction (None if the point lacks its inputs). A candidate with
    # a non-zero offset keeps the core model's cycles as they are and fits only the memory system's part:
    # its coefficients can be compared with the emulator's own (`model_coefficients`), which is what the
    # transfer term of FitResult.transfer_err is built from.
    offset: Callable[[Point], float | None] = _zero
    requires: tuple[str, ...] = ()          # event keys it needs (for the reason it is not fitted)

    @property
    def has_offset(self) -> bool:
        return self.offset is not _zero


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


# ------------------------------------------------------------------ memory-system event candidates
def _has_events(p: Point, keys) -> bool:
    return p.events is not None and all(k in p.events for k in keys)


def event_value(p: Point, name: str) -> float | None:
    """The event count `name` of the point, None if it lacks it."""
    return float(p.events[name]) if _has_events(p, (name,)) else None


def _core(p: Point) -> float | None:
    """The core model's cycles: modelled cycles less the stalls the memory model added to them."""
    return float(p.cycles - p.events["stall_cycles"]) if _has_events(p, ("stall_cycles",)) else None


def _less_fetch_stalls(p: Point) -> float | None:
    """Modelled cycles less the instruction side's stalls (the data side's kept as modelled): the fixed
    part of the mappings that re-price instruction fetches. A point measured before the data side was
    modelled has no data_stall_cycles: all its stalls were fetch stalls."""
    if not _has_events(p, ("stall_cycles",)):
        return None
    return float(p.cycles - (p.events["stall_cycles"] - p.events.get("data_stall_cycles", 0)))


def _less_data_stalls(p: Point) -> float | None:
    """Modelled cycles less the data side's stalls (the instruction side's kept): the fixed part of the
    mappings that re-price loads from the flash."""
    if not _has_events(p, ("stall_cycles", "data_stall_cycles")):
        return None
    return float(p.cycles - p.events["data_stall_cycles"])


def _event_features(*keys: str):
    """Features `keys` (event names), when every point has them and the stalls its core part needs."""
    def features(points):
        if not points or not all(_has_events(p, ("stall_cycles",) + keys) for p in points):
            return None
        return list(keys)
    return features


def _event_row(p: Point, names: list[str]):
    values = [event_value(p, n) for n in names]
    return None if any(v is None for v in values) or _core(p) is None else values


def _on_event(name: str, description: str, event: str, offset: Callable[[Point], float | None]) -> Candidate:
    """A mapping with a fixed part (`offset`) plus a x one memory-system event count."""
    return Candidate(name, description, _event_features(event), _event_row, offset,
                     tuple(dict.fromkeys(("stall_cycles", event))))


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
    _on_event("core+stalls",
              "real = core cycles (modelled - stall_cycles) + a x stall_cycles: a is how far the memory model's "
              "documented flash/cache stalls are understated (a > 1) or overstated (a < 1) on the board",
              "stall_cycles", _core),
    _on_event("core+fetch-lines",
              "real = core cycles + a x fetch_lines: a is the effective cycles the board loses per "
              "instruction fetch that starts a new flash line (misses, prefetch and wait states together); "
              "the data side's modelled stalls are dropped, as if a carried them too",
              "fetch_lines", _core),
    _on_event("core+data-stalls+fetch-lines",
              "real = modelled cycles less the instruction-fetch stalls + a x fetch_lines: as core+fetch-lines, "
              "but the data side's stalls stay as modelled",
              "fetch_lines", _less_fetch_stalls),
    _on_event("core+misses",
              "real = core cycles + a x icache_misses: a is the effective cycles per instruction fetch read "
              "from the flash on demand",
              "icache_misses", _core),
    _on_event("core+flash-reads",
              "real = modelled cycles less the data stalls + a x data_reads: a is the effective cycles the board "
              "loses per load from the flash (its data cache, wait states and bus contention together); the "
              "instruction side's stalls stay as modelled",
              "data_reads", _less_data_stalls),
    _on_event("core+data-misses",
              "real = modelled cycles less the data stalls + a x dcache_misses: a is the effective cycles per "
              "data line read from the flash; the instruction side's stalls stay as modelled",
              "dcache_misses", _less_data_stalls),
)}


def points_needed(n_params: int) -> int:
    """Measurements needed to fit a candidate: every leave-one-out fit keeps at least n_params + 1
    points (one degree of freedom left to see a residual), and never fewer than 5 builds in all, so one
    odd build cannot make the table. A fixed offset is not a parameter."""
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
    # Candidates with a fixed core part (Candidate.offset) only:
    model_coefficients: list[float] | None = None   # the same candidate fitted to the emulator's own cycles
    shares: list[float] | None = None               # mean over the calibration points of feature / real cycles

    @property
    def rel_err(self) -> float:
        """The relative error stated with a prediction: twice the LOO RMS (about 95 % for normal errors),
        and never below the worst point left out."""
        return max(2 * self.loo_rms_rel, self.loo_max_rel)

    @property
    def transfers(self) -> bool:
        """Whether a prediction's error carries the transfer term (a fixed core part + fitted stalls)."""
        return self.model_coefficients is not None and self.shares is not None

    def predict(self, point: Point) -> float | None:
        cand = CANDIDATES[self.candidate]
        row = cand.row(point, self.features)
        offset = cand.offset(point)
        return None if row is None or offset is None else offset + float(np.dot(row, self.coefficients))

    def feature_shares(self, point: Point, real_cycles: float) -> list[float] | None:
        row = CANDIDATES[self.candidate].row(point, self.features)
        return None if row is None or not real_cycles else [x / real_cycles for x in row]

    def transfer_err(self, point: Point, real_cycles: float | None = None) -> float:
        """The relative error added to rel_err when this fit predicts firmware other than the calibration
        set (0 for candidates without a fixed core part):

            transfer = sum over features k of |a_k - m_k| x |s_k - S_k|

        a_k: the fitted coefficient; m_k: the emulator's own (the same candidate fitted to the modelled
        cycles: 1 for core+stalls); s_k = feature_k / real cycles of THIS firmware (the prediction);
        S_k = the mean of feature_k / measured real cycles over the calibration points.

        Why: the calibration set cannot tell "the stalls are understated by a - m" from "the core model
        is off by a matching amount, absorbed into a" when its stall share barely varies. If the core
        model is off by e and the fit absorbed it, (a - m) S = e (to first order in the shares), and a
        firmware with share s is then mispredicted by (a - m)(s - S). Taking the whole departure a - m
        as absorbed core error is the worst reading while the board's true coefficient lies between m and
        a: the term bounds the error then, is zero at the calibration set's own mix, and grows with how
        far this firmware's share is from it. (Exactly, for one coefficient, with k = core / real: the
        error is (a - a_true)(s - k S_w), S_w = sum S_i^2 / sum S_i k_i over the calibration points; the
        stated form takes k = 1, the first order when the stall part of real cycles is small.)"""
        if not self.transfers:
            return 0.0
        if real_cycles is None:
            real_cycles = self.predict(point)
        shares = None if real_cycles is None else self.feature_shares(point, real_cycles)
        if shares is None:
            raise HarnessError(f"{self.candidate}: the prediction lacks the memory-system events it needs")
        return float(sum(abs(a - m) * abs(s - S) for a, m, s, S in
                         zip(self.coefficients, self.model_coefficients, shares, self.shares)))


def _independent(X: np.ndarray, y: np.ndarray) -> bool:
    """The features are not (nearly) proportional to each other in these rows: the weighted design's
    columns, each scaled to unit length, are well conditioned. The weights are 1 / measured real cycles
    whether or not the candidate has a fixed offset (the offset moves the target, y - offset, not the
    weights nor the design), so the same test holds for both."""
    Xw = X / y[:, None]
    norms = np.linalg.norm(Xw, axis=0)
    return bool(np.all(norms > 0)) and np.linalg.cond(Xw / norms) < 1e4


def _solve(X: np.ndarray, y: np.ndarray, offset: np.ndarray | None = None) -> np.ndarray:
    """Least squares of the relative residuals (offset + X beta - y) / y: fits y - offset, weights 1 / y."""
    w = 1.0 / y                              # relative residuals
    target = y if offset is None else y - offset
    beta, *_ = np.linalg.lstsq(X * w[:, None], target * w, rcond=None)
    return beta


def fit_candidate(name: str, points: list[Point]) -> FitResult | str:
    """The candidate fitted to `points`, or why it cannot be (too few points, missing inputs)."""
    cand = CANDIDATES[name]
    names = cand.features(points)
    if names is None:
        need = f" (events: {', '.join(cand.requires)})" if cand.requires else ""
        return f"the measurements lack its inputs{need}"
    need = points_needed(len(names))
    if len(points) < need:
        return f"needs at least {need} measurements, has {len(points)}"
    rows = [cand.row(p, names) for p in points]
    offsets = [cand.offset(p) for p in points]
    if any(r is None for r in rows) or any(o is None for o in offsets):
        return "the measurements lack its inputs"
    X = np.array(rows, dtype=float)
    off = np.array(offsets, dtype=float)
    y = np.array([p.real_cycles for p in points], dtype=float)
    zero = [n for n, col in zip(names, X.T) if not np.any(col)]
    if zero:
        return f"{', '.join(zero)} is zero in every measurement"
    if not _independent(X, y):
        return "its inputs do not vary independently in these measurements"
    beta = _solve(X, y, off)
    fit_rel = (off + X @ beta - y) / y
    loo_rel = np.empty(len(points))
    for i in range(len(points)):
        keep = np.arange(len(points)) != i
        if not np.all(np.any(X[keep], axis=0)) or not _independent(X[keep], y[keep]):
            return f"leaving out {points[i].label or i} leaves its inputs undetermined"
        loo_rel[i] = (off[i] + X[i] @ _solve(X[keep], y[keep], off[keep]) - y[i]) / y[i]
    model_coef = shares = None
    if cand.has_offset:
        modelled = np.array([p.cycles for p in points], dtype=float)
        model_coef = [float(b) for b in _solve(X, modelled, off)]
        shares = [float(s) for s in np.mean(X / y[:, None], axis=0)]
    return FitResult(name, names, [float(b) for b in beta], len(points),
                     float(math.sqrt(np.mean(fit_rel ** 2))), float(math.sqrt(np.mean(loo_rel ** 2))),
                     float(np.max(np.abs(loo_rel))),
                     [(p.label, float(f), float(l)) for p, f, l in zip(points, fit_rel, loo_rel)],
                     model_coef, shares)


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
