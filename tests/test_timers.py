"""The STM32 timer model (harness/backends/timers.py) and the clock tree it runs on (clocks.py), held to
RM0385 / RM0390: TIMxCLK is PCLK1 when the APB1 prescaler is 1, else 2 x PCLK1; the counter advances once
per PSC + 1 timer clocks after CEN; an update event every (PSC + 1) x (ARR + 1) timer clocks sets UIF and,
with UIE, interrupts; one-pulse mode clears CEN at it. The firmware (tests/firmware/tim_bench.c) reads
TIM2 and DWT CYCCNT; the cycle of every timer access comes from the model's own log (the engine's cycle
count at that instruction, what CYCCNT counts), and the expected values are computed here from the RM's
rules alone."""
from __future__ import annotations

from fractions import Fraction

import pytest

from harness.backends import clocks
from firmware_boot import boot, firmware

BOARDS = ["nucleo_f446re", "nucleo_f746zg", "disco_f746ng"]
CR1, SR, CNT = 0x00, 0x10, 0x24
UEV_LATENCY = 64        # cycles from the update event to the handler's first store: entry (12) + WFI wake + prologue


@pytest.fixture(scope="module")
def bench():
    return firmware("tim_bench", vectors=False)


def ask(engine, command: str) -> list[int]:
    engine.write(f"{command}\n".encode())
    name, *values = engine.read_line().split()
    assert name == command.split()[0], (command, name, values)
    return [int(v) for v in values]


def timer_ratio(apb1_div: int) -> Fraction:
    """TIMxCLK / HCLK, RM0385 5.2 / RM0390 6.2 (TIMPRE clear)."""
    return Fraction(1) if apb1_div == 1 else Fraction(2, apb1_div)


def edges(t: int, ratio: Fraction) -> int:
    return t * ratio.numerator // ratio.denominator


def log(engine, off: int, write: bool, since: int = 0) -> list[tuple[int, int]]:
    return [(t, v) for t, o, w, v in list(engine.peripherals["timer2"].log)[since:] if o == off and w == write]


def enable_cycle(engine, since: int) -> int:
    return next(t for t, v in log(engine, CR1, True, since) if v & 1)


def program(engine, plln: int) -> None:
    engine.write(f"clock {plln}\n".encode())
    assert engine.read_line() == "clock ok"


def check_free(engine, sysclk: int, apb1_div: int, loops: int = 200) -> None:
    """TIM2 at 1 MHz around a loop: each CNT read is the RM's count at that read's cycle, and the
    difference is the cycles between the reads over SYSCLK / 1 MHz (the prescaler's floor)."""
    ratio = timer_ratio(apb1_div)
    psc = int(sysclk * ratio) // 1_000_000 - 1
    per_count = sysclk // 1_000_000                          # core cycles per microsecond
    since = len(engine.peripherals["timer2"].log)
    cnt0, cnt1, c0, c1 = ask(engine, f"free {psc} {loops}")
    t_en = enable_cycle(engine, since)
    (t0, v0), (t1, v1) = log(engine, CNT, False, since)
    assert (v0, v1) == (cnt0, cnt1)
    for t, v in ((t0, cnt0), (t1, cnt1)):
        assert v == (edges(t, ratio) - edges(t_en, ratio)) // (psc + 1)
    assert cnt1 - cnt0 in ((t1 - t0) // per_count, (t1 - t0) // per_count + 1)   # the phase of t_en
    assert cnt1 - cnt0 >= 2
    assert abs((cnt1 - cnt0) - (c1 - c0) / per_count) <= 2       # DWT CYCCNT agrees (reads a few cycles apart)


@pytest.mark.parametrize("name", BOARDS + ["nucleo_f767zi"])
def test_free_running_counter(bench, name):
    engine = boot(bench, name)
    check_free(engine, 16_000_000, 1)                          # reset: HSI, APB1 /1, TIMxCLK = HCLK
    program(engine, int(engine.board.facts["clock"]["plln"]))
    check_free(engine, engine.board.clock_hz, int(engine.board.facts["clock"]["apb1div"]))


@pytest.mark.parametrize("name", BOARDS)
@pytest.mark.parametrize("kind", ["update", "compare"])
def test_timer_interrupt(bench, name, kind):
    """The update event every (psc + 1) x (arr + 1) timer clocks from CEN, UIF into the NVIC with UIE; and
    channel 1 in output compare: CC1IF when the counter counts to CCR1, (psc + 1) x ccr timer clocks after
    CEN and then once a period, into the NVIC with CC1IE (RM0385 / RM0390 "Output compare mode"). The
    handler's clear of the flags follows each event within the entry latency."""
    engine = boot(bench, name)
    program(engine, int(engine.board.facts["clock"]["plln"]))
    ratio = timer_ratio(int(engine.board.facts["clock"]["apb1div"]))
    psc, arr, ccr, n = 4, 999, 300, 6
    period = (psc + 1) * (arr + 1)                             # timer clocks per update event
    first_event = period if kind == "update" else (psc + 1) * ccr
    since = len(engine.peripherals["timer2"].log)
    command = f"update {psc} {arr} {n}" if kind == "update" else f"compare {psc} {arr} {ccr} {n}"
    count, first, last = ask(engine, command)
    assert count == n
    t_en = enable_cycle(engine, since)
    clears = [t for t, _ in log(engine, SR, True, since)][1:]     # the handler's clears (after setup's)
    assert len(clears) == n
    for k, t in enumerate(clears):
        event = edges(t_en, ratio) + first_event + k * period
        cycle = -(-event * ratio.denominator // ratio.numerator)   # the first cycle there
        assert cycle <= t < cycle + UEV_LATENCY, (k, t, cycle)
    cycles = int(period / ratio)
    assert [b - a for a, b in zip(clears, clears[1:])] == [cycles] * (n - 1)   # N handlers in (N-1) x period
    assert abs((last - first) - (n - 1) * cycles) <= 1              # CYCCNT floors the M7's half cycles


@pytest.mark.parametrize("name", BOARDS[:2])
def test_one_pulse_stops_the_counter(bench, name):
    engine = boot(bench, name)
    psc, arr = 15, 49
    since = len(engine.peripherals["timer2"].log)
    cr1, cnt, sr, c0, c1 = ask(engine, f"opm {psc} {arr}")
    assert cr1 == 1 << 3 and cnt == 0 and sr & 1                # OPM kept, CEN cleared, UIF set, counter at 0
    t_en = enable_cycle(engine, since)
    uev = t_en + (psc + 1) * (arr + 1)                           # reset clock: TIMxCLK = HCLK
    polls = log(engine, CR1, False, since)
    running = [t for t, v in polls if v & 1]
    stopped = [t for t, v in polls if not v & 1]
    assert running and max(running) < uev <= stopped[0]
    assert c1 - c0 >= (psc + 1) * (arr + 1)


def test_pll_at_168_mhz_warns_and_times_at_168(bench):
    engine = boot(bench, "nucleo_f746zg")
    program(engine, 168)                                          # HSI / 8 * 168 / 2
    check_free(engine, 168_000_000, 4)
    (warning,) = engine.warnings
    assert warning == ("clock: firmware runs SYSCLK at 168 MHz, the board's nominal is 216 MHz; "
                       "modelled time follows the firmware")


def test_hse_path_on_the_discovery(bench):
    """The 25 MHz crystal (disco_f746ng's hse= fact) / 25 * 432 / 2 = 216 MHz: the nominal clock, no
    warning, and TIM2 at 1 MHz counts SYSCLK / 1 MHz cycles."""
    engine = boot(bench, "disco_f746ng")
    engine.write(b"clock 432 25\n")
    assert engine.read_line() == "clock ok"
    check_free(engine, 216_000_000, 4)
    assert engine.warnings == []


def test_hse_the_board_does_not_state(bench):
    """nucleo_f746zg's .repl gives no HSE frequency: SYSCLK is unknown, said once; the timers still follow
    the prescalers (TIMxCLK / HCLK does not depend on it)."""
    engine = boot(bench, "nucleo_f746zg")
    engine.write(b"clock 432 25\n")
    assert engine.read_line() == "clock ok"
    check_free(engine, 216_000_000, 4)
    assert len(engine.warnings) == 1 and "HSE, whose frequency nucleo_f746zg does not state" in engine.warnings[0]


def test_nominal_clock_does_not_warn(bench):
    engine = boot(bench, "nucleo_f446re")
    program(engine, 180)
    check_free(engine, 180_000_000, 4)
    assert engine.warnings == []


def test_reset_clock_is_named_when_a_timer_starts(bench):
    engine = boot(bench, "nucleo_f746zg")
    check_free(engine, 16_000_000, 1)
    assert engine.warnings == ["clock: firmware runs SYSCLK at 16 MHz, the board's nominal is 216 MHz; "
                               "modelled time follows the firmware"]


# -------------------------------------------------------------------- the clock tree's arithmetic (RM tables)

def test_clock_tree_fields():
    # CFGR.PPRE1 100 = /2, 101 = /4, 111 = /16; HPRE 1000 = /2, 1100 = /64 (no /32)
    assert [clocks.apb_div(code << 10, 1) for code in range(8)] == [1, 1, 1, 1, 2, 4, 8, 16]
    assert clocks.apb_div(5 << 13, 2) == 4
    assert clocks.ahb_div(8 << 4) == 2 and clocks.ahb_div(12 << 4) == 64 and clocks.ahb_div(7 << 4) == 1
    # 25 MHz HSE / 25 * 432 / 2 = 216 MHz (the DISCO's SystemClock_Config); HSI / 8 * 180 / 2 = 180 MHz
    hse_pll = 25 | 432 << 6 | clocks.PLLSRC_HSE
    assert clocks.pll_out(hse_pll, 16_000_000, 25_000_000) == 216_000_000
    assert clocks.pll_out(8 | 180 << 6, 16_000_000, None) == 180_000_000
    assert clocks.pll_out(hse_pll, 16_000_000, None) is None      # an HSE the board does not state
    assert clocks.sysclk({clocks.CFGR: 2, clocks.PLLCFGR: hse_pll}, 16_000_000, 25_000_000) == 216_000_000
    assert clocks.sysclk({clocks.CFGR: 1}, 16_000_000, 25_000_000) == 25_000_000
    # TIMxCLK: x2 when APB is divided; TIMPRE: HCLK up to /4, then 4 x PCLK
    assert clocks.timer_ratio({clocks.CFGR: 5 << 10}, 1) == Fraction(1, 2)
    assert clocks.timer_ratio({clocks.CFGR: 0}, 1) == 1
    assert clocks.timer_ratio({clocks.CFGR: 5 << 10, clocks.DCKCFGR: clocks.TIMPRE}, 1) == 1
    assert clocks.timer_ratio({clocks.CFGR: 6 << 10, clocks.DCKCFGR: clocks.TIMPRE}, 1) == Fraction(1, 2)


# -------------------------------------------------------------------- register semantics on a bare model

class _Engine:
    """What the timer asks of the engine: the cycle count, the RCC (none: TIMxCLK = HCLK), the NVIC."""
    rcc = None

    def __init__(self):
        self.t, self.lines, self.warnings = 0, {}, []
        self.board = None
        self.exceptions = type("X", (), {"is_enabled": staticmethod(lambda exc: True)})()

    def now_cycles(self, after: bool = False) -> int:
        return self.t

    def irq_level(self, irq, level):
        self.lines[irq] = level

    def timer_started(self):
        pass

    def request_interrupt_check(self):
        pass


def bare_timer(limit: str = "0xFFFF"):
    from harness.backends.timers import Stm32Timer
    from harness.board import Peripheral
    engine = _Engine()
    timer = Stm32Timer(engine, Peripheral("timer3", "Timers.STM32_Timer", 0x40000400, 0x400,
                                          {"initialLimit": limit}, {"": 29}))
    return engine, timer


def at(engine, timer, t, off=CNT):
    engine.t = t
    return timer.read(off, 4)


def test_prescaler_is_preloaded_until_an_update():
    """RM: PSC is buffered; without UG the new value applies from the first update event on."""
    engine, tim = bare_timer()
    tim.write(0x28, 4, 3)                                      # PSC = 3 (preload only)
    tim.write(0x2C, 4, 9)                                      # ARR = 9, ARPE clear: at once
    tim.write(CR1, 4, 1)                                       # CEN at cycle 0
    assert at(engine, tim, 5) == 5                             # still /1
    assert at(engine, tim, 10) == 0 and at(engine, tim, 10, SR) & 1   # overflow: UEV, UIF
    assert at(engine, tim, 17) == 1 and at(engine, tim, 18) == 2      # now /4
    assert engine.lines[29] is False                           # UIE clear: the line stays low


def test_update_request_source_and_disable():
    engine, tim = bare_timer()
    tim.write(CR1, 4, 1 << 2)                                  # URS: only overflow sets UIF
    tim.write(0x14, 4, 1)                                      # UG
    assert at(engine, tim, 0, SR) & 1 == 0
    tim.write(CR1, 4, 1 << 1)                                  # UDIS: no update event at all
    tim.write(0x2C, 4, 4)
    tim.write(0x0C, 4, 1)                                      # UIE
    tim.write(CR1, 4, (1 << 1) | 1)
    assert at(engine, tim, 5) == 0 and at(engine, tim, 5, SR) & 1 == 0   # wrapped, no UIF
    assert tim.next_irq(5) is None


def test_update_interrupt_line_and_width():
    engine, tim = bare_timer()
    tim.write(0x2C, 4, 99)
    tim.write(0x0C, 4, 1)
    tim.write(CR1, 4, 1)
    assert tim.next_irq(0) == 100
    tim.sample(99)
    assert engine.lines[29] is False
    tim.sample(100)
    assert engine.lines[29] is True
    engine.t = 120
    tim.write(SR, 4, 0)                                        # rc_w0: the handler's clear
    assert engine.lines[29] is False and at(engine, tim, 120) == 20
    tim.write(CNT, 4, 0x12345)
    assert at(engine, tim, 120) == 0x2345                      # a 16-bit timer (initialLimit 0xFFFF)


def test_auto_reload_preload():
    engine, tim = bare_timer()
    tim.write(0x2C, 4, 9)
    tim.write(CR1, 4, (1 << 7) | 1)                            # ARPE, CEN
    engine.t = 3
    tim.write(0x2C, 4, 4)                                      # buffered: this period still ends at 9
    assert at(engine, tim, 9) == 9 and at(engine, tim, 10) == 0
    assert at(engine, tim, 14) == 4 and at(engine, tim, 15) == 0


@pytest.mark.parametrize("name", ["nucleo_f446re", "nucleo_f746zg", "nucleo_f767zi", "disco_f746ng"])
def test_repl_timers_agree_with_the_clock_facts(name):
    """Each declared timer: Renode's fixed `frequency` is the TIMxCLK the board's own clock facts give
    (SYSCLK / APB1 divider, x2 when divided), its IRQ the vector table's, its width by initialLimit."""
    from harness.board import load_board
    board = load_board(name)
    clock = board.facts["clock"]
    expected = board.clock_hz * timer_ratio(int(clock["apb1div"]))
    irqs = {0x40000000: 28, 0x40000400: 29, 0x40000800: 30, 0x40000C00: 50, 0x40001000: 54, 0x40001400: 55}
    timers = {p.base: p for p in board.peripherals.values() if p.cls == "Timers.STM32_Timer"}
    assert sorted(timers) == sorted(irqs)
    for base, p in timers.items():
        assert int(p.props["frequency"]) == expected
        assert next(iter(p.irqs.values())) == irqs[base]
        assert int(p.props["initialLimit"], 0) == (0xFFFFFFFF if base in (0x40000000, 0x40000C00) else 0xFFFF)
        assert not any(t.start <= base <= t.end for t in board.tags)


def bare_rcc(board_name: str = "nucleo_f746zg"):
    from harness.backends.peripherals import Stm32f4Rcc
    from harness.board import load_board
    engine = _Engine()
    engine.board = load_board(board_name)
    return engine, Stm32f4Rcc(engine, engine.board.peripheral("rcc"))


def test_board_time_follows_the_programmed_clock():
    """Semihosting's SYS_CLOCK/SYS_TIME time: each stretch of cycles at the HCLK of its time (HSI at reset,
    then the PLL the firmware programmed, HPRE dividing it)."""
    engine, rcc = bare_rcc()
    assert rcc.seconds(16_000_000) == 1                         # reset: HSI, 16 MHz
    engine.t = 16_000_000
    rcc.write(0x04, 4, 8 | 168 << 6)                            # HSI / 8 * 168 / 2
    rcc.write(0x08, 4, 2)                                       # SW = PLL
    assert rcc.sysclk() == 168_000_000
    assert rcc.seconds(16_000_000 + 168_000_000) == 2
    engine.t = 16_000_000 + 168_000_000
    rcc.write(0x08, 4, 2 | 8 << 4)                              # HPRE /2: HCLK 84 MHz
    assert rcc.seconds(engine.t + 42_000_000) == Fraction(5, 2)
    assert engine.warnings == ["clock: firmware runs SYSCLK at 168 MHz, the board's nominal is 216 MHz; "
                               "modelled time follows the firmware"]


def test_timer_clock_is_continuous_across_a_prescaler_change():
    engine, rcc = bare_rcc()
    assert rcc.timer_edges(1, 1001) == 1001                     # APB1 /1: TIMxCLK = HCLK
    engine.t = 1001
    rcc.write(0x08, 4, 5 << 10)                                 # PPRE1 /4: TIMxCLK = HCLK / 2 from here
    assert rcc.timer_edges(1, 1001) == 1001 and rcc.timer_edges(1, 1101) == 1051
    # the divided clock's edges fall where cycles x 1/2 crosses an integer (the divider counts from reset):
    # edge 1051 at cycle 1100, the next two cycles later
    assert rcc.cycle_of_edge(1, 1051) == 1100 and rcc.cycle_of_edge(1, 1052) == 1102
    assert rcc.timer_edges(1, 1099) == 1050
    assert rcc.timer_edges(2, 1101) == 1101                     # APB2 untouched


def test_measured_milliseconds_follow_the_programmed_clock(bench):
    """`harness run --measure` milliseconds on a firmware at 168 MHz (HSI / 8 * 168 / 2): the same span of
    modelled cycles lasts 216/168 times what it would at the board's nominal 216 MHz, and the table's
    status says at which clock."""
    from harness.run import Measure, latency
    engine = boot(bench, "nucleo_f746zg")
    program(engine, 168)
    start, end = (engine.symbol(s) & ~1 for s in ("TIM2_IRQHandler", "console_puts"))
    m = Measure("TIM2_IRQHandler:console_puts", start, end, engine.ticks_per_cycle)
    engine.watch(start, m.on_start)
    engine.watch(end, m.on_end)
    ask(engine, "update 4 999 6")
    (cycles,) = m.cycles
    summary = m.summary(engine.board)
    nominal = latency(engine.board, cycles, m.passes[0][0], m.events[0]).latency_ms
    assert summary["ms_mean"] == pytest.approx(nominal * 216 / 168, rel=1e-9)
    assert summary["calibration"].endswith("at the firmware's 168 MHz")


def test_compare_flags_by_the_manual():
    """CCxIF by RM0385 / RM0390's output compare rules on a bare timer (no prescaler, one cycle a count):
    set when CNT counts to CCRx, not for a CCRx above ARR, not for a channel in input mode (CCxS != 00),
    set by EGR.CCxG, cleared by writing 0 (rc_w0); the line follows CCxIF AND CCxIE."""
    engine, tim = bare_timer()
    tim.write(0x2C, 4, 9)                                      # ARR = 9
    tim.write(0x34, 4, 4)                                      # CCR1 = 4
    tim.write(0x38, 4, 12)                                     # CCR2 = 12 > ARR: never
    tim.write(0x3C, 4, 6)                                      # CCR3 = 6, but channel 3 ...
    tim.write(0x1C, 4, 1)                                      # ... is an input (CCMR2.CC3S = 01)
    tim.write(0x0C, 4, 1 << 1)                                 # CC1IE
    tim.write(CR1, 4, 1)                                       # CEN at cycle 0
    assert tim.next_irq(0) == 4
    assert at(engine, tim, 3, SR) & 0b11110 == 0
    assert at(engine, tim, 4, SR) & 0b11110 == 0b10            # CC1IF as CNT counts to 4
    tim.sample(4)
    assert engine.lines[29] is True
    # CC2 and CC3 never (above ARR; an input); CC4 (CCR4 = 0) when the overflow counts CNT to 0, at 10 and 20
    assert at(engine, tim, 25, SR) & 0b11110 == 0b10010
    engine.t = 25
    tim.write(SR, 4, ~0b10 & 0xFFFF)                           # clear CC1IF (rc_w0)
    assert engine.lines[29] is False and tim.next_irq(25) == 34   # the next period's count to 4
    tim.write(0x14, 4, 1 << 2)                                 # EGR.CC2G
    assert at(engine, tim, 25, SR) & 0b11110 == 0b10100
