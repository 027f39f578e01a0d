"""A board's cycle-to-latency table: renode/calibration/<board>.toml read into a CalibrationTable, which
turns the emulator's counts for one inference into a latency and an energy with error bars.

The shipped file of every board is `uncalibrated`: latency = modelled cycles / the .repl's clock, with a
relative uncertainty per core model stated (and reasoned) in the file. `harness calibrate` adds a
`[calibrated]` section fitted to hardware measurements; it records the board facts it was measured at
(clock, flash wait states, accelerator, caches, where code and data sit), and a table whose facts no
longer match the .repl falls back to the uncalibrated mapping rather than predict from a stale fit.
A table fitted to a published latency table (`harness calibrate --published`) says so in its status:
"calibrated (n=5, source: MicroNets Table 4 via TFLM+CMSIS-NN)". A mapping with a fixed core part and
fitted memory stalls adds a transfer term to the error of each prediction (models.FitResult.transfer_err),
from the memory-system events of the firmware predicted; without them the next mapping is used with its
error doubled. Every prediction's band also covers each other fitted mapping the ground truth does not
reject (worst left-out error within PLAUSIBLE_LOO), with that mapping's own error: where the calibration
builds cannot tell two mappings apart, a firmware unlike them is not given one of their answers as known.
"""
from __future__ import annotations

import math
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from harness.board import Board, load_board
from harness.calibration.models import CANDIDATES, FitResult, Point
from harness.errors import HarnessError

CALIBRATION_DIR = Path(__file__).resolve().parent.parent.parent / "renode" / "calibration"
ENV_DIR = "HARNESS_CALIBRATION"      # another folder of tables, e.g. a lab's fresh fit before it is committed


def _decimals(err: float) -> int:
    """Decimals that show the error to two significant digits."""
    return max(0, 1 - math.floor(math.log10(err))) if err > 0 else 3


def plus_minus(value: float, err: float, unit: str) -> str:
    d = _decimals(err) if err > 0 else _decimals(abs(value) / 100 if value else 1)
    return f"{value:.{d}f} ± {err:.{d}f} {unit}"


@dataclass(frozen=True)
class Prediction:
    latency_ms: float
    latency_err_ms: float
    energy_mj: float
    energy_err_mj: float
    status: str                      # "uncalibrated" | "calibrated (n=...)" | "measured"

    @property
    def upper_ms(self) -> float:
        return self.latency_ms + self.latency_err_ms

    @property
    def latency(self) -> str:
        return plus_minus(self.latency_ms, self.latency_err_ms, "ms")

    @property
    def energy(self) -> str:
        return plus_minus(self.energy_mj, self.energy_err_mj, "mJ")

    def __str__(self) -> str:
        return f"{self.latency} ({self.status})"

    def as_dict(self) -> dict:
        return {"latency_ms": self.latency_ms, "latency_err_ms": self.latency_err_ms, "energy_mj": self.energy_mj,
                "energy_err_mj": self.energy_err_mj, "latency_upper_ms": self.upper_ms,
                "latency_status": self.status}


def applies_to(board: Board) -> dict:
    """The board facts a calibration depends on, all from the .repl (and the linker script's layout in
    harness/build.py: code and constants in flash, .data/.bss/arena from the start of the data RAM): the
    clock, the flash latency and accelerator, and the cache geometry the memory model prices stalls with
    (its events and stall_cycles, which the event mappings are fitted on, change with it)."""
    ram_base, ram_size = board.ram_span
    data = [r.name for r in board.ram_regions if ram_base <= r.base < ram_base + ram_size]

    def fact_line(name: str) -> str:
        d = board.facts.get(name)
        return " ".join(f"{k}={v}" for k, v in sorted(d.items())) if d else "none"
    return {
        "repl": board.path.name,
        "core": board.core,
        "clock_hz": board.clock_hz,
        "flash_wait_states": board.flash_wait_states,
        "flash_accelerator": board.flash_accelerator,
        "art": fact_line("art"),             # the ART's cache geometry (F446), priced by the memory model
        "cache": fact_line("cache"),         # the core's L1 caches (F7)
        "code_and_weights": board.flash.name,
        "data_and_arena": "+".join(data),
    }


def calibrated_status(n: int, source_label: str = "") -> str:
    """The status a calibrated table states: `calibrated (n=5, source: ...)`, or without a source label."""
    return f"calibrated (n={n}" + (f", source: {source_label})" if source_label else ")")


# A mapping whose worst leave-one-out error on the ground truth exceeds this is rejected by it; the others
# are all consistent with it (issue 15's target for the shipped tables: +-10 % left out).
PLAUSIBLE_LOO = 0.10


@dataclass
class CalibrationTable:
    board: Board
    rel_err: float                          # the uncalibrated mapping's relative uncertainty
    power_w: float
    power_err_w: float
    power_source: str = ""
    fits: list[FitResult] = field(default_factory=list)    # calibrated: the chosen fit first
    n: int = 0                                               # measurements behind the fits
    path: Path | None = None
    note: str = ""                                           # why a calibration in the file is not used
    source: str = ""                                         # where the measurements came from (a label)

    @property
    def calibrated(self) -> bool:
        return bool(self.fits)

    @property
    def status(self) -> str:
        return calibrated_status(self.n, self.source) if self.calibrated else "uncalibrated"

    def describe(self) -> dict:
        """What a report records about the table it used."""
        d = {"status": self.status, "path": str(self.path) if self.path else None,
             "power_w": self.power_w, "power_err_w": self.power_err_w}
        if self.calibrated:
            d.update(mapping=self.fits[0].candidate, rel_err=self.fits[0].rel_err)
            if self.fits[0].transfers:
                d["transfer"] = "rel_err + sum |a - m| x |s - S| per prediction (harness/calibration/models.py)"
            if self.source:
                d["source"] = self.source
        else:
            d.update(rel_err=self.rel_err)
        if self.note:
            d["note"] = self.note
        return d

    def _cycles(self, cycles: float, instructions: int | None, ops, events=None) -> tuple[float, float, str]:
        """(real cycles, relative error, status). The chosen fit predicts when it has its inputs, its
        error plus the transfer term (FitResult.transfer_err) for a mapping with a fixed core part, widened
        to cover the other plausible mappings (_disagreement); else the best fit whose inputs we have, and
        when what was missing is the memory-system events the chosen mapping needs, with its error doubled
        (the transfer cannot be assessed) and said so."""
        point = Point(0.0, cycles, instructions, dict(ops) if ops else None, "", dict(events) if events else None)
        chosen = self.fits[0] if self.fits else None
        for fit in self.fits:                   # the chosen fit, else the best one whose inputs we have
            real = fit.predict(point)
            if real is None:
                continue
            if fit.transfers:
                err = fit.rel_err + fit.transfer_err(point, real)
                return real, max(err, self._disagreement(point, real)), self.status
            if fit is chosen:
                return real, max(fit.rel_err, self._disagreement(point, real)), self.status
            if CANDIDATES[chosen.candidate].requires:
                return (real, 2 * fit.rel_err,
                        f"{self.status[:-1]}; no memory-system events: {fit.candidate}, error x2)")
            return real, fit.rel_err, self.status
        return float(cycles), self.rel_err, "uncalibrated"

    def _disagreement(self, point: Point, real: float) -> float:
        """The widest band that also covers every other mapping the ground truth does not reject (its worst
        left-out error within PLAUSIBLE_LOO): each one's prediction for this firmware with its own error.
        The calibration set cannot tell those mappings apart (they all fit it); a firmware whose counts
        differ from it (our kernels in ITCM fetch almost no flash line; TFLM + CMSIS-NN fetches millions)
        can get different answers from them, and the band says so instead of picking one."""
        widest = 0.0
        for other in self.fits[1:]:
            if other.loo_max_rel > PLAUSIBLE_LOO:
                continue
            theirs = other.predict(point)
            if theirs is not None and real > 0:
                widest = max(widest, abs(theirs - real) / real + other.rel_err)
        return widest

    def predict(self, cycles: float, instructions: int | None = None, ops=None, events=None) -> Prediction:
        """Latency and energy of one inference from the emulator's counts for it: modelled `cycles`,
        executed `instructions`, optionally modelled cycles per op type (`ops`: {op: cycles}) and the
        memory-system event counts (`events`: {name: count}, harness/calibration/models.py)."""
        if cycles is None or cycles < 0:
            raise HarnessError(f"cannot predict a latency from {cycles!r} cycles")
        real, rel, status = self._cycles(cycles, instructions, ops, events)
        return self._prediction(real, rel, status)

    def measured(self, cycles: int) -> Prediction:
        """A latency measured on the board (its own DWT cycles): no model error, energy from the power."""
        return self._prediction(float(cycles), 0.0, "measured")

    def _prediction(self, real_cycles: float, rel: float, status: str) -> Prediction:
        ms = self.board.ms(real_cycles)
        err_ms = rel * ms
        mj = self.power_w * ms                   # W x ms = mJ
        rel_e = math.hypot(rel, self.power_err_w / self.power_w) if self.power_w else 0.0
        return Prediction(ms, err_ms, mj, rel_e * mj, status)


def _fit_from_toml(d: dict, n: int) -> FitResult:
    floats = lambda key: [float(x) for x in d[key]] if key in d else None
    return FitResult(d["candidate"], list(d["features"]), [float(c) for c in d["coefficients"]], n,
                     float(d["fit_rms_rel"]), float(d["loo_rms_rel"]), float(d["loo_max_rel"]),
                     model_coefficients=floats("model_coefficients"), shares=floats("shares"))


def load_table(path: Path, board: Board | None = None) -> CalibrationTable:
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise HarnessError(f"cannot read the calibration table {path}: {e}") from None
    board = board or load_board(doc.get("board", path.stem))
    unc, power = doc.get("uncalibrated", {}), doc.get("power", {})
    for section, key in (("uncalibrated", "rel_err"), ("uncalibrated", "core_model"), ("power", "watts"),
                         ("power", "err_watts")):
        if key not in doc.get(section, {}):
            raise HarnessError(f"{path}: missing [{section}] {key}")
    if unc["core_model"] != board.core:
        raise HarnessError(f"{path}: its uncertainty is for the {unc['core_model']} model, {board.name} "
                           f"runs the {board.core} model")
    table = CalibrationTable(board, float(unc["rel_err"]), float(power["watts"]), float(power["err_watts"]),
                             power.get("source", ""), path=path)
    cal = doc.get("calibrated")
    if cal:
        want, got = applies_to(board), cal.get("applies_to", {})
        stale = {k: (got.get(k), v) for k, v in want.items() if k != "repl" and got.get(k) != v}
        if stale:
            table.note = (f"{path.name}: calibrated at " + ", ".join(f"{k}={a}" for k, (a, _) in stale.items())
                          + "; the board now has " + ", ".join(f"{k}={b}" for k, (_, b) in stale.items())
                          + ": using the uncalibrated mapping")
        else:
            table.n = int(cal["n"])
            table.source = cal.get("source_label", "")
            table.fits = [_fit_from_toml(f, table.n) for f in cal.get("fits", []) if f["candidate"] in CANDIDATES]
    return table


def table_for(board: Board | str, calibration_dir: Path | None = None) -> CalibrationTable:
    """The board's table from renode/calibration/<board>.toml (or `calibration_dir`, or $HARNESS_CALIBRATION)."""
    if not isinstance(board, Board):
        board = load_board(board)
    path = Path(calibration_dir or os.environ.get(ENV_DIR) or CALIBRATION_DIR) / f"{board.name}.toml"
    if not path.is_file():
        raise HarnessError(f"no calibration table for {board.name} at {path}")
    return load_table(path, board)
