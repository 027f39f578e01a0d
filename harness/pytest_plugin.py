"""pytest plugin: (model, board) cells from the registry (models/zoo.toml) and renode/platforms.

Loaded by the `pytest11` entry point when the package is installed, and by tests/conftest.py otherwise.

Options:
  --board NAME      only these boards (repeat, or comma-separate); default every renode/platforms/*.repl
  --model ID        only these models: registry ids or .tflite paths (repeat, or comma-separate)
  --zoo quick|full  which cells `zoo_cell` tests run (default quick, or $HARNESS_ZOO): quick is every
                    model on the biggest board, the small models on every board, and every cell the
                    registry expects not to fit, but not the test corpus (`corpus = true`, which
                    tests/test_corpus.py runs); full is every model on every board
  --zoo-inputs N    seeded random inputs per cell (quick 3, full 20)
  --backend NAME    where cells run: emulated (default), renode, hardware
  --patch MODE      off (default), auto or opN:RxC: also build and run each cell's patch-based plan
  --lab PATH        the lab inventory for hardware tests (else $HARNESS_LAB, ./lab.toml, or detection)

Helpers: `assert_latency_below(verdict, limit_ms)` holds a cell's latency's upper error bound to a limit.

Fixtures:
  zoo_cell          parametrized over the selected cells, ids `<model>-<board>`
  hw_cell           the same for hardware runs: the small models (or --model) on every selected board
  board_name        parametrized over the selected boards
  zoo_verdict       harness.check's Verdict for `zoo_cell`, computed once per session and cell (firmware
                    builds are cached on disk in build/); records flash, SRAM and cycles as JUnit properties
  harness_session   the session's cache: `verdict(cell, backend=)`, `firmware(model, board)`
  lab_inventory     the lab (harness.lab.Lab); `lab_board(board)` skips with "no port for <board>"

Under pytest-xdist (`-n auto`) the tests of one cell go to one worker (`--dist loadgroup`), so a cell
is run once; the build cache is safe for concurrent processes (harness/build.py).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness import lab as labmod
from harness import registry
from harness.backends import BACKENDS
from harness.board import all_boards, available_boards, load_board
from harness.plan.model import ModelError
from harness.plan.patch import Split

SMALL_BYTES = 64 * 1024          # a model file this small runs on every board in the quick set
QUICK_INPUTS, FULL_INPUTS = 3, 20
HW_INPUTS = 5


@dataclass(frozen=True)
class ZooCell:
    model: str
    board: str
    expected_fit: bool | None = None
    path: str | None = None       # a .tflite given by path instead of a registry id

    @property
    def id(self) -> str:
        return f"{self.model}-{self.board}"


def _split(values: list[str]) -> list[str]:
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


def pytest_addoption(parser):
    group = parser.getgroup("harness", "TinyML board harness")
    group.addoption("--board", action="append", default=[], metavar="NAME",
                    help="only these boards (repeat or comma-separate); default: every renode/platforms/*.repl")
    group.addoption("--model", action="append", default=[], metavar="ID",
                    help="only these models: registry ids or .tflite paths (repeat or comma-separate)")
    group.addoption("--zoo", choices=("quick", "full"), default=None,
                    help="cells for zoo tests: quick (default, or $HARNESS_ZOO) or full (every model x board)")
    group.addoption("--zoo-inputs", type=int, default=None, metavar="N",
                    help=f"seeded random inputs per cell (quick {QUICK_INPUTS}, full {FULL_INPUTS})")
    group.addoption("--backend", choices=list(BACKENDS), default="emulated",
                    help="where zoo cells run (default emulated)")
    group.addoption("--patch", default="off", metavar="off|auto|opN:RxC",
                    help="also build and run each zoo cell's patch-based plan (docs/patch.md); default off")
    group.addoption("--lab", default=None, metavar="LAB_TOML",
                    help="lab inventory for hardware tests (default $HARNESS_LAB, ./lab.toml, else detected ST-Links)")


@pytest.hookimpl(trylast=True)
def pytest_cmdline_main(config):
    # `-n N` alone means --dist load; loadgroup is load that keeps each cell's tests on one worker.
    if getattr(config.option, "dist", "no") == "load":
        config.option.dist = "loadgroup"


def _lab_took_the_root(config) -> None:
    """`--lab PATH` (a space, not `=`): pytest settles its root directory and configuration file before it
    loads this plugin, so it reads PATH as a test path; with PATH outside the repository the root becomes
    PATH's folder or a common folder, and pyproject.toml's settings (markers, `-m 'not hardware'`, pythonpath) are lost.
    The plugin cannot undo that choice; it names it instead of letting the run fail obscurely."""
    args = list(config.invocation_params.args)
    lab = args[args.index("--lab") + 1] if "--lab" in args[:-1] else None
    root = registry.ROOT
    if lab and config.rootpath != root:      # the lab file's folder, or a folder above both
        raise pytest.UsageError(f"`--lab {lab}` made pytest take {config.rootpath} as its root directory (it reads "
                                f"the path as a test path before the plugin that knows --lab loads): write "
                                f"--lab={lab}, or set HARNESS_LAB={lab}")


def pytest_configure(config):
    config.addinivalue_line("markers", "xdist_group(name): keep these tests on one xdist worker")
    config.addinivalue_line("markers", "patch_plan: checks a cell's patch-based plan; runs only with --patch")
    _lab_took_the_root(config)
    if config.getoption("lab"):
        labmod.use(config.getoption("lab"))
    config.stash[_SELECTION] = Selection.from_config(config)


_SELECTION = pytest.StashKey["Selection"]()


def pytest_collection_modifyitems(config, items):
    """Without --patch there is no patch plan to check: its tests are deselected, not a skip per cell."""
    if config.getoption("patch") != "off":
        return
    dropped = [i for i in items if i.get_closest_marker("patch_plan")]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [i for i in items if not i.get_closest_marker("patch_plan")]


@dataclass
class Selection:
    boards: list[str]
    models: list[tuple[str, str | None]]     # (id, .tflite path or None for a registry id)
    explicit_models: bool
    explicit_boards: bool
    mode: str
    inputs: int
    backend: str
    patch: str = "off"                       # --patch: also run each cell's patch-based plan

    @classmethod
    def from_config(cls, config) -> "Selection":
        boards = _split(config.getoption("board")) or available_boards()
        known = all_boards()
        for b in boards:
            if b not in known and not b.endswith(".repl"):
                raise pytest.UsageError(f"--board {b}: not one of {', '.join(known)}")
        given = _split(config.getoption("model"))
        zoo = registry.load_zoo()
        models = []
        for m in given:
            if m.endswith(".tflite"):
                models.append((registry.path_id(Path(m), zoo), m))    # by content, not by file name
            elif m in zoo:
                models.append((m, None))
            else:
                raise pytest.UsageError(f"--model {m}: not a registry id ({', '.join(zoo)}) nor a .tflite path")
        mode = config.getoption("zoo") or os.environ.get("HARNESS_ZOO") or "quick"
        if mode not in ("quick", "full"):
            raise pytest.UsageError(f"HARNESS_ZOO={mode}: use quick or full")
        inputs = config.getoption("zoo_inputs") or (FULL_INPUTS if mode == "full" else QUICK_INPUTS)
        patch = config.getoption("patch")
        if patch not in ("off", "auto"):
            try:
                Split.parse(patch)
            except ModelError as e:
                raise pytest.UsageError(f"--patch {patch}: {e}") from None
        return cls(boards, models or [(m, None) for m in zoo], bool(given), bool(config.getoption("board")),
                   mode, inputs, config.getoption("backend"), patch)

    # ------------------------------------------------------------ cells
    def _expected(self, model: str, board: str) -> bool | None:
        entry = _zoo().get(model)
        return entry.expected_to_fit(Path(board).stem) if entry else None

    def _cell(self, model: str, path: str | None, board: str) -> ZooCell:
        return ZooCell(model, board, None if path else self._expected(model, board), path)

    def _small(self, model: str, path: str | None) -> bool:
        if path:
            return Path(path).stat().st_size <= SMALL_BYTES if Path(path).is_file() else False
        entry = _zoo()[model]
        if entry.generate:
            return True
        found = _model_file(entry)
        return found is not None and found.stat().st_size <= SMALL_BYTES

    def zoo_cells(self) -> list[ZooCell]:
        everything = [self._cell(m, p, b) for m, p in self.models for b in self.boards]
        if self.mode == "full" or self.explicit_models or len(self.boards) == 1:
            return everything
        biggest = max(self.boards, key=lambda b: load_board(b).sram_size)
        return [c for c in everything if not self._corpus(c.model, c.path)
                if c.board == biggest or self._small(c.model, c.path) or c.expected_fit is False]

    def _corpus(self, model: str, path: str | None) -> bool:
        """Issue 18's test corpus: tests/test_corpus.py runs it on every board, so the quick set leaves it out."""
        return path is None and _zoo()[model].corpus

    def hw_cells(self) -> list[ZooCell]:
        everything = [self._cell(m, p, b) for m, p in self.models for b in self.boards]
        if self.mode == "full" or self.explicit_models:
            return everything
        return [c for c in everything if self._small(c.model, c.path)]


_ZOO: dict | None = None


def _zoo() -> dict:
    global _ZOO
    if _ZOO is None:
        _ZOO = registry.load_zoo()
    return _ZOO


def _model_file(entry) -> Path | None:
    """The file of a registry model if it is on this machine, without generating anything."""
    for d in registry.search_dirs():
        p = d / entry.file
        if p.is_file():
            return p
    return None


def _params(cells: list[ZooCell]):
    return [pytest.param(c, id=c.id, marks=pytest.mark.xdist_group(c.id)) for c in cells]


def pytest_generate_tests(metafunc):
    sel: Selection = metafunc.config.stash[_SELECTION]
    if "zoo_cell" in metafunc.fixturenames:
        metafunc.parametrize("zoo_cell", _params(sel.zoo_cells()))
    if "hw_cell" in metafunc.fixturenames:
        metafunc.parametrize("hw_cell", _params(sel.hw_cells()))
    if "board_name" in metafunc.fixturenames:
        metafunc.parametrize("board_name", sel.boards, ids=[Path(b).stem for b in sel.boards])


# ------------------------------------------------------------------ the session cache
class HarnessSession:
    def __init__(self, selection: Selection):
        self.selection = selection
        self._verdicts: dict[tuple, object] = {}
        self._firmware: dict[tuple, object] = {}
        self._models: dict[str, Path] = {}

    def model_path(self, cell: ZooCell) -> Path:
        """The model's file, or skip: a third-party model need not be on every machine."""
        if cell.path:
            return Path(cell.path)
        if cell.model not in self._models:
            entry = registry.load_zoo()[cell.model]
            path = registry.locate(entry)
            if path is None:
                pytest.skip(f"{cell.model}: {entry.file} is not on this machine "
                            f"(looked in {', '.join(map(str, registry.search_dirs()))})")
            self._models[cell.model] = path
        return self._models[cell.model]

    def verdict(self, cell: ZooCell, *, backend: str | None = None, inputs: int | None = None, seed: int = 0):
        """harness.check.check_cell for the cell, once per (cell, backend, inputs, seed) in a session."""
        from harness.check import check_cell
        backend = backend or self.selection.backend
        inputs = inputs or self.selection.inputs
        key = (cell, backend, inputs, seed)
        if key not in self._verdicts:
            entry = _zoo().get(cell.model)     # its task picks the real inputs, as in `harness check`
            self._verdicts[key] = check_cell(cell.model, self.model_path(cell), load_board(cell.board),
                                             inputs=inputs, seed=seed, backend=backend,
                                             expected_fit=cell.expected_fit, task=entry.task if entry else None,
                                             patch=self.selection.patch)
        return self._verdicts[key]

    def firmware(self, cell: ZooCell):
        """(Firmware, graph, lowered) for the cell's model on its board; raises DoesNotFit/ModelError."""
        from harness.pipeline import model_firmware
        key = (cell.model, cell.path, cell.board)
        if key not in self._firmware:
            self._firmware[key] = model_firmware(load_board(cell.board), self.model_path(cell), cell.model)
        return self._firmware[key]


@pytest.fixture(scope="session")
def harness_session(request) -> HarnessSession:
    return HarnessSession(request.config.stash[_SELECTION])


@pytest.fixture
def run_firmware(record_property):
    """Users' own firmware tests in CI: `run_firmware(board, elf, until=..., budget=..., measure=[...])`
    boots any ELF built for `board` on the emulated board (harness/run.py: the same as `harness run`)
    and returns its RunResult (reason, console lines, instructions, cycles, measures); an ELF built for
    another board raises harness.run.WrongBoard. Cycles and each measure's mean go into the JUnit
    properties."""
    from harness.run import run_elf

    def run(board: str, elf, **options):
        b = load_board(board)
        result, _ = run_elf(b, Path(elf), **options)
        record_property("cycles", result.cycles)
        for m in result.measures:
            s = m.summary(b)
            if s["n"]:
                record_property(f"measure {m.spec} mean cycles", s["mean"])
        return result
    return run


def cycles_of(verdict) -> int | None:
    """Cycles per inference from a Verdict (named `instructions` before the cycle model)."""
    for name in ("cycles", "instructions"):
        if hasattr(verdict, name):
            return getattr(verdict, name)
    return None


def record_verdict(record_property, verdict, source: str) -> None:
    """A cell's figures as JUnit properties, so CI systems can trend them."""
    fit = verdict.fit
    props = {"model": verdict.model, "board": verdict.board, "status": verdict.status, "source": source,
             "cycles": cycles_of(verdict), "inputs": verdict.inputs, "mismatches": verdict.mismatches,
             "arena_bytes": verdict.arena_bytes}
    prediction = getattr(verdict, "prediction", None)
    if prediction is not None:          # latency and energy, value and error, with the table's status
        props.update(prediction.as_dict())
    if fit is not None:
        props.update(flash_bytes=fit.flash.used, flash_percent=round(fit.flash.percent, 2),
                     sram_bytes=fit.sram.used, sram_percent=round(fit.sram.percent, 2),
                     static_ram_bytes=fit.static_ram, stack_bytes=fit.stack)
    for k, v in props.items():
        if v is not None:
            record_property(k, v)


def assert_latency_below(verdict, limit_ms: float) -> float:
    """A cell's latency per inference is below `limit_ms` by its *upper* error bound (the board's
    calibration table: harness/calibration); returns the upper bound in ms."""
    p = verdict.prediction
    assert p is not None, f"{verdict.model} on {verdict.board}: no latency ({verdict.status}: {verdict.reasons})"
    assert p.upper_ms < limit_ms, (f"{verdict.model} on {verdict.board}: {p} per inference, upper bound "
                                   f"{p.upper_ms:.3f} ms, not below {limit_ms} ms")
    return p.upper_ms


@pytest.fixture
def zoo_verdict(zoo_cell, harness_session, record_property, request):
    v = harness_session.verdict(zoo_cell)
    record_verdict(record_property, v, request.config.stash[_SELECTION].backend)
    return v


# ------------------------------------------------------------------ the lab
@pytest.fixture(scope="session")
def lab_inventory(request) -> labmod.Lab:
    return labmod.default_lab()


@pytest.fixture(scope="session")
def lab_board(lab_inventory, request):
    """`lab_board(board) -> LabBoard`, skipping with "no port for <board>" when none is attached."""
    sel: Selection = request.config.stash[_SELECTION]

    def get(board: str) -> labmod.LabBoard:
        entry = lab_inventory.find(board, only_requested=sel.explicit_boards and len(sel.boards) == 1)
        if entry is None:
            pytest.skip(f"no port for {board}")
        return entry
    return get


def pytest_sessionfinish(session):
    labmod.EmulatedFlasher.close_all()
