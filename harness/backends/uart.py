"""UART.STM32_UART (the F4 layout) and UART.STM32F7_USART: the console's line in modelled time.

A frame lasts (start + data + stop bits) x the bit time, the bit time being what the firmware programmed:
BRR kernel clocks per bit with 16x oversampling, 8 x DIV_Mantissa + DIV_Fraction[2:0] with 8x (CR1.OVER8),
which is the same number on both layouts ("USART baud rate generation" / "Baud rate generation" in RM0390
and RM0385); data bits from CR1.M (F4) or M1:M0 (F7: 8, 9 or 7), stop bits from CR2.STOP (1, 0.5, 2,
1.5). The kernel clock is the UART's APB clock, PCLK = HCLK / the APB prescaler the firmware programmed
in RCC_CFGR (clocks.py); modelled cycles are HCLK cycles, so a bit lasts BRR x the prescaler cycles.
(The F7's DCKCFGR2 can select SYSCLK, HSI or LSE instead; that selection is not modelled.)

Transmit: TDR hands its byte to the shift register when that is free; TXE reads 1 once the last byte
written has moved there, TC once its frame has left (and not cleared since: F7 ICR.TCCF, F4 a 0 written
to SR.TC). The host is given each byte when it is written: what the timing changes is what the firmware
sees (its TXE/TC waits last as long as on the chip) and when an answer can arrive.
Receive: the engine queues the host's bytes with their arrival times (EmulatedBoard.write): a byte's
frame starts no earlier than the end of what the firmware was transmitting then (the host cannot answer a
line before it has left the wire) and no earlier than the end of the host's previous byte. RXNE reads 1
from the head byte's arrival. A byte the firmware has not read when the next one arrives waits, as if the
line were flow-controlled: nothing is lost to an overrun. Before the firmware has set BRR and UE a frame
takes no time (the old model: always ready).

Waiting: a status read that finds a flag not yet set tells the engine when the next one will be
(EmulatedBoard.wait_until), which skips the remaining turns of a side-effect-free polling loop at once."""
from __future__ import annotations

from harness.backends import clocks
from harness.backends.peripherals import RegisterFile

APB2_BASE = 0x4001_0000                  # RM0385 / RM0390 memory map: APB1 below, APB2 from here
STOP_HALF_BITS = (2, 1, 4, 3)            # CR2.STOP 00, 01, 10, 11: 1, 0.5, 2, 1.5 stop bits


class _StmUart(RegisterFile):
    """Polled or interrupt-driven STM32 U(S)ART. RX is the engine's console queue when this UART is the
    board's console. Transmit and receive follow the UE/TE/RE enables, as on the chip."""
    SR = RDR = TDR = CR1 = CR2 = 0
    UE = 0
    TE, RE = 1 << 3, 1 << 2
    TXE, TC, RXNE = 1 << 7, 1 << 6, 1 << 5
    TXEIE, TCIE, RXNEIE = 1 << 7, 1 << 6, 1 << 5    # CR1, the same bits on the F4 and F7 layouts
    OVER8 = 1 << 15                                  # CR1, both layouts
    BRR = 0
    M_BITS: tuple[tuple[int, int], ...] = ()         # (CR1 mask, data bits) in order of precedence

    def __init__(self, engine, periph):
        super().__init__(engine, periph)
        self.console = engine.board.console.uart == periph.name
        self.output = bytearray()           # what a non-console UART sent
        self.irq = periph.irqs.get("", periph.irqs.get("IRQ"))   # NVIC line from the .repl (`-> nvic@N`)
        self.bus = 2 if self.base >= APB2_BASE else 1
        self._tx_start = 0                  # cycle the last byte written moves from TDR to the shift register
        self._tx_end = 0                    # cycle its frame has left the line
        self._tc_cleared = -1               # cycle TC was last cleared by software
        self._line = False                  # the interrupt line as last set

    # -- the line
    def frame_cycles(self) -> int:
        """Modelled cycles one frame takes with the programmed format and baud rate; 0 while the UART is
        off or has no baud rate (then bytes move at once)."""
        cr1, brr = self.stored(self.CR1), self.stored(self.BRR) & 0xFFFF
        if not cr1 & self.UE or not brr:
            return 0
        clocks_per_bit = ((brr >> 4) << 3 | brr & 7) if cr1 & self.OVER8 else brr
        rcc = self.engine.rcc
        per_clock = clocks.apb_div(rcc.stored(clocks.CFGR), self.bus) if rcc is not None else 1
        data = next((bits for mask, bits in self.M_BITS if cr1 & mask), 8)
        half_bits = 2 * (1 + data) + STOP_HALF_BITS[(self.stored(self.CR2) >> 12) & 3]
        return -(-half_bits * clocks_per_bit * per_clock // 2)

    def tx_done_at(self) -> int:
        return self._tx_end

    # -- status
    def _on(self, bit: int) -> bool:
        cr1 = self.stored(self.CR1)
        return bool(cr1 & self.UE) and bool(cr1 & bit)

    def _rx_ready(self, now: int) -> bool:
        if not self.console:
            return False
        rx = self.engine.rx_queue     # (byte, arrival) from the host (EmulatedBoard.write)
        return bool(rx) and rx[0][1] <= now and self._on(self.RE)

    def status(self, now: int) -> int:
        value = self.TXE if now >= self._tx_start else 0
        if now >= self._tx_end and self._tx_end > self._tc_cleared:
            value |= self.TC
        return value | (self.RXNE if self._rx_ready(now) else 0) | self._acks()

    def _acks(self) -> int:
        return 0

    def _next_change(self, now: int) -> int | None:
        """The first cycle after `now` at which a status flag sets by itself, or None."""
        times = [t for t in (self._tx_start, self._tx_end) if t > now]
        if self.console:
            rx = self.engine.rx_queue
            if rx and rx[0][1] > now and self._on(self.RE):
                times.append(rx[0][1])
        return min(times) if times else None

    # -- the interrupt line (the engine samples it and asks for its next rising edge)
    def update_irq(self, now: int | None = None) -> None:
        """The interrupt line: a status flag (TXE, TC, RXNE) AND its enable in CR1, while UE is set."""
        if self.irq is None:
            return
        cr1 = self.stored(self.CR1)
        enabled = cr1 & (self.TXEIE | self.TCIE | self.RXNEIE) if cr1 & self.UE else 0
        if not enabled and not self._line:
            return                          # a polled UART: the line stays low, nothing to tell
        now = self.engine.now_cycles() if now is None else now
        self._line = bool(self.status(now) & enabled)
        self.engine.irq_level(self.irq, self._line)

    sample = update_irq

    def next_irq(self, now: int) -> int | None:
        """The cycle a flag whose interrupt is enabled sets by itself (TXE, TC, a byte's arrival), or None."""
        cr1 = self.stored(self.CR1)
        if self.irq is None or not cr1 & self.UE or not cr1 & (self.TXEIE | self.TCIE | self.RXNEIE):
            return None
        times = []
        if cr1 & self.TXEIE and self._tx_start > now:
            times.append(self._tx_start)
        if cr1 & self.TCIE and self._tx_end > now:
            times.append(self._tx_end)
        if cr1 & self.RXNEIE and self.console and self._on(self.RE):
            arrival = self.engine.console_rx_next()
            if arrival is not None and arrival > now:
                times.append(arrival)
        return min(times) if times else None

    # -- registers
    def read32(self, off):
        if off == self.SR:
            now = self.engine.now_cycles()
            value = self.status(now)
            later = self._wait(now, off, value)
            if later is not None:
                now = later
                value = self.status(now)
            if self.console and value & (self.TXE | self.TC) == self.TXE | self.TC:
                self.engine.console_polled(bool(value & self.RXNE))   # a transmit wait is not an RX wait
            return value
        if off == self.RDR:
            now = self.engine.now_cycles()
            ready = self._rx_ready(now)
            later = self._wait(now, off, 0) if self.console and not ready else None
            if later is not None:
                now = later
                ready = self._rx_ready(now)
            if self.console and not ready:
                self.engine.console_polled(False)       # a data read with nothing received: an RX wait too
            value = self.engine.console_rx_pop() if ready else 0
            self.update_irq(now)
            return value
        return super().read32(off)

    def _wait(self, now: int, off: int, value: int) -> int | None:
        """Let the engine skip a polling loop's turns until a flag sets; the cycle count then, when it did."""
        until = self._next_change(now)
        return None if until is None else self.engine.wait_until(until, (self.name, off, value), now)

    def write32(self, off, value, mask):
        if off == self.TDR:
            if self._on(self.TE):
                now = self.engine.now_cycles(after=True)
                if now < self._tx_start:
                    self.engine.warn_once(f"{self.name}: TDR written while TXE was 0: on the chip the byte "
                                          f"waiting in TDR is overwritten; here it is sent after it")
                self._tx_start = max(now, self._tx_end)
                self._tx_end = self._tx_start + self.frame_cycles()
                if self.console:
                    self.engine.console_tx(value & 0xFF)
                else:
                    self.output.append(value & 0xFF)
            self.update_irq()
            if self.stored(self.CR1) & (self.TXEIE | self.TCIE):
                self.engine.request_interrupt_check()      # TXE/TC will set at a new time (next_irq)
            return
        if off == self.SR:
            if mask & self.TC and not value & self.TC:
                self._tc_cleared = self.engine.now_cycles(after=True)     # F4: TC is cleared by writing 0
            return                          # the other flags are computed
        super().write32(off, value, mask)
        if off == self.CR1:
            self.update_irq()
            self.engine.request_interrupt_check()          # an interrupt enabled: its next time (next_irq)


class Stm32Uart(_StmUart):
    """UART.STM32_UART, the F4 layout: SR 0x00, DR 0x04, BRR 0x08, CR1 0x0C (UE bit 13, M bit 12),
    CR2 0x10."""
    SR, RDR, TDR, BRR, CR1, CR2 = 0x00, 0x04, 0x04, 0x08, 0x0C, 0x10
    UE = 1 << 13
    M_BITS = ((1 << 12, 9),)


class Stm32f7Usart(_StmUart):
    """UART.STM32F7_USART: CR1 0x00 (UE bit 0, M0 bit 12, M1 bit 28), CR2 0x04, BRR 0x0C, ISR 0x1C,
    ICR 0x20 (TCCF bit 6), RDR 0x24, TDR 0x28. ISR also shows TEACK/REACK, which the ST HAL waits for."""
    CR1, CR2, BRR, ISR, ICR, RQR = 0x00, 0x04, 0x0C, 0x1C, 0x20, 0x18
    SR, RDR, TDR = ISR, 0x24, 0x28
    UE = 1 << 0
    M_BITS = ((1 << 28, 7), (1 << 12, 9))
    TEACK, REACK = 1 << 21, 1 << 22
    TCCF = 1 << 6

    def _acks(self) -> int:
        cr1 = self.stored(self.CR1)
        if not cr1 & self.UE:
            return 0
        return (self.TEACK if cr1 & self.TE else 0) | (self.REACK if cr1 & self.RE else 0)

    def write32(self, off, value, mask):
        if off == self.ICR:
            if value & mask & self.TCCF:
                self._tc_cleared = self.engine.now_cycles(after=True)
            return                          # the other clear bits: nothing latched to clear
        if off == self.RQR:
            return                          # request bits: nothing to flush
        super().write32(off, value, mask)
