"""Watch points (EmulatedBoard.watch): the counts handed to the callback are those of everything executed
before the watched instruction, checked against two independent references on the microbenchmark
firmware (tests/firmware/cycles_bench.c):
- the firmware's own DWT CYCCNT reads: a watch on the load that reads CYCCNT sees exactly the value the
  firmware then reads (CYCCNT counts the cycles completed before the load);
- the per-instruction reference counter (reference_counter=True, a Python hook on every instruction
  applying the cost rules one by one), at function entries and in the middle of blocks.
"""
from __future__ import annotations

import pytest

from firmware_boot import boot, run_benches

pytestmark = pytest.mark.emulated

BOARDS = ["nucleo_f446re", "nucleo_f746zg"]


@pytest.mark.parametrize("name", BOARDS)
def test_watch_on_the_cyccnt_load_sees_what_the_firmware_reads(bench_elf, name):
    probe = boot(bench_elf, name)
    run_benches(probe)
    read_pcs = {pc for pc, *_ in probe.cyccnt_reads}
    assert read_pcs                                   # the firmware did read CYCCNT

    engine = boot(bench_elf, name)
    hits: list[int] = []
    for pc in read_pcs:
        engine.watch(pc, lambda e, h: hits.append(h.cycles))
    results = run_benches(engine)
    reads = list(engine.cyccnt_reads)
    assert len(hits) == len(reads) == 2 * len(results)
    assert hits == [cycles for _, _, _, _, cycles, _ in reads]
    # the register's values (the firmware zeroes CYCCNT first): the same cycles apart as the watches
    values = [value for _, _, value, *_ in reads]
    assert [b - a for a, b in zip(hits, hits[1:])] == [b - a for a, b in zip(values, values[1:])]
    assert results == run_benches(boot(bench_elf, name))  # watching changes nothing the firmware sees


@pytest.mark.parametrize("name", BOARDS)
def test_watch_counts_equal_the_per_instruction_reference(bench_elf, name):
    engine = boot(bench_elf, name, reference_counter=True)
    funcs = {n: a for a, size, n in engine.image.functions if n.startswith("bench_")}
    sizes = {n: size for a, size, n in engine.image.functions}
    # every benchmark's entry (a block start, reached by a call), and instructions inside blocks: the
    # second and fourth instruction of the straight-line bodies (SMLADs, NOPs, loads)
    addresses = set(funcs.values())
    for n in ("bench_smlad16", "bench_nops32", "bench_ldr_indep8", "bench_loop10", "bench_vmul_vmla"):
        insns = list(engine._disassembler().disasm(engine.read_code(funcs[n], sizes[n]), funcs[n]))
        addresses |= {insns[1].address, insns[3].address, insns[len(insns) // 2].address}
    checked = []

    def check(e, hit):
        # the reference hook was registered first, so it has just counted the watched instruction
        assert e._ref_prev is not None and e._ref_prev.addr == hit.address
        assert hit.instructions == e.reference_count - 1
        assert hit.ticks == e._ref_before
        checked.append(hit.address)

    run_benches(engine)          # every benchmark translated already: the watches must still take effect
    for a in addresses:
        engine.watch(a, check)
    run_benches(engine)
    assert set(checked) == addresses
    assert (engine.instructions, engine.ticks) == (engine.reference_count, engine.reference_ticks)


def test_unwatch_and_reset(bench_elf):
    engine = boot(bench_elf, "nucleo_f446re")
    entry = engine.symbol("bench_empty")
    seen = []
    handle = engine.watch(entry, lambda e, h: seen.append(h.instructions))
    run_benches(engine)
    assert len(seen) == 1
    engine.reset()                                   # watches survive a reset
    assert engine.read_line() == "cycles_bench nucleo_f446re ready"
    run_benches(engine)
    assert len(seen) == 2 and seen[0] == seen[1]     # deterministic
    engine.unwatch(handle)
    run_benches(engine)
    assert len(seen) == 2
