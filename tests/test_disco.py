"""The 32F746G-DISCOVERY (renode/platforms/disco_f746ng.repl): the F746ZG's die taken by Renode's `using`
from nucleo_f746zg.repl, with the board's own console (USART1), crystal and external memories. Expected
values are typed in from ST's documents, not read from the .repl: RM0385 (memory map table 1, RCC
registers 5.3, vector table 10.1.2), DS10916 (alternate functions) and UM1907 (the board)."""
from __future__ import annotations

import pytest

from firmware_boot import boot, firmware, run_benches_ticks
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

