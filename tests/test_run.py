"""`harness run` (harness/run.py): a user's own ELF, built here with the Arm toolchain the way a user
would (their flags, a linker script that keeps .ARM.attributes), booted on the emulated board."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.board import load_board
from harness.build import BARE_SOURCES, board_header, linker_script
from harness.cli import app
from harness.profile import call_returns
from harness.run import WrongBoard, check_elf, latency, run_elf

pytestmark = pytest.mark.emulated

APP = Path(__file__).resolve().parent / "firmware" / "run_app.c"
FLAGS = {  # what a user passes for each chip (ST's CubeIDE defaults)
    "m4": ["-mcpu=cortex-m4", "-mfpu=fpv4-sp-d16"],
    "m7sp": ["-mcpu=cortex-m7", "-mfpu=fpv5-sp-d16"],
    "m7dp": ["-mcpu=cortex-m7", "-mfpu=fpv5-d16"],
}


def user_elf(tmp: Path, board_name: str, fpu: str, *defines: str, extra: str = "") -> Path:
    """Build run_app.c for `board_name`'s map with the given FPU flags, outside the harness's build."""
    board = load_board(board_name)
    out = tmp / f"{board_name}-{fpu}-{'-'.join(defines) or 'plain'}{'-x' if extra else ''}"
    out.mkdir(parents=True, exist_ok=True)
    (out / "board.h").write_text(board_header(board))
    (out / "link.ld").write_text(linker_script(board, 1))     # keeps .ARM.attributes, as a user's script does
    srcs = [str(APP), *map(str, BARE_SOURCES)]        # a user's project is several files too: see run_app.c
    if extra:
        (out / "extra.c").write_text(extra)
        srcs.append(str(out / "extra.c"))
    elf = out / "app.elf"
    cmd = ["arm-none-eabi-gcc", "-mthumb", *FLAGS[fpu], "-mfloat-abi=hard", "-O2", "-g", "-ffreestanding",
           "-nostartfiles", "--specs=nano.specs", "-Wl,--no-warn-rwx-segments", f"-I{out}", "-T",
           str(out / "link.ld"), *[f"-D{d}" for d in defines], "-o", str(elf), *srcs]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    return elf


@pytest.mark.parametrize("name,fpu", [("nucleo_f446re", "m4"), ("nucleo_f746zg", "m7sp")])
def test_run_until_and_measure_equals_the_function_profile(tmp_path, name, fpu, uncalibrated_tables):
    board = load_board(name)
    elf = user_elf(tmp_path, name, fpu)
    assert check_elf(board, elf) == []                       # attributes present and right
    # the region from work()'s entry to the instruction its caller returns to is exactly work(): its
    # cycles summed over the passes must equal the engine's per-function profile of work
    from harness.backends.emulated import EmulatedBoard
    probe = EmulatedBoard(board, elf)
    work = probe.symbol("work")
    (ret,) = call_returns(probe, target=work)
    seen = []
    res, engine = run_elf(board, elf, until=r"pass 4 Inference took", measure=[f"work:0x{ret:x}"],
                          on_line=seen.append, profile=True)
    assert res.reason == "until" and seen == res.lines and res.lines[0] == f"run_app {name} ready"
    assert len(res.lines) == 6 and res.lines[-1].startswith("pass 4 ")
    (m,) = res.measures
    assert len(m.passes) == 5
    prof = {p["function"]: p for p in engine.profile()}
    assert sum(t for _, t in m.passes) == prof["work"]["ticks"]
    assert sum(i for i, _ in m.passes) == prof["work"]["instructions"]
    s = m.summary(board)
    assert s["n"] == 5 and s["min"] < s["mean"] < s["max"]      # 100, 150, ... 300 loop turns
    # the firmware never leaves the reset clock, HSI at 16 MHz (RM0390 6.2.2 / RM0385 5.2.2): its milliseconds
    # are at that clock, and the table's status says so
    assert s["ms_max"] == pytest.approx(s["max"] / 16e6 * 1e3)
    assert s["calibration"].endswith("at the firmware's 16 MHz")
    assert res.instructions == engine.instructions and res.cycles == engine.cycles


def test_stops_on_semihosting_exit_fault_and_budget(tmp_path):
    board = load_board("nucleo_f446re")
    res, _ = run_elf(board, user_elf(tmp_path, "nucleo_f446re", "m4"))
    assert res.reason == "exit" and res.exit_code == 0 and res.lines[-1] == "done"
    res, _ = run_elf(board, user_elf(tmp_path, "nucleo_f446re", "m4", "CRASH"))
    assert res.reason == "fault" and "write to read-only" in res.detail and res.lines[-1] == "done"
    assert "console" in res.report
    res, _ = run_elf(board, user_elf(tmp_path, "nucleo_f446re", "m4", "SPIN"), budget=3_000_000)
    assert res.reason == "budget" and res.lines[-1] == "done"
    assert 3_000_000 <= res.cycles < 3_000_000 * 1.01


def test_wrong_board_is_refused_with_the_reason(tmp_path):
    f746, f446 = load_board("nucleo_f746zg"), load_board("nucleo_f446re")
    # an F767 build with double-precision FPv5: the F746's FPU is single precision
    with pytest.raises(WrongBoard, match="double-precision.*single-precision only"):
        check_elf(f746, user_elf(tmp_path, "nucleo_f767zi", "m7dp"))
    # a Cortex-M7 (FPv5) build on the M4, whose FPU is FPv4
    with pytest.raises(WrongBoard, match="FPv5.*FPv4-SP"):
        check_elf(f446, user_elf(tmp_path, "nucleo_f746zg", "m7sp"))
    # flash content past the F746's 1 MB (an F767 build, 2 MB of flash)
    big = "const unsigned char big_table[1100 * 1024] __attribute__((used)) = {1};\n"
    with pytest.raises(WrongBoard, match="not inside one memory region of nucleo_f746zg"):
        check_elf(f746, user_elf(tmp_path, "nucleo_f767zi", "m7sp", extra=big))
    res = CliRunner().invoke(app, ["run", "--board", "nucleo_f446re",
                                   str(user_elf(tmp_path, "nucleo_f746zg", "m7sp"))])
    assert res.exit_code == 2 and "FPv5" in res.output


def test_cli_run(tmp_path, uncalibrated_tables):
    elf = user_elf(tmp_path, "nucleo_f446re", "m4")
    res = CliRunner().invoke(app, ["run", "--board", "nucleo_f446re", str(elf), "--measure", "work:semihosting_exit"])
    assert res.exit_code == 0, res.output
    assert "pass 4 Inference took" in res.output and "semihosting exit, code 0" in res.output
    assert re.search(r"work:semihosting_exit\W+1\W", res.output)      # one pass: work's first entry to the exit
    # the firmware's own DWT readings: work(100) is the fastest pass, work(300) the slowest
    took = [int(x) for x in re.findall(r"Inference took (\d+) cycles", res.output)]
    assert len(took) == 5 and took == sorted(took) and took[0] > 100
    assert latency(load_board("nucleo_f446re"), 180_000).latency_ms == pytest.approx(1.0)   # uncalibrated: cycles / clock


def test_robot_keywords_run_a_users_elf(tmp_path):
    """Renode's way, through the Robot library: LoadELF a user's ELF, wait for its lines on the UART."""
    from harness.robot import Harness
    elf = user_elf(tmp_path, "nucleo_f746zg", "m7sp")
    h = Harness()
    h.execute_command('mach create "user"')
    h.execute_command("machine LoadPlatformDescription @renode/platforms/nucleo_f746zg.repl")
    h.execute_command(f"sysbus LoadELF @{elf}")
    h.create_terminal_tester("sysbus.usart3")
    h.start_emulation()
    assert h.wait_for_line_on_uart("run_app nucleo_f746zg ready").line == "run_app nucleo_f746zg ready"
    r = h.wait_for_line_on_uart(r"pass 4 Inference took (\d+) cycles", treatAsRegex=True)
    assert int(r.groups[0]) > 0
    # an ELF for another board is refused at LoadELF with the reason
    h.execute_command("machine LoadPlatformDescription @renode/platforms/nucleo_f446re.repl")
    with pytest.raises(AssertionError, match="FPv5"):
        h.execute_command(f"sysbus LoadELF @{elf}")


def test_pytest_fixture_for_a_users_elf(tmp_path, run_firmware):
    res = run_firmware("nucleo_f446re", user_elf(tmp_path, "nucleo_f446re", "m4"), until="pass 2 ",
                       measure=["work:semihosting_exit"])
    assert res.reason == "until" and res.lines[-1].startswith("pass 2 ")
    assert res.measures[0].passes == []            # semihosting_exit not reached yet: no complete pass


def test_cli_run_pty_ends_on_the_semihosting_exit(tmp_path):
    elf = user_elf(tmp_path, "nucleo_f446re", "m4")
    res = CliRunner().invoke(app, ["run", "--board", "nucleo_f446re", str(elf), "--pty"])
    assert res.exit_code == 0, res.output
    assert "/dev/pts/" in res.output and "semihosting exit, code 0" in res.output


def test_cli_run_names_unmodelled_peripherals_and_stops_on_them_when_strict(tmp_path):
    elf = user_elf(tmp_path, "nucleo_f446re", "m4", "TIMER")
    res = CliRunner().invoke(app, ["run", "--board", "nucleo_f446re", str(elf)])
    assert res.exit_code == 0, res.output                  # a warning: the run goes on to its exit
    assert re.search(r"warning: .*TIM12", res.output) and "semihosting exit, code 0" in res.output
    res = CliRunner().invoke(app, ["run", "--board", "nucleo_f446re", str(elf), "--strict"])
    assert res.exit_code == 1 and re.search(r"FAULT strict.*TIM12", res.output), res.output


@pytest.mark.parametrize("name", ["nucleo_f446re", "nucleo_f767zi"])
def test_the_projects_own_firmware_carries_its_build_attributes(name):
    """Issue 14, item 6: `harness run` on the harness's own DUT firmware checked nothing (its link dropped
    .ARM.attributes). The section is there, says ARMv7E-M (Tag_CPU_arch 13), and `harness run` has no note."""
    from harness import registry
    from harness.pipeline import build
    from harness.plan.lower import lower
    from harness.plan.model import load_model
    from harness.run import elf_attributes
    mid, path = registry.resolve("gen_ad_fc_s")
    board = load_board(name)
    elf = build(board, lower(load_model(path)), mid).elf
    attrs = elf_attributes(elf)
    assert attrs is not None and attrs["TAG_CPU_ARCH"] == 13
    assert check_elf(board, elf) == []
    res = CliRunner().invoke(app, ["run", "--board", name, str(elf), "--budget", "200000"])
    assert "ARM.attributes" not in res.output and "not checked" not in res.output, res.output


# a fault handler of the firmware's own that spins in a loop of more than one instruction (the engine's
# `b .` check does not see it): the fault must still be reported, with the fault status registers
SPINNING_HANDLER = '__attribute__((naked)) void HardFault_Handler(void) { __asm volatile("1: nop\\n b 1b\\n"); }\n'


def test_a_fault_into_the_firmwares_own_spinning_handler_is_reported(tmp_path):
    board = load_board("nucleo_f446re")
    elf = user_elf(tmp_path, "nucleo_f446re", "m4", "CRASH", extra=SPINNING_HANDLER)
    # the handler runs until the budget: the fault is the verdict, not the budget
    res, _ = run_elf(board, elf, budget=3_000_000)
    assert res.reason == "fault" and "write to read-only" in res.detail, res.detail
    assert "ran out of the cycle budget" in res.report
    assert re.search(r"CFSR 0x00008200 HFSR 0x40000000", res.report), res.report   # PRECISERR|BFARVALID, FORCED
    # a budget far away: the handler's own allowance ends the run with the fault
    res, engine = run_elf(board, elf, budget=2_000_000_000)
    assert res.reason == "fault" and "instructions later" in res.report, res.report
    assert engine.instructions < 30_000_000


def test_cli_run_default_budget_and_until_never_matched(tmp_path, monkeypatch):
    import harness.run
    elf = user_elf(tmp_path, "nucleo_f446re", "m4", "SPIN")
    monkeypatch.setattr(harness.run, "DEFAULT_BUDGET_SECONDS", 0.02)      # 3.6 M cycles at 180 MHz
    res = CliRunner().invoke(app, ["run", "--board", "nucleo_f446re", str(elf)])
    assert res.exit_code == 0, res.output
    assert "stopped: cycle budget of 3,600,000 reached (default budget; --budget to change)" in res.output
    # --until given and never matched: a budget stop is a failure
    res = CliRunner().invoke(app, ["run", "--board", "nucleo_f446re", str(elf), "--until", "never", "--budget", "1000000"])
    assert res.exit_code == 1 and "cycle budget of 1,000,000 reached" in res.output, res.output


@pytest.mark.parametrize("spin", ["SPIN", "SPIN_MMIO"])
def test_cli_run_stops_on_ctrl_c(tmp_path, spin):
    """SIGINT while the firmware spins: SPIN touches no peripheral (no Python runs inside the emulator),
    SPIN_MMIO reads one the engine models in Python (the signal lands inside a Unicorn callback)."""
    import os
    import signal
    import sys
    import time
    elf = user_elf(tmp_path, "nucleo_f446re", "m4", spin)
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(root)}
    proc = subprocess.Popen([sys.executable, "-m", "harness", "run", "--board", "nucleo_f446re", str(elf),
                             "--budget", str(10 ** 15)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, cwd=root)
    try:
        assert proc.stdout.readline().startswith("run_app")
        while proc.stdout.readline().strip() != "done":
            pass
        time.sleep(0.5)                         # well inside the spin
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
        took = time.monotonic() - sent
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "stopped: interrupted" in err and "Traceback" not in err and "FAULT" not in err, err
    assert took < 5

