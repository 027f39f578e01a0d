"""Low-level keywords, named and shaped as Renode's (RenodeKeywords.cs, UartKeywords.cs), so a suite
written against them runs on our emulated board or on Renode."""
from __future__ import annotations

import re

from robot.api.deco import keyword

from harness.robot.emulation import Emulation, KeywordError, TesterResult

DEFAULT_TIMEOUT = 8.0      # s of virtual time, Renode's default


def _bool(value) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "1", "on")
    return bool(value)


class RenodeKeywords:
    emulation: Emulation

    @keyword("Execute Command")
    def execute_command(self, command: str, machine: str | None = None) -> str:
        """A monitor command. Supported: `using sysbus`, `mach create "name"`, `mach set "name"`,
        `mach clear`, `machine LoadPlatformDescription @file.repl`, `sysbus LoadELF @file.elf`,
        `machine Reset`, `start`."""
        if machine:
            self.emulation.execute(f'mach set "{machine}"')
        return self.emulation.execute(command)

    @keyword("Start Emulation")
    def start_emulation(self) -> None:
        """Start every machine that has a platform and an ELF."""
        self.emulation.start()

    @keyword("Reset Emulation")
    def reset_emulation(self) -> None:
        """Remove every machine and tester, as Renode's keyword does (use in teardowns)."""
        self.emulation.close()
        self.emulation = Emulation(self.engine)

    @keyword("Create Terminal Tester")
    def create_terminal_tester(self, uart: str, timeout: float = DEFAULT_TIMEOUT, machine: str | None = None,
                               defaultPauseEmulation: bool = False) -> int:
        """A tester on `uart` (the board's console, e.g. sysbus.usart2); returns its id. `timeout` is
        the default for its waits, in seconds of virtual time."""
        return self.emulation.create_tester(uart, float(timeout), machine)

    @keyword("Wait For Line On Uart")
    def wait_for_line_on_uart(self, content: str, timeout: float | None = None, testerId: int | None = None,
                              treatAsRegex: bool = False, includeUnfinishedLine: bool = False,
                              pauseEmulation: bool | None = None, matchNextLine: bool | None = None) -> TesterResult:
        """Run until a console line contains `content` (with treatAsRegex, matches it anywhere); returns
        `line`, `groups` (the regex groups) and `timestamp` (virtual seconds). Fails when the time runs
        out, the firmware faults, waits for input, or a registered failing string appears."""
        tester = self.emulation.tester(testerId)
        regex = _bool(treatAsRegex)
        if _bool(matchNextLine):
            line = tester.next_line(timeout, f"Line {content!r}")
            m = re.search(content, line) if regex else None
            if (regex and m is None) or (not regex and content not in line):
                raise KeywordError(f"Terminal tester failed!\n\nthe next line {line!r} does not match {content!r}")
            return TesterResult(line, list(m.groups()) if m else [], tester.now())
        return tester.wait_for(content, timeout, regex)

    @keyword("Wait For Next Line On Uart")
    def wait_for_next_line_on_uart(self, timeout: float | None = None, testerId: int | None = None) -> TesterResult:
        tester = self.emulation.tester(testerId)
        return TesterResult(tester.next_line(timeout, "The next line"), [], tester.now())

    @keyword("Write Line To Uart")
    def write_line_to_uart(self, content: str = "", testerId: int | None = None, waitForEcho: bool = True) -> None:
        """Send `content` and a line feed to the console. With waitForEcho (Renode's default) wait for the
        line to come back; our firmware does not echo, so suites pass waitForEcho=false."""
        tester = self.emulation.tester(testerId)
        tester.write(content.encode() + b"\n")
        if _bool(waitForEcho):
            tester.wait_for(content, None, False)

    @keyword("Write To Uart")
    def write_to_uart(self, content: str, testerId: int | None = None) -> None:
        """Send `content` as it is, no line ending (e.g. an MLPerf Tiny command ending in %)."""
        self.emulation.tester(testerId).write(content.encode())

    @keyword("Register Failing Uart String")
    def register_failing_uart_string(self, pattern: str, treatAsRegex: bool = False, testerId: int | None = None) -> None:
        """Any later line containing `pattern` fails the wait that reads it at once."""
        self.emulation.tester(testerId).failing.append((pattern, _bool(treatAsRegex)))

    @keyword("Should Not Be On Uart")
    def should_not_be_on_uart(self, content: str, timeout: float | None = None, testerId: int | None = None,
                              treatAsRegex: bool = False) -> None:
        """No line contains `content` for `timeout` seconds of virtual time (or until the firmware waits
        for input, after which it sends nothing more)."""
        tester = self.emulation.tester(testerId)
        try:
            result = tester.wait_for(content, timeout if timeout is not None else tester.timeout, _bool(treatAsRegex))
        except KeywordError as e:
            if "did not appear" in str(e):
                return
            raise
        raise KeywordError(f"Terminal tester failed!\n\n{content!r} appeared on {tester.uart}: {result.line}")
