"""Domain keywords: build a model's firmware, judge its fit, and check what the running board computes
against TFLM, its cycles and its latency. They use the same pieces as `harness check` (harness.check,
harness.fit, harness.protocol) over the current terminal tester, whatever engine runs it."""
from __future__ import annotations

import os
import re
from pathlib import Path

from robot.api import SkipExecution, logger
from robot.api.deco import keyword

from harness import registry
from harness.board import load_board
from harness.build import BARE_SOURCES, DoesNotFit, build_firmware
from harness.errors import HarnessError
from harness.fit import MIN_STACK, static_fit
from harness.protocol import DutClient, ProtocolError
from harness.robot.emulation import Emulation, KeywordError, resolve_path

_UNITS = {"s": 1e6, "ms": 1e3, "us": 1.0, "µs": 1.0}


def parse_latency_us(text) -> float:
    """'5 ms', '250us', '0.2 s' -> microseconds; a bare number is milliseconds."""
    m = re.fullmatch(r"\s*([0-9.eE+-]+)\s*(s|ms|us|µs)?\s*", str(text))
    if not m:
        raise KeywordError(f"cannot read the latency {text!r}: give e.g. '5 ms', '250 us' or '0.2 s'")
    return float(m[1]) * _UNITS[m[2] or "ms"]


def parse_count(text) -> int:
    """'90_000_000', '90e6', '90M' -> int."""
    t = str(text).strip().replace("_", "").replace(" ", "")
    scale = {"k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9}.get(t[-1:], 1)
    return int(float(t[:-1] if scale != 1 else t) * scale)


class _Transport:
    """harness.protocol's transport over a terminal tester (each line within the tester's timeout)."""

    def __init__(self, tester):
        self.tester = tester

    def write(self, data: bytes) -> None:
        self.tester.write(data)

    def read_line(self) -> str:
        return self.tester.next_line(None, "An answer")


class HarnessKeywords:
    emulation: Emulation

    def _init_domain(self) -> None:
        self._built: dict[tuple, tuple] = {}
        self._last_stats: dict | None = None
        self._last_latency_us: float | None = None
        self._last_model: str | None = None

    # ------------------------------------------------------------ models and firmware
    @staticmethod
    def _model(model: str) -> tuple[str, Path]:
        """(id, path); a registered model whose file is not on this machine skips the test."""
        zoo = registry.load_zoo()
        if model in zoo and not zoo[model].generate and not _present(zoo[model]):
            raise SkipExecution(f"{model}: {zoo[model].file} is not on this machine")
        try:
            return registry.resolve(model)
        except HarnessError as e:
            raise KeywordError(str(e)) from None

    @keyword("Input Download")
    def input_download(self, model: str, seed: int = 0) -> list[str]:
        """The MLPerf Tiny commands that download one seeded random input of `model`: `db load N tensor`
        (the input tensors' own bytes, one after the other, whatever format a benchmark's runner would
        send), then `db <hex>`
        chunks of 31 bytes as the runner sends them (without the % terminators)."""
        from harness.protocol import CHUNK
        from harness.reference import random_inputs
        mid, graph, low = self._lowered(model)
        data = b"".join(a.tobytes() for a in random_inputs(low.input_tensors, 1, int(seed))[0])
        return [f"db load {len(data)} tensor"] + [f"db {data[i:i + CHUNK].hex()}" for i in range(0, len(data), CHUNK)]

    @keyword("Small Model")
    def small_model(self) -> str:
        """TFLM's hello_world where ../shared has it, else the project's own generated model."""
        zoo = registry.load_zoo()
        for candidate in ("hello_world_int8", "gen_ad_fc_s"):
            if candidate in zoo and (zoo[candidate].generate or _present(zoo[candidate])):
                return candidate
        raise KeywordError("no small model on this machine")

    @keyword("Console Uart")
    def console_uart(self, board: str) -> str:
        """The board's console as Renode names it, e.g. sysbus.usart2 (from its .repl)."""
        return f"sysbus.{load_board(board).console.uart}"

    @keyword("Platform Description")
    def platform_description(self, board: str) -> str:
        """The .repl of `board` (a name of renode/platforms or a path)."""
        return str(load_board(board).path)

    def _lowered(self, model: str):
        from harness.pipeline import plan
        from harness.plan.model import ModelError
        mid, path = self._model(model)
        try:
            return (mid, *plan(path, mid))
        except ModelError as e:
            raise KeywordError(f"unsupported: {e}") from None

    @keyword("Build Firmware")
    def build(self, model: str, board: str) -> str:
        """Build the firmware for `model` (a registry id or .tflite; or a test firmware's .c file, built
        on the shared base firmware/bare) on `board`; returns the ELF's path. Fails when the model is unsupported or does not fit."""
        key = (model, board)
        if key not in self._built:
            b = load_board(board)
            try:
                if model.endswith(".c"):
                    src = resolve_path(model)
                    fw = build_firmware(b, {}, name=src.stem, sources=[src, *BARE_SOURCES])
                else:
                    from harness.pipeline import build
                    mid, graph, low = self._lowered(model)
                    fw = build(b, low, mid)
            except DoesNotFit as e:
                raise KeywordError(str(e).splitlines()[0]) from None
            except HarnessError as e:
                raise KeywordError(str(e)) from None
            self._built[key] = (fw,)
        elf = str(self._built[key][0].elf)
        logger.info(f"firmware: {elf}")
        return elf

    def _fit(self, model: str, board: str, log: bool = True, patch: str | None = None):
        from harness.pipeline import build_or_measure
        mid, graph, low = self._lowered(model)
        name = mid
        if patch is not None:          # the patch-based plan instead (harness/plan/patch.py)
            low, split = self._patched(graph, patch)
            name = f"{mid}.{split.tag}"
        b = load_board(board)
        fw = build_or_measure(b, low, mid, name).fw
        fit = static_fit(b, fw.elf, stack=MIN_STACK)      # the stack the link keeps, as check counts it
        if log:                 # Robot's logger only works in the main thread
            logger.info(f"{mid} on {b.name}: flash {fit.flash.used} B of {fit.flash.size} B ({fit.flash.percent:.1f} %), "
                    f"static RAM {fit.static_ram} B of {fit.sram.size} B ({100 * fit.static_ram / fit.sram.size:.1f} %)")
        return fit

    @keyword("Model Should Fit Board")
    def model_should_fit_board(self, model: str, board: str) -> None:
        """Flash (code and constants) and static RAM (.data, .bss with the arena) fit the board's map."""
        fit = self._fit(model, board)
        if not fit.fits:
            raise KeywordError(f"{model} does not fit {board}: {_shortfall(fit)}")

    @staticmethod
    def _patched(graph, patch: str):
        from harness.plan import patch as patching
        from harness.plan.model import ModelError
        try:
            split = patching.select(graph, patch)
            if split is None:
                raise KeywordError(f"{graph.path.name}: no patch plan has a smaller arena than layer by layer")
            return patching.plan(graph, split), split
        except ModelError as e:
            raise KeywordError(str(e)) from None

    @keyword("Model Should Fit Board With Patches")
    def model_should_fit_board_with_patches(self, model: str, board: str, split: str = "auto") -> None:
        """As Model Should Fit Board, for the patch-based plan (MCUNetV2): the search's choice within 15 %
        more MACs (`auto`), or the split given (e.g. op7:3x3)."""
        fit = self._fit(model, board, patch=split)
        if not fit.fits:
            raise KeywordError(f"{model} with patches ({split}) does not fit {board}: {_shortfall(fit)}")

    @keyword("Model Should Not Fit Board")
    def model_should_not_fit_board(self, model: str, board: str) -> None:
        if self._fit(model, board).fits:
            raise KeywordError(f"{model} fits {board}")

    @keyword("Zoo Fit Verdicts Should Match Registry")
    def zoo_fit_verdicts(self, board: str) -> None:
        """Every registered model with a fit expectation for `board` (models/zoo.toml: expect_fit, or
        the paper's runs_on) and a file on this machine: it fits where expected. A model that fits where
        the paper did not run it is noted, not failed (our runtime is not TFLM's)."""
        from concurrent.futures import ThreadPoolExecutor
        name = load_board(board).name
        cells = [(m.id, m.expected_to_fit(name)) for m in registry.load_zoo().values()
                 if m.expected_to_fit(name) is not None and (m.generate or _present(m))]

        def measure(model_id):
            try:
                return self._fit(model_id, board, log=False)
            except KeywordError as e:       # an unsupported model has no fit to judge
                return e

        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:   # gcc runs outside the GIL
            fits = list(pool.map(measure, [mid for mid, _ in cells]))
        failures = []
        for (mid, expected), fit in zip(cells, fits):
            if isinstance(fit, KeywordError):
                logger.info(f"{mid}: {fit}")
                continue
            logger.info(f"{mid}: flash {fit.flash.used} B ({fit.flash.percent:.1f} %), static RAM "
                        f"{fit.static_ram} B ({100 * fit.static_ram / fit.sram.size:.1f} %)")
            if expected and not fit.fits:
                failures.append(f"{mid}: expected to fit, {_shortfall(fit)}")
            elif not expected and fit.fits:
                logger.info(f"{mid}: fits {board}, where the paper did not run it")
        logger.info(f"{len(cells)} model(s) checked on {board}")
        if failures:
            raise KeywordError("\n".join(failures))

    # ------------------------------------------------------------ the running board
    def _client(self) -> DutClient:
        return DutClient(_Transport(self.emulation.tester()))

    @keyword("Output Should Match TFLM")
    def output_should_match_tflm(self, model: str, inputs: int = 3, seed: int = 0) -> None:
        """Send `inputs` seeded random inputs over the MLPerf Tiny protocol to the running firmware (the
        current terminal tester's, after its m-ready) and compare every output tensor with the TFLM
        interpreter's (the same bytes; float32 outputs within harness.reference.outputs_agree's tolerance)."""
        from harness.reference import TflmReference, each_output_agrees, random_inputs
        mid, graph, low = self._lowered(model)
        client = self._client()
        reference = TflmReference(graph.path)
        bad = []
        try:
            for i, x in enumerate(random_inputs(low.input_tensors, int(inputs), int(seed))):
                client.load_inputs(x)
                got = client.infer(1, 0)
                self._last_latency_us = float(got.lap_us[1] - got.lap_us[0])
                want = reference.run(x)
                agreement = each_output_agrees(got.outputs, want, low.output_tensors)
                bad += [f"input {i} output {k}: board {got.outputs[k].hex()[:64] if k < len(got.outputs) else '-'}, "
                        f"TFLM {want[k].hex()[:64] if k < len(want) else '-'}"
                        for k, (agree, _) in enumerate(agreement) if not agree]
            self._last_stats = client.stats()
        except ProtocolError as e:
            raise KeywordError(str(e)) from None
        self._last_model = mid
        logger.info(f"{mid}: {inputs} input(s), stats {self._last_stats}")
        if bad:
            differ = len({line.split(" output ")[0] for line in bad})
            raise KeywordError(f"{differ} of {inputs} outputs differ from TFLM:\n" + "\n".join(bad))

    @keyword("Cycles Should Be Below")
    def cycles_should_be_below(self, limit) -> int:
        """The DWT cycles of the last inference (the firmware's `stats`) are below `limit`; returns them."""
        try:
            stats = self._client().stats()
        except ProtocolError as e:
            raise KeywordError(str(e)) from None
        cycles = stats["cycles"]
        logger.info(f"cycles per inference: {cycles}")
        if cycles >= parse_count(limit):
            raise KeywordError(f"{cycles} cycles per inference, not below {limit}")
        return cycles

    @keyword("Latency Should Be Below")
    def latency_should_be_below(self, limit, inferences: int = 1) -> float:
        """The latency per inference of the loaded input, over `inferences` timed runs, is below `limit`
        ('5 ms', '250 us'); returns µs. On the emulated engine the latency is the board's calibration
        table's prediction from the DWT cycles (harness/calibration) and its *upper* error bound must be
        below the limit; on Renode (whose cycles no table maps) the firmware's m-lap-us (MLPerf Tiny's
        way) is compared as it is."""
        n = int(inferences)
        try:
            got = self._client().infer(n, 0)
            stats = self._client().stats() if self.emulation.engine_name == "emulated" else None
        except ProtocolError as e:
            raise KeywordError(str(e)) from None
        per = (got.lap_us[1] - got.lap_us[0]) / n
        if stats is None:
            logger.info(f"latency per inference (m-lap-us): {per:.1f} us")
            if per >= parse_latency_us(limit):
                raise KeywordError(f"{per:.1f} us per inference, not below {limit}")
            return per
        from harness.calibration import table_for
        machine = self.emulation.machine()
        counts = getattr(machine.engine, "counts_between_reads", lambda c: None)(stats["cycles"])
        events = getattr(machine.engine, "events_between_reads", lambda c: None)(stats["cycles"])
        p = table_for(machine.require_board()).predict(stats["cycles"], counts[0] if counts else None,
                                                       events=events)
        logger.info(f"latency per inference: {p}, energy {p.energy} (m-lap-us: {per:.1f} us)")
        if 1e3 * p.upper_ms >= parse_latency_us(limit):
            raise KeywordError(f"{p} per inference: its upper bound {p.upper_ms:.3f} ms is not below {limit}")
        return 1e3 * p.upper_ms


def _present(entry) -> bool:
    return entry.file is not None and any((d / entry.file).is_file() for d in registry.search_dirs())


def _shortfall(fit) -> str:
    parts = []
    if not fit.flash.fits:
        parts.append(f"flash needs {fit.flash.used} B of {fit.flash.size} B")
    if fit.static_ram > fit.sram.size or not fit.sram.fits:
        parts.append(f"SRAM needs {max(fit.static_ram, fit.sram.used)} B of {fit.sram.size} B")
    bad = [r for r in fit.regions if not r.fits]
    parts += [f"{r.region} needs {r.used} B of {r.size} B" for r in bad]
    return "; ".join(parts) or "does not fit"
