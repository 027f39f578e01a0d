"""The 32F746G-DISCOVERY (renode/platforms/disco_f746ng.repl): the F746ZG's die taken by Renode's `using`
from nucleo_f746zg.repl, with the board's own console (USART1), crystal and external memories. Expected
values are typed in from ST's documents, not read from the .repl: RM0385 (memory map table 1, RCC
registers 5.3, vector table 10.1.2), DS10916 (alternate functions) and UM1907 (the board)."""
from __future__ import annotations

import re

import pytest

from firmware_boot import boot, firmware, run_benches_ticks
from harness.backends.emulated import EmulatedBoard
from harness.board import all_boards, available_boards, load_board, parse_repl
from harness.build import board_header
from harness.errors import HarnessError

pytestmark = pytest.mark.emulated

MB = 1 << 20


def test_console_crystal_and_variant():
    b = load_board("disco_f746ng")
    c = b.console
    usart1 = b.peripheral("usart1")
    assert (c.uart, usart1.base, usart1.irqs) == ("usart1", 0x40011000, {"IRQ": 37})     # RM0385 table 1, 10.1.2
    assert (c.tx, c.rx, c.af) == ("PA9", "PB7", 7)                                     # UM1907, DS10916
    assert c.rcc_enable == ("APB2ENR", 4)                                              # USART1EN (RM0385 5.3.14)
    assert (c.gpio_enable, c.rx_gpio_enable) == (("AHB1ENR", 0), ("AHB1ENR", 1))       # GPIOAEN, GPIOBEN
    assert int(b.fact("clock", "hse")) == 25_000_000                                   # UM1907: X2, 25 MHz
    assert b.title == "32F746G-DISCOVERY" and b.variant_of == "nucleo_f746zg"
    # the board header: USART1's kernel clock is PCLK2 (216 MHz / 2), pins on two ports
    h = board_header(b)
    for line in ("BOARD_CONSOLE_CLOCK_HZ 108000000u", "BOARD_CONSOLE_GPIO_BASE 0x40020000u",
                 "BOARD_CONSOLE_RX_GPIO_BASE 0x40020400u", "BOARD_HSE_HZ 25000000u"):
        assert f"#define {line}" in h
    # the NUCLEO's console clock stays PCLK1 (USART3 on APB1: 216 MHz / 4)
    assert "#define BOARD_CONSOLE_CLOCK_HZ 54000000u" in board_header(load_board("nucleo_f746zg"))


def test_the_die_is_the_f746zg_s():
    disco, nucleo = load_board("disco_f746ng"), load_board("nucleo_f746zg")
    assert disco.regions == nucleo.regions and disco.cpu_type == nucleo.cpu_type
    assert disco.clock_hz == nucleo.clock_hz == 216_000_000
    for group in ("cache", "flash", "fpu", "readonly"):
        assert disco.facts[group] == nucleo.facts[group]
    assert set(nucleo.peripherals) | {"usart1"} == set(disco.peripherals)
    # a variant is not in the default matrix, but every listing of boards has it
    assert "disco_f746ng" not in available_boards() and "disco_f746ng" in all_boards()


def test_external_memories_are_named_tags():
    b = load_board("disco_f746ng")
    tags = {t.name: (t.start, t.end - t.start + 1) for t in b.tags}
    assert tags["SDRAM"] == (0xC0000000, 8 * MB)          # 128 Mbit on a 16-bit bus: 64 Mbit usable (UM1907)
    assert tags["QSPI_FLASH"] == (0x90000000, 16 * MB)    # N25Q128A
    assert tags["FMC"][0] == 0xA0000000 and tags["QUADSPI"][0] == 0xA0001000
    for name, base in (("LTDC", 0x40016800), ("DMA2D", 0x4002B000), ("DCMI", 0x50050000), ("ETH", 0x40028000),
                       ("USB_OTG_HS", 0x40040000), ("USB_OTG_FS", 0x50000000)):
        assert tags[name][0] == base
    assert "USART1" not in tags and "USART6" in tags     # the modelled USART1 answers, not the used file's Tag


def test_using_rules(tmp_path):
    """`using` as Renode reads it: first in the file, relative to it, never itself; an entry named again is
    updated; a peripheral over part of a Tag is refused."""
    base = load_board("nucleo_f746zg").path
    (tmp_path / "soc.repl").write_text(base.read_text())
    (tmp_path / "b.repl").write_text('using "soc.repl"\n\ndwt:\n    frequency: 1\n')
    b = parse_repl(tmp_path / "b.repl")
    assert b.peripheral("dwt").props["frequency"] == "1" and b.variant_of == "soc"
    (tmp_path / "late.repl").write_text('dwt:\n    frequency: 1\nusing "soc.repl"\n')
    with pytest.raises(HarnessError, match="`using` after an entry"):
        parse_repl(tmp_path / "late.repl")
    (tmp_path / "self.repl").write_text('using "self.repl"\n')
    with pytest.raises(HarnessError, match="includes itself"):
        parse_repl(tmp_path / "self.repl")
    (tmp_path / "gone.repl").write_text('using "nothere.repl"\n')
    with pytest.raises(HarnessError, match="not at"):
        parse_repl(tmp_path / "gone.repl")
    (tmp_path / "part.repl").write_text('using "soc.repl"\n\nusart1: UART.STM32F7_USART @ sysbus <0x40011200, +0x400>\n')
    with pytest.raises(HarnessError, match="overlap in part"):
        parse_repl(tmp_path / "part.repl")


def test_same_modelled_cycles_as_the_f746zg():
    """The same die at the same clock: every cycles_bench sequence costs exactly the F746ZG's ticks, which is
    why the variant stays out of the per-board matrix."""
    get = firmware("cycles_bench")
    disco = run_benches_ticks(boot(get, "disco_f746ng", reference_counter=True))
    nucleo = run_benches_ticks(boot(get, "nucleo_f746zg", reference_counter=True))
    assert disco == nucleo and len(disco) == 32


# ------------------------------------------------------------------ a CubeHAL-style firmware, ELF and .bin

def _uart_hal_header(board, sleep: str = "") -> dict[str, str]:
    irq = next(iter(board.peripheral(board.console.uart).irqs.values()))
    tag = next((t for t in board.tags if t.name == "SDRAM"), None) or next(t for t in board.tags if t.name == "TIM12")
    return {"irq.h": f"#define CONSOLE_IRQ {irq}\n#define TAG_ADDRESS 0x{tag.start:08X}u\n"
                     + (f"#define {sleep} 1\n" if sleep else "")}


@pytest.fixture(scope="module")
def uart_hal():
    return firmware("uart_hal", _uart_hal_header, vectors=False)


@pytest.fixture(scope="module")
def mbed_style():
    return firmware("uart_hal", lambda b: _uart_hal_header(b, sleep="MBED_STYLE"), vectors=False)


@pytest.fixture(scope="module", params=["SLEEP", "SLEEP_WFE"])
def uart_hal_sleep(request):
    return firmware("uart_hal", lambda b: _uart_hal_header(b, sleep=request.param), vectors=False)


def _cli(args: list[str]):
    from typer.testing import CliRunner
    from harness.cli import app
    return CliRunner().invoke(app, args)      # click 8.2: stdout and stderr apart


EXCHANGE = ["uart_hal disco_f746ng ready", "m-name-[uart_hal]", "m-ready", "echo hello"]


@pytest.mark.parametrize("style", ["uart_hal", "mbed_style"])
def test_scripted_exchange_without_a_pty(style, request, tmp_path):
    """`harness run --send`: each send goes in when the firmware waits for input (the CubeHAL-style build's
    `b .` main loop with the USART1 receive interrupt on, the Mbed-style build's WFI), its answers come
    back; then it waits again and the run ends."""
    board, elf = request.getfixturevalue(style)("disco_f746ng")
    r = _cli(["run", str(elf), "--board", "disco_f746ng", "--send", "name%", "--send", "echo hello%"])
    assert r.exit_code == 0, r.stderr
    assert r.stdout.splitlines() == EXCHANGE
    assert "stopped: IDLE firmware waits for input" in r.stderr and "main" in r.stderr
    assert "sent: b'name%'" in r.stderr and "sent: b'echo hello%'" in r.stderr
    assert "note: skipped" not in r.stderr           # an ELF with its code map keeps every check
    # the same exchange from a script file
    script = tmp_path / "session.txt"
    script.write_text("# MLPerf Tiny style\nname%\n\necho hello%\n")
    r2 = _cli(["run", str(elf), "--board", "disco_f746ng", "--script", str(script)])
    assert r2.exit_code == 0 and r2.stdout == r.stdout


def _counts(stderr: str) -> str:
    return next(line for line in stderr.splitlines() if line.endswith("cycles (modelled)"))


def test_the_same_firmware_as_a_raw_image(uart_hal, tmp_path):
    """objcopy -O binary of the same ELF, loaded at the flash base: the same console and the same
    instruction and cycle counts (the same bytes run), and the run says which checks the lost code map
    costs."""
    import subprocess
    board, elf = uart_hal("disco_f746ng")
    image = tmp_path / "uart_hal.bin"
    subprocess.run(["arm-none-eabi-objcopy", "-O", "binary", str(elf), str(image)], check=True)
    sends = ["--send", "name%", "--send", "echo hello%"]
    from_elf = _cli(["run", str(elf), "--board", "disco_f746ng", *sends])
    from_bin = _cli(["run", str(image), "--board", "disco_f746ng", *sends])
    explicit = _cli(["run", str(image), "--board", "disco_f746ng", "--load-address", "0x08000000", *sends])
    assert from_bin.exit_code == 0 and explicit.exit_code == 0, from_bin.stderr
    assert from_bin.stdout.splitlines() == EXCHANGE and explicit.stdout == from_bin.stdout
    assert _counts(from_bin.stderr) == _counts(explicit.stderr)
    # the same code; the cycles differ only where the model prices an instruction with the one before it
    # at a block's start and no code map says which that is (measured before the UART's line timing: 4 of
    # 15,004,893 cycles); those cycles move where a UART wait's polling loop stands when its flag sets, and a
    # wait ends at the loop's next turn (under 10 cycles): measured 6 cycles. The instruction counts are not
    # compared: while the host's bytes are on the line the firmware spins in its `b .` main loop, whose one
    # instruction is such a block, so the same span of cycles holds a different number of turns
    (_, c_bin), (_, c_elf) = ([int(x.replace(",", "")) for x in re.findall(r"\d[\d,]*", _counts(r.stderr))]
                              for r in (from_bin, from_elf))
    assert abs(c_bin - c_elf) <= 50
    assert "note: modelled cycles" in from_bin.stderr
    skipped = [line for line in from_bin.stderr.splitlines() if line.startswith("note: skipped")]
    assert len(skipped) == 3 and any("non-code" in s for s in skipped) and any("LDRD" in s for s in skipped) \
        and any("FPU" in s for s in skipped)
    assert "raw image loaded at 0x08000000" in from_bin.stderr


def test_raw_image_bad_inputs(uart_hal, tmp_path):
    board, elf = uart_hal("disco_f746ng")
    r = _cli(["run", str(elf), "--board", "disco_f746ng", "--load-address", "0x08000000"])
    assert r.exit_code == 1 and "is an ELF, which says where it loads" in r.stderr
    image = tmp_path / "x.bin"
    image.write_bytes(b"\0" * 64)
    r = _cli(["run", str(image), "--board", "disco_f746ng", "--load-address", "flash"])
    assert r.exit_code == 1 and "is not a number" in r.stderr
    r = _cli(["run", str(image), "--board", "disco_f746ng", "--load-address", "0x60000000"])
    assert r.exit_code == 2 and "not inside one memory region" in r.stderr
    r = _cli(["run", str(elf), "--board", "disco_f746ng", "--send", "bad\\x4"])
    assert r.exit_code == 1 and r.stderr.count("\n") == 1 and "--send" in r.stderr


def test_transmit_polls_are_not_waiting_for_input(uart_hal):
    """HAL_UART_Transmit reads the status before every byte (TXE) and at the end (TC): the firmware's
    whole banner and answers come out, and only its receive-interrupt main loop counts as waiting."""
    board, elf = uart_hal("disco_f746ng")
    engine = EmulatedBoard(board, elf)
    assert engine.read_line() == EXCHANGE[0]
    from harness.backends import BoardIdle
    with pytest.raises(BoardIdle):
        engine.read_line()
    assert engine.symbol_at(engine.pc).startswith("main") and engine.read_memory(engine.pc, 2) == b"\xfe\xe7"
    engine.write(b"name%")
    assert [engine.read_line(), engine.read_line()] == EXCHANGE[1:3]


def test_a_sleeping_firmware_waits_for_input(uart_hal_sleep):
    """The same firmware with a WFI (or a WFE) main loop and no SysTick: only input can wake it, so it waits
    for input (not a hang of a firmware no interrupt can ever wake). After each receive interrupt the event
    register is set, so the WFE falls through once and sleeps again."""
    board, elf = uart_hal_sleep("disco_f746ng")
    from harness.backends import BoardIdle
    engine = EmulatedBoard(board, elf)
    assert engine.read_line() == EXCHANGE[0]
    with pytest.raises(BoardIdle):
        engine.read_line()
    engine.write(b"echo hello%")
    assert engine.read_line() == "echo hello"


def test_a_tag_read_warns_with_its_address_and_pc(uart_hal):
    """A load from the SDRAM Tag: it reads 0 and the warning names the Tag, the address and the load
    instruction itself, which is not the first of its block (the expected PC: the first load of `peek`,
    found in the ELF by its symbol and capstone, not by the engine)."""
    import capstone
    from elftools.elf.elffile import ELFFile
    board, elf = uart_hal("disco_f746ng")
    with open(elf, "rb") as f:
        e = ELFFile(f)
        sym = e.get_section_by_name(".symtab").get_symbol_by_name("peek")[0]
        start = sym["st_value"] & ~1
        text = e.get_section_by_name(".text")
        code = text.data()[start - text["sh_addr"]:start - text["sh_addr"] + sym["st_size"]]
    md = capstone.Cs(capstone.CS_ARCH_ARM, capstone.CS_MODE_THUMB | capstone.CS_MODE_MCLASS)
    load = next(i.address for i in md.disasm(code, start) if i.mnemonic.startswith("ldr"))
    assert load != start
    engine = EmulatedBoard(board, elf)
    engine.read_line()
    engine.write(b"peek%")
    assert engine.read_line() == "peek 0x00000000"                   # a Tag without a value reads 0
    (warning,) = engine.warnings
    assert "read from SDRAM at 0xc0000004" in warning and f"(pc 0x{load:08x} " in warning, warning


# ------------------------------------------------------------------ the line in modelled time

def _frame_cycles(name: str) -> int:
    """One 8N1 frame (10 bits) in core cycles, from RM0385 "USART baud rate generation" with 16x
    oversampling (baud = PCLK / BRR) and the firmware's BRR = PCLK / baud rounded, PCLK being what
    uart_hal programs: HCLK 216 MHz, APB1 / 4 (USART3 on the NUCLEO), APB2 / 2 (USART1 on the DISCO)."""
    board = load_board(name)
    apb_div = 2 if board.console.uart == "usart1" else 4
    pclk = 216_000_000 // apb_div
    brr = (pclk + board.console.baud // 2) // board.console.baud
    return 10 * brr * apb_div


@pytest.mark.parametrize("name", ["disco_f746ng", "nucleo_f746zg"])
def test_transmit_takes_its_frames(uart_hal, name):
    """HAL_UART_Transmit of 10 bytes, timed by the firmware's own DWT CYCCNT from before the first TDR
    write to TC: ten frames at the programmed baud rate (18,760 cycles each at 115200 baud), plus the few
    instructions around them; and its TXE waits are skipped, not run turn by turn."""
    board, elf = uart_hal(name)
    engine = EmulatedBoard(board, elf)
    engine.read_line()
    engine.write(b"txtime 10%")
    frame = _frame_cycles(name)
    assert frame == 18_760
    calls = engine._mmio_seq
    (cycles,) = (int(v) for v in engine.read_line().split()[1:])
    assert 10 * frame <= cycles <= 10 * frame + 100
    # without the skip the 10 frames' TXE/TC waits alone would be ~25,000 status reads
    assert engine._mmio_seq - calls < 500


@pytest.mark.parametrize("name", ["disco_f746ng", "nucleo_f746zg"])
def test_host_bytes_arrive_one_frame_apart(uart_hal, name):
    """The host's bytes come no faster than the line: the firmware's receive interrupt sees the five
    bytes of `gaps%` one frame apart (its CYCCNT at each interrupt's entry)."""
    board, elf = uart_hal(name)
    engine = EmulatedBoard(board, elf)
    engine.read_line()
    engine.write(b"gaps%")
    gaps = [int(v) for v in engine.read_line().split()[1:]]
    frame = _frame_cycles(name)
    assert len(gaps) == 4 and all(abs(g - frame) <= 8 for g in gaps), (gaps, frame)


def test_an_answer_arrives_after_the_line_has_left(uart_hal):
    """The host cannot answer a line before its last frame has left the wire: a byte written while the
    firmware still transmits arrives one frame after the transmission's end."""
    board, elf = uart_hal("disco_f746ng")
    engine = EmulatedBoard(board, elf)
    engine.read_line()                      # the banner is complete once its '\n' is in TDR
    uart = engine.peripherals["usart1"]
    end = uart.tx_done_at()
    assert end > engine.cycles              # ... and still on the wire
    engine.write(b"n")
    assert engine.console_rx_next() == end + _frame_cycles("disco_f746ng")


# ------------------------------------------------------------------ an Mbed-style firmware, 50 pty sessions

def test_mbed_style_firmware_on_hsi_with_its_us_ticker(mbed_style):
    """The Mbed-style build: HSI through the PLL to 216 MHz (no warning: the nominal clock), serial_putc
    without a TC wait, commands from a ring buffer in a WFI main loop; TIM2 as the 1 MHz us_ticker counts
    the modelled cycles / 216 (the timer clock 108 MHz / 108) to within the one tick its two reads, a few
    instructions apart, can straddle."""
    board, elf = mbed_style("disco_f746ng")
    engine = EmulatedBoard(board, elf)
    assert engine.read_line() == EXCHANGE[0]
    engine.write(b"name%")
    assert [engine.read_line(), engine.read_line()] == EXCHANGE[1:3]
    engine.write(b"us 200000%")
    ticks, cycles = (int(v) for v in engine.read_line().split()[1:])
    assert cycles > 1_000_000 and abs(ticks - cycles / 216) <= 1, (ticks, cycles)
    assert not [w for w in engine.warnings if w.startswith("clock")]
    # HAL_UART_Transmit_IT: a TXE interrupt per byte, then TC's, the CPU asleep between them: ten frames
    # from the start to the TC interrupt, plus the handlers' entries and the wake-ups
    engine.write(b"txit 10%")
    (cycles,) = (int(v) for v in engine.read_line().split()[1:])
    frame = _frame_cycles("disco_f746ng")
    assert 10 * frame <= cycles <= 10 * frame + 500, cycles - 10 * frame
    from harness.backends import BoardIdle
    with pytest.raises(BoardIdle):
        engine.read_line()


@pytest.mark.parametrize("style", ["uart_hal", "mbed_style"])
def test_fifty_back_to_back_pty_sessions_lose_nothing(style, request):
    """What `harness run --pty` serves: 50 sessions one after the other, each opening the port, asking
    `name%` and an echo with its number, and closing it: every command answered, none lost or mixed."""
    from harness.backends.pty import EmulatedPty
    from harness.backends.serial import SerialBoard
    board, elf = request.getfixturevalue(style)("disco_f746ng")
    with EmulatedPty(board) as bridge:
        bridge.load(elf)
        for i in range(50):
            with SerialBoard(bridge.port, board.console.baud, timeout=5) as sb:
                if i == 0:
                    assert sb.read_line() == EXCHANGE[0]
                sb.write(b"name%")
                assert [sb.read_line(), sb.read_line()] == EXCHANGE[1:3], i
                sb.write(f"echo {i}%".encode())
                assert sb.read_line() == f"echo {i}", i
        assert bridge.failure is None
