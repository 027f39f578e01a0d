"""The Robot keyword library: Renode's keyword names and arguments, our monitor-command subset, and the
units the domain keywords accept. The suites themselves run under `robot robot_tests/` (make test)."""
from __future__ import annotations

import pytest
from robot.libdocpkg import LibraryDocumentation

from harness.robot.emulation import Emulation, KeywordError
from harness.robot.harness_keywords import parse_count, parse_latency_us

RENODE_NAMES = {
    "Execute Command": ["command"],
    "Start Emulation": [],
    "Reset Emulation": [],
    "Create Terminal Tester": ["uart", "timeout", "machine"],
    "Wait For Line On Uart": ["content", "timeout", "testerId", "treatAsRegex", "includeUnfinishedLine"],
    "Write Line To Uart": ["content", "testerId", "waitForEcho"],
    "Register Failing Uart String": ["pattern", "treatAsRegex"],
    "Should Not Be On Uart": ["content", "timeout"],
}
DOMAIN = ["Build Firmware", "Model Should Fit Board", "Output Should Match TFLM", "Cycles Should Be Below",
          "Latency Should Be Below", "Zoo Fit Verdicts Should Match Registry"]


def test_keywords_carry_renodes_names_and_arguments():
    doc = LibraryDocumentation("harness.robot.Harness")
    keywords = {kw.name: [a.name for a in kw.args] for kw in doc.keywords}
    for name, args in RENODE_NAMES.items():
        assert name in keywords, name
        assert keywords[name][:len(args)] == args, name
    for name in DOMAIN:
        assert name in keywords, name
    assert all(kw.doc for kw in doc.keywords if kw.name in RENODE_NAMES or kw.name in DOMAIN)


def test_monitor_commands(tmp_path):
    emu = Emulation()
    emu.execute("using sysbus")
    emu.execute('mach create "f446"')
    emu.execute("machine LoadPlatformDescription @renode/platforms/nucleo_f446re.repl")
    assert emu.machine().board.name == "nucleo_f446re"
    with pytest.raises(KeywordError, match="no ELF at"):
        emu.execute(f"sysbus LoadELF @{tmp_path / 'none.elf'}")
    with pytest.raises(KeywordError, match="only the console UART is modelled on nucleo_f446re: sysbus.usart2"):
        emu.create_tester("sysbus.usart1", 8, None)
    assert emu.create_tester("sysbus.usart2", 8, None) == 1
    with pytest.raises(KeywordError, match="not supported by the emulated engine"):
        emu.execute("cpu PerformanceInMips 100")


@pytest.mark.parametrize("text, us", [("5 ms", 5000), ("250us", 250), ("0.2 s", 200000), ("3", 3000)])
def test_latency_units(text, us):
    assert parse_latency_us(text) == pytest.approx(us)


@pytest.mark.parametrize("text, n", [("90_000_000", 90_000_000), ("10M", 10_000_000), ("2.5k", 2500), ("9e6", 9_000_000)])
def test_counts(text, n):
    assert parse_count(text) == n
