"""The main job: (model, board) cells -> plan, firmware, run on the board, verdict; run over a matrix of
cells in parallel processes."""
from __future__ import annotations

import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from harness.backends import RunningBoard, open_board
from harness.board import Board, load_board
from harness.codesize import runtime_code_bytes
from harness.errors import HarnessError
from harness.fit import MIN_STACK, Fit, breakdown, static_fit
from harness.inputs import real_inputs
from harness.interrupt import Interrupted, end_workers, signum_of, worker_init
from harness import pipeline
from harness.plan.lower import arena_without_input
from harness.plan import patch as patching
from harness.plan.model import Graph, ModelError, load_model
from harness.plan.patch import MAX_OVERHEAD
from harness.protocol import DutClient
from harness.reference import TflmReference, each_output_agrees, random_inputs, tflm_arena

# Statuses: pass; no-fit (does not fit, and the registry does not expect it to); unsupported (refused by name before
# any build); fail (fit expected but missing, or outputs differ from TFLM); error (the run broke).
FAILING = ("fail", "error")


@dataclass
class Verdict:
    model: str
    board: str
    status: str = "pass"
    reasons: list[str] = field(default_factory=list)
    source: str = "emulated"             # the backend that ran it: emulated | renode | hardware
    expected_fit: bool | None = None
    fit: Fit | None = None
    inputs: int = 0
    mismatches: int | None = None        # inputs with any output differing from TFLM's
    outputs: list[str] = field(default_factory=list)        # the model's output tensors, in the graph's order,
    output_mismatches: list[int] | None = None              # and per output the inputs (random and real) it differs at
    real_inputs: list[str] = field(default_factory=list)   # names of the real inputs also compared
    real_mismatches: int | None = None
    cycles: int | None = None            # per inference, the board's DWT CYCCNT around one tm_invoke
    instructions: int | None = None      # per inference, executed instructions (emulated boards only)
    memory_events: dict[str, int] | None = None   # per inference, the memory system's (emulated boards only)
    # per inference, from the board's calibration table (harness/calibration): predicted from the emulated
    # counts with its error and status ("uncalibrated" | "calibrated (n=...)"), or "measured" on hardware
    latency_ms: float | None = None
    latency_err_ms: float | None = None
    energy_mj: float | None = None
    energy_err_mj: float | None = None
    latency_status: str | None = None
    arena_bytes: int | None = None
    arena_lower_bound: int | None = None
    # SRAM the image holds only for the harness's `db` download (pipeline.harness_ram): a deployment, which
    # writes its input into the arena, needs fit.sram.used minus this
    harness_ram_bytes: int | None = None
    # TFLM's arena for the same model (harness.reference.tflm_arena, its interpreter on this host) and the
    # planned tensors in it (head); the rest (tail) is persistent structures, smaller on a 32-bit target
    tflm_arena_bytes: int | None = None
    tflm_arena_head: int | None = None
    macs: int | None = None
    runtime_code_bytes: int | None = None   # flash of the kernels and executor linked for this model (harness/codesize.py)
    model_bytes: int | None = None
    ops: list[str] = field(default_factory=list)
    memory: dict[str, int] = field(default_factory=dict)   # bytes per part: code, weights, arena, stack...
    elf: str | None = None
    seconds: float = 0.0
    # with `--patch`: the patch-based plan run beside layer by layer (_check_patched; None: not asked)
    patch: dict | None = None

    def set_status(self, status: str, reason: str) -> None:
        if self.status == "pass" or status in FAILING:
            self.status = status
        self.reasons.append(reason)

    @property
    def prediction(self):
        """The latency and energy as a harness.calibration.Prediction (str: '12.3 ± 1.5 ms (status)')."""
        from harness.calibration import Prediction
        if self.latency_ms is None:
            return None
        return Prediction(self.latency_ms, self.latency_err_ms, self.energy_mj, self.energy_err_mj,
                          self.latency_status)

    @property
    def fits(self) -> bool | None:
        return self.fit.fits if self.fit else None

    @property
    def tflm_arena_fits_sram(self) -> bool | None:
        """TFLM's arena alone against the board's SRAM (not a claim that TFLM fits: it needs a stack too)."""
        if self.tflm_arena_bytes is None or self.fit is None:
            return None
        return self.tflm_arena_bytes <= self.fit.sram.size

    def as_dict(self) -> dict:
        d = {k: v for k, v in vars(self).items() if k != "fit"}
        d["fit"] = self.fit.as_dict() if self.fit else None
        d["bit_exact"] = self.mismatches == 0 if self.mismatches is not None else None
        d["latency_upper_ms"] = self.prediction.upper_ms if self.prediction else None
        d["tflm_arena_fits_sram"] = self.tflm_arena_fits_sram
        return d


@dataclass(frozen=True)
class Cell:
    model: str
    path: Path
    board: str                   # name or .repl path
    expected_fit: bool | None = None
    task: str | None = None
    patch: str = "off"           # off | auto | a split such as op7:3x3 (harness/plan/patch.py)
    patch_overhead: float = MAX_OVERHEAD


def _n(count: int) -> str:
    """A byte or cycle count as the reasons write it: 55 296."""
    return f"{count:,}".replace(",", " ")


def _shortfall(fit: Fit) -> str:
    worst = next((r for r in [fit.flash, fit.sram, *fit.regions] if not r.fits), fit.sram)
    name = "flash" if worst is fit.flash else "SRAM" if worst is fit.sram else worst.region
    return f"does not fit: {name} needs {_n(worst.used)} B of {_n(worst.size)} B"


def _judge_fit(v: Verdict) -> None:
    """Not fitting fails a cell only where the registry expects the model to fit; elsewhere (expected not
    to fit, or no expectation: an unregistered model) it is the verdict `no-fit` (README, "Statuses")."""
    if v.fit.fits:
        return
    if v.expected_fit is True:
        v.set_status("fail", _shortfall(v.fit))
    else:
        v.set_status("no-fit", _shortfall(v.fit) + (" (as the registry expects)" if v.expected_fit is False else ""))


def check_cell(model_id: str, model_path: Path, board: Board, *, inputs: int = 20, seed: int = 0,
               backend: str = "emulated", expected_fit: bool | None = None, task: str | None = None,
               patch: str = "off", patch_overhead: float = MAX_OVERHEAD,
               progress: Callable[[str], None] = lambda s: None) -> Verdict:
    start = time.monotonic()
    v = Verdict(model_id, board.name, inputs=inputs, expected_fit=expected_fit, source=backend)
    try:
        graph = _check(v, model_path, board, inputs, seed, backend, task, progress)
        if patch != "off" and graph is not None:
            _check_patched(v, graph, board, inputs, seed, backend, task, patch, patch_overhead, progress)
    except HarnessError as e:
        v.set_status("error", str(e))
    v.seconds = round(time.monotonic() - start, 2)
    return v


def _check(v: Verdict, model_path: Path, board: Board, inputs: int, seed: int, backend: str,
           task: str | None, progress) -> Graph | None:
    """Layer by layer; returns the model's graph, or None when the runtime refused it (`unsupported`)."""
    try:
        graph = load_model(model_path)
        v.model_bytes, v.ops = graph.size_bytes, sorted(set(graph.op_names))     # kept when the plan is refused
        progress("planning")
        low = pipeline.layer_plan(graph, v.model)
    except ModelError as e:
        v.set_status("unsupported", str(e))
        return None
    _tflm_arena(v, model_path)
    _build_and_run(v, graph, low, board, inputs, seed, backend, task, progress)
    return graph


def _build_and_run(v: Verdict, graph, low, board: Board, inputs: int, seed: int, backend: str, task: str | None,
                   progress, name: str | None = None) -> None:
    """A lowered plan's firmware built, fitted, run on the board and compared with TFLM, into `v`."""
    v.arena_bytes, v.arena_lower_bound, v.macs = low.plan.arena_bytes, low.plan.lower_bound, low.macs
    progress("building firmware")
    fw, fits, built, once = pipeline.build_or_measure(board, low, v.model, name)
    v.harness_ram_bytes = 0 if once else pipeline.harness_ram(low, v.model)
    if once:
        v.arena_bytes = built.plan.arena_bytes
        v.reasons.append(f"fits only without the harness's {_n(pipeline.harness_ram(low, v.model))} B for its "
                         "download: it lands in the input tensor, one inference per download")
    if not fits:
        # Before a run only the link's own stack reserve is known: counted, as the link refused without it.
        v.fit, v.elf = static_fit(board, fw.elf, stack=MIN_STACK), str(fw.elf)
        v.memory = breakdown(fw.elf)
        _judge_fit(v)
        return
    v.elf = str(fw.elf)
    v.runtime_code_bytes = runtime_code_bytes(fw.elf)
    dut = open_board(backend, board, fw.elf)
    try:
        stack = judge_session(v, dut, graph, low, board, inputs, seed, task, progress)
    finally:
        dut.close()   # a serial port or a Renode process is not left behind
    v.fit = static_fit(board, fw.elf, stack=stack)
    v.memory = breakdown(fw.elf, stack)
    _judge_fit(v)


def _check_patched(v: Verdict, graph: Graph, board: Board, inputs: int, seed: int, backend: str,
                   task: str | None, patch: str, overhead: float, progress) -> None:
    """The patch-based plan (chosen by the search, or the split given) built and run beside layer by layer;
    a model that fits only with it passes, saying so; a patched plan that differs from TFLM fails the cell."""
    progress("searching patch plans")
    try:
        split = patching.select(graph, patch, overhead)
        plow = patching.plan(graph, split) if split else None
    except ModelError as e:
        v.patch = {"split": patch, "status": "unsupported", "reasons": [str(e)]}
        v.reasons.append(f"patch-based inference: {e}")
        return
    if plow is None:
        v.patch = {"split": None, "status": "none", "reasons": ["no patch plan has a smaller arena"]}
        v.reasons.append("patch-based inference: no split has a smaller arena within "
                         f"{overhead:.0%} more MACs")
        return
    pv = Verdict(v.model, v.board, inputs=inputs, source=v.source)
    _build_and_run(pv, graph, plow, board, inputs, seed, backend, task, progress, name=f"{v.model}.{split.tag}")
    # MCUNetV2's accounting beside the arena: the model input streamed from outside the arena (a camera or
    # a flash buffer feeds the tiles), for both plans; a planned figure, the firmware downloads into the arena
    streamed = {"arena_streamed": arena_without_input(plow),
                "base_arena_streamed": arena_without_input(patching.plan(graph, None))}
    v.patch = {"split": str(split), "overhead": round(plow.macs / v.macs - 1, 4), "status": pv.status, **streamed,
               **{k: getattr(pv, k) for k in ("arena_bytes", "macs", "cycles", "instructions", "latency_ms",
                                              "latency_err_ms", "mismatches", "real_mismatches", "reasons", "elf")},
               "fits": pv.fits, "flash_used": pv.fit.flash.used if pv.fit else None,
               "sram_used": pv.fit.sram.used if pv.fit else None}
    what = f"peak {_n(pv.arena_bytes)} B (was {_n(v.arena_bytes)} B), {v.patch['overhead']:+.1%} MACs, {split}"
    if pv.status in FAILING:
        v.set_status(pv.status, f"patch-based inference {split}: {'; '.join(pv.reasons)}")
    elif not pv.fits:
        v.reasons.append(f"patch-based inference {split} does not fit either: {'; '.join(pv.reasons)}")
    elif v.fit is not None and not v.fit.fits:
        v.status = "pass"       # the only fault was the fit, which the patched plan mends
        v.reasons.append(f"fits with patch-based inference: {what}")
    else:
        v.reasons.append(f"patch-based inference: {what}" + (
            f"; {_n(pv.cycles)} cycles (layer by layer {_n(v.cycles)})" if pv.cycles and v.cycles else ""))


def _tflm_arena(v: Verdict, model_path: Path) -> None:
    """What TFLM would allocate for the model, for the comparison in the report; a model TFLM's
    interpreter cannot load says so in the reasons and has none."""
    try:
        arena = tflm_arena(model_path)
    except Exception as e:      # noqa: BLE001 - the reference's own failure, not the cell's
        v.reasons.append(f"no TFLM arena: {str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__}")
        return
    v.tflm_arena_bytes, v.tflm_arena_head = arena["total"], arena["head"]


def judge_session(v: Verdict, dut: RunningBoard, graph, low, board: Board, inputs: int, seed: int,
                  task: str | None, progress: Callable[[str], None] = lambda s: None) -> int:
    """The session with a running board (any backend, a FakeBoard replay too): every input's outputs
    against TFLM's, cycles, latency, into `v`; returns the stack high-water the board reports."""
    client = DutClient(dut)
    client.wait_ready()
    reference = TflmReference(graph.path)

    t_ins, t_outs = low.input_tensors, low.output_tensors
    v.outputs, v.output_mismatches = [t.name for t in t_outs], [0] * len(t_outs)

    def same(x) -> bool:
        """Every output of the board's inference on model input x against TFLM's, each by its own rule."""
        client.load_inputs(x)
        agreement = each_output_agrees(client.infer(1, 0).outputs, reference.run(x), t_outs)
        for k, (agree, _) in enumerate(agreement[:len(t_outs)]):
            v.output_mismatches[k] += not agree
        return all(agree for agree, _ in agreement)

    v.mismatches = 0
    for i, x in enumerate(random_inputs(t_ins, inputs, seed)):
        progress(f"input {i + 1}/{inputs}")
        v.mismatches += not same(x)
    real = real_inputs(task, t_ins)
    v.real_inputs = [name for name, _ in real]
    v.real_mismatches = sum(not same(x) for _, x in real) if real else None
    stats = client.stats()
    v.cycles = stats["cycles"]
    counts = dut.counts_between_reads(v.cycles)
    v.instructions = counts[0] if counts else None
    v.memory_events = dut.events_between_reads(v.cycles)
    _latency(v, board)
    which = ""
    if len(t_outs) > 1:     # which of the outputs differ, and at how many of the inputs
        which = " (" + ", ".join(f"output {k} {name!r}: {n}" for k, (name, n)
                                 in enumerate(zip(v.outputs, v.output_mismatches)) if n) + ")"
    if v.mismatches:
        v.set_status("fail", f"{v.mismatches} of {inputs} outputs differ from TFLM{which}")
    if v.real_mismatches:
        v.set_status("fail", f"{v.real_mismatches} of {len(real)} real inputs give outputs that differ from TFLM"
                     f"{'' if v.mismatches else which}")
    return stats["stack"]


def _latency(v: Verdict, board: Board) -> None:
    """Latency and energy per inference from the board's table. Only the emulated engine's cycles are
    the modelled cycles the table maps; a real board's DWT cycles are a measured latency; Renode's
    cycles count instructions at a fixed MIPS, which no table maps, so it gets none."""
    from harness.calibration import table_for
    if v.cycles is None or v.source not in ("emulated", "hardware"):
        return
    try:
        table = table_for(board)
    except HarnessError as e:
        v.reasons.append(f"no latency: {e}")
        return
    if table.note:              # a calibration measured at other board facts: say why it is not used
        v.reasons.append(table.note)
    p = table.measured(v.cycles) if v.source == "hardware" else table.predict(v.cycles, v.instructions,
                                                                                   events=v.memory_events)
    v.latency_ms, v.latency_err_ms, v.energy_mj, v.energy_err_mj = (p.latency_ms, p.latency_err_ms,
                                                                    p.energy_mj, p.energy_err_mj)
    v.latency_status = p.status


def _board_name(cell: Cell) -> str:
    return Path(cell.board).stem if str(cell.board).endswith(".repl") else str(cell.board)


def crashed(cell: Cell, e: BaseException, seconds: float = 0.0) -> Verdict:
    """The `error` verdict of a cell whose run raised: one line, the exception's type and message."""
    msg = str(e).strip().splitlines()
    v = Verdict(cell.model, _board_name(cell), expected_fit=cell.expected_fit, seconds=round(seconds, 2))
    v.set_status("error", f"crashed: {type(e).__name__}" + (f": {msg[0]}" if msg else ""))
    return v


def _run_cell(cell: Cell, inputs: int, seed: int, backend: str) -> Verdict:
    """One cell, never raising (but for KeyboardInterrupt and the like): whatever breaks is that cell's
    `error`, so the other cells' verdicts and the report survive. Both run_matrix paths come here."""
    start = time.monotonic()
    try:
        return check_cell(cell.model, cell.path, load_board(cell.board), inputs=inputs, seed=seed,
                          backend=backend, expected_fit=cell.expected_fit, task=cell.task, patch=cell.patch,
                          patch_overhead=cell.patch_overhead)
    except Exception as e:       # noqa: BLE001 - any crash of one cell is that cell's verdict
        return crashed(cell, e, time.monotonic() - start)


def run_matrix(cells: Iterable[Cell], *, inputs: int = 20, seed: int = 0, backend: str = "emulated",
               jobs: int | None = None, on_done: Callable[[Verdict], None] = lambda v: None) -> list[Verdict]:
    """Every cell in its own worker process (builds and emulation are CPU-bound); verdicts come back
    in the order of `cells`. On Ctrl-C or SIGTERM (a KeyboardInterrupt here) the workers are ended and
    Interrupted carries the verdicts finished so far (harness/interrupt.py)."""
    cells = list(cells)
    jobs = jobs or os.cpu_count() or 1
    results: dict[int, Verdict] = {}
    if jobs == 1 or len(cells) == 1:
        try:
            for i, c in enumerate(cells):
                results[i] = _run_cell(c, inputs, seed, backend)
                on_done(results[i])
        except KeyboardInterrupt as e:
            raise Interrupted(signum_of(e), list(results.values())) from None
        return list(results.values())
    pool = ProcessPoolExecutor(max_workers=jobs, initializer=worker_init)
    try:
        futures = {pool.submit(_run_cell, c, inputs, seed, backend): i for i, c in enumerate(cells)}
        for fut in as_completed(futures):
            i = futures[fut]
            try:
                v = fut.result()
            except Exception as e:   # noqa: BLE001 - the worker itself died (BrokenProcessPool) or its result did not come back
                v = crashed(cells[i], e)
            results[i] = v
            on_done(v)
    except KeyboardInterrupt as e:
        end_workers(pool)
        raise Interrupted(signum_of(e), [results[i] for i in sorted(results)]) from None
    pool.shutdown()
    return [results[i] for i in range(len(cells))]
