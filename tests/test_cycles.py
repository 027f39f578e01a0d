"""The engine's modelled cycles (harness/backends/cycles*.py, native/blockcount.c) against microbenchmarks
(tests/firmware/cycles_bench.c): hand-written instruction sequences between two DWT CYCCNT reads.

On the Cortex-M4 every expected count below is derived from Arm's Cortex-M4 Technical Reference Manual
(r0p1): Table 3-1 "Processor instruction set summary" with its notes, section 3.3.2 "Load/store timings",
and the FPU instruction table of chapter 7 -- written out per benchmark, never taken from a run. Where
the TRM gives a range, the model's documented choice (docs/cycle-model.md) is named.

Every benchmark's reading includes a fixed frame (see the firmware): the first CYCCNT load, after a NOP
(an LDR that neither pipelines nor stalls: 2 cycles), one NOP (1) before the sequence and one NOP (1)
after it; the second load is not counted (CYCCNT counts cycles completed before it). FRAME = 4.
"""
from __future__ import annotations

import pytest

from firmware_boot import boot, run_benches, run_benches_ticks, run_icache_ticks
from harness.board import available_boards, load_board

pytestmark = pytest.mark.emulated

FRAME = 2 + 1 + 1

# name: cycles of the sequence on the Cortex-M4, from the TRM
M4_EXPECTED = {
    # nothing between the two reads
    "empty": 0,
    # SMLAD (dual 16x16 multiply with 32-bit accumulate): 1 cycle (Table 3-1, DSP MACs all 1), x16
    "smlad16": 16 * 1,
    # SMLAL (long signed multiply-accumulate): 1 cycle on the M4 (Table 3-1), x8
    "smlal8": 8 * 1,
    # MUL: 1, MLA: 1 (Table 3-1 of the Cortex-M4 TRM; the Cortex-M3 took 2 for MLA), 4 of each
    "mul_mla": 4 * 1 + 4 * 1,
    # 8 independent LDRs from a base no load writes: the first 2 cycles, then "one cycle is removed from
    # the cost of the next instruction" for each following LDR (3.3.2): 2 + 7 x 1 = N + 1
    "ldr_indep8": 2 + 7 * 1,
    # 8 LDRs chasing a pointer (ldr r4, [r4]): each address is the previous load's destination, so
    # none pipelines; a load is not "a data processing operation", so no address stall: 8 x 2
    "ldr_dep8": 8 * 2,
    # 4 post-indexed LDRs on the same base (ldr r6, [r5], #4): the written-back base is a destination
    # of the previous LDR used for the next address, so none pipelines: 4 x 2
    "ldr_wb4": 4 * 2,
    # 4 x (LDR; STR with immediate offset): LDR 2 (after a STR: "nothing can be pipelined after the
    # store"), STR 1 ("STR Rx,[Ry,#imm] is always one cycle"): 4 x (2 + 1)
    "ldr_str4": 4 * (2 + 1),
    # 4 STRs with immediate offsets: 1 cycle each (3.3.2)
    "str4": 4 * 1,
    # 2 STRs with a register offset: 2 cycles each (Table 3-1 STR: 2; only an immediate-offset store
    # is one cycle), the second not pipelined (nothing pipelines after a store)
    "str_reg2": 2 * 2,
    # LDR (2) then STR with a register offset, pipelined after the LDR: 2 - 1 ("LDR R0,[R1,R2];
    # STR R1,[R3,R2] - normally three cycles total")
    "ldr_strreg": 2 + 1,
    # ADDS r4 (1), then LDR from [r4]: "Any load or store that generates an address dependent on the
    # result of a preceding data processing operation stalls the pipeline for an additional cycle": 2 + 1
    "agu_stall": 1 + 2 + 1,
    # LDM of k registers: 1 + N (Table 3-1)
    "ldm4": 1 + 4,
    "ldm8": 1 + 8,
    # STM of 8 registers: 1 + N
    "stm8": 1 + 8,
    # PUSH of 4 (1 + N) then POP of 4 (1 + N)
    "push_pop4": (1 + 4) + (1 + 4),
    # LDRD: 1 + N with N = 2 ("this operation requires three cycles when not stalled")
    "ldrd": 1 + 2,
    # 10 turns of `subs; bne` (both 16-bit, the target a 16-bit instruction): SUBS 1 each; BNE taken
    # 9 times at 1 + P with P = 1 (taken branch to an immediate target: 1 cycle of refill), not taken
    # once at 1: 10 x 1 + 9 x 2 + 1
    "loop10": 10 * 1 + 9 * (1 + 1) + 1,
    # B to a 16-bit target: 1 + P, P = 1
    "b_fwd": 1 + 1,
    # B to a 32-bit instruction at a halfword address: 1 + P with P = 2 (the refill of an unaligned
    # 32-bit target takes a cycle more: "P ranges from 1 to 3 depending on the alignment and width of
    # the target instruction"), then ADD.W 1
    "b_unaligned_wide": (1 + 2) + 1,
    # the same to a word-aligned 32-bit target: 1 + 1, ADD.W 1
    "b_aligned_wide": (1 + 1) + 1,
    # BL (1 + P, immediate: P = 1) to BX LR (1 + P, register: P = 2), back to a 16-bit NOP
    "call_ret": (1 + 1) + (1 + 2),
    # BL (2) to PUSH {r4, lr} (1 + N = 3) and POP {r4, pc} (1 + N + P, a load to the PC: "three
    # cycles for the pipeline reload", P = 3): 2 + 3 + 6
    "call_frame": (1 + 1) + (1 + 2) + (1 + 2 + 3),
    # ADDS (16-bit) 1; IT folded onto the preceding 16-bit instruction: 0; ADDEQ 1
    "it_folded": 1 + 0 + 1,
    # ADDS.W (32-bit) 1; IT not foldable: 1; ADDEQ 1
    "it_unfolded": 1 + 1 + 1,
    # SDIV: 2 to 12 cycles (early termination); the model charges the documented bound, 12
    "sdiv": 12,
    # VADD.F32: 1 cycle (FPU table), x8
    "vadd8": 8 * 1,
    # VMUL.F32 1 x4, VMLA.F32 3 x4
    "vmul_vmla": 4 * 1 + 4 * 3,
    # VDIV.F32 14, VSQRT.F32 14
    "vdiv_vsqrt": 14 + 14,
    # VLDR.32: 2 cycles each (the FPU table lists no pipelining of neighbouring VLDRs), x4
    "vldr4": 4 * 2,
    # VLDM of 4 single registers: 1 + N
    "vldm4": 1 + 4,
    # 32 NOPs: 1 each (no flash wait states while FLASH_ACR.LATENCY is 0, its reset value)
    "nops32": 32 * 1,
}


def test_m4_microbenchmarks_match_the_trm(bench_elf):
    results = run_benches(boot(bench_elf, "nucleo_f446re"))
    assert set(results) == set(M4_EXPECTED)
    got = {name: results[name] - FRAME for name in M4_EXPECTED}
    assert got == M4_EXPECTED


@pytest.mark.parametrize("name", available_boards())
def test_same_elf_same_cycles(bench_elf, name):
    """Deterministic: the same ELF gives the same readings and the same totals on every run."""
    runs = []
    for _ in range(2):
        engine = boot(bench_elf, name)
        runs.append((run_benches(engine), engine.instructions, engine.cycles))
    assert runs[0] == runs[1]
    assert runs[0][2] > 0


@pytest.mark.parametrize("name", available_boards())
def test_block_accounting_equals_per_instruction_accounting(bench_elf, name):
    """The native per-block sums, with their take-backs and mid-block CYCCNT reads, equal the cost
    rules applied instruction by instruction (a Python code hook)."""
    engine = boot(bench_elf, name, reference_counter=True)
    plain = run_benches(boot(bench_elf, name))
    assert run_benches(engine) == plain                 # the reference hook changes nothing seen
    assert (engine.instructions, engine._hdr.ticks) == (engine.reference_count, engine.reference_ticks)
    for *_, ticks, ref_before, _ in engine.exact_log:
        assert ticks == ref_before


def test_flash_fetches_through_the_art(bench_elf):
    """The ART on the F446's I-code path (RM0390, "Adaptive real-time memory accelerator"; docs/cycle-model.md
    "Memory system"): a flash read takes FLASH_ACR.LATENCY wait states; the prefetch buffer (PRFTEN) reads
    the next sequential line while the current one executes, hidden when that line takes at least
    latency + 1 cycles; the instruction cache (ICEN) keeps lines.
    nops32 is aligned to a 16-byte line: NOP at +0, first read at +2, NOP +4, 32 NOPs +6..+68, NOP +70;
    of the measured instructions (+2 .. +70), those at +16, +32, +48 and +64 start a line: 4 lines, each
    holding 8 NOPs (8 cycles >= 5 + 1). The first CYCCNT read stops the engine inside the block; it resumes
    in the line it stands in, so the measured window starts with that line present."""
    engine = boot(bench_elf, "nucleo_f446re")
    latency = 5
    for acr, extra in ((0x000 | latency, 4 * latency),     # ART off: each line read on demand
                       (0x100 | latency, 0),               # prefetch: 8 cycles per line hide the read
                       (0x300 | latency, 0),               # prefetch and cache
                       (0x000, 0)):                        # LATENCY 0 (reset value): no wait state
        engine.write(f"acr {acr:x}\n".encode())
        assert engine.read_line() == "ok"
        before = engine.memory_events()
        assert run_benches(engine)["nops32"] - FRAME == 32 + extra, hex(acr)
        after = engine.memory_events()
        assert after["fetch_lines"] > before["fetch_lines"]
        if acr & 0x200:
            assert after["icache_hits"] > before["icache_hits"]


def test_loops_run_from_the_instruction_cache(bench_elf):
    """With the ART's instruction cache on, a loop's lines stay cached: loop10 costs its zero-wait
    cycles (29, see M4_EXPECTED's rule) at 5 wait states; with the ART off its taken branch reads its
    target's line again on every iteration, so it costs more."""
    engine = boot(bench_elf, "nucleo_f446re")
    zero_wait = run_benches(engine)["loop10"] - FRAME
    assert zero_wait == 10 + 9 * 2 + 1
    for acr, cached in ((0x205, True), (0x305, True), (0x005, False)):
        engine.write(f"acr {acr:x}\n".encode())
        assert engine.read_line() == "ok"
        got = run_benches(engine)["loop10"] - FRAME
        assert (got == zero_wait) if cached else (got >= zero_wait + 9 * 5), (hex(acr), got)


def _command(engine, line: str) -> None:
    engine.write(f"{line}\n".encode())
    assert engine.read_line() == "ok", line


@pytest.mark.parametrize("name", [b for b in available_boards() if load_board(b).core == "m7"])
def test_m7_instruction_cache_two_ways(bench_elf, name):
    """The Cortex-M7 L1 I-cache is 2-way set associative with 32-byte lines (Cortex-M7 TRM); code at the
    flash's AXIM address misses it for FLASH_ACR.LATENCY cycles (docs/cycle-model.md, "Memory system").
    calls_same calls three leaves that start at 8 KB boundaries (one set on both the 4 KB and the 16 KB
    cache: three lines for two ways, so with LRU every call misses); calls_spread calls three leaves in
    consecutive lines. Warm, at 7 wait states: calls_spread costs what it costs at 0 wait states, and
    calls_same costs 8 rounds x 3 calls x 7 cycles more."""
    engine = boot(bench_elf, name, reference_counter=True)
    _command(engine, "ccr 60200")                       # CCR reset value (STKALIGN, BP) + IC
    zero_wait = run_icache_ticks(engine)                # FLASH_ACR.LATENCY 0 (reset value)
    _command(engine, "acr 7")
    same_cold, same_warm, spread_cold, spread_warm = run_icache_ticks(engine)
    assert spread_warm == zero_wait[3]
    assert same_warm - spread_warm == 8 * 3 * 7
    assert same_cold >= same_warm and spread_cold >= spread_warm


def test_art_instruction_cache_holds_both_patterns(bench_elf):
    """The ART's instruction cache on the F446 (64 lines; the model takes it fully associative, RM0390
    gives no organisation): both benchmarks' lines stay cached, so warm, at 5 wait states, each costs its
    zero-wait cycles."""
    engine = boot(bench_elf, "nucleo_f446re", reference_counter=True)
    _command(engine, "acr 200")                         # ICEN, LATENCY 0
    zero_wait = run_icache_ticks(engine)
    _command(engine, "acr 205")                         # ICEN, LATENCY 5, no prefetch
    got = run_icache_ticks(engine)
    assert (got[1], got[3]) == (zero_wait[1], zero_wait[3])


def test_art_data_cache(bench_elf):
    """The ART's data cache on the F446 (RM0390: 8 lines of 128 bits, FLASH_ACR.DCEN; fully associative LRU
    in the model, as its instruction cache): a load from the flash waits FLASH_ACR.LATENCY cycles unless the
    cache holds its line. Warm (each benchmark's second run), at 5 wait states with both caches on:
    dcache_few (16 loads from 4 lines) costs its zero-wait cycles; dcache_thrash (18 loads from 9 lines, one
    more than the cache holds) misses on every load: 18 x 5 more. With DCEN off every load waits: 16 x 5."""
    engine = boot(bench_elf, "nucleo_f446re", reference_counter=True)
    _command(engine, "acr 600")                         # ICEN, DCEN, LATENCY 0
    zero = run_icache_ticks(engine, "dcache")
    _command(engine, "acr 705")                         # PRFTEN, ICEN, DCEN, LATENCY 5
    on = run_icache_ticks(engine, "dcache")
    assert on[1] == zero[1]
    assert on[3] - zero[3] == 18 * 5
    assert on[0] >= zero[0] + 4 * 5                     # cold: the 4 lines are read once
    _command(engine, "acr 305")                         # DCEN off
    off = run_icache_ticks(engine, "dcache")
    assert off[1] - zero[1] == 16 * 5
    assert off[3] - zero[3] == 18 * 5


@pytest.mark.parametrize("name", [b for b in available_boards() if load_board(b).core == "m7"])
def test_m7_data_cache_four_ways(bench_elf, name):
    """The Cortex-M7 L1 D-cache (Cortex-M7 TRM: 4-way, 32-byte lines; SCB CCR.DC) in front of the flash at
    its AXIM address: a line fill reads the flash at FLASH_ACR.LATENCY (docs/cycle-model.md, "Memory
    system"). Warm, at 7 wait states: dcache_few costs its zero-wait cycles; dcache_thrash's 9 lines share
    one set of 4 ways, so every load misses: 18 x 7 more. With CCR.DC off every load reads the flash."""
    engine = boot(bench_elf, name, reference_counter=True)
    _command(engine, "ccr 70200")                       # CCR reset value (STKALIGN, BP) + IC + DC
    zero = run_icache_ticks(engine, "dcache")           # FLASH_ACR.LATENCY 0 (reset value)
    _command(engine, "acr 7")
    on = run_icache_ticks(engine, "dcache")
    assert on[1] == zero[1]
    assert on[3] - zero[3] == 18 * 7
    _command(engine, "ccr 60200")                       # DC off (IC stays on)
    off = run_icache_ticks(engine, "dcache")
    assert off[1] - zero[1] == 16 * 7
    assert off[3] - zero[3] == 18 * 7


@pytest.mark.parametrize("name", [b for b in available_boards() if load_board(b).core == "m7"])
def test_m7_model_is_never_slower_than_the_m4_on_these_sequences(bench_elf, name):
    """The M7 model is an approximation (docs/cycle-model.md): dual issue, single-cycle loads and
    LDM pairs, predicted branches. On these in-cache sequences it must not be slower than the M4."""
    m4 = run_benches(boot(bench_elf, "nucleo_f446re"))
    m7 = run_benches(boot(bench_elf, name))
    slower = {k: (m7[k], m4[k]) for k in m4 if m7[k] > m4[k]}
    assert not slower
    # the same two in exact modelled (half) cycles, not the firmware's rounded-down readings, whose
    # differences depend on the half cycle each benchmark starts on
    exact = run_benches_ticks(boot(bench_elf, name, reference_counter=True))
    assert 4 <= exact["ldm8"] - exact["empty"] <= 4.5     # two registers per cycle: 8 / 2
    # an accumulator chain issues one SMLAD per cycle; the first may pair with the frame's NOP (a half)
    assert 15.5 <= exact["smlad16"] - exact["empty"] <= 16


@pytest.mark.parametrize("name", ["nucleo_f446re", "nucleo_f746zg"])
def test_profile_per_function_sums_to_the_totals(bench_elf, name):
    """profile=True: instructions and cycles per ELF function, exact (including the instructions the
    engine performs itself for CYCCNT reads and the tails taken back at every stop)."""
    engine = boot(bench_elf, name, profile=True)
    results = run_benches(engine)
    prof = engine.profile()
    assert sum(p["instructions"] for p in prof) == engine.instructions
    assert sum(p["ticks"] for p in prof) == engine._hdr.ticks
    by_name = {p["function"]: p for p in prof}
    assert {f"bench_{b}" for b in results} <= set(by_name)
    # a benchmark function's own cycles include its measured sequence
    assert by_name["bench_smlad16"]["cycles"] >= results["smlad16"]
    assert by_name["bench_loop10"]["instructions"] >= 2 * 10


def test_instructions_of_a_firmware_timing(bench_elf):
    """The engine finds the two CYCCNT reads behind a firmware-reported delta and gives the exact
    instructions between them: loop10 runs its first read, NOP, 10 x (SUBS, BNE), NOP."""
    engine = boot(bench_elf, "nucleo_f446re")
    results = run_benches(engine)
    assert engine.counts_between_reads(results["loop10"]) == (1 + 1 + 10 * 2 + 1, results["loop10"])
    assert engine.counts_between_reads(10 ** 9) is None
