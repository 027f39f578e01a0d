"""Robot Framework keyword library: `Library    harness.robot.Harness` (optionally `engine=renode`).

Low-level keywords carry Renode's names and arguments (renode_keywords.py): Execute Command (the monitor
commands mach create, machine LoadPlatformDescription, sysbus LoadELF, ...), Start Emulation, Reset
Emulation, Create Terminal Tester, Wait For Line On Uart (treatAsRegex; returns line and groups),
Write Line To Uart, Register Failing Uart String, Should Not Be On Uart. Domain keywords
(harness_keywords.py): Build Firmware, Model Should Fit Board (With Patches), Output Should Match TFLM, Cycles Should
Be Below, Latency Should Be Below, Zoo Fit Verdicts Should Match Registry.

The engine is the built-in emulated board by default; `engine=renode` (or $HARNESS_ROBOT_ENGINE) sends
the monitor commands to a `renode` on PATH instead.
"""
from __future__ import annotations

import os

from harness.robot.emulation import Emulation
from harness.robot.harness_keywords import HarnessKeywords
from harness.robot.renode_keywords import RenodeKeywords

# The firmware's own fault banner (firmware/src/startup.c); suites register it as a failing string.
FAULT_BANNER = "e-[fault "


class Harness(RenodeKeywords, HarnessKeywords):
    ROBOT_LIBRARY_SCOPE = "SUITE"
    ROBOT_LIBRARY_DOC_FORMAT = "TEXT"

    def __init__(self, engine: str | None = None):
        self.engine = engine or os.environ.get("HARNESS_ROBOT_ENGINE", "emulated")
        self.emulation = Emulation(self.engine)
        self._init_domain()

    def get_fault_banner(self) -> str:
        """The line start the firmware's fault handlers print (`e-[fault HardFault]`)."""
        return FAULT_BANNER


__all__ = ["Harness", "FAULT_BANNER"]
