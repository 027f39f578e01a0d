"""Hardware measurements for `harness calibrate`, read from what the lab writes:

- the hardware pytest run's reports (tests/test_hardware.py: reports/hardware/<model>-<board>.json, the
  cell's verdict plus a `silicon` object) and its JUnit XML (record_property per test case);
- a CSV, one row per firmware build measured (CSV_COLUMNS; `harness calibrate workload` writes one with
  the emulated counts filled in and `measured_ms` empty, for the lab to complete; `ops` and `events` are
  JSON objects);
- published tables (harness/calibration/published.py: `harness calibrate --published MANIFEST.toml`).

Every measurement pairs what the board took with what the emulator counts for the *same* firmware
build (its SHA-256). A hardware report carries the board's own DWT cycles around one inference; the
emulated counts for that ELF are computed here when the report does not carry them.
"""
from __future__ import annotations

import csv
import datetime as dt
import json
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree as ET

from harness.board import load_board
from harness.errors import HarnessError, tail
from harness.registry import sha256_of as sha256_file     # one definition of a file's hash

CSV_COLUMNS = ["firmware_sha256", "board", "board_serial", "measured_ms", "cycles", "instructions", "model",
               "taken_at", "ops", "power_w", "synthetic", "events"]
REQUIRED = ["firmware_sha256", "board", "measured_ms", "cycles"]


@dataclass
class Measurement:
    board: str
    firmware_sha256: str
    measured_ms: float
    cycles: int | float                  # emulated (modelled) cycles per inference of the same build
    instructions: int | None = None      # emulated instructions per inference
    ops: dict[str, int] | None = None    # emulated cycles per op type, when profiled
    board_serial: str = ""
    model: str = ""
    taken_at: str = ""
    power_w: float | None = None         # measured with a power meter, if any
    source: str = ""                     # the file it came from
    synthetic: bool = False              # made up by a test: never calibration data for a shipped table
    extra: dict = field(default_factory=dict)
    events: dict[str, int] | None = None  # emulated memory-system event counts per inference (models.Point)

    def csv_row(self) -> dict:
        return {"firmware_sha256": self.firmware_sha256, "board": self.board, "board_serial": self.board_serial,
                "measured_ms": "" if self.measured_ms is None else repr(self.measured_ms), "cycles": self.cycles,
                "instructions": "" if self.instructions is None else self.instructions, "model": self.model,
                "taken_at": self.taken_at, "ops": json.dumps(self.ops) if self.ops else "",
                "power_w": "" if self.power_w is None else self.power_w,
                "synthetic": "true" if self.synthetic else "",
                "events": json.dumps(self.events, sort_keys=True) if self.events else ""}


def emulated_counts(board_name: str, elf: Path, model_path: Path, seed: int = 0) -> tuple[int, int | None]:
    """(modelled cycles, instructions) of one inference of `elf` on the emulated board, with the seeded
    input the hardware test times (harness.reference.random_inputs, seed 0)."""
    from harness.backends import open_board
    from harness.plan.lower import lower
    from harness.plan.model import load_model
    from harness.protocol import DutClient
    from harness.reference import random_inputs
    graph = load_model(model_path)
    low = lower(graph)
    dut = open_board("emulated", load_board(board_name), Path(elf))
    try:
        client = DutClient(dut)
        client.wait_ready()
        client.load_inputs(random_inputs(low.input_tensors, 1, seed)[0])
        client.infer(1, 0)
        cycles = client.stats()["cycles"]
        counts = dut.counts_between_reads(cycles)
    finally:
        dut.close()
    return cycles, counts[0] if counts else None


def _opt_int(text) -> int | None:
    return None if text in (None, "") else int(text)


def _count(text) -> int | float:
    """Modelled cycles: an integer, or a fraction on the M7 model (half-cycle ticks)."""
    x = float(text)
    return int(x) if x.is_integer() else x


def _opt_json(text) -> dict | None:
    return json.loads(text) if (text or "").strip() else None


def read_csv(path: Path) -> list[Measurement]:
    path = Path(path)
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
        if missing:
            raise HarnessError(f"{path}: missing column(s) {', '.join(missing)}; columns: {', '.join(CSV_COLUMNS)}")
        out = []
        for i, row in enumerate(reader, 2):
            if not (row.get("measured_ms") or "").strip():
                continue                      # a workload row not measured yet
            try:
                out.append(Measurement(
                    board=row["board"].strip(), firmware_sha256=row["firmware_sha256"].strip(),
                    measured_ms=float(row["measured_ms"]), cycles=_count(row["cycles"]),
                    instructions=_opt_int(row.get("instructions")),
                    ops=_opt_json(row.get("ops")), events=_opt_json(row.get("events")),
                    board_serial=(row.get("board_serial") or "").strip(), model=(row.get("model") or "").strip(),
                    taken_at=(row.get("taken_at") or "").strip(),
                    power_w=float(row["power_w"]) if (row.get("power_w") or "").strip() else None,
                    source=str(path),
                    synthetic=(row.get("synthetic") or "").strip().lower() in ("1", "true", "yes")))
            except (ValueError, json.JSONDecodeError) as e:
                raise HarnessError(f"{path}:{i}: {e}") from None
    return out


def write_csv(rows: list[Measurement], path: Path) -> None:
    with Path(path).open("w", newline="") as f:
        w = csv.DictWriter(f, CSV_COLUMNS)
        w.writeheader()
        for m in rows:
            w.writerow(m.csv_row())


def _model_path(model: str) -> Path:
    from harness import registry
    return registry.resolve(model)[1]


def _mtime(path: Path) -> str:
    return dt.datetime.fromtimestamp(path.stat().st_mtime, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@contextmanager
def _reading(path: Path, what: str):
    """A file that is not what it should be (binary bytes, bad JSON/XML/CSV, missing columns) is named
    with what was expected, not a decoder's traceback. ElementTree's ParseError is a SyntaxError; JSON's
    and UTF-8's errors are ValueErrors."""
    try:
        yield
    except HarnessError:
        raise
    except (OSError, ValueError, KeyError, TypeError, AttributeError, csv.Error, SyntaxError) as e:
        raise HarnessError(f"{path}: cannot read it as {what} ({type(e).__name__}: {tail(str(e), 120)})") from None


def read_counts(path: Path) -> dict[str, Measurement]:
    """Emulated counts by firmware SHA-256 from a CSV (e.g. the workload's, measured_ms still empty)."""
    with _reading(path, "a CSV of emulated counts"), Path(path).open(newline="") as f:
        return {r["firmware_sha256"]: Measurement(r["board"], r["firmware_sha256"], None, _count(r["cycles"]),
                                                  _opt_int(r.get("instructions")), _opt_json(r.get("ops")),
                                                  model=r.get("model", ""), events=_opt_json(r.get("events")))
                for r in csv.DictReader(f) if (r.get("cycles") or "").strip()}


def read_hardware_report(path: Path, counts: dict[str, Measurement] | None = None) -> Measurement:
    """One reports/hardware/<model>-<board>.json of `pytest -m hardware`. The emulated counts come from
    the report (`emulated`), else from `counts` (by firmware SHA-256), else by emulating its ELF."""
    path = Path(path)
    d = json.loads(path.read_text())
    silicon = d.get("silicon")
    if d.get("source") != "hardware" or not silicon or not silicon.get("cycles"):
        raise HarnessError(f"{path}: not a hardware report with the board's cycles (source: hardware, silicon)")
    board = load_board(d["board"])
    elf = Path(d["elf"]) if d.get("elf") else None
    sha = silicon.get("firmware_sha256") or (sha256_file(elf) if elf and elf.is_file() else None)
    if sha is None:
        raise HarnessError(f"{path}: its firmware {d.get('elf')} is not on this machine and the report has "
                           f"no firmware_sha256: cannot pair it with emulated counts")
    emu = d.get("emulated") or {}
    if not emu and counts and sha in counts:
        c = counts[sha]
        emu = {"cycles": c.cycles, "instructions": c.instructions, "ops": c.ops, "events": c.events}
    if "cycles" in emu:
        cycles, instructions = int(emu["cycles"]), _opt_int(emu.get("instructions"))
    elif elf and elf.is_file():
        cycles, instructions = emulated_counts(board.name, elf, _model_path(d["model"]))
    else:
        raise HarnessError(f"{path}: no emulated counts and no ELF to emulate")
    return Measurement(board.name, sha, board.ms(int(silicon["cycles"])), cycles, instructions,
                       emu.get("ops"), str(silicon.get("board_serial") or silicon.get("stlink") or
                                           silicon.get("port") or ""),
                       d["model"], silicon.get("taken_at") or _mtime(path),
                       silicon.get("power_w"), str(path), bool(d.get("synthetic")),
                       {"lap_us_per_inference": silicon.get("lap_us_per_inference")}, emu.get("events"))


def read_junit(path: Path) -> list[Measurement]:
    """The hardware pytest run's JUnit XML: test_on_silicon cases with properties model, board, source
    (hardware) and cycles (the board's DWT cycles). The firmware is rebuilt from the same sources (the
    build cache is keyed by source hash, so it is the same ELF) and emulated for the counts."""
    from harness.pipeline import plan, build
    path = Path(path)
    out = []
    for case in ET.parse(path).iter("testcase"):
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        if props.get("source") != "hardware" or "lap_us_per_inference" not in props or not props.get("cycles"):
            continue
        board = load_board(props["board"])
        model_path = _model_path(props["model"])
        _, low = plan(model_path, props["model"])
        fw = build(board, low, props["model"])
        cycles, instructions = emulated_counts(board.name, fw.elf, model_path)
        out.append(Measurement(board.name, sha256_file(fw.elf), board.ms(int(props["cycles"])),
                               cycles, instructions, None, props.get("board_serial") or props.get("port", ""),
                               props["model"], _mtime(path), None, f"{path}:{case.get('name')}",
                               props.get("synthetic") == "true"))
    return out


def _is_hardware_report(path: Path) -> bool:
    try:
        d = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return False
    return isinstance(d, dict) and d.get("source") == "hardware" and "silicon" in d


def read_any(paths: list[Path], counts: dict[str, Measurement] | None = None) -> list[Measurement]:
    """Measurements from files and folders (*.json hardware reports, *.xml JUnit, *.csv). In a folder,
    JSON files that are not hardware reports (a workload manifest, results.json) are passed over."""
    files = []
    for p in map(Path, paths):
        if p.is_dir():
            files += sorted(q for q in p.rglob("*") if q.suffix in (".xml", ".csv")
                            or (q.suffix == ".json" and _is_hardware_report(q)))
        elif p.is_file():
            files.append(p)
        else:
            raise HarnessError(f"no such file or folder: {p}")
    out = []
    for f in files:
        if f.suffix == ".csv":
            with _reading(f, "a CSV of measurements"):
                out += read_csv(f)
        elif f.suffix == ".xml":
            with _reading(f, "JUnit XML"):
                out += read_junit(f)
        else:
            with _reading(f, "a hardware report (JSON)"):
                out.append(read_hardware_report(f, counts))
    return out
