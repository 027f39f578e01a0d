"""Each .repl parses to the sizes in ST's datasheets (DS10693, DS10916, DS11532)."""
import pytest

from harness.board import available_boards, load_board, parse_repl
from harness.build import board_header, linker_script
from harness.errors import HarnessError

KB = 1024
# Independent of the .repl files: typed in from the datasheets.
DATASHEET = {
    "nucleo_f446re": dict(cpu="cortex-m4f", mhz=180, flash=512 * KB, sram=128 * KB, dtcm=None, itcm=None,
                          console=("usart2", 0x40004400)),
    "nucleo_f746zg": dict(cpu="cortex-m7", mhz=216, flash=1024 * KB, sram=320 * KB, dtcm=64 * KB, itcm=16 * KB,
                          console=("usart3", 0x40004800)),
    "nucleo_f767zi": dict(cpu="cortex-m7", mhz=216, flash=2048 * KB, sram=512 * KB, dtcm=128 * KB, itcm=16 * KB,
                          console=("usart3", 0x40004800)),
}


def test_every_board_is_described():
    assert available_boards() == sorted(DATASHEET)


@pytest.mark.parametrize("name", sorted(DATASHEET))
def test_repl_matches_datasheet(name):
    b, ds = load_board(name), DATASHEET[name]
    assert b.cpu_type == ds["cpu"]
    assert b.clock_hz == ds["mhz"] * 1_000_000
    assert b.flash.base == 0x08000000 and b.flash.size == ds["flash"] and b.flash.readonly
    assert b.sram_size == ds["sram"]
    assert b.ram_span == (0x20000000, ds["sram"])       # the banks are contiguous
    names = {r.name: r for r in b.regions}
    if ds["dtcm"]:
        assert names["dtcm"].base == 0x20000000 and names["dtcm"].size == ds["dtcm"]
        assert names["itcm"].base == 0 and names["itcm"].size == ds["itcm"]
    else:
        assert "dtcm" not in names and "itcm" not in names
    uart = b.peripheral(b.console.uart)
    assert (b.console.uart, uart.base) == ds["console"]
    assert b.peripheral_of_class("Miscellaneous.DWT").base == 0xE0001000
    assert b.peripheral_of_class("IRQControllers.NVIC").base == 0xE000E000


@pytest.mark.parametrize("name", sorted(DATASHEET))
def test_generated_files_carry_the_map(name):
    b = load_board(name)
    ld = linker_script(b)
    assert f"LENGTH = 0x{DATASHEET[name]['flash']:X}" in ld and f"LENGTH = 0x{DATASHEET[name]['sram']:X}" in ld
    assert f"#define BOARD_CONSOLE_BASE 0x{DATASHEET[name]['console'][1]:08X}u" in board_header(b)


def test_overlapping_regions_are_refused(tmp_path):
    text = (load_board("nucleo_f446re").path.read_text()
            .replace("sram2: Memory.MappedMemory @ sysbus 0x2001C000", "sram2: Memory.MappedMemory @ sysbus 0x2001B000"))
    p = tmp_path / "bad.repl"
    p.write_text(text)
    with pytest.raises(HarnessError, match="overlap"):
        parse_repl(p)


def test_unknown_board_names_the_known_ones():
    with pytest.raises(HarnessError, match="nucleo_f446re"):
        load_board("nucleo_x")


def _f446_with(tmp_path, old: str, new: str | bytes):
    text = load_board("nucleo_f446re").path.read_text()
    assert old in text
    p = tmp_path / "bad.repl"
    if isinstance(new, bytes):
        p.write_bytes(text.replace(old, "@@").encode().replace(b"@@", new))
    else:
        p.write_text(text.replace(old, new))
    return p


# Each malformed .repl is refused with the file (and the line where there is one) named, as a HarnessError
# the CLI prints on one line, never a ValueError or UnicodeDecodeError traceback (issue 14 item 15).
@pytest.mark.parametrize("old,new,message", [
    ("size: 0x80000", "size: 0x8ZZ00", r"bad\.repl: .*'0x8ZZ00' is not a number"),
    ("@ sysbus 0x08000000", "@ sysbus 0xO8000000", r"bad\.repl:15: .*'0xO8000000' is not a number"),
    ("sysclk=180000000", "sysclk=180MHz", r"bad\.repl: .*clock.*'180MHz' is not a number"),
    ("pllm=8", "pllm=", r"bad\.repl: .*clock.*'' is not a number"),
    ("//! clock: hsi", "//! clock hsi", r"bad\.repl: missing `//! clock: hsi=\.\.\.`"),
    ("baud=115200", "baud=fast", r"bad\.repl: cannot read `//! console:`"),
    ('cpuType: "cortex-m4f"', 'cpuType: "cortex-m4f', r"bad\.repl:30: unterminated quote"),
    ("size: 0x80000", b"size: 0x80000\xff\xfe\x00", r"bad\.repl: not a text file"),
])
def test_a_malformed_repl_is_refused_plainly(tmp_path, old, new, message):
    with pytest.raises(HarnessError, match=message):
        parse_repl(_f446_with(tmp_path, old, new))
