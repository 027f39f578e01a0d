"""Firmware image for a board: board header and linker script generated from the .repl, then
arm-none-eabi-gcc over our C sources. Builds are cached by the hash of everything that goes in."""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from typing import Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.board import Board
from harness.errors import HarnessError
from harness.fit import MIN_STACK
from harness import placement as placement_module
from harness.placement import NULL_GUARD, Placement, decide, itcm_region, wants_placement

ROOT = Path(__file__).resolve().parent.parent
FIRMWARE = ROOT / "firmware"
CACHE = Path(os.environ.get("HARNESS_CACHE", ROOT / "build"))
# The bare-metal base of the test firmwares and the engine benchmark (firmware/bare/bare.h): its own startup
# and vector table, and the harness firmware's polled console driver. Test firmware passes
# sources=[its own .c, *BARE_SOURCES]; one that defines its own vector table leaves out vectors.c.
BARE_SOURCES = [FIRMWARE / "bare" / "bare.c", FIRMWARE / "bare" / "vectors.c", FIRMWARE / "src" / "console.c",
                FIRMWARE / "src" / "console_stm32_uart.c", FIRMWARE / "src" / "console_stm32f7_usart.c"]

# Compiler flags per Renode cpuType and FPU width: a fact of the toolchain, not of the board.
_CPU_FLAGS = {
    ("cortex-m4f", "single"): ["-mcpu=cortex-m4", "-mfpu=fpv4-sp-d16"],
    ("cortex-m7", "single"): ["-mcpu=cortex-m7", "-mfpu=fpv5-sp-d16"],
    ("cortex-m7", "double"): ["-mcpu=cortex-m7", "-mfpu=fpv5-d16"],
}
CFLAGS = ["-mthumb", "-mfloat-abi=hard", "-O2", "-g", "-std=c11", "-ffp-contract=off", "-Wall", "-Wextra", "-Werror",
          "-ffunction-sections", "-fdata-sections", "-ffreestanding", "-fno-common"]
LDFLAGS = ["-nostartfiles", "--specs=nano.specs", "-Wl,--gc-sections", "-Wl,--no-warn-rwx-segments"]
STACK_REFUSED = f"less than {MIN_STACK // 1024} KB left for the stack"     # the link's ASSERT, read back by _link


def cpu_flags(board: Board) -> list[str]:
    key = (board.cpu_type, board.fpu)
    try:
        return _CPU_FLAGS[key]
    except KeyError:
        raise HarnessError(f"{board.path}: no compiler flags for cpuType {key[0]} with a {key[1]} FPU") from None


def _port_pin(pin: str) -> tuple[str, int]:
    """'PA2' -> ('A', 2)."""
    return pin[1], int(pin[2:])


def board_header(board: Board) -> str:
    c = board.console
    uart = board.peripheral(c.uart)
    tx_port, tx_pin = _port_pin(c.tx)
    rx_port, rx_pin = _port_pin(c.rx)
    gpio = board.peripheral(f"gpioPort{tx_port}")
    rx_gpio = board.peripheral(f"gpioPort{rx_port}")
    clk = board.facts["clock"]
    # the UART's kernel clock is its bus's PCLK (RM0385 5.2: USART1/6 on APB2, USART2/3, UART4/5/7/8 on
    # APB1), and the clock-enable register the board names says which bus it hangs on
    bus = {"APB1ENR": "apb1div", "APB2ENR": "apb2div"}.get(c.rcc_enable[0])
    if bus is None:
        raise HarnessError(f"{board.path}: console rccenable={c.rcc_enable[0]}.{c.rcc_enable[1]} is on neither "
                           f"APB1ENR nor APB2ENR: no bus clock for the baud rate")
    uart_hz = board.clock_hz // int(clk[bus])
    ram_base, ram_size = board.ram_span
    uart_kind = {"UART.STM32_UART": "STM32_UART", "UART.STM32F7_USART": "STM32F7_USART"}.get(uart.cls)
    if uart_kind is None:
        raise HarnessError(f"{board.path}: no firmware driver for console class {uart.cls}")
    d = {
        "BOARD_NAME": f'"{board.name}"',
        "BOARD_TITLE": f'"{board.title}"',
        f"BOARD_CORE_{board.core.upper()}": "1",
        "BOARD_SYSCLK_HZ": f"{board.clock_hz}u",
        "BOARD_HSI_HZ": f"{int(clk['hsi'])}u",
        "BOARD_PLLM": clk["pllm"], "BOARD_PLLN": clk["plln"], "BOARD_PLLP": clk["pllp"], "BOARD_PLLQ": clk["pllq"],
        "BOARD_APB1_DIV": clk["apb1div"], "BOARD_APB2_DIV": clk["apb2div"],
        "BOARD_FLASH_WAIT_STATES": str(board.flash_wait_states),
        "BOARD_RCC_BASE": f"0x{board.peripheral_of_class('Miscellaneous.STM32F4_RCC').base:08X}u",
        "BOARD_PWR_BASE": f"0x{board.peripheral('pwr').base:08X}u",
        "BOARD_FLASH_IF_BASE": f"0x{board.peripheral('flash_interface').base:08X}u",
        "BOARD_SCS_BASE": f"0x{board.peripheral_of_class('IRQControllers.NVIC').base:08X}u",
        "BOARD_DWT_BASE": f"0x{board.peripheral_of_class('Miscellaneous.DWT').base:08X}u",
        f"BOARD_CONSOLE_{uart_kind}": "1",
        "BOARD_CONSOLE_BASE": f"0x{uart.base:08X}u",
        "BOARD_CONSOLE_BAUD": f"{c.baud}u",
        "BOARD_CONSOLE_CLOCK_HZ": f"{uart_hz}u",
        "BOARD_CONSOLE_RCC_ENR": f"RCC_{c.rcc_enable[0]}",
        "BOARD_CONSOLE_RCC_BIT": str(c.rcc_enable[1]),
        "BOARD_CONSOLE_GPIO_BASE": f"0x{gpio.base:08X}u",
        "BOARD_CONSOLE_GPIO_RCC_ENR": f"RCC_{c.gpio_enable[0]}",
        "BOARD_CONSOLE_GPIO_RCC_BIT": str(c.gpio_enable[1]),
        "BOARD_CONSOLE_RX_GPIO_BASE": f"0x{rx_gpio.base:08X}u",
        "BOARD_CONSOLE_RX_GPIO_RCC_ENR": f"RCC_{c.rx_gpio_enable[0]}",
        "BOARD_CONSOLE_RX_GPIO_RCC_BIT": str(c.rx_gpio_enable[1]),
        "BOARD_CONSOLE_TX_PIN": str(tx_pin), "BOARD_CONSOLE_RX_PIN": str(rx_pin), "BOARD_CONSOLE_AF": str(c.af),
        "BOARD_FLASH_BASE": f"0x{board.flash.base:08X}u", "BOARD_FLASH_SIZE": f"0x{board.flash.size:X}u",
        "BOARD_RAM_BASE": f"0x{ram_base:08X}u", "BOARD_RAM_SIZE": f"0x{ram_size:X}u",
    }
    if "hse" in clk:
        d["BOARD_HSE_HZ"] = f"{int(clk['hse'])}u"     # the board's crystal, for a firmware that runs from it
    if itcm_region(board) is not None:
        d["BOARD_HAS_ITCM"] = "1"        # firmware/src/startup.c copies .itcm from flash
    if "cache" in board.facts:
        cache = board.facts["cache"]
        d.update({"BOARD_HAS_CACHE": "1", "BOARD_DCACHE_BYTES": cache["dcache"],
                  "BOARD_DCACHE_WAYS": cache["ways"], "BOARD_CACHE_LINE": cache["line"]})
    lines = [f"/* Generated from {board.path.name} by harness/build.py: do not edit. */",
             "#ifndef BOARD_H", "#define BOARD_H"]
    lines += [f"#define {k} {v}" for k, v in d.items()]
    lines += ["#endif", ""]
    return "\n".join(lines)


def linker_script(board: Board, oversize: int = 1, placement: Placement | None = None) -> str:
    """FLASH holds code and constants; RAM is the contiguous data RAM from the first bank. The stack
    grows down from the top of RAM to the end of .data/.bss, painted at reset so its high-water can be read.
    `oversize` > 1 stretches both regions, only to measure an image that does not fit (never run).
    `placement` (harness/placement.py): functions linked to run from ITCM (loaded from flash, copied by
    the startup code), and the arena first in DTCM; without one the layout is the plain one. A board with
    an ITCM always gets the (maybe empty) .itcm section, so the startup code's copy loop has its symbols.
    .ARM.attributes (never loaded) stays in the ELF: `harness run` checks the architecture and FPU by it."""
    ram_base, ram_size = board.ram_span
    flash_size, ram_size = board.flash.size * oversize, ram_size * oversize
    itcm = itcm_region(board)
    memory = ""
    itcm_section = ""
    if itcm is not None:
        memory = (f"\n  ITCM  (rwx) : ORIGIN = 0x{itcm.base + NULL_GUARD:08X}, "
                  f"LENGTH = 0x{(itcm.size - NULL_GUARD) * oversize:X}")
        # Before .text: the first rule an input section matches places it.
        names = " ".join(f"*(.text.{f})" for f in (placement.itcm if placement else ()))
        itcm_section = (f"  .itcm : {{ . = ALIGN(4); _sitcm = .; {names} . = ALIGN(4); _eitcm = .; }} > ITCM AT > FLASH\n"
                        "  _siitcm = LOADADDR(.itcm);\n")
    data = ("  _sidata = LOADADDR(.data);\n"
            "  .data : { . = ALIGN(4); _sdata = .; *(.data*) . = ALIGN(4); _edata = .; } > RAM AT > FLASH\n")
    if placement is not None and placement.arena_first:
        # The arena at the base of the data RAM (DTCM), then the rest of .bss, then .data.
        ram = ("  .bss (NOLOAD) : { . = ALIGN(16); _sbss = .; *(.bss.tm_arena) *(.bss*) *(COMMON) . = ALIGN(8); _ebss = .; } > RAM\n"
               + data + "  _sstack = ALIGN(_edata, 8);\n")
    else:
        ram = (data + "  .bss (NOLOAD) : { . = ALIGN(4); _sbss = .; *(.bss*) *(COMMON) . = ALIGN(8); _ebss = .; } > RAM\n"
               "  _sstack = _ebss;\n")
    return f"""/* Generated from {board.path.name} by harness/build.py: do not edit. */
ENTRY(Reset_Handler)
MEMORY
{{
  FLASH (rx)  : ORIGIN = 0x{board.flash.base:08X}, LENGTH = 0x{flash_size:X}
  RAM   (rwx) : ORIGIN = 0x{ram_base:08X}, LENGTH = 0x{ram_size:X}{memory}
}}
_estack = ORIGIN(RAM) + LENGTH(RAM);
SECTIONS
{{
  .isr_vector : {{ KEEP(*(.isr_vector)) }} > FLASH
{itcm_section}  .text : {{ *(.text*) *(.glue_7) *(.glue_7t) KEEP(*(.init)) KEEP(*(.fini)) }} > FLASH
  .rodata : {{ . = ALIGN(4); *(.rodata*) . = ALIGN(4); }} > FLASH
  .ARM.exidx : {{ *(.ARM.exidx*) }} > FLASH
{ram}  ASSERT(_estack - _sstack >= {MIN_STACK}, "{STACK_REFUSED}")
}}
"""


@dataclass(frozen=True)
class Firmware:
    elf: Path
    board: Board
    key: str


def _toolchain() -> str:
    gcc = shutil.which("arm-none-eabi-gcc")
    if not gcc:
        raise HarnessError("arm-none-eabi-gcc not found: run `make setup` (apt gcc-arm-none-eabi libnewlib-arm-none-eabi)")
    return gcc


class DoesNotFit(HarnessError):
    pass


def build_firmware(board: Board, extra_sources: dict[str, str], name: str = "firmware",
                   sources: list[Path] | None = None, oversize: int = 1, hot: Sequence[str] = ()) -> Firmware:
    """Compile our firmware for `board`, with generated C files `extra_sources` (file name -> text).
    `sources` replaces the default source list (firmware/src, runtime, kernels) for test firmware. `hot`:
    the functions placement may move to ITCM on a board that has one, hottest first (the planner's
    kernels: harness/plan/emit.py hot_functions). Raises DoesNotFit when the image overflows the board's
    flash or RAM."""
    gcc = _toolchain()
    if sources is None:
        sources = sorted((FIRMWARE / "src").glob("*.c")) + sorted((FIRMWARE / "runtime").glob("*.c")) \
            + sorted((FIRMWARE / "kernels").rglob("*.c"))
    headers = sorted(FIRMWARE.rglob("*.h"))
    generated = {"board.h": board_header(board), "link.ld": linker_script(board, oversize), **extra_sources}
    flags = CFLAGS + cpu_flags(board)
    h = hashlib.sha256()
    for part in [gcc, *flags, *LDFLAGS]:
        h.update(part.encode())
    for p in [*sources, *headers]:
        h.update(str(p.relative_to(ROOT) if p.is_relative_to(ROOT) else p).encode())
        h.update(p.read_bytes())
    for k in sorted(generated):
        h.update(k.encode())
        h.update(generated[k].encode())
    if wants_placement(board):          # the second link's script is decided by that module's code
        h.update(Path(placement_module.__file__).read_bytes())
        h.update(" ".join(hot).encode())
    key = h.hexdigest()[:16]
    out = CACHE / "fw" / f"{board.name}-{name}-{key}{'-oversize' if oversize > 1 else ''}"
    elf = out / f"{name}.elf"
    if elf.is_file():
        return Firmware(elf, board, key)
    # Build in a private folder and rename it into place whole: processes building the same key at once
    # (pytest -n, run_matrix) never see or overwrite each other's half-written files.
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        for fname, text in generated.items():
            (work / fname).write_text(text)
        gen_c = [work / f for f in extra_sources if f.endswith(".c")]
        includes = [f"-I{work}", f"-I{FIRMWARE / 'src'}", f"-I{FIRMWARE / 'runtime'}", f"-I{FIRMWARE / 'kernels'}"]
        inputs = [*sources, *gen_c]
        if wants_placement(board):     # two links: compile once to objects (same order: the same layout)
            inputs = _compile(gcc, [*flags, *includes], inputs, work / "obj", board) or inputs
        cmd = [gcc, *flags, *LDFLAGS, *includes, "-T", str(work / "link.ld"), f"-Wl,-Map={work / (name + '.map')}",
               "-o", str(work / elf.name), *map(str, inputs), "-lm"]
        _link(cmd, board)
        if wants_placement(board):
            _place(board, cmd, work, name, elf.name, list(hot), oversize)
            shutil.rmtree(work / "obj", ignore_errors=True)     # only the links needed them
        _publish(work, out, elf)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return Firmware(elf, board, key)


def _compile(gcc: str, flags: list[str], sources: list[Path], objdir: Path, board: Board) -> list[Path] | None:
    """Objects of `sources`, compiled in one gcc run in `objdir`; None when two sources share a file name
    (their objects would too), and the links then compile from the sources each time."""
    if len({p.name for p in sources}) != len(sources):
        return None
    objdir.mkdir()
    proc = subprocess.run([gcc, *flags, "-c", *map(str, sources)], capture_output=True, text=True, cwd=objdir)
    if proc.returncode != 0:
        raise HarnessError(f"firmware build for {board.name} failed:\n{proc.stderr.strip()}")
    return [objdir / f"{p.stem}.o" for p in sources]


def _link(cmd: list[str], board: Board) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        if "overflowed" in proc.stderr or STACK_REFUSED in proc.stderr:
            raise DoesNotFit(f"firmware for {board.name} does not fit:\n{proc.stderr.strip()}")
        raise HarnessError(f"firmware build for {board.name} failed:\n{proc.stderr.strip()}")


def _place(board: Board, cmd: list[str], work: Path, name: str, elf_name: str, hot: list[str],
           oversize: int) -> None:
    """Second link with the placement decided from the first (harness/placement.py), recorded in
    placement.txt next to the ELF. Should ITCM overflow all the same (the estimate is the first link's
    sizes), the coldest placed group goes back to flash and the link is repeated."""
    first_map = (work / f"{name}.map").read_text()
    placement, grouped = decide(board, hot, work / elf_name, first_map)
    if placement.empty:
        (work / "placement.txt").write_text(placement.describe())
        return
    script = work / "link-placed.ld"
    cmd = [str(script) if c == str(work / "link.ld") else c for c in cmd]
    while True:
        script.write_text(linker_script(board, oversize, placement))
        try:
            _link(cmd, board)
            break
        except DoesNotFit as e:
            smaller = placement.without_coldest(grouped)
            if "`ITCM' overflowed" not in str(e) or smaller == placement:
                raise
            placement = smaller
    (work / "placement.txt").write_text(placement.describe())


def _publish(work: Path, out: Path, elf: Path) -> None:
    """Rename the finished build folder to `out`. When another process got there first, keep its build;
    a folder left without an ELF (an interrupted older build) is replaced."""
    for _ in range(3):
        try:
            os.rename(work, out)
            return
        except OSError:
            if elf.is_file():
                return
            shutil.rmtree(out, ignore_errors=True)
    raise HarnessError(f"cannot put the firmware build in place at {out}")
