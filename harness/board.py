"""Read a Renode platform description (.repl) into a Board.

The .repl files under renode/platforms are the only place board facts live: the emulator, the linker
script, the firmware's board header and the fit check all come from the Board built here. Facts Renode
has no syntax for sit in `//! key: value` comment lines, which Renode itself ignores.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import HarnessError

PLATFORMS_DIR = Path(__file__).resolve().parent.parent / "renode" / "platforms"

_ENTRY = re.compile(r"^(?P<name>\w+):\s*(?P<cls>[\w.]+)?\s*(?:@\s*(?P<bus>\w+)\s*(?P<addr>.*))?$")
_IRQ = re.compile(r"^(?P<out>\w*)\s*->\s*(?P<target>\w+)\s*@\s*(?P<n>\d+)$")   # `IRQ -> nvic@39`
_TAG = re.compile(r'^Tag\s*<\s*(0x[0-9a-fA-F]+|\d+)\s*,\s*(0x[0-9a-fA-F]+|\d+)\s*>\s*"([^"]+)"\s*(0x[0-9a-fA-F]+|\d+)?$')
_RANGE = re.compile(r"<\s*(0x[0-9a-fA-F]+|\d+)\s*,\s*\+\s*(0x[0-9a-fA-F]+|\d+)\s*>")
_USING = re.compile(r'^using\s+"(?P<file>[^"]+)"\s*$')       # `using "nucleo_f746zg.repl"`
MAX_USING_DEPTH = 4


@dataclass(frozen=True)
class Region:
    name: str
    base: int
    size: int
    readonly: bool

    @property
    def end(self) -> int:
        return self.base + self.size

    def contains(self, addr: int) -> bool:
        return self.base <= addr < self.end

    @property
    def perms(self) -> str:
        return "rx" if self.readonly else "rwx"


@dataclass(frozen=True)
class Peripheral:
    name: str
    cls: str
    base: int | None
    size: int | None
    props: dict[str, str]
    irqs: dict[str, int] = field(default_factory=dict)   # output ('' unnamed, 'IRQ', ...) -> NVIC line


@dataclass(frozen=True)
class Tag:
    """`Tag <start, end> "NAME" value` in the .repl's `sysbus: init:` block: Renode's syntax for an address
    range it does not model; reads give `value` (0 when none), writes are dropped. The engine does the
    same and names the tag in a warning (or an error when strict)."""
    start: int
    end: int             # inclusive, as Renode writes it
    name: str
    value: int | None

    def contains(self, addr: int) -> bool:
        return self.start <= addr <= self.end


@dataclass(frozen=True)
class Console:
    uart: str
    baud: int
    tx: str
    rx: str
    af: int
    rcc_enable: tuple[str, int]
    gpio_enable: tuple[str, int]          # the TX pin's GPIO port clock
    rx_gpio_enable: tuple[str, int]       # the RX pin's (the same unless the pins sit on two ports)


@dataclass(frozen=True)
class Board:
    name: str            # file stem, e.g. nucleo_f446re
    title: str           # e.g. NUCLEO-F446RE
    path: Path
    cpu_type: str        # Renode cpuType: cortex-m4f / cortex-m7
    clock_hz: int
    regions: list[Region]
    peripherals: dict[str, Peripheral]
    facts: dict[str, dict[str, str]] = field(default_factory=dict)
    tags: list[Tag] = field(default_factory=list)
    variant_of: str | None = None   # the board whose .repl this one takes its die from (`using`)

    @property
    def core(self) -> str:
        return "m7" if self.cpu_type.startswith("cortex-m7") else "m4"

    # Board facts with a default: the default is stated here once, for every consumer.
    @property
    def fpu(self) -> str:
        """`//! fpu:` single | double | none; a Cortex-M4F/M7 without the fact has the single-precision FPU."""
        return self.fact("fpu", "_", "single")

    @property
    def flash_wait_states(self) -> int:
        """FLASH_ACR.LATENCY the firmware sets at the board's clock (`//! flash: waitStates=`)."""
        return int(self.fact("flash", "waitStates", "0"))

    @property
    def flash_accelerator(self) -> str:
        """`//! flash: accelerator=` art | none."""
        return self.fact("flash", "accelerator", "none")

    @property
    def flash_line(self) -> int:
        """Bytes the flash interface reads at once (`//! flash: line=`; 16, the STM32F4's 128 bits)."""
        return int(self.fact("flash", "line", "16"))

    def ms(self, cycles: float) -> float:
        """Milliseconds that `cycles` take at the board's clock: the one conversion from cycles to time."""
        return 1e3 * cycles / self.clock_hz

    @property
    def flash(self) -> Region:
        return self.region("flash")

    def region(self, name: str) -> Region:
        for r in self.regions:
            if r.name == name:
                return r
        raise HarnessError(f"board {self.name} has no memory region {name!r}")

    @property
    def ram_regions(self) -> list[Region]:
        """Data RAM at the SRAM base and up (DTCM and SRAM banks), in address order; ITCM is code RAM."""
        return sorted((r for r in self.regions if not r.readonly and r.name != "itcm"), key=lambda r: r.base)

    @property
    def sram_size(self) -> int:
        return sum(r.size for r in self.ram_regions)

    @property
    def ram_span(self) -> tuple[int, int]:
        """The contiguous run of data RAM starting at the first bank: (base, size)."""
        banks = self.ram_regions
        end = banks[0].end
        for r in banks[1:]:
            if r.base != end:
                break
            end = r.end
        return banks[0].base, end - banks[0].base

    @property
    def console(self) -> Console:
        c = self.facts.get("console")
        if not c:
            raise HarnessError(f"{self.path}: no `//! console:` line")
        def bit(spec: str) -> tuple[str, int]:
            reg, _, b = spec.partition(".")
            return reg, int(b)
        try:
            return Console(uart=c["_"], baud=int(c["baud"]), tx=c["tx"], rx=c["rx"], af=int(c["af"]),
                           rcc_enable=bit(c["rccenable"]), gpio_enable=bit(c["gpioenable"]),
                           rx_gpio_enable=bit(c.get("rxgpioenable", c["gpioenable"])))
        except (KeyError, ValueError) as e:
            raise HarnessError(f"{self.path}: cannot read `//! console:` ({type(e).__name__}: {e}); it reads "
                               f"`<uart> baud=N tx=PXn rx=PXn af=N rccenable=REG.bit gpioenable=REG.bit` "
                               f"[`rxgpioenable=REG.bit` when RX is on another port]") from None

    def fact(self, group: str, key: str, default: str | None = None) -> str:
        value = self.facts.get(group, {}).get(key, default)
        if value is None:
            raise HarnessError(f"{self.path}: missing `//! {group}: {key}=...`")
        return value

    def peripheral(self, name: str) -> Peripheral:
        try:
            return self.peripherals[name]
        except KeyError:
            raise HarnessError(f"board {self.name} has no peripheral {name!r}") from None

    def peripheral_of_class(self, cls: str) -> Peripheral:
        for p in self.peripherals.values():
            if p.cls == cls:
                return p
        raise HarnessError(f"board {self.name} has no {cls} peripheral")


# The `//! clock:` keys the firmware's clock setup needs (harness.build.board_header), all integers.
CLOCK_KEYS = ("hsi", "sysclk", "pllm", "plln", "pllp", "pllq", "apb1div", "apb2div")


class _NotANumber(ValueError):
    pass


def _int(text: str) -> int:
    try:
        return int(text.strip().strip('"'), 0)
    except ValueError:
        raise _NotANumber(f"{text.strip()!r} is not a number") from None


def _parse_facts(value: str) -> dict[str, str]:
    """`usart2 baud=115200 tx=PA2` -> {'_': 'usart2', 'baud': '115200', 'tx': 'PA2'}."""
    out: dict[str, str] = {}
    for tok in value.split():
        k, eq, v = tok.partition("=")
        if eq:
            out[k] = v
        else:
            out["_"] = (out.get("_", "") + " " + tok).strip()
    return out


def parse_repl(path: Path) -> Board:
    path = Path(path)
    text = _read_text(path)
    try:
        return _parse(path, text)
    except _NotANumber as e:         # a number read after the line loop (sizes, clock facts)
        raise HarnessError(f"{path}: {e}") from None


def _read_text(path: Path) -> str:
    if not path.is_file():
        raise HarnessError(f"no platform description at {path}")
    try:
        return path.read_bytes().decode()
    except UnicodeDecodeError as e:
        raise HarnessError(f"{path}: not a text file (byte {e.start} is not UTF-8); a .repl is Renode's "
                           f"platform description") from None


@dataclass
class _Acc:
    """What the lines of a .repl and of the files it uses add up to."""
    facts: dict[str, dict[str, str]] = field(default_factory=dict)
    entries: dict[str, dict] = field(default_factory=dict)
    tags: dict[str, list[Tag]] = field(default_factory=dict)     # entry name (sysbus) -> its init Tags
    used: list[Path] = field(default_factory=list)


def _read(path: Path, text: str, acc: _Acc, stack: tuple[Path, ...] = ()) -> None:
    """Add the entries, facts and Tags of one .repl to `acc`. As in Renode, `using "file"` lines come first
    and read that file in place (its path relative to this file's folder); an entry named again updates it
    (properties added or replaced), `init:` replaces the entry's init block and `init add:` extends it. A
    `//!` fact line replaces the used file's line of the same group."""
    current: dict | None = None
    current_name = ""
    seen_entry = False
    for lineno, raw in enumerate(text.splitlines(), 1):
        try:
            if raw.startswith("//!"):
                key, _, value = raw[3:].partition(":")
                acc.facts[key.strip()] = _parse_facts(value)
                continue
            line = raw.split("//", 1)[0].rstrip()
            if not line.strip():
                continue
            if not line[0].isspace():
                if using := _USING.match(line):
                    if seen_entry:
                        raise HarnessError(f"{path}:{lineno}: `using` after an entry (Renode reads them first)")
                    target = (path.parent / using["file"]).resolve()
                    if target in stack or target == path.resolve():
                        raise HarnessError(f"{path}:{lineno}: `using` {using['file']!r} includes itself")
                    if len(stack) >= MAX_USING_DEPTH:
                        raise HarnessError(f"{path}:{lineno}: `using` nested deeper than {MAX_USING_DEPTH} files")
                    if not target.is_file():
                        raise HarnessError(f"{path}:{lineno}: `using` names {using['file']!r}, which is not at "
                                           f"{target}")
                    acc.used.append(target)
                    _read(target, _read_text(target), acc, stack + (path.resolve(),))
                    continue
                m = _ENTRY.match(line)
                if not m:
                    raise HarnessError(f"{path}:{lineno}: cannot read {line!r}")
                seen_entry = True
                current_name = m["name"]
                current = acc.entries.setdefault(m["name"], {"cls": None, "base": None, "size": None, "props": {},
                                                             "irqs": {}})
                if m["cls"]:
                    current["cls"] = m["cls"]
                addr = (m["addr"] or "").strip()
                if rng := _RANGE.match(addr):
                    current["base"], current["size"] = _int(rng[1]), _int(rng[2])
                elif addr:
                    current["base"] = _int(addr)
                continue
            if current is None:
                raise HarnessError(f"{path}:{lineno}: property outside an entry")
            indent = len(line) - len(line.lstrip())
            if indent >= 8 and line.strip().startswith("Tag"):
                tag = _TAG.match(line.strip())
                if not tag:
                    raise HarnessError(f"{path}:{lineno}: cannot read the Tag {line.strip()!r}")
                start, end = _int(tag[1]), _int(tag[2])
                if end < start:
                    raise HarnessError(f"{path}:{lineno}: Tag {tag[3]} ends before it starts")
                acc.tags.setdefault(current_name, []).append(Tag(start, end, tag[3], _int(tag[4]) if tag[4] else None))
                continue
            key, sep, value = line.strip().partition(":")
            if indent == 4 and key.strip() == "init" and sep:
                acc.tags[current_name] = []          # `init:` replaces what a used file's init said
                continue
            if indent == 4 and (irq := _IRQ.match(line.strip())):
                if irq["target"] == "nvic":               # interrupt lines into the NVIC (not the CPU's own)
                    current["irqs"][irq["out"]] = int(irq["n"])
                continue
            if indent == 4 and sep and not key.startswith("->"):
                if value.count('"') % 2:     # Renode refuses it; quietly stripping one quote would hide it
                    raise HarnessError(f"{path}:{lineno}: unterminated quote in {line.strip()!r}")
                current["props"][key.strip()] = value.strip()
        except _NotANumber as e:
            raise HarnessError(f"{path}:{lineno}: {e}: {raw.strip()!r}") from None


def _parse(path: Path, text: str) -> Board:
    acc = _Acc()
    _read(path, text, acc)
    facts, entries = acc.facts, acc.entries
    readonly = set(facts.get("readonly", {}).get("_", "").split())
    regions, peripherals = [], {}
    for name, e in entries.items():
        if e["cls"] == "Memory.MappedMemory":
            if "size" not in e["props"] or e["base"] is None:
                raise HarnessError(f"{path}: memory {name} needs an address and a size")
            regions.append(Region(name, e["base"], _int(e["props"]["size"]), name in readonly))
        elif e["cls"]:
            size = e["size"]
            if size is None and "size" in e["props"]:
                size = _int(e["props"]["size"])
            peripherals[name] = Peripheral(name, e["cls"], e["base"], size, e["props"], e.get("irqs", {}))
    regions.sort(key=lambda r: r.base)
    for a, b in zip(regions, regions[1:]):
        if b.base < a.end:
            raise HarnessError(f"{path}: memory {a.name} and {b.name} overlap")

    cpu = next((p for p in peripherals.values() if p.cls.startswith("CPU.")), None)
    if cpu is None or "cpuType" not in cpu.props:
        raise HarnessError(f"{path}: no CPU with a cpuType")
    nvic = next((p for p in peripherals.values() if p.cls == "IRQControllers.NVIC"), None)
    if nvic is None or "systickFrequency" not in nvic.props:
        raise HarnessError(f"{path}: no NVIC with a systickFrequency (the core clock)")
    tags = _tags_around_peripherals(path, [t for ts in acc.tags.values() for t in ts], peripherals)
    used = acc.used[0] if acc.used else None
    board = Board(
        name=path.stem,
        title=facts.get("board", {}).get("_", path.stem),
        path=path,
        cpu_type=cpu.props["cpuType"].strip('"'),
        clock_hz=_int(nvic.props["systickFrequency"]),
        regions=regions,
        peripherals=peripherals,
        facts=facts,
        tags=sorted(tags, key=lambda t: t.start),
        variant_of=used.stem if used is not None and used.parent == path.resolve().parent else None,
    )
    for key in CLOCK_KEYS:          # read here, not halfway through a firmware build
        try:
            _int(board.fact("clock", key))
        except _NotANumber as e:
            raise HarnessError(f"{path}: `//! clock: {key}=`: {e}") from None
    if board.clock_hz != _int(board.fact("clock", "sysclk")):
        raise HarnessError(f"{path}: systickFrequency and `//! clock: sysclk` disagree")
    board.console   # the console line too
    board.flash  # every board needs flash
    if not board.ram_regions:
        raise HarnessError(f"{path}: no RAM region")
    return board


def _tags_around_peripherals(path: Path, tags: list[Tag], peripherals: dict[str, Peripheral]) -> list[Tag]:
    """The Tags no modelled peripheral covers. In Renode a Tag answers only accesses no registered peripheral
    takes, so a board that models what the file it uses left as a Tag (the DISCO's USART1) simply declares
    the peripheral there; a peripheral that covers part of a Tag is a mistake in the description."""
    windows = [(p.base, p.base + p.size, p.name) for p in peripherals.values() if p.base is not None and p.size]
    out = []
    for t in tags:
        inside = [w for w in windows if w[0] <= t.start and t.end < w[1]]
        if inside:
            continue
        cut = next((w for w in windows if w[0] <= t.end and t.start < w[1]), None)
        if cut is not None:
            raise HarnessError(f"{path}: Tag {t.name} <0x{t.start:08x}, 0x{t.end:08x}> and peripheral {cut[2]} "
                               f"<0x{cut[0]:08x}, +0x{cut[1] - cut[0]:x}> overlap in part")
        out.append(t)
    return out


def all_boards(platforms_dir: Path = PLATFORMS_DIR) -> list[str]:
    """Every board described in renode/platforms, variants included."""
    return sorted(p.stem for p in Path(platforms_dir).glob("*.repl"))


def is_variant(path: Path) -> bool:
    """A .repl that takes its die from another board's .repl of the same folder (`using "other.repl"`):
    the same core, memories, caches and clock, so the same cycles and the same fit (a cheap look at the
    text, not a parse, so that listing boards never fails on a malformed file)."""
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return False
    for line in text.splitlines():
        if m := _USING.match(line.split("//", 1)[0].rstrip()):
            return (Path(path).parent / m["file"]).parent.resolve() == Path(path).parent.resolve()
    return False


def available_boards(platforms_dir: Path = PLATFORMS_DIR) -> list[str]:
    """The boards of the default matrix (`harness check`, the zoo, the per-board tests): one per die. A
    variant (is_variant: the DISCO-F746NG on the F746ZG's die) would repeat its base board's cycles and
    fit; it is run by name (`--board disco_f746ng`) and listed by all_boards()."""
    return [name for name in all_boards(platforms_dir) if not is_variant(Path(platforms_dir) / f"{name}.repl")]


def load_board(name_or_path: str | Path) -> Board:
    """A board by name (a file in renode/platforms) or by the path of any .repl file; parsed once per file
    version (a Board is immutable, so every caller may share it)."""
    p = Path(name_or_path)
    if p.suffix != ".repl":
        p = PLATFORMS_DIR / f"{name_or_path}.repl"
        if not p.is_file():
            raise HarnessError(f"unknown board {name_or_path!r}; known: {', '.join(all_boards())}")
    try:
        st = p.stat()
    except OSError:
        return parse_repl(p)            # its own error for a path that is not there
    return _parsed(p.resolve(), st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=64)
def _parsed(path: Path, mtime_ns: int, size: int) -> Board:
    return parse_repl(path)
