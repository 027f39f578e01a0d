"""Placement on the F7s (harness/placement.py, the linker script of harness/build.py, the copy loop of
firmware/src/startup.c): the plan's hot kernels run from ITCM, the arena goes first in DTCM when it would
otherwise leave it, the F446RE (no TCM) links as before, the fit report counts ITCM, and a board whose
ITCM is too small keeps the colder kernels in flash. Addresses and sizes come from the .repl files and
from binutils (arm-none-eabi-nm / objcopy), not from the code under test."""
import subprocess

import pytest

from conftest import shared_model
from harness.board import load_board
from harness.build import build_firmware
from harness.fit import static_fit
from harness.pipeline import build, image
from harness.plan.emit import hot_functions
from harness.plan.lower import lower
from harness.plan.model import load_model

KWS = "ml-zoo/kws_micronet_s.tflite"



def _nm(elf) -> dict[str, tuple[int, int]]:
    """Symbol -> (address, size) as binutils reads the symbol table."""
    out = subprocess.run(["arm-none-eabi-nm", "-S", str(elf)], capture_output=True, text=True, check=True).stdout
    syms = {}
    for f in (ln.split() for ln in out.splitlines()):
        if len(f) == 4:
            syms[f[3]] = (int(f[0], 16) & ~1, int(f[1], 16))
        elif len(f) == 3:
            syms.setdefault(f[2], (int(f[0], 16), 0))
    return syms


def _sections(elf, flag: str = "ALLOC") -> list[tuple[str, int, int, int]]:
    """(name, VMA, LMA, size) of each section with `flag`, from objdump -h."""
    out = subprocess.run(["arm-none-eabi-objdump", "-h", str(elf)], capture_output=True, text=True, check=True)
    lines = out.stdout.splitlines()
    rows = []
    for ln, flags in zip(lines, lines[1:]):
        f = ln.split()
        if len(f) == 7 and f[0].isdigit() and flag in flags.replace(",", " ").split():
            rows.append((f[1], int(f[3], 16), int(f[4], 16), int(f[2], 16)))
    return rows


@pytest.fixture(scope="module")
def kws_low():
    return lower(load_model(shared_model(KWS)))


@pytest.fixture(scope="module")
def f746_kws(kws_low):
    board = load_board("nucleo_f746zg")
    return board, build(board, kws_low, "kws_micronet_s", name="placement-kws").elf


def _kernels(low) -> set[str]:
    return {c.kernel for c in low.calls}


def test_plan_names_its_kernels_hottest_first(kws_low):
    names = hot_functions(kws_low)
    macs = {k: sum(c.macs for c in kws_low.calls if c.kernel == k) for k in _kernels(kws_low)}
    assert sorted(names) == sorted(macs) and [macs[k] for k in names] == sorted(macs.values(), reverse=True)
    assert names[0].startswith("tm_conv2d_s8")      # MicroNet's MACs are in its convolutions


def test_kernels_run_from_itcm_loaded_from_flash(f746_kws, kws_low):
    board, elf = f746_kws
    itcm, flash = board.region("itcm"), board.flash
    syms = _nm(elf)
    for f in _kernels(kws_low):
        addr, size = syms[f]
        assert itcm.base < addr and addr + size <= itcm.end, f"{f} at {addr:#x}"
    sec = {s[0]: s for s in _sections(elf)}
    _, vma, lma, size = sec[".itcm"]
    assert itcm.contains(vma) and vma + size <= itcm.end and flash.contains(lma) and lma + size <= flash.end
    # the bytes the firmware copies at reset: objcopy's image of the section == flash at the LMA == ITCM
    # after boot, on the emulated board
    raw = subprocess.run(["arm-none-eabi-objcopy", "-O", "binary", "--only-section=.itcm", str(elf), "/dev/stdout"],
                         capture_output=True, check=True).stdout
    assert len(raw) == size
    from harness.backends.emulated import EmulatedBoard
    from harness.protocol import DutClient
    engine = EmulatedBoard(board, elf)
    DutClient(engine).wait_ready()
    assert bytes(engine.uc.mem_read(lma, size)) == raw
    assert bytes(engine.uc.mem_read(vma, size)) == raw


def test_fit_counts_itcm(f746_kws):
    board, elf = f746_kws
    fit = static_fit(board, elf)
    sec = {s[0]: s for s in _sections(elf)}
    itcm = next(r for r in fit.regions if r.region == "itcm")
    assert itcm.used == sec[".itcm"][3] > 0 and itcm.size == board.region("itcm").size
    # the copy's load image is flash as well: flash holds every section's LMA bytes (objdump's sizes)
    loaded = sum(n for _, _, lma, n in _sections(elf, "LOAD") if board.flash.contains(lma))
    assert fit.flash.used == loaded


@pytest.mark.emulated
@pytest.mark.parametrize("board", ["nucleo_f746zg", "nucleo_f767zi"])
def test_kws_bit_exact_with_kernels_in_itcm(board):
    from harness.bench import run_model
    run = run_model(str(shared_model(KWS)), board, "optimized", inputs=2, profile=True)
    assert run.mismatches == 0
    itcm = load_board(board).region("itcm")
    syms = _nm(run.elf)
    assert run.calls and all(itcm.contains(syms[f][0]) for f in run.calls)
    assert set(run.calls) <= {p["function"] for p in run.profile}        # and they ran


def test_f446_layout_does_not_depend_on_the_hot_list(small_model):
    """No TCM on the F446RE: no .itcm, the plain linker script, and the same image with or without the
    planner's hot list (what placement reads)."""
    board = load_board("nucleo_f446re")
    mid, path = small_model
    low = lower(load_model(path))
    assert hot_functions(low)
    a = build(board, low, mid, name="placement-f446").elf
    b = build_firmware(board, image(low, mid), name="placement-f446-plain").elf
    assert [s[0] for s in _sections(a)] == [".isr_vector", ".text", ".rodata", ".data", ".bss"]
    assert _sections(a) == _sections(b)
    code = [subprocess.run(["arm-none-eabi-objcopy", "-O", "binary", "--only-section=.text", str(e), "/dev/stdout"],
                           capture_output=True, check=True).stdout for e in (a, b)]
    assert code[0] == code[1]
    assert "BOARD_HAS_ITCM" not in (a.parent / "board.h").read_text()
    assert "ITCM" not in (a.parent / "link.ld").read_text()


def _small_tcm_board(tmp_path):
    """The F746ZG with 4 KB of ITCM (MicroNet-S's three kernel groups take more) and 51 KB of DTCM (the
    arena, 51680 B, fits, but not behind the rest of .bss), SRAM1 still contiguous after it."""
    text = load_board("nucleo_f746zg").path.read_text()
    for old, new in [("itcm: Memory.MappedMemory @ sysbus 0x00000000\n    size: 0x4000",
                      "itcm: Memory.MappedMemory @ sysbus 0x00000000\n    size: 0x1000"),
                     ("dtcm: Memory.MappedMemory @ sysbus 0x20000000\n    size: 0x10000",
                      "dtcm: Memory.MappedMemory @ sysbus 0x20000000\n    size: 0xCC00"),
                     ("sram1: Memory.MappedMemory @ sysbus 0x20010000\n    size: 0x3C000",
                      "sram1: Memory.MappedMemory @ sysbus 0x2000CC00\n    size: 0x3F400")]:
        assert old in text
        text = text.replace(old, new)
    p = tmp_path / "small_tcm_f746.repl"
    p.write_text(text)
    return load_board(p)


@pytest.mark.emulated
def test_small_tcms_keep_the_coldest_kernel_in_flash_and_the_arena_in_dtcm(tmp_path, kws_low, f746_kws):
    from harness.bench import run_lowered
    from harness.reference import TflmReference
    board = _small_tcm_board(tmp_path)
    itcm, dtcm = board.region("itcm"), board.region("dtcm")
    # precondition: what the F746ZG's 16 KB ITCM takes for this model (objdump) exceeds this ITCM
    assert {s[0]: s[3] for s in _sections(f746_kws[1])}[".itcm"] > itcm.size
    ref = TflmReference(shared_model(KWS))
    _, bad, _, elf = run_lowered(kws_low, board, "placement-small-tcm", inputs=2, reference=ref.run)
    assert bad == 0
    syms = _nm(elf)
    macs = {k: sum(c.macs for c in kws_low.calls if c.kernel == k) for k in _kernels(kws_low)}
    in_itcm = {k for k in macs if itcm.contains(syms[k][0])}
    in_flash = {k for k in macs if board.flash.contains(syms[k][0])}
    assert in_itcm | in_flash == set(macs) and in_itcm and in_flash
    assert max(macs, key=macs.get) in in_itcm                 # the hottest kernel runs from ITCM
    # each kernel left in flash would not have fitted in what ITCM has left (nm's sizes)
    free = itcm.end - syms["_eitcm"][0]
    assert all(syms[k][1] > free for k in in_flash)
    addr, size = syms["tm_arena"]
    assert size <= dtcm.size and addr == dtcm.base and addr + size <= dtcm.end


def test_an_itcm_overflow_moves_the_coldest_placed_group_back_to_flash():
    """The retry after a link that overflowed ITCM: the last (coldest) placed group leaves, a function it
    shares with a hotter group stays."""
    from harness.placement import Placement
    groups = [("conv", "helper"), ("dw", "helper", "dw_tail"), ("pool",)]
    p = Placement(itcm=("conv", "helper", "dw", "dw_tail"), itcm_estimate=100, in_flash=("pool",))
    q = p.without_coldest(groups)
    assert q.itcm == ("conv", "helper") and q.in_flash == ("pool", "dw")
    assert q.without_coldest(groups).itcm == ()
    empty = Placement(in_flash=("conv", "dw", "pool"))
    assert empty.without_coldest(groups) == empty            # nothing left to move: the build gives up


def test_fetches_from_itcm_pay_no_flash_lines():
    """The engine's cycle model charges the flash wait states per flash line fetched (while no cache is on);
    code in ITCM is zero-wait. 32 NOPs (64 bytes) from a line-aligned address span two 32-byte lines (the
    F746's `//! cache: line=32`) in flash and none in ITCM, at the same core cost."""
    from harness.backends.cycles import BlockCoster, core_model
    board = load_board("nucleo_f746zg")
    line = int(board.facts["cache"]["line"])
    itcm, flash = board.region("itcm"), board.flash
    nops = b"\x00\xbf" * 32
    at = {itcm.base + 64: nops, flash.base + 64: nops}
    coster = BlockCoster(core_model("m7"), lambda a, n: next(c[a - b:a - b + n] for b, c in at.items()
                                                                 if b <= a < b + len(c)),
                         (flash.base, flash.end), line)
    in_flash, in_itcm = coster.cost(flash.base + 64, 64).total(False), coster.cost(itcm.base + 64, 64).total(False)
    assert line == 32 and in_flash[1] == 2 and in_itcm[1] == 0
    assert in_flash[0] == in_itcm[0]
