"""The built-in emulated board engine (harness/backends/emulated.py) against its own probe firmware
(tests/firmware/engine_probe.c): console round trip on every board, each fault kind, hang and idle
detection, and the native instruction and cycle counts against per-instruction Python counts."""
from __future__ import annotations

import re

import pytest

from firmware_boot import boot, firmware
from harness.backends import BoardFault, BoardHang, BoardIdle
from harness.backends.emulated import EmulatedBoard
from harness.board import available_boards
from harness.errors import HarnessError

pytestmark = pytest.mark.emulated

BOARDS = available_boards()


@pytest.fixture(scope="module")
def probe():
    return firmware("engine_probe")


booted = boot


def ask(engine: EmulatedBoard, line: str, **kw) -> str:
    engine.write((line + "\n").encode())
    return engine.read_line(**kw)


# ------------------------------------------------------------------ console
@pytest.mark.parametrize("name", BOARDS)
def test_echo_round_trip(probe, name):
    engine = booted(probe, name)
    with pytest.raises(BoardIdle):
        engine.read_line()
    assert ask(engine, "ping") == "pong"
    assert ask(engine, "echo hello, board") == "hello, board"
    engine.write(b"echo one\r\necho two\n")          # two lines queued at once
    assert engine.read_line() == "one"
    assert engine.read_line() == "two"
    assert engine.uart_tail(3) == ["pong", "hello, board", "one", "two"][-3:]
    with pytest.raises(BoardIdle):
        engine.read_line()


@pytest.mark.parametrize("name", BOARDS)
def test_idle_resumes_without_running_on(probe, name):
    engine = booted(probe, name)
    with pytest.raises(BoardIdle) as idle:
        engine.read_line()
    assert idle.value.report["kind"] == "idle"
    first = engine.instructions
    with pytest.raises(BoardIdle):
        engine.read_line()
    assert engine.instructions - first < 64           # one more turn of the wait loop, no more
    assert ask(engine, "ping") == "pong"


@pytest.mark.parametrize("name", BOARDS)
def test_identification_registers(probe, name):
    board, _ = probe(name)
    engine = booted(probe, name)
    cpuid, clidr, ccsidr, rcc_cr = (int(v, 16) for v in ask(engine, "info").split()[1:])
    assert cpuid >> 4 & 0xFFF == {"m4": 0xC24, "m7": 0xC27}[board.core]
    assert rcc_cr & 0b11 == 0b11                        # HSION with HSIRDY mirrored
    cache = board.facts.get("cache")
    if cache is None:
        assert (clidr, ccsidr) == (0, 0)
    else:
        line, ways = int(cache["line"]), int(cache["ways"])
        sets = int(cache["dcache"]) // (ways * line)
        assert ccsidr >> 13 & 0x7FFF == sets - 1
        assert ccsidr >> 3 & 0x3FF == ways - 1
        assert 4 << (ccsidr & 7) + 2 == line
        assert clidr & 0x7 == 0b011                     # separate I and D caches at level 1


# ------------------------------------------------------------------ faults
def _ram_end(board):
    base, size = board.ram_span
    return base + size


FAULTS = {
    # command: (report kind, expected address (board -> int) or None, PC symbol prefix, verdict words)
    "ram-write": ("write-unmapped", _ram_end, "cmd_fault", "write to unmapped address"),
    "ram-read": ("read-unmapped", _ram_end, "cmd_fault", "read from unmapped address"),
    "flash-write": ("write-readonly", lambda b: b.flash.end - 4, "cmd_fault", "write to read-only flash at"),
    "udf": ("undefined-instruction", None, "cmd_fault", "undefined instruction"),
    "fetch": ("fetch-unmapped", lambda b: b.flash.end, "", "fetch from unmapped address"),
    "handler": ("fault-handler", None, "HardFault_Handler", "HardFault handler"),
    "nocp": ("nocp", None, "cmd_fault", "while CPACR denies the FPU"),
    "stack": ("stack-overflow", None, "recurse", "stack overflow"),
    "noncode": ("non-code", None, "noncode_blob", "branch to non-code"),
    # ARMv7-M A3.2.1: LDRD/STRD/LDM/STM fault on an unaligned address whatever CCR.UNALIGN_TRP says
    "ldrd": ("unaligned", lambda b: b.ram_span[0] + 2, "cmd_fault", "need a word-aligned address"),
    "strd": ("unaligned", lambda b: b.ram_span[0] + 2, "cmd_fault", "need a word-aligned address"),
    "ldm": ("unaligned", lambda b: b.ram_span[0] + 2, "cmd_fault", "need a word-aligned address"),
    "stm": ("unaligned", lambda b: b.ram_span[0] + 2, "cmd_fault", "need a word-aligned address"),
}


@pytest.mark.parametrize("name", BOARDS)
@pytest.mark.parametrize("what", list(FAULTS))
def test_fault_reports(probe, name, what):
    board, _ = probe(name)
    kind, address, symbol, words = FAULTS[what]
    engine = booted(probe, name)
    with pytest.raises(BoardFault) as caught:
        ask(engine, f"fault {what}")
    fault = caught.value
    report, text = fault.report, str(fault)
    verdict = text.splitlines()[0]
    assert verdict.startswith("FAULT ") and words in verdict, verdict
    assert report["kind"] == kind
    assert report["symbol"].startswith(symbol), report["symbol"]
    assert f"pc 0x{report['pc']:08x}" in verdict
    if address is not None:
        assert report["address"] == address(board)
        assert f"0x{address(board):08x}" in verdict
    if kind == "undefined-instruction":
        assert report["address"] == report["pc"]
        assert "udf" in text
    for reg in ("r0", "r12", "sp", "lr", "pc", "xpsr"):
        assert re.search(rf"\b{reg} 0x[0-9a-f]{{8}}", text), reg
    assert f"instructions {report['instructions']}" in text
    assert report["uart_tail"] == [f"engine_probe {name} ready"]
    assert report["instructions"] == engine.instructions > 0
    with pytest.raises(BoardFault) as again:          # the board stays dead until reset()
        engine.read_line()
    assert again.value is fault
    engine.reset()
    assert engine.read_line() == f"engine_probe {name} ready"


def test_an_engine_error_is_not_a_firmware_fault(probe):
    """Unicorn failing for a reason no firmware action explains (UC_ERR_MAP: its own memory map) is the
    harness's error, never a FAULT verdict (an interrupt that broke the engine once read as one)."""
    from unicorn import UcError
    from unicorn import unicorn_const as UC
    engine = booted(probe, BOARDS[0])

    def broken(*a, **k):
        raise UcError(UC.UC_ERR_MAP)
    engine.uc.emu_start = broken
    with pytest.raises(HarnessError) as caught:
        ask(engine, "echo x")
    assert not isinstance(caught.value, BoardFault) and "FAULT" not in str(caught.value)
    assert str(caught.value).startswith("internal: the emulator failed") and "UC_ERR_MAP" in str(caught.value)


def test_hang_at_budget(probe):
    budget = 3_000_000
    engine = booted(probe, BOARDS[0], budget=budget)
    asked_at = engine.instructions            # the budget runs from the host's last input
    with pytest.raises(BoardHang) as caught:
        ask(engine, "spin")
    assert caught.value.report["kind"] == "hang"
    assert caught.value.verdict.startswith(f"HANG instruction budget of {budget} exhausted")
    assert budget - 16 < engine.instructions - asked_at <= budget
    assert caught.value.report["symbol"].startswith("main+")


def test_budget_is_per_command_not_per_session(probe):
    """A long session of short commands is no hang: each input gives the firmware a fresh budget."""
    engine = booted(probe, BOARDS[0])
    per_command = engine.instructions + 1
    for _ in range(3):
        before = engine.instructions
        ask(engine, "ping")
        per_command = max(per_command, engine.instructions - before)
    engine.budget = 2 * per_command
    for _ in range(10):                   # ten times the budget in all
        ask(engine, "ping")
    assert engine.instructions > engine.budget


def test_timeout_per_call(probe):
    engine = booted(probe, BOARDS[0])
    start = engine.instructions
    with pytest.raises(BoardHang) as caught:
        ask(engine, "spin", max_instructions=50_000)
    assert caught.value.report["kind"] == "timeout"
    assert start + 50_000 - 16 < engine.instructions <= start + 50_000
    with pytest.raises(BoardHang):                    # resumable: it goes on spinning
        engine.read_line(max_instructions=10_000)


@pytest.mark.parametrize("name", BOARDS)
def test_wait_hints(probe, name):
    engine = booted(probe, name)
    assert ask(engine, "hints") == "hinted"             # WFE/YIELD/SEV fall through
    with pytest.raises(BoardHang) as caught:
        ask(engine, "wfi")
    assert caught.value.report["kind"] == "wfi"
    assert engine.read_line() == "woke"                 # the next call resumes after the WFI


# ------------------------------------------------------------------ counting
SESSION = ["ping", "echo abc", "cyccnt", "systick", "loop 300", "mem 1", "info", "hints"]


def run_session(engine: EmulatedBoard) -> list[tuple[str, int]]:
    out = []
    for cmd in SESSION:
        out.append((ask(engine, cmd), engine.instructions))
    return out


def counts(engine: EmulatedBoard) -> tuple[int, int]:
    return engine.instructions, engine._hdr.ticks


def reference_counts(engine: EmulatedBoard) -> tuple[int, int]:
    return engine.reference_count, engine.reference_ticks


@pytest.mark.parametrize("name", BOARDS)
def test_native_count_equals_per_instruction_count(probe, name):
    """Instructions and modelled cycles, counted per block natively with take-backs, equal the same
    cost rules applied instruction by instruction from a Python code hook."""
    engine = booted(probe, name, reference_counter=True)
    assert counts(engine) == reference_counts(engine)
    with pytest.raises(BoardIdle):
        engine.read_line()
    assert counts(engine) == reference_counts(engine)
    for cmd in SESSION:
        ask(engine, cmd)
        assert counts(engine) == reference_counts(engine), cmd
    assert engine.cycles > engine.instructions / 2
    # every access to an exact page (DWT, SysTick) saw the exact counts of completed instructions
    assert engine.exact_log
    for pc, addr, is_store, exact, reference, block, ticks, ref_before, ref_after in engine.exact_log:
        assert exact == reference - 1, (hex(pc), hex(addr))
        assert ticks == ref_before, (hex(pc), hex(addr))


@pytest.mark.parametrize("name", BOARDS)
def test_two_runs_count_the_same(probe, name):
    first = run_session(booted(probe, name))
    second = run_session(booted(probe, name))
    assert first == second
    reference = run_session(booted(probe, name, reference_counter=True))
    assert reference == first                         # the Python hook changes nothing the firmware sees


@pytest.mark.parametrize("name", BOARDS)
def test_cyccnt_is_exact_mid_block(probe, name):
    """CYCCNT shows the modelled cycles of exactly the instructions completed before the reading load,
    wherever it sits in a translated block: it equals the per-instruction reference count."""
    board, _ = probe(name)
    dwt = board.peripheral_of_class("Miscellaneous.DWT").base
    engine = booted(probe, name, reference_counter=True)
    tpc = engine.model.ticks_per_cycle
    engine.exact_log.clear()
    fields = ask(engine, "cyccnt").split()[1:]
    a, b, c, d, e = (int(v) for v in fields[:5])
    ctrl, g, h, post = int(fields[5], 16), int(fields[6]), int(fields[7]), int(fields[8], 16)
    ctrl2, j, multi = int(fields[9], 16), int(fields[10]), int(fields[11], 16)
    assert ctrl & 1 and ctrl2 == ctrl
    assert post == dwt + 8 and multi == dwt + 8        # post-index and LDM writeback
    if board.core == "m4":
        assert b - a == 2 + 5                          # the load of `a` (LDR: 2) and five NOPs (1 each)

    log = engine.exact_log
    enable = max(i for i, (_, addr, store, *_) in enumerate(log) if store and addr == dwt)
    *_, ref_before, ref_after = log[enable]
    enabled_at = ref_after // tpc                      # reference cycles up to and with the enabling store
    reads = [entry for entry in log[enable + 1:] if not entry[2] and entry[1] in (dwt, dwt + 4)]
    # a, b, c, d, e (in an IT block), the LDRD of CTRL+CYCCNT (g), the post-indexed load (h), the LDM (j)
    assert len(reads) == 8
    expected = [ref_before // tpc - enabled_at for *_, ref_before, _ in reads]
    assert [a, b, c, d, e, g, h, j] == expected
    # most of these loads sit in the middle of a translated block, not at its start
    assert sum(pc != block for pc, _, _, _, _, block, *_ in reads) >= 4


@pytest.mark.parametrize("name", BOARDS)
def test_loop_cycles_follow_the_model(probe, name):
    """`loop n` times an ALU loop with CYCCNT: the delta grows by the same amount per iteration."""
    engine = booted(probe, name)
    deltas = [int(ask(engine, f"loop {n}").split()[2]) for n in (100, 200, 300)]
    assert deltas[1] - deltas[0] == deltas[2] - deltas[1] > 0
    assert engine.cycles > 0


def test_systick_counts_cycles(probe):
    engine = booted(probe, BOARDS[0])
    v1, v2, polls, v3 = (int(v) for v in ask(engine, "systick").split()[1:])
    assert v1 == 0                                     # cleared: reads 0 until the first tick
    assert 990 <= v2 <= 999                            # reloaded with 999 on the first tick, then counting down
    assert polls > 0 and 0 <= v3 <= 999

