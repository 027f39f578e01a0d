"""ARM semihosting for the emulated board (Arm "Semihosting for AArch32 and AArch64", v2): a `BKPT 0xAB`
in Thumb state asks the debugger host for a service, operation in r0, parameter (block) address in r1,
result in r0. The engine stands in for the debugger:

- SYS_WRITEC (0x03), SYS_WRITE0 (0x04), SYS_WRITE (0x05) to stdout/stderr (handles from SYS_OPEN of
  ":tt", and 1/2 as newlib's rdimon uses them) go to the console stream, as if the UART had sent them;
- SYS_OPEN of ":tt" (the console), SYS_CLOSE, SYS_ISTTY, SYS_ERRNO, SYS_FLEN, SYS_CLOCK, SYS_TIME,
  SYS_HEAPINFO (no heap information: zeros, the C library keeps its own);
- SYS_EXIT (0x18, AArch32: r1 is the reason; ADP_Stopped_ApplicationExit = exit code 0, anything else 1)
  and SYS_EXIT_EXTENDED (0x20, r1 -> [reason, code]) stop the run cleanly with the exit code;
- any other operation returns -1 (the specification's error result).
A BKPT with any other immediate is a breakpoint with no debugger: HardFault on silicon (the engine's
fault path). On the chip without a debugger attached, BKPT 0xAB itself also faults; the engine models
the board as run under a debugger with semihosting enabled, as `harness run` and Renode do.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from unicorn import arm_const as A

if TYPE_CHECKING:
    from harness.backends.emulated import EmulatedBoard

SYS_OPEN, SYS_CLOSE, SYS_WRITEC, SYS_WRITE0, SYS_WRITE = 0x01, 0x02, 0x03, 0x04, 0x05
SYS_ISTTY, SYS_FLEN, SYS_CLOCK, SYS_TIME, SYS_ERRNO = 0x09, 0x0C, 0x10, 0x11, 0x13
SYS_HEAPINFO, SYS_EXIT, SYS_EXIT_EXTENDED = 0x16, 0x18, 0x20
ADP_STOPPED_APPLICATION_EXIT = 0x20026
BKPT_SEMIHOSTING = 0xBEAB           # Thumb BKPT #0xAB
CONSOLE_HANDLES = (1, 2)            # stdout, stderr (SYS_OPEN ":tt" hands them out)


class Semihosting:
    def __init__(self, engine: "EmulatedBoard"):
        self.engine = engine
        self.calls = 0
        self._opened = 0

    def _word(self, addr: int) -> int:
        return int.from_bytes(self.engine.uc.mem_read(addr, 4), "little")

    def _string(self, addr: int, limit: int = 1 << 16) -> bytes:
        out = bytearray()
        while len(out) < limit:
            b = self.engine.uc.mem_read(addr + len(out), 1)[0]
            if b == 0:
                break
            out.append(b)
        return bytes(out)

    def _emit(self, data: bytes) -> None:
        for b in data:
            self.engine.console_tx(b)

    def at_bkpt(self, pc: int) -> str | None:
        """The CPU stopped at `pc` with an unhandled exception: 'continue' after a semihosting call,
        'exit' after SYS_EXIT (engine.exit_code set), 'bkpt' for another breakpoint, None when `pc` is
        not a BKPT."""
        eng, uc = self.engine, self.engine.uc
        try:
            hw = int.from_bytes(uc.mem_read(pc, 2), "little")
        except Exception:
            return None
        if hw & 0xFF00 != 0xBE00:
            return None
        if hw != BKPT_SEMIHOSTING:
            return "bkpt"
        self.calls += 1
        op, arg = uc.reg_read(A.UC_ARM_REG_R0), uc.reg_read(A.UC_ARM_REG_R1)
        result = 0
        stop = "continue"
        if op == SYS_WRITEC:
            self._emit(bytes(uc.mem_read(arg, 1)))
        elif op == SYS_WRITE0:
            self._emit(self._string(arg))
        elif op == SYS_WRITE:
            handle, buf, length = self._word(arg), self._word(arg + 4), self._word(arg + 8)
            if handle in CONSOLE_HANDLES:
                self._emit(bytes(uc.mem_read(buf, length)))
            else:
                result = length                      # nothing written
        elif op == SYS_OPEN:
            name = self._string(self._word(arg), 256)
            if name == b":tt":
                mode = self._word(arg + 4)
                result = 2 if mode >= 8 else 1      # modes 8-11 ("a"): stderr by convention; w: stdout
                if mode < 4:
                    result = 0                      # stdin: handle 0
            else:
                result = 0xFFFFFFFF
        elif op in (SYS_CLOSE, SYS_ERRNO, SYS_FLEN):
            result = 0
        elif op == SYS_ISTTY:
            result = 1
        elif op in (SYS_CLOCK, SYS_TIME):
            seconds = eng.seconds(eng.now_cycles())     # at the clock the firmware programmed
            result = int(seconds * 100) if op == SYS_CLOCK else int(seconds)
        elif op == SYS_HEAPINFO:
            block = self._word(arg)
            uc.mem_write(block, bytes(16))
        elif op == SYS_EXIT:
            eng.exit_code = 0 if arg == ADP_STOPPED_APPLICATION_EXIT else 1
            stop = "exit"
        elif op == SYS_EXIT_EXTENDED:
            reason, code = self._word(arg), self._word(arg + 4)
            eng.exit_code = code if reason == ADP_STOPPED_APPLICATION_EXIT else (code or 1)
            stop = "exit"
        else:
            result = 0xFFFFFFFF
        if stop == "continue":
            uc.reg_write(A.UC_ARM_REG_R0, result & 0xFFFFFFFF)
        eng.step_over(pc, 2)
        return stop
