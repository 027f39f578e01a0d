"""`harness bench engine`: the built-in emulated board's speed, with and without cycle accounting.

The workload is firmware/bench/engine_bench.c (an int8 fully-connected layer with requantisation, run n
times: a tight loop of 6-instruction blocks, where a per-block hook weighs most); n is chosen so one run
executes at least `instructions` instructions. Two engines run it, one with cycle accounting and one
without, alternately `repeats` times each after a short warm-up; only the workload's own command is
timed (not the boot). MIPS = executed instructions / CPU seconds of this process / 1e6 (the engine runs on
the calling thread; CPU time is less disturbed than wall time by other load on the machine); the
figure per mode is the best of the repetitions.
"""
from __future__ import annotations

import math
import time
from pathlib import Path
from dataclasses import dataclass, field

from harness.backends.emulated import EmulatedBoard
from harness.board import Board, load_board
from harness.build import BARE_SOURCES, FIRMWARE, build_firmware
from harness.codesize import runtime_code_bytes
from harness.errors import HarnessError

BENCH_SOURCE = FIRMWARE / "bench" / "engine_bench.c"
MIN_INSTRUCTIONS = 100_000_000


@dataclass
class ModeRun:
    cycles_on: bool
    instructions: int
    seconds: float
    cycles: int              # modelled cycles of the run (0 with accounting off)
    firmware_cycles: int     # the firmware's own DWT CYCCNT delta

    @property
    def mips(self) -> float:
        return self.instructions / self.seconds / 1e6


@dataclass
class EngineBench:
    board: str
    passes: int
    instructions: int
    runs: list[ModeRun] = field(default_factory=list)

    def best(self, cycles_on: bool) -> ModeRun:
        return max((r for r in self.runs if r.cycles_on == cycles_on), key=lambda r: r.mips)

    @property
    def ratio(self) -> float:
        """Best MIPS with accounting / best MIPS without (the target is >= 0.8)."""
        return self.best(True).mips / self.best(False).mips

    @property
    def paired_ratio(self) -> float:
        """Median over the repetitions of (MIPS on / MIPS off) of back-to-back runs."""
        off = [r for r in self.runs if not r.cycles_on]
        on = [r for r in self.runs if r.cycles_on]
        ratios = sorted(b.mips / a.mips for a, b in zip(off, on))
        return ratios[len(ratios) // 2]

    @property
    def cycles(self) -> int:
        return self.best(True).cycles

    def as_dict(self) -> dict:
        on, off = self.best(True), self.best(False)
        return {"board": self.board, "passes": self.passes, "instructions": self.instructions,
                "mips_off": round(off.mips, 1), "mips_on": round(on.mips, 1), "ratio": round(self.ratio, 3),
                "paired_ratio": round(self.paired_ratio, 3),
                "cycles": on.cycles, "cpi": round(on.cycles / on.instructions, 3),
                "seconds_off": round(off.seconds, 3), "seconds_on": round(on.seconds, 3)}


def _boot(board: Board, elf, cycles: bool) -> EmulatedBoard:
    engine = EmulatedBoard(board, elf, cycles=cycles, budget=1 << 62)
    line = engine.read_line()
    if line != "engine_bench ready":
        raise HarnessError(f"engine bench firmware did not start: {line!r}")
    return engine


def _run(engine: EmulatedBoard, passes: int) -> tuple[int, float, int, int]:
    engine.write(f"run {passes}\n".encode())
    n0, c0 = engine.instructions, engine.cycles
    t0 = time.process_time()
    line = engine.read_line()
    seconds = time.process_time() - t0
    fields = line.split()
    if len(fields) != 3 or fields[0] != "done":
        raise HarnessError(f"engine bench firmware answered {line!r}")
    return engine.instructions - n0, seconds, engine.cycles - c0, int(fields[2])


def engine_bench(board_name: str = "nucleo_f446re", instructions: int = 200_000_000, repeats: int = 5,
                 progress=lambda s: None) -> EngineBench:
    """Boot one engine with cycle accounting and one without, run a short warm-up on each (translation
    and the one-time pricing of every block), then alternate `repeats` timed runs of the workload."""
    if instructions < MIN_INSTRUCTIONS:
        raise HarnessError(f"the engine bench needs a workload of at least {MIN_INSTRUCTIONS:,} instructions")
    board = load_board(board_name)
    elf = build_firmware(board, {}, name="engine_bench", sources=[BENCH_SOURCE, *BARE_SOURCES]).elf
    progress("calibrating")
    engines = {False: _boot(board, elf, False), True: _boot(board, elf, True)}
    per_pass = _run(engines[False], 4)[0] / 4
    _run(engines[True], 4)
    passes = math.ceil(instructions * 1.02 / per_pass)
    bench = EngineBench(board.name, passes, 0)
    for rep in range(repeats):
        for cycles_on in (False, True):
            progress(f"run {rep + 1}/{repeats}, cycle accounting {'on' if cycles_on else 'off'}")
            n, seconds, cycles, fw_cycles = _run(engines[cycles_on], passes)
            bench.runs.append(ModeRun(cycles_on, n, seconds, cycles, fw_cycles))
            bench.instructions = n
    return bench


# ---- `harness bench models` / `harness bench kernels`: modelled cycles of our runtime's kernels ----------
#
# Whole models: the model's firmware image on the emulated board, one inference per input, the firmware's
# own DWT CYCCNT delta (modelled cycles) / the model's MACs, outputs compared with TFLM. Kernels: an image
# holding one op of a zoo model (the same lowering, constants and arena plan, only that op's call), so each
# kernel is timed at the zoo's own shapes, reference and optimized side by side.

# Issue 8's targets, whole model, in modelled cycles per MAC; and the pointwise conv target on the M4 model.
MODEL_TARGETS = {"nucleo_f446re": 4.0, "nucleo_f746zg": 2.2}
TARGET_MODELS = ("kws_micronet_s", "ds_cnn_m")
POINTWISE_TARGET = ("nucleo_f446re", 1.0)        # pointwise conv with >= 16 channels
BENCH_MODELS = ("kws_micronet_s", "ds_cnn_m")
BENCH_BOARDS = ("nucleo_f446re", "nucleo_f746zg")


@dataclass
class ModelRun:
    model: str
    board: str
    kernels: str                 # the planner's kernel set (harness/plan/optimize.py)
    cycles: int                  # per inference, the firmware's DWT delta (modelled cycles)
    macs: int
    inputs: int
    mismatches: int              # outputs that differ from TFLM's
    runtime_code_bytes: int      # flash of the kernels and executor linked (harness/codesize.py)
    elf: str = ""
    calls: list[str] = field(default_factory=list)       # the C kernel of each op
    profile: list[dict] = field(default_factory=list)    # engine per-function totals over all inferences

    @property
    def cycles_per_mac(self) -> float:
        return self.cycles / self.macs if self.macs else float("nan")

    def as_dict(self) -> dict:
        d = {k: v for k, v in vars(self).items() if k != "profile"}
        d["cycles_per_mac"] = round(self.cycles_per_mac, 3)
        target = MODEL_TARGETS.get(self.board) if self.model in TARGET_MODELS else None
        d["target"] = target
        d["meets_target"] = None if target is None else self.cycles_per_mac <= target
        return d


def run_lowered(low, board: Board, name: str, inputs: int = 2, seed: int = 0, reference=None,
                profile: bool = False) -> tuple[int, int, list[dict], Path]:
    """Build `low` for `board`, run `inputs` seeded random inputs on the emulated board; returns (cycles of
    the last inference, inputs whose outputs differ from `reference` (a callable model input -> every
    output's bytes, or None: not compared), the engine's per-function profile, the ELF)."""
    from harness.pipeline import build
    from harness.protocol import DutClient
    from harness.reference import each_output_agrees, random_inputs
    fw = build(board, low, name)
    engine = EmulatedBoard(board, fw.elf, profile=profile)
    client = DutClient(engine)
    client.wait_ready()
    bad = 0
    for x in random_inputs(low.input_tensors, inputs, seed):
        client.load_inputs(x)
        ours = client.infer(1, 0).outputs
        if reference is not None:
            agreement = each_output_agrees(ours, reference(x), low.output_tensors)
            bad += not all(a for a, _ in agreement)
    cycles = client.stats()["cycles"]
    return cycles, bad, engine.profile() if profile else [], fw.elf


def run_model(model: str, board_name: str, kernels: str = "optimized", inputs: int = 2, seed: int = 0,
              profile: bool = False) -> ModelRun:
    """One model (registry id or .tflite path) on one emulated board with the given kernel set."""
    from harness.plan.lower import lower
    from harness.plan.model import load_model
    from harness.reference import TflmReference
    from harness.registry import resolve
    mid, path = resolve(model)
    low = lower(load_model(path), kernels)
    ref = TflmReference(path)
    cycles, bad, prof, elf = run_lowered(low, load_board(board_name), f"{mid}-{kernels}", inputs, seed, ref.run,
                                         profile)
    return ModelRun(mid, board_name, kernels, cycles, low.macs, inputs, bad, runtime_code_bytes(elf), str(elf),
                    [c.kernel for c in low.calls], prof)


def bench_models(models=BENCH_MODELS, boards=BENCH_BOARDS, kernel_sets=("reference", "optimized"), inputs: int = 2,
                 progress=lambda s: None) -> list[ModelRun]:
    runs = []
    for m in models:
        for b in boards:
            for k in kernel_sets:
                progress(f"{m} on {b}, {k} kernels")
                runs.append(run_model(m, b, k, inputs))
    return runs


def single_op(low, i: int):
    """`low` cut down to its i-th kernel call: the same constants and arena plan, the op's first non-constant
    input as the image's input and its output as the image's output."""
    from harness.plan.lower import Lowered
    call = low.calls[i]
    t_in = next(t for t in call.op.inputs if t >= 0 and not low.graph.tensor(t).is_constant)
    return Lowered(low.graph, [call], low.plan, [t_in], [call.op.outputs[0]])


def shape_of(call) -> str:
    """A kernel call's shape, for tables: input -> output (and the window of conv-like ops)."""
    f = call.fields
    if "kernel_h" in f:
        return (f"{f['in_h']}x{f['in_w']}x{f['in_c']} -> {f['out_h']}x{f['out_w']}x{f['out_c']} "
                f"k{f['kernel_h']}x{f['kernel_w']} s{f['stride_h']}")
    if "filter_h" in f:
        return f"{f['in_h']}x{f['in_w']}x{f['channels']} -> {f['out_h']}x{f['out_w']} k{f['filter_h']}x{f['filter_w']}"
    if "in_features" in f:
        return f"{f['batches']}x{f['in_features']} -> {f['out_features']}"
    return "-"


def is_pointwise(call) -> bool:
    f = call.fields
    return call.op.name == "CONV_2D" and f.get("kernel_h") == 1 and f.get("kernel_w") == 1 \
        and min(f.get("in_c", 0), f.get("out_c", 0)) >= 16


@dataclass
class KernelRow:
    model: str
    op: str
    shape: str
    macs: int
    pointwise: bool
    kernels: dict = field(default_factory=dict)     # kernel set -> C function
    cycles: dict = field(default_factory=dict)      # (board, kernel set) -> modelled cycles of the op

    def as_dict(self) -> dict:
        d = {k: v for k, v in vars(self).items() if k != "cycles"}
        d["cycles"] = {f"{b}/{k}": c for (b, k), c in self.cycles.items()}
        d["cycles_per_mac"] = {f"{b}/{k}": round(c / self.macs, 3) for (b, k), c in self.cycles.items()}
        return d


def bench_kernels(models=BENCH_MODELS, boards=BENCH_BOARDS, ops=("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED",
                  "AVERAGE_POOL_2D"), progress=lambda s: None) -> list[KernelRow]:
    """Every distinct (op, shape) of `ops` in `models`, timed alone with both kernel sets on every board.
    The cycles of a one-op image's inference include the runtime's per-inference frame (a few dozen
    cycles), negligible at these sizes."""
    from harness.plan.lower import lower
    from harness.plan.model import load_model
    from harness.registry import resolve
    rows: dict[tuple, KernelRow] = {}
    for m in models:
        mid, path = resolve(m)
        graph = load_model(path)
        lows = {k: lower(graph, k) for k in ("reference", "optimized")}
        for i, call in enumerate(lows["reference"].calls):
            if call.op.name not in ops:
                continue
            key = (call.op.name, shape_of(call))
            if key in rows:
                continue
            row = rows[key] = KernelRow(mid, call.op.name, key[1], call.macs, is_pointwise(call))
            for k, low in lows.items():
                row.kernels[k] = low.calls[i].kernel
                for b in boards:
                    progress(f"{mid} op {call.op.index} {call.op.name} on {b}, {k}")
                    cycles, _, _, _ = run_lowered(single_op(low, i), load_board(b), f"{mid}-op{call.op.index}-{k}", 1)
                    row.cycles[(b, k)] = cycles
    return list(rows.values())


def _ratio(num: float, den: float) -> str:
    return f"{num / den:.3f}" if den else "-"


def kernels_table(rows: list[KernelRow], boards=BENCH_BOARDS):
    """Cycles per MAC per (op, shape): reference vs optimized per board, and the speed-up."""
    from rich.table import Table
    board, limit = POINTWISE_TARGET
    t = Table(title="harness bench kernels: modelled cycles per MAC, one op alone at the zoo's shapes "
                    f"(pointwise >= 16 channels: target <= {limit} on {board})", header_style="bold")
    for col in ("model", "op", "shape", "MACs", "optimized kernel"):
        t.add_column(col, justify="left" if col != "MACs" else "right")
    for b in boards:
        for col in ("ref", "opt", "x"):
            t.add_column(f"{b}\n{col}", justify="right")
    for r in rows:
        cells = [r.model, r.op + (" (pointwise)" if r.pointwise else ""), r.shape, f"{r.macs:,}",
                 r.kernels.get("optimized", "-")]
        for b in boards:
            ref, opt = r.cycles.get((b, "reference")), r.cycles.get((b, "optimized"))
            cells += [_ratio(ref, r.macs), _ratio(opt, r.macs), f"{ref / opt:.1f}" if ref and opt else "-"]
        t.add_row(*cells)
    return t


def pointwise_verdict(rows: list[KernelRow]) -> str | None:
    """Where the optimized pointwise convolutions (>= 16 channels) stand against issue 8's M4 target."""
    board, limit = POINTWISE_TARGET
    got = [r.cycles[(board, "optimized")] / r.macs for r in rows if r.pointwise and (board, "optimized") in r.cycles]
    if not got:
        return None
    return (f"pointwise conv (>= 16 channels) on {board}: {min(got):.3f}-{max(got):.3f} cycles/MAC optimized; "
            f"target <= {limit}: {'meets' if max(got) <= limit else 'misses'}")


def models_table(runs: list[ModelRun]):
    """Cycles per inference and per MAC per model and board, both kernel sets, against the targets."""
    from rich.table import Table
    t = Table(title="harness bench models: modelled cycles per inference (emulated boards)", header_style="bold")
    for col in ("model", "board", "kernels", "MACs", "cycles", "cycles/MAC", "target", "status", "bit-exact",
                "kernel code"):
        t.add_column(col, justify="right" if col in ("MACs", "cycles", "cycles/MAC", "target", "kernel code")
                     else "left")
    for r in runs:
        d = r.as_dict()
        status = "-" if d["target"] is None else ("meets" if d["meets_target"] else "misses")
        if r.kernels != "optimized" and d["target"] is not None:
            status = "(reference)"
        t.add_row(r.model, r.board, r.kernels, f"{r.macs:,}", f"{r.cycles:,}", f"{r.cycles_per_mac:.3f}",
                  "-" if d["target"] is None else f"<= {d['target']}", status,
                  f"{r.inputs - r.mismatches}/{r.inputs}", f"{r.runtime_code_bytes:,} B")
    return t
