"""Per-op profile of one model inference on the emulated board (`harness profile`).

Op boundaries come from the runtime without touching the firmware: tm_invoke (firmware/runtime) calls
the kernel of each entry of the plan's op table in order, so watch points (EmulatedBoard.watch) on
tm_invoke, on every kernel's entry and on the instructions after tm_invoke's calls give, for the k-th
kernel entered from tm_invoke, op k of the plan. Each boundary carries the exact instruction and tick
counts and a snapshot of the engine's native per-function profile, so an op's per-function totals are
the difference of two snapshots.

The profiled window is the firmware's own timing of the inference: from the DWT CYCCNT read before
tm_invoke to the one after it (firmware/src/infer.c), split into the ops, tm_invoke's own loop
("dispatch") and the timing code around the call. The rows sum to the window exactly, and the window
is the cycle count the firmware reports (`stats`): tests/test_profile.py checks both.

Memory high-water marks per inference, measured by the host the way a debugger would:
- stack: the free stack below SP is painted before the inference (the firmware's own pattern,
  firmware/src/stack_paint.c) and scanned when tm_invoke returns;
- arena: the arena is filled with 0x55 before one inference and 0xAA before a second one on the same
  input; a byte is written by the inference iff it differs from the fill after either (its final
  value is the same in both runs and cannot equal both fills). Models with variable tensors (state
  kept from one inference to the next) are not filled; their count compares tm_invoke's entry and
  exit and is a lower bound.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from harness.backends.emulated import EmulatedBoard, WatchHit
from harness.board import Board
from harness import pipeline
from harness.build import DoesNotFit
from harness.errors import HarnessError
from harness.plan.lower import Lowered
from harness.plan.model import ModelError
from harness.protocol import DutClient
from harness.reference import random_inputs

STACK_PAINT_WORD = 0xDEADBEEF     # firmware/src/stack_paint.c
STACK_PAINT_MARGIN = 64           # bytes left unpainted below SP, as the firmware's painter leaves
ARENA_FILLS = (0x55, 0xAA)


@dataclass
class Segment:
    """Counts of one row of the profile, with its per-function split (function -> (instructions, ticks))."""
    instructions: int = 0
    ticks: int = 0
    functions: dict[str, tuple[int, int]] = field(default_factory=dict)
    events: dict[str, int] = field(default_factory=dict)    # the memory system's (EmulatedBoard.memory_events)


@dataclass
class OpRow(Segment):
    index: int = 0
    op: str = ""                  # the TFLite op, e.g. CONV_2D
    kernel: str = ""              # the C kernel function
    macs: int = 0
    start_ticks: int = 0          # when the kernel was entered, after the window's first CYCCNT read


@dataclass
class InferenceProfile:
    model: str
    board: str
    clock_hz: int
    ticks_per_cycle: int
    ops: list[OpRow]
    dispatch: Segment             # tm_invoke's own instructions (loop, calls) outside every kernel
    timing: Segment               # between the firmware's CYCCNT reads, outside tm_invoke
    firmware_cycles: int          # the firmware's DWT measurement of this inference (`stats`)
    window_cycles: int            # CYCCNT at the second read minus at the first, from the watch points
    window_start_ticks: int       # engine ticks at the first CYCCNT read (since reset)
    stack_high_water: int | None  # bytes, during the inference
    stack_at_invoke: int          # bytes in use when tm_invoke is entered
    arena_bytes: int              # planned
    arena_written: int            # bytes of the arena the inference wrote
    arena_extent: int             # highest written offset + 1
    arena_exact: bool
    window_events: dict[str, int] = field(default_factory=dict)   # the memory system's between the two reads

    def cycles(self, seg: Segment) -> float:
        return seg.ticks / self.ticks_per_cycle

    @property
    def rows(self) -> list[tuple[str, Segment]]:
        return [(f"op {r.index} {r.op}", r) for r in self.ops] + [("tm_invoke dispatch", self.dispatch),
                                                                   ("timing (CYCCNT reads, call)", self.timing)]

    @property
    def ticks(self) -> int:
        return sum(s.ticks for _, s in self.rows)

    @property
    def instructions(self) -> int:
        return sum(s.instructions for _, s in self.rows)

    @property
    def total_cycles(self) -> float:
        return self.ticks / self.ticks_per_cycle

    def cycles_by_op_type(self) -> dict[str, int]:
        """Modelled cycles per op type (the calibration's per-op features); tm_invoke's loop and the
        timing code as `(runtime)`. Sums to the inference's total."""
        out: dict[str, int] = {}
        for r in self.ops:
            out[r.op] = out.get(r.op, 0) + r.ticks
        out["(runtime)"] = self.dispatch.ticks + self.timing.ticks
        return {k: round(v / self.ticks_per_cycle) for k, v in out.items()}

    def as_dict(self) -> dict:
        def seg(s: Segment) -> dict:
            return {"instructions": s.instructions, "cycles": self.cycles(s),
                    "functions": {k: {"instructions": i, "cycles": t / self.ticks_per_cycle}
                                  for k, (i, t) in s.functions.items()},
                    "memory_events": s.events}
        return {"model": self.model, "board": self.board, "clock_hz": self.clock_hz,
                "instructions": self.instructions, "cycles": self.total_cycles,
                "firmware_cycles": self.firmware_cycles,
                "ops": [{"index": r.index, "op": r.op, "kernel": r.kernel, "macs": r.macs,
                         "cycles_per_mac": self.cycles(r) / r.macs if r.macs else None, **seg(r)}
                        for r in self.ops],
                "dispatch": seg(self.dispatch), "timing": seg(self.timing),
                "stack_high_water": self.stack_high_water, "stack_at_invoke": self.stack_at_invoke,
                "arena_bytes": self.arena_bytes, "arena_written": self.arena_written,
                "arena_extent": self.arena_extent, "arena_exact": self.arena_exact}


# --------------------------------------------------------------------------------------------------
# where the boundaries are in the firmware

def call_returns(engine: EmulatedBoard, caller: tuple[int, int] | None = None, target: int | None = None) -> list[int]:
    """Addresses right after the BL/BLX instructions inside `caller` (start, size), or, with `target`,
    after every BL to `target` in any ELF function: where those calls return to."""
    import capstone
    cs = capstone.Cs(capstone.CS_ARCH_ARM, capstone.CS_MODE_THUMB | capstone.CS_MODE_MCLASS)
    spans = [caller] if caller else [(s, n) for s, n, _ in engine.image.functions]
    out = []
    for start, size in spans:
        try:
            code = engine.read_code(start, size)
        except Exception:       # noqa: BLE001 - a symbol outside the loaded image has no code to scan
            continue
        for insn in cs.disasm(code, start):
            if insn.mnemonic not in ("bl", "blx"):
                continue
            if target is None or insn.op_str == f"#0x{target:x}":
                out.append(insn.address + insn.size)
    return out


def _function(engine: EmulatedBoard, name: str) -> tuple[int, int]:
    for start, size, n in engine.image.functions:
        if n == name:
            return start, size
    raise HarnessError(f"{engine.elf_path}: no function {name!r}")


# --------------------------------------------------------------------------------------------------
# recording one inference

@dataclass
class _Mark:
    instructions: int
    ticks: int
    slots: list[tuple[int, int]]
    events: dict[str, int]


class _Recorder:
    """Watch points on the runtime's boundaries; records the marks of the inference while armed."""

    def __init__(self, engine: EmulatedBoard, low: Lowered, read_pcs: set[int], arena: tuple[int, int]):
        self.engine, self.low, self.arena = engine, low, arena
        self.armed = False
        self.invoke = _function(engine, "tm_invoke")
        kernels = {c.kernel for c in low.calls}
        self.kernel_at = {}
        for k in kernels:
            self.kernel_at.setdefault(engine.symbol(k) & ~1, []).append(k)
        self.kernel_returns = set(call_returns(engine, caller=self.invoke))
        self.invoke_returns = set(call_returns(engine, target=self.invoke[0]))
        if not self.kernel_returns or not self.invoke_returns:
            raise HarnessError(f"{engine.elf_path}: cannot find tm_invoke's calls or its callers")
        engine.watch(self.invoke[0], self._on_invoke)
        for a in self.kernel_at:
            engine.watch(a, self._on_kernel)
        for a in self.kernel_returns:
            engine.watch(a, self._on_kernel_return)
        for a in self.invoke_returns:
            engine.watch(a, self._on_invoke_return)
        for a in read_pcs:
            engine.watch(a, self._on_cyccnt_read)
        self.start()

    def start(self) -> None:
        self.state = "before"
        self.last_read: _Mark | None = None
        self.window: list[_Mark] = []             # [first read, tm_invoke entry, tm_invoke exit, second read]
        self.ops: list[tuple[str, _Mark, _Mark | None]] = []
        self.stack_hw: int | None = None
        self.stack_at_invoke = 0
        self.arena_at_entry = self.arena_at_exit = b""

    def _mark(self, hit: WatchHit) -> _Mark:
        return _Mark(hit.instructions, hit.ticks, self.engine.profile_snapshot(hit.address),
                     self.engine.memory_events())

    def _on_cyccnt_read(self, e, hit):
        if not self.armed:
            return
        if self.state == "before":
            self.last_read = self._mark(hit)
        elif self.state == "returned":
            self.window.append(self._mark(hit))
            self.state = "done"

    def _on_invoke(self, e, hit):
        if not self.armed or self.state != "before":
            return
        if self.last_read is None:
            raise HarnessError("the firmware did not read CYCCNT before tm_invoke")
        self.window = [self.last_read, self._mark(hit)]
        self.state = "inside"
        self.stack_at_invoke = e.symbol("_estack") - e.reg("sp")
        self.arena_at_entry = e.read_memory(*self.arena)

    def _on_kernel(self, e, hit):
        if not self.armed or self.state != "inside":
            return
        lr = e.reg("lr") & ~1
        if not self.invoke[0] <= lr < self.invoke[0] + self.invoke[1]:
            return                                   # a kernel called by another kernel, not an op
        k = len(self.ops)
        if k >= len(self.low.calls):
            raise HarnessError(f"tm_invoke ran more ops than the plan's {len(self.low.calls)}")
        expected = self.low.calls[k].kernel
        if expected not in self.kernel_at[hit.address]:
            raise HarnessError(f"op {k}: tm_invoke called {'/'.join(self.kernel_at[hit.address])}, the plan "
                               f"has {expected}")
        self.ops.append((expected, self._mark(hit), None))

    def _on_kernel_return(self, e, hit):
        if not self.armed or self.state != "inside" or not self.ops or self.ops[-1][2] is not None:
            return
        kernel, entry, _ = self.ops[-1]
        self.ops[-1] = (kernel, entry, self._mark(hit))

    def _on_invoke_return(self, e, hit):
        if not self.armed or self.state != "inside":
            return
        self.window.append(self._mark(hit))
        self.state = "returned"
        self.stack_hw = stack_high_water(e)
        self.arena_at_exit = e.read_memory(*self.arena)


def paint_stack(engine: EmulatedBoard) -> None:
    """Fill the free stack below SP with the firmware's paint word (as stack_paint() does at boot)."""
    sstack, sp = engine.symbol("_sstack"), engine.reg("sp")
    end = (sp - STACK_PAINT_MARGIN) & ~7
    if end > sstack:
        engine.uc.mem_write(sstack, STACK_PAINT_WORD.to_bytes(4, "little") * ((end - sstack) // 4))


def stack_high_water(engine: EmulatedBoard) -> int:
    """Bytes of stack used since the paint: from the first overwritten word to _estack."""
    sstack, estack = engine.symbol("_sstack"), engine.symbol("_estack")
    data = engine.read_memory(sstack, estack - sstack)
    word = STACK_PAINT_WORD.to_bytes(4, "little")
    i = 0
    while i + 4 <= len(data) and data[i:i + 4] == word:
        i += 4
    return len(data) - i


def _diff(a: _Mark, b: _Mark, names: list[str]) -> Segment:
    funcs = {}
    for name, (i0, t0), (i1, t1) in zip(names, a.slots, b.slots):
        if i1 != i0 or t1 != t0:
            funcs[name] = (i1 - i0, t1 - t0)
    return Segment(b.instructions - a.instructions, b.ticks - a.ticks, funcs,
                   {k: v - a.events.get(k, 0) for k, v in b.events.items()})


def _minus(a: Segment, *parts: Segment) -> Segment:
    funcs = dict(a.functions)
    for p in parts:
        for k, (i, t) in p.functions.items():
            i0, t0 = funcs.get(k, (0, 0))
            funcs[k] = (i0 - i, t0 - t)
    funcs = {k: v for k, v in funcs.items() if v != (0, 0)}
    events = {k: v - sum(p.events.get(k, 0) for p in parts) for k, v in a.events.items()}
    return Segment(a.instructions - sum(p.instructions for p in parts), a.ticks - sum(p.ticks for p in parts), funcs,
                   events)


def profile_model(board: Board, model_path: Path, model_id: str | None = None, *, seed: int = 0,
                  progress=lambda s: None) -> InferenceProfile:
    """Build the model's firmware for `board`, run one inference on a seeded random input and profile it."""
    model_path = Path(model_path)
    model_id = model_id or model_path.stem
    try:
        graph, low = pipeline.plan(model_path, model_id)
    except ModelError as e:
        raise HarnessError(str(e)) from None
    progress("building firmware")
    try:
        fw = pipeline.build(board, low, model_id)
    except DoesNotFit as e:
        raise HarnessError(f"{model_id} does not fit {board.name}: {e}") from None
    return profile_firmware(board, fw.elf, graph, low, model_id, seed=seed, progress=progress)


def profile_firmware(board: Board, elf: Path, graph, low: Lowered, model_id: str, *, seed: int = 0,
                     progress=lambda s: None) -> InferenceProfile:
    """Profile one inference of an already built model firmware `elf` (planned as `low`)."""
    engine = EmulatedBoard(board, elf, profile=True)
    client = DutClient(engine)
    client.wait_ready()
    x = random_inputs(low.input_tensors, 1, seed)[0]
    client.load_inputs(x)
    progress("warm-up inference")
    client.infer(1, 0)                       # also shows where the firmware reads CYCCNT
    read_pcs = {pc for pc, *_ in engine.cyccnt_reads}
    arena = (engine.symbol("tm_arena"), low.plan.arena_bytes)
    rec = _Recorder(engine, low, read_pcs, arena)
    variable = any(t.is_variable for t in graph.tensors)
    names = engine.profile_functions()
    written: set[int] = set()
    result = None
    for run, fill in enumerate(ARENA_FILLS[:1] if variable else ARENA_FILLS):
        progress(f"profiled inference {run + 1}")
        if not variable:
            engine.uc.mem_write(arena[0], bytes([fill]) * arena[1])
        paint_stack(engine)
        rec.start()
        rec.armed = True
        client.infer(1, 0)
        rec.armed = False
        if rec.state != "done" or len(rec.window) != 4:
            raise HarnessError("the profiled inference was not seen whole (tm_invoke and the CYCCNT reads around it)")
        if len(rec.ops) != len(low.calls) or any(m is None for _, _, m in rec.ops):
            raise HarnessError(f"tm_invoke ran {len(rec.ops)} ops, the plan has {len(low.calls)}")
        if variable:
            written |= {i for i, (a, b) in enumerate(zip(rec.arena_at_entry, rec.arena_at_exit)) if a != b}
        else:
            written |= {i for i, b in enumerate(rec.arena_at_exit) if b != fill}
        if result is None:
            stats = client.stats()
            result = _result(rec, low, names, board, engine, model_id, stats)
    result.arena_written = len(written)
    result.arena_extent = max(written) + 1 if written else 0
    result.arena_exact = not variable
    return result


def _result(rec: _Recorder, low: Lowered, names: list[str], board: Board, engine: EmulatedBoard,
            model_id: str, stats: dict) -> InferenceProfile:
    first, entry, exit_, second = rec.window
    ops = []
    for k, (kernel, a, b) in enumerate(rec.ops):
        seg = _diff(a, b, names)
        call = low.calls[k]
        ops.append(OpRow(seg.instructions, seg.ticks, seg.functions, seg.events, index=k, op=call.op.name, kernel=kernel,
                         macs=call.macs, start_ticks=a.ticks - first.ticks))
    invoke = _diff(entry, exit_, names)
    dispatch = _minus(invoke, *ops)
    timing = _minus(_diff(first, second, names), invoke)
    tpc = engine.ticks_per_cycle
    return InferenceProfile(model_id, board.name, board.clock_hz, tpc, ops, dispatch, timing,
                            firmware_cycles=stats["cycles"], window_cycles=second.ticks // tpc - first.ticks // tpc,
                            window_start_ticks=first.ticks,
                            stack_high_water=rec.stack_hw, stack_at_invoke=rec.stack_at_invoke,
                            arena_bytes=low.plan.arena_bytes, arena_written=0, arena_extent=0, arena_exact=True,
                            window_events=_diff(first, second, names).events)


# --------------------------------------------------------------------------------------------------
# outputs

def collapsed(p: InferenceProfile) -> str:
    """Collapsed stacks (flamegraph.pl / speedscope): `inference;op 3 CONV_2D;tm_conv2d_s8 <cycles>`.
    The format takes whole counts: on a core whose model counts half cycles (the M7), each line is the
    rounded running total minus the previous one, so no line is off by a cycle or more and the lines
    still add up to the rounded total."""
    lines, ticks_so_far, written = [], 0, 0
    for label, seg in p.rows:
        for fn, (_, ticks) in sorted(seg.functions.items()):
            if ticks:
                ticks_so_far += ticks
                value = round(ticks_so_far / p.ticks_per_cycle) - written
                written += value
                lines.append(f"inference;{label};{fn} {value}")
    return "\n".join(lines) + "\n"


def speedscope(p: InferenceProfile) -> dict:
    """A speedscope file (https://www.speedscope.app/file-format-schema.json), values in cycles: an
    evented profile of the ops on the inference's timeline, and a sampled profile of the functions
    inside each op (one weighted sample per op x function)."""
    frames: list[dict] = []
    index: dict[str, int] = {}

    def frame(name: str) -> int:
        if name not in index:
            index[name] = len(frames)
            frames.append({"name": name})
        return index[name]

    tpc = p.ticks_per_cycle
    total = p.total_cycles
    events = [{"type": "O", "frame": frame("inference"), "at": 0}]
    for r in p.ops:                   # at their exact times; the gaps are tm_invoke's loop and the timing
        f = frame(f"op {r.index} {r.op}")
        events.append({"type": "O", "frame": f, "at": r.start_ticks / tpc})
        events.append({"type": "C", "frame": f, "at": (r.start_ticks + r.ticks) / tpc})
    events.append({"type": "C", "frame": frame("inference"), "at": total})
    samples, weights = [], []
    for label, seg in p.rows:
        for fn, (_, ticks) in sorted(seg.functions.items()):
            if ticks:
                samples.append([frame("inference"), frame(label), frame(fn)])
                weights.append(ticks / tpc)
    name = f"{p.model} on {p.board}"
    return {"$schema": "https://www.speedscope.app/file-format-schema.json",
            "shared": {"frames": frames},
            "profiles": [
                {"type": "evented", "name": f"{name}: ops (cycles)", "unit": "none", "startValue": 0,
                 "endValue": total, "events": events},
                {"type": "sampled", "name": f"{name}: functions per op (cycles)", "unit": "none",
                 "startValue": 0, "endValue": sum(weights), "samples": samples, "weights": weights}],
            "name": name, "activeProfileIndex": 0, "exporter": "harness profile"}


def write_outputs(p: InferenceProfile, out_dir: Path) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{p.model}-{p.board}"
    paths = {"collapsed": out_dir / f"{stem}.collapsed.txt", "speedscope": out_dir / f"{stem}.speedscope.json",
             "json": out_dir / f"{stem}.profile.json"}
    paths["collapsed"].write_text(collapsed(p))
    paths["speedscope"].write_text(json.dumps(speedscope(p), indent=1))
    paths["json"].write_text(json.dumps(p.as_dict(), indent=1))
    return paths
