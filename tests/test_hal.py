"""A firmware written the way STM32 HAL applications are (tests/firmware/hal_app.c) on every board:
clock tree with ready-flag waits, SysTick interrupts at 1 kHz behind HAL_GetTick/HAL_Delay, interrupt-
driven UART transmit, GPIO, and the exception model (frame, EXC_RETURN, preemption, masking), the
firmware's own fault handlers and semihosting. Expected values come from the ARMv7-M Architecture
Reference Manual (frame layout, EXC_RETURN, priorities) and the board's clock in its .repl."""
from __future__ import annotations

import pytest

from firmware_boot import boot, firmware
from harness.backends import BoardFault, BoardHang, BoardIdle
from harness.backends.emulated import BoardExit, EmulatedBoard
from harness.board import available_boards, load_board
from harness.build import build_firmware
from harness.errors import HarnessError

pytestmark = pytest.mark.emulated

BOARDS = available_boards()


def console_irq(board) -> int:
    uart = board.peripherals[board.console.uart]
    return next(iter(uart.irqs.values()))


def tag(board, name: str):
    return next(t for t in board.tags if t.name == name)


def app_header(board) -> str:
    """Addresses the app needs, from the .repl: the console IRQ line and the tagged ranges."""
    return (f"#define CONSOLE_IRQ {console_irq(board)}\n#define UID_BASE 0x{tag(board, 'UID').start:08X}u\n"
            f"#define FLASHSIZE_BASE 0x{tag(board, 'FLASH_SIZE').start + 2:08X}u\n"
            f"#define DBGMCU_BASE 0x{tag(board, 'DBGMCU_IDCODE').start:08X}u\n"
            f"#define TIM12_BASE 0x{tag(board, 'TIM12').start:08X}u\n")


@pytest.fixture(scope="module")
def app():
    # its own vector table (the console UART's interrupt line), not the base's
    return firmware("hal_app", lambda board: {"irq.h": app_header(board)}, vectors=False)


booted = boot


def ask(engine: EmulatedBoard, line: str) -> str:
    engine.write((line + "\n").encode())
    return engine.read_line()


def test_console_irq_lines_come_from_the_repl():
    # RM0390 table 38 (F446): USART2 is position 38; RM0385 / RM0410 (F7): USART3 is position 39
    assert console_irq(load_board("nucleo_f446re")) == 38
    assert console_irq(load_board("nucleo_f746zg")) == 39
    assert console_irq(load_board("nucleo_f767zi")) == 39


@pytest.mark.parametrize("name", BOARDS)
@pytest.mark.parametrize("sleep", [False, True])
def test_hal_delay_takes_its_milliseconds(app, name, sleep):
    """HAL_Delay(10) from a tick edge: ten SysTick interrupts, and 10 ms of the board's clock by DWT
    CYCCNT (the tick period is SystemCoreClock / 1000 cycles, the clock from the .repl), to within the
    jitter of noticing a tick edge (a turn of the polling loop, the handler's entry and return): a few
    hundred cycles, far below one tick."""
    board, _ = app(name)
    engine = booted(app, name)
    period = board.clock_hz // 1000
    entries = engine.exceptions.entries
    ticks, cycles = (int(v) for v in ask(engine, ("wfidelay" if sleep else "delay") + " 10").split()[1:])
    assert ticks == 10
    assert abs(cycles - 10 * period) <= 300, cycles - 10 * period
    # the engine's own clock agrees: the interrupts it took account for the ticks
    assert engine.exceptions.entries - entries >= 10
    if sleep:
        # asleep between ticks: between the two CYCCNT reads the CPU runs only the ten ticks' handlers and
        # its WFI loop (the command's own bytes take modelled time to arrive, so the count from `start`
        # includes the receive wait: 12 frames at 115200 baud)
        assert engine.counts_between_reads(cycles)[0] < period // 10


@pytest.mark.parametrize("name", BOARDS)
def test_uart_interrupt_transmit(app, name):
    engine = booted(app, name)
    before = engine.exceptions.entries
    assert ask(engine, "say hello from the interrupt") == "hello from the interrupt"
    # one TXE interrupt per byte (24 + CR LF) and one TC interrupt at the end, plus any SysTick ticks
    assert engine.exceptions.entries - before >= 24 + 2 + 1


@pytest.mark.parametrize("name", BOARDS)
def test_uart_interrupt_receive(app, name):
    """RXNEIE: each received byte raises the UART's interrupt (its NVIC line from the .repl); the CPU
    sleeps in WFI between them."""
    engine = booted(app, name)
    assert ask(engine, "rxirq") == "rx ready"
    before = engine.exceptions.entries
    engine.write(b"hello irq\n")
    assert engine.read_line() == "got hello irq 9"
    assert engine.exceptions.entries - before >= len("hello irq\n")


def test_waiting_for_input_by_interrupt_is_idle(app):
    """A firmware that receives by interrupt and sleeps in WFI meanwhile waits for input: after a second
    of quiet sleep (the 1 kHz tick waking it) the engine reports idle, resumable like a polling wait."""
    board, _ = app(BOARDS[0])
    engine = booted(app, BOARDS[0])
    assert ask(engine, "rxirq") == "rx ready"
    start = engine.cycles
    with pytest.raises(BoardIdle):
        engine.read_line()
    assert engine.cycles - start >= board.clock_hz // 1000 * 990     # about one second asleep, not less
    engine.write(b"late\n")
    assert engine.read_line() == "got late 4"


@pytest.mark.parametrize("name", BOARDS)
def test_gpio_bsrr(app, name):
    engine = booted(app, name)
    odr_set, odr_reset, idr = (int(v, 16) for v in ask(engine, "gpio").split()[1:])
    assert odr_set & (1 << 5) and not odr_reset & (1 << 5)      # RM: BSRR BS5 sets, BR5 resets ODR5
    assert idr & (1 << 7)


@pytest.mark.parametrize("name", BOARDS)
def test_exception_frame(app, name):
    """PendSV pended by ICSR.PENDSVSET: its handler finds the ARMv7-M basic or extended frame (B1.5.6)."""
    engine = booted(app, name)
    fields = ask(engine, "frame").split()[1:]
    frame = [int(v, 16) for v in fields[:8]]
    info = dict(f.split("=") for f in fields[8:])
    sp, lr, ipsr, expected = int(info["sp"], 16), int(info["lr"], 16), int(info["ipsr"]), int(info["expected"], 16)
    assert frame[:5] == [0x10101010, 0x21212121, 0x32323232, 0x43434343, 0x5C5C5C5C]
    assert frame[6] == expected                       # the return address: the instruction after the store
    assert frame[7] & (1 << 24)                        # xPSR.T
    assert frame[7] & 0x1FF == 0                       # taken from thread mode
    assert ipsr == 14                                  # PendSV
    assert lr in (0xFFFFFFF9, 0xFFFFFFE9)              # thread mode, main stack (E9: with the FP frame)
    assert sp % 8 == 0
    assert int(info["runs"]) == 1
    assert ask(engine, "say still alive") == "still alive"   # the return restored everything


@pytest.mark.parametrize("name", BOARDS)
def test_exception_from_the_process_stack(app, name):
    """Thread mode on PSP (CONTROL.SPSEL = 1): the frame goes on the process stack, EXC_RETURN is
    0xFFFFFFFD (0xFFFFFFED with the FP frame), the return restores PSP and SPSEL (B1.5.6, B1.5.8)."""
    engine = booted(app, name)
    lr, depth, r0, psp_depth, control, msp_same = ask(engine, "psp").split()[1:]
    assert int(lr, 16) in (0xFFFFFFFD, 0xFFFFFFED)
    assert int(depth, 16) == (0x20 if int(lr, 16) & 0x10 else 0x68)   # the frame right below the top
    assert int(r0, 16) == 0x10101010
    assert int(psp_depth, 16) == 0 and int(control, 16) == 2 and msp_same == "1"


@pytest.mark.parametrize("name", BOARDS)
def test_fp_context_survives_an_exception(app, name):
    """Thread code holding S0/S15 is interrupted by a handler that overwrites them: with CONTROL.FPCA
    the frame is the extended one (EXC_RETURN 0xFFFFFFE9, B1.5.7) and the return restores them."""
    engine = booted(app, name)
    lr, s0, s15 = (int(v, 16) for v in ask(engine, "fpframe").split()[1:])
    assert lr == 0xFFFFFFE9
    assert (s0, s15) == (0x3F800000, 0x40490FDB)


@pytest.mark.parametrize("name", BOARDS)
def test_preemption_by_priority(app, name):
    engine = booted(app, name)
    assert ask(engine, "nest") == "nest 1"             # SysTick (priority 0) ran inside PendSV (0xF0)


@pytest.mark.parametrize("name", BOARDS)
def test_primask_and_basepri_hold_back(app, name):
    engine = booted(app, name)
    held, after, icsr_pending, held_bp, after_bp = ask(engine, "mask").split()[1:]
    assert (held, after) == ("0", "1")
    assert int(icsr_pending, 16) == 1 << 28            # ICSR.PENDSVSET reads 1 while it waits
    assert (held_bp, after_bp) == ("1", "2")          # counting on from the PRIMASK part


@pytest.mark.parametrize("name", BOARDS)
def test_fault_handler_prints_status(app, name):
    """A read past the end of RAM: BusFault is disabled, so it escalates to HardFault (HFSR.FORCED) with
    CFSR.PRECISERR|BFARVALID and BFAR = the address; the handler prints them and loops, the engine stops
    with the fault verdict and the handler's output."""
    board, _ = app(name)
    base, size = board.ram_span
    engine = booted(app, name)
    engine.write(b"fault bus\n")
    line = engine.read_line()
    assert line == f"hardfault cfsr=0x00008200 hfsr=0x40000000 bfar=0x{base + size:08x}"
    with pytest.raises(BoardFault) as caught:
        engine.read_line()
    fault = caught.value
    assert fault.report["kind"] == "read-unmapped" and fault.report["address"] == base + size
    assert fault.report["cfsr"] == 0x8200 and fault.report["hfsr"] == 1 << 30
    assert "looped forever" in str(fault) and line in str(fault)


@pytest.mark.parametrize("name", BOARDS)
def test_usage_fault_when_enabled(app, name):
    engine = booted(app, name)
    engine.write(b"fault usage-udf\n")
    assert engine.read_line() == "usagefault cfsr=0x00010000"          # UFSR.UNDEFINSTR
    with pytest.raises(BoardFault) as caught:
        engine.read_line()
    assert caught.value.report["kind"] == "undefined-instruction"


def test_bkpt_without_debugger_is_a_hardfault(app):
    engine = booted(app, BOARDS[0])
    engine.write(b"fault bkpt\n")
    assert engine.read_line() == "hardfault cfsr=0x00000000 hfsr=0x80000000 bfar=0x00000000"   # DEBUGEVT
    with pytest.raises(BoardFault):
        engine.read_line()


@pytest.mark.parametrize("name", BOARDS)
def test_semihosting_write_and_exit(app, name):
    engine = booted(app, name)
    assert ask(engine, "semi through the debugger") == "through the debugger"
    engine.write(b"exit 3\n")
    with pytest.raises(BoardExit) as caught:
        engine.read_line()
    assert caught.value.exit_code == 3 == engine.exit_code
    assert caught.value.report["kind"] == "exit"
    with pytest.raises(BoardExit):                      # final: the firmware does not run on after it
        engine.read_line()


@pytest.mark.parametrize("name", BOARDS)
def test_deterministic_with_interrupts(app, name):
    def session():
        engine = booted(app, name)
        out = [ask(engine, c) for c in ("delay 3", "say x", "frame", "nest", "mask")]
        return out, engine.instructions, engine.cycles
    assert session() == session()


# RM0390 / RM0385 / RM0410: DBGMCU_IDCODE DEV_ID and the flash size register (KB)
DEVICE = {"nucleo_f446re": (0x421, 512), "nucleo_f746zg": (0x449, 1024), "nucleo_f767zi": (0x451, 2048)}


@pytest.mark.parametrize("name", BOARDS)
def test_device_identification(app, name):
    board, _ = app(name)
    engine = booted(app, name)
    fields = ask(engine, "ids").split()[1:]
    uid = [int(v, 16) for v in fields[:3]]
    flash_kb, idcode = int(fields[3]), int(fields[4], 16)
    assert idcode & 0xFFF == DEVICE[name][0]
    assert flash_kb == DEVICE[name][1] == board.flash.size // 1024
    assert uid == [tag(board, "UID").value] * 3
    assert engine.warnings == []                       # board facts, not unmodelled peripherals


@pytest.mark.parametrize("name", BOARDS)
def test_unmodelled_peripheral_is_named_once(app, name):
    engine = booted(app, name)
    assert ask(engine, "tim12") == "tim12 0"             # Renode's Tag semantics: reads 0, writes dropped
    assert ask(engine, "tim12") == "tim12 0"
    assert len(engine.warnings) == 1 and "TIM12" in engine.warnings[0], engine.warnings
    assert "write to TIM12 at 0x40001800" in engine.warnings[0]


def test_unmodelled_peripheral_is_an_error_when_strict(app):
    board, elf = app(BOARDS[0])
    engine = EmulatedBoard(board, elf, strict=True)
    assert engine.read_line() == f"hal_app {BOARDS[0]} ready"
    engine.write(b"tim12\n")
    with pytest.raises(BoardFault) as caught:
        engine.read_line()
    assert caught.value.report["kind"] == "unmodelled"
    assert "TIM12" in caught.value.verdict and caught.value.verdict.startswith("FAULT strict")


def test_interrupt_entry_and_return_cycles(app):
    """SysTick with TICKINT from a CYCCNT reading c0, through a vector table moved to RAM (VTOR); the CPU
    sleeps in WFI until the wrap. Every count is from the Cortex-M4 TRM: LDR 2 + STR 1 after it = 3
    cycles from c0 to SysTick running; the first wrap after RVR + 1 core clocks (ARMv7-M B3.3: SysTick
    reloads from 0); 12 cycles of exception entry; the handler's first LDR (literal, 2) before its CYCCNT
    read; LDR; STR (3) + BX LR (1 + 2) after its last read, then 10 cycles of exception return before
    main's read."""
    engine = booted(app, BOARDS[0], memory=False)       # the Cortex-M4 core alone: exact (zero-wait) TRM counts
    assert engine.board.core == "m4"
    reload = 5000
    c0, h0, h1, m = (int(v) for v in ask(engine, f"irqtime {reload}").split()[1:])
    due = c0 + 3 + reload + 1
    assert h0 == due + 12 + 2
    assert m == h1 + 3 + 3 + 10
    assert ask(engine, "delay 2").split()[1] == "2"     # the HAL tick runs again through the flash table


def test_interrupt_from_running_code_within_one_block(app):
    """From running code the interrupt is taken at the first block boundary at or after the due cycle:
    the polling loop is one block of LDR, CMP, BEQ (2 + 1 + 2 cycles on the M4), so the handler's read
    comes 0 to 4 cycles after the WFI case's due + 12 + 2."""
    engine = booted(app, BOARDS[0], memory=False)       # zero-wait core counts, as above
    reload = 4000
    c0, h0, h1, m = (int(v) for v in ask(engine, f"irqspin {reload}").split()[1:])
    late = h0 - (c0 + 3 + reload + 1 + 12 + 2)
    assert 0 <= late <= 4, late


@pytest.mark.parametrize("name", BOARDS)
def test_interrupt_timing_is_deterministic(app, name):
    first = ask(booted(app, name), "irqtime 3000")
    assert first == ask(booted(app, name), "irqtime 3000")
    c0, h0, h1, m = (int(v) for v in first.split()[1:])
    assert c0 + 3000 < h0 < h1 < m                     # the handler ran after the wrap, main after it


DOUBLE = """
#include <stdint.h>
extern uint32_t _estack;
void Reset_Handler(void);
__attribute__((section(".isr_vector"), used)) void (*const vectors[2])(void) = {
    (void (*)(void))&_estack, Reset_Handler};
void Reset_Handler(void) {
    __asm volatile(".fpu fpv5-d16\\n vadd.f64 d0, d0, d1");
    for (;;) {}
}
"""


def test_elf_for_a_double_precision_fpu_is_refused_on_the_f746(tmp_path):
    """The F746's FPv5 is single precision (`//! fpu: single`): an ELF with double-precision FPU code is
    refused with the reason; the same source runs on the F767 (double precision)."""
    src = tmp_path / "double.c"
    src.write_text(DOUBLE)
    board = load_board("nucleo_f746zg")
    elf = build_firmware(board, {}, name="double_fpu", sources=[src]).elf
    with pytest.raises(HarnessError, match=r"double-precision FPU .*vadd\.f64.*single precision"):
        EmulatedBoard(board, elf)
    f767 = load_board("nucleo_f767zi")
    EmulatedBoard(f767, build_firmware(f767, {}, name="double_fpu", sources=[src]).elf)


@pytest.mark.parametrize("name", BOARDS)
@pytest.mark.parametrize("what, cfsr, kind", [("trp-unaligned", 1 << 24, "unaligned"),
                                               ("trp-div0", 1 << 25, "divbyzero")])
def test_ccr_traps(app, name, what, cfsr, kind):
    """CCR.UNALIGN_TRP / DIV_0_TRP (ARMv7-M B3.2.8): an unaligned LDR and SDIV by zero take UsageFault
    with UFSR.UNALIGNED / DIVBYZERO."""
    engine = booted(app, name)
    engine.write(f"fault {what}\n".encode())
    assert engine.read_line() == f"usagefault cfsr=0x{cfsr:08x}"
    with pytest.raises(BoardFault) as caught:
        engine.read_line()
    assert caught.value.report["kind"] == kind


def test_no_ccr_traps_by_default(app):
    """Reset CCR: unaligned LDR reads the bytes at the address (little-endian), SDIV by zero gives 0."""
    engine = booted(app, BOARDS[0])
    assert ask(engine, "quiet") == "quiet 0x55443322 0"


@pytest.mark.parametrize("sleep", [False, True])
def test_cycle_budget(app, sleep):
    """A budget of modelled cycles since the last input: HAL_Delay(50) cannot finish in 20 ms worth of
    cycles; the run stops within a block (or exactly, asleep in WFI) of the budget."""
    board, elf = app(BOARDS[0])
    budget = board.clock_hz // 1000 * 20
    engine = EmulatedBoard(board, elf, cycle_budget=budget)
    assert engine.read_line() == f"hal_app {BOARDS[0]} ready"
    engine.write(b"wfidelay 50\n" if sleep else b"delay 50\n")
    start = engine.cycles
    with pytest.raises(BoardHang) as caught:
        engine.read_line()
    assert caught.value.report["kind"] == "cycle-budget" and "cycle budget" in caught.value.verdict
    assert 0 <= engine.cycles - start - budget <= (0 if sleep else 64)
