"""The built-in emulated board: a Cortex-M4/M7 in Unicorn with the board's exact memory map and models of
the peripherals its .repl names, built only from the Board object (harness/board.py).

Two clocks are kept, both natively (native/blockcount.c, a block hook registered through ctypes):
- `instructions`, the executed-instruction count (what Renode reports), exact: when emulation stops
  inside a block, the part of the block that did not run is taken back;
- `cycles`, modelled cycles from a per-core cost table (cycles.py, cycles_m4.py, cycles_m7.py): each
  translated block is priced once with capstone, the hook adds the price at every entry, settles
  conditional branches at the next entry and adds flash wait states while the firmware has the flash
  accelerator / instruction cache off. DWT CYCCNT and SysTick count these cycles. docs/cycle-model.md
  describes the model; `profile=True` adds exact per-function totals.

Two mechanisms keep the counts exact where the firmware can see them:
- Stops asked for by a peripheral (a console line is complete, the firmware waits for input) take effect
  at the next block boundary, where the PC and the count are exact, and never re-execute anything.
- Peripheral pages holding counters (DWT CYCCNT, SysTick) are left unmapped. An access there stops the
  CPU at the exact instruction (Unicorn restores the PC for memory faults); the engine then performs that
  one load or store itself against the model, with the exact counts (the cycles of the instructions of
  the current block before it included), and resumes after it. Everything else is an ordinary
  `mmio_map` callback.

Anything outside the regions, the modelled peripherals and the .repl's Tag ranges (tags.py: served as
Renode does, named in `warnings`) stays unmapped, so the CPU faults on it.

Around the CPU: the ARMv7-M exception model (exceptions.py: NVIC/SCB state, entry and return) and when
interrupts are taken (interrupts.py: SysTick due times through the native hook's tick limit, WFI, the
cycle budget); the fault checks Unicorn does not make and the firmware's own fault handlers
(faults.py); semihosting (semihosting.py).
"""
from __future__ import annotations

import bisect
import ctypes
import hashlib
import os
import subprocess
import threading
from collections import deque
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from unicorn import Uc, UcError
from unicorn import unicorn_const as UC
from unicorn import arm_const as A
import unicorn.unicorn_py3.unicorn as _ucmod

from harness.backends import BoardExit, BoardFault, BoardHang, BoardIdle
from harness.backends import exceptions as X
from harness.backends.cycles import BlockCoster, CoreModel, CostMemo, core_model, is_branch
from harness.backends.image import Image
from harness.backends.memory import memory_system
from harness.backends.peripherals import (MODELS, RegisterFile, Stm32f4Rcc, Stm32FlashController, SystemControlSpace,
                                          size_mask)
from harness.backends.spin import PollingWaits
from harness.backends.timers import Stm32Timer
from harness.backends.uart import _StmUart
from harness.backends.faults import HANDLER_INSTRUCTIONS, SITE_WORD, FaultsMixin
from harness.backends.interrupts import NOSEQ, InterruptsMixin
from harness.backends.semihosting import Semihosting
from harness.backends.tags import TagPage, tag_pages
from harness.board import Board
from harness.build import CACHE
from harness.errors import HarnessError
from harness.interrupt import Interrupted, deferred

__all__ = ["EmulatedBoard", "BoardFault", "BoardHang", "BoardIdle", "BoardExit", "MODELS", "RegisterFile", "WatchHit"]


NATIVE_SRC = Path(__file__).resolve().parent / "native" / "blockcount.c"
UNTIL = 0xFFFFFFFE          # an address no firmware executes: emu_start's end marker
IDLE_GAP = 256              # empty receiver polls at most this many instructions apart: one wait loop
IDLE_POLLS = 16             # ... this many of them in a row, nothing sent or received between: it waits for
                            # input. A status read during a transmission (TXE or TC clear) does not count
                            # (uart.py), and a HAL transmit reads the status at most ~3 times between two
                            # bytes once its TXE wait is over (its ORE/RTOF checks), so TXE/TC polls never get here
MAX_IDLE_RETURNS = 1 << 20  # guard against a resume loop that makes no progress
IDLE_WFIS = 1000            # WFI wake-ups in a row with the console's receive interrupt on, nothing received
                            # and nothing sent: the firmware waits for input (1 s of a 1 kHz tick)
CHUNK = 5_000_000           # instructions per emu_start at most (~0.05-0.1 s): then the host sees Ctrl-C

_CPU_MODELS = {"m4": A.UC_CPU_ARM_CORTEX_M4, "m7": A.UC_CPU_ARM_CORTEX_M7}
_REPORT_REGS = [(f"r{i}", getattr(A, f"UC_ARM_REG_R{i}")) for i in range(13)] + [
    ("sp", A.UC_ARM_REG_SP), ("lr", A.UC_ARM_REG_LR), ("pc", A.UC_ARM_REG_PC), ("xpsr", A.UC_ARM_REG_XPSR)]
_FAULT_VECTORS = {2: "NMI", 3: "HardFault", 4: "MemManage", 5: "BusFault", 6: "UsageFault"}


# --------------------------------------------------------------------------------------------------
# Native block counter

class _Header(ctypes.Structure):
    """Mirror of bc_header in native/blockcount.c."""
    _fields_ = [("count", ctypes.c_uint64), ("limit", ctypes.c_uint64), ("cur_addr", ctypes.c_uint64),
                ("cur_size", ctypes.c_uint32), ("cur_n", ctypes.c_uint32), ("stopped", ctypes.c_uint32),
                ("trap_hit", ctypes.c_uint32), ("blocks", ctypes.c_uint64), ("unknown", ctypes.c_uint64),
                ("ntraps", ctypes.c_uint32), ("pad", ctypes.c_uint32), ("traps", ctypes.c_uint64 * 8),
                ("ticks", ctypes.c_uint64), ("prev_end", ctypes.c_uint64), ("tick_limit", ctypes.c_uint64),
                ("due", ctypes.c_uint64),
                ("cost_calls", ctypes.c_uint64), ("cycles_on", ctypes.c_uint32), ("cur_seq", ctypes.c_uint32),
                ("pend_taken", ctypes.c_uint32), ("pend_flags", ctypes.c_uint32),
                ("flash_penalty", ctypes.c_uint32), ("mispredict", ctypes.c_uint32),
                ("cost_error", ctypes.c_uint32), ("profile_on", ctypes.c_uint32), ("slow", ctypes.c_uint32),
                ("watch", ctypes.c_uint32), ("watch_masks", ctypes.c_uint32), ("loop_addr", ctypes.c_uint32),
                ("fpu_off", ctypes.c_uint32), ("sp_limit", ctypes.c_uint32), ("special_hit", ctypes.c_uint32),
                ("sp_seen", ctypes.c_uint32), ("align_off", ctypes.c_uint32), ("ccr", ctypes.c_uint32)]


class _Cost(ctypes.Structure):
    """Mirror of bc_cost in native/blockcount.c."""
    _fields_ = [("cost_seq", ctypes.c_uint32), ("cost_branch", ctypes.c_uint32), ("lines_seq", ctypes.c_uint32),
                ("lines_branch", ctypes.c_uint32), ("taken", ctypes.c_uint32), ("flags", ctypes.c_uint32),
                ("func", ctypes.c_uint32), ("special", ctypes.c_uint32), ("sp_dec", ctypes.c_uint32)]


class _MemCounters(ctypes.Structure):
    """Mirror of mm_counters in native/blockcount.c (the memory system's events)."""
    _fields_ = [(name, ctypes.c_uint64) for name in (
        "fetch_lines", "icache_hits", "prefetched_lines", "icache_misses", "stall_ticks",
        "data_reads", "dcache_hits", "dcache_misses", "data_stall_ticks")]


class _ProfileSlot(ctypes.Structure):
    """Mirror of bc_prof in native/blockcount.c."""
    _fields_ = [("instructions", ctypes.c_uint64), ("ticks", ctypes.c_uint64)]


_PRICER = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_uint64, ctypes.c_uint32, ctypes.POINTER(_Cost))
PRED_SIZE = 1 << 12          # the native branch predictor's table (PRED_BITS)


_LIB: ctypes.CDLL | None = None


def native_library() -> ctypes.CDLL:
    """Compile native/blockcount.c with the host compiler (once per source version) and load it."""
    global _LIB
    if _LIB is not None:
        return _LIB
    src = NATIVE_SRC.read_bytes()
    key = hashlib.sha256(src).hexdigest()[:16]
    out_dir = CACHE / "native"
    so = out_dir / f"blockcount-{key}.so"
    if not so.is_file():
        out_dir.mkdir(parents=True, exist_ok=True)
        cc = os.environ.get("CC", "cc")
        tmp = so.with_suffix(f".{os.getpid()}.tmp")
        proc = subprocess.run([cc, "-O2", "-shared", "-fPIC", "-Wall", "-Wextra", "-o", str(tmp), str(NATIVE_SRC)],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise HarnessError(f"cannot build the native instruction counter with {cc}:\n{proc.stderr.strip()}")
        os.replace(tmp, so)
    lib = ctypes.CDLL(str(so))
    lib.bc_new.restype = ctypes.c_void_p
    lib.bc_new.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    lib.bc_count_at.restype = ctypes.c_uint64
    lib.bc_count_at.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint64]
    lib.bc_remaining.restype = ctypes.c_uint32
    lib.bc_remaining.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint64]
    lib.bc_reset.argtypes = [ctypes.c_void_p]
    lib.bc_free.argtypes = [ctypes.c_void_p]
    lib.bc_set_pricer.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    lib.bc_forget_prices.argtypes = [ctypes.c_void_p]
    lib.bc_set_profile.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint32]
    lib.bc_settings.argtypes = [ctypes.c_void_p]
    lib.bc_clear_traps.argtypes = [ctypes.c_void_p]
    lib.bc_add_site.argtypes = [ctypes.c_void_p, ctypes.c_uint64, ctypes.c_uint32, ctypes.c_int, ctypes.c_int,
                                ctypes.c_uint32, ctypes.c_uint32]
    lib.bc_set_watch_regs.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                                      ctypes.c_int]
    u32, u64 = ctypes.c_uint32, ctypes.c_uint64
    lib.bc_mm_config.argtypes = [ctypes.c_void_p, u64, u64, u32, u32, u32, u32]
    lib.bc_mm_state.argtypes = [ctypes.c_void_p, u32, u32, u32, u32]
    lib.bc_mm_config_data.argtypes = [ctypes.c_void_p, u32, u32, u32]
    lib.bc_set_psr_access.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]
    lib.bc_mm_counters.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    lib.bc_mm_resume.argtypes = [ctypes.c_void_p, u64, u64]
    lib.bc_mm_counters_size.restype = u32
    lib.bc_header_size.restype = ctypes.c_uint32
    lib.bc_cost_size.restype = ctypes.c_uint32
    lib.bc_max_traps.restype = ctypes.c_uint32
    if lib.bc_header_size() != ctypes.sizeof(_Header) or lib.bc_max_traps() != len(_Header().traps) \
            or lib.bc_cost_size() != ctypes.sizeof(_Cost) or lib.bc_mm_counters_size() != ctypes.sizeof(_MemCounters):
        raise HarnessError(f"{so}: header layout does not match emulated._Header / _Cost")
    _LIB = lib
    return lib


def _fn_addr(fn) -> int:
    return ctypes.cast(fn, ctypes.c_void_p).value


# --------------------------------------------------------------------------------------------------
# Cycle model: one block coster per (ELF, core, flash), shared by the engines that run it, so a block
# is decoded and priced once per process

_MEMOS: dict[tuple, CostMemo] = {}


def _coster_for(engine: "EmulatedBoard") -> BlockCoster:
    board, path = engine.board, engine.elf_path.resolve()
    st = path.stat()
    flash = board.flash
    if "cache" in board.facts:
        line = int(board.facts["cache"]["line"])        # fetches from flash go through the L1 I-cache
    else:
        line = board.flash_line
    key = (str(path), st.st_mtime_ns, st.st_size, board.core, flash.base, flash.end, line, engine.image.load_address)
    memo = _MEMOS.get(key)
    if memo is None:
        if len(_MEMOS) >= 16:
            _MEMOS.pop(next(iter(_MEMOS)))
        memo = _MEMOS[key] = CostMemo(engine.image.code_ranges())
    return BlockCoster(engine.model, engine.read_code, (flash.base, flash.end), line, memo)


# --------------------------------------------------------------------------------------------------
# Watch points

@dataclass(frozen=True)
class WatchHit:
    """The CPU is about to execute the instruction at `address`: the counts of everything before it."""
    address: int
    instructions: int            # executed before the instruction at `address`
    ticks: int                   # modelled ticks before it (0 without cycle accounting)
    ticks_per_cycle: int

    @property
    def cycles(self) -> int:
        """What DWT CYCCNT would read at this instant (ticks // ticks_per_cycle)."""
        return self.ticks // self.ticks_per_cycle


# --------------------------------------------------------------------------------------------------
# The board

class EmulatedBoard(InterruptsMixin, FaultsMixin):
    """A board built from `board` (harness.board.Board) running `elf_path`.

    `write()` queues bytes for the console receiver; `read_line()` runs the CPU until the console has
    sent a complete line. `instructions` is the exact executed-instruction count since reset, `cycles`
    the modelled cycle count (`cycles=False`: no cost accounting, `cycles` stays 0 and DWT CYCCNT counts
    instructions).
    """

    def __init__(self, board: Board, elf_path: str | Path, *, budget: int = 2_000_000_000,
                 reference_counter: bool = False, cycles: bool = True, profile: bool = False,
                 strict: bool = False, cycle_budget: int | None = None, memory: bool = True,
                 load_address: int | None = None):
        self.board = board
        self.cycle_budget = cycle_budget   # modelled cycles the firmware may run after the host's last input
        self.strict = strict           # an access to a peripheral the board does not model is an error
        self.elf_path = Path(elf_path)
        self.budget = int(budget)      # instructions the firmware may run after the host's last input
        self._budget_from = 0
        self._budget_limit = self.budget
        self.reference_counter = reference_counter   # tests: count again with a per-instruction Python hook
        self.image = Image(self.elf_path, load_address)      # load_address: a raw image (no ELF)
        self._lib = native_library()
        self._state = self._lib.bc_new(_fn_addr(_ucmod.uclib.uc_mem_read), _fn_addr(_ucmod.uclib.uc_emu_stop))
        if not self._state:
            raise HarnessError("out of memory for the instruction counter")
        self._hdr = _Header.from_address(self._state)
        self.uc: Uc | None = None
        self.model: CoreModel = core_model(board.core)
        self._tpc = self.model.ticks_per_cycle
        self.coster = _coster_for(self)
        # the memory system's stalls (harness/backends/memory.py). memory=False, or a .repl without a
        # memory system: the core's zero-wait costs, plus the plain per-line wait states while the
        # firmware has the flash accelerator and the I-cache off (fetch_config_changed)
        self.memory = memory_system(board) if memory else None
        self._mm_counters = _MemCounters()
        self._price_error: BaseException | None = None
        self._pricer = _PRICER(self._price)              # kept alive as long as the engine
        self._lib.bc_set_pricer(self._state, ctypes.cast(self._pricer, ctypes.c_void_p))
        self._hdr.cycles_on = 1 if cycles else 0
        self._hdr.mispredict = self.model.mispredict_ticks
        # per-function profile: slot 0 for code outside every ELF function, then one per function
        self._funcs = [(start, size, name) for start, size, name in self.image.functions if size]
        self._func_starts = [f[0] for f in self._funcs]
        self._prof = None
        self._watches: dict[int, tuple[int, object]] = {}   # handle -> (address, callback)
        self._watch_hooks: dict[int, int] = {}               # handle -> Unicorn hook of the current Uc
        self._next_watch = 1
        if profile:
            if not cycles:
                raise HarnessError("a profile needs cycle accounting")
            if len(self._funcs) + 1 > 0xFFFF:
                raise HarnessError(f"{self.elf_path}: too many functions to profile")
            self._prof = (_ProfileSlot * (len(self._funcs) + 1))()
            self._lib.bc_set_profile(self._state, ctypes.addressof(self._prof), len(self._prof))
            self._hdr.profile_on = 1
        self._lib.bc_settings(self._state)
        self.reset()

    def __del__(self):
        state = getattr(self, "_state", None)
        if state:
            self.uc = None
            self._state = None
            self._lib.bc_free(state)

    # ---------------------------------------------------------------- reset
    def reset(self) -> None:
        """A fresh engine: the board's regions and peripherals, the ELF loaded at its load addresses,
        SP and PC from the vector table at the flash base."""
        self._budget_from = 0
        self.uc = None
        self._lib.bc_reset(self._state)
        self._lib.bc_forget_prices(self._state)
        uc = Uc(UC.UC_ARCH_ARM, UC.UC_MODE_THUMB)
        try:
            uc.ctl_set_cpu_model(_CPU_MODELS[self.board.core])
        except KeyError:
            raise HarnessError(f"{self.board.name}: no emulated CPU for core {self.board.core!r}") from None
        self.uc = uc
        self.page = uc.ctl_get_page_size()
        nvic = next((p for p in self.board.peripherals.values() if p.cls == "IRQControllers.NVIC"), None)
        self.exceptions = X.ExceptionModel(self, int((nvic.props if nvic else {}).get("priorityMask", "0xFF"), 0))
        self._sleep = 0                      # cycles slept in WFI, without cost accounting (with it: in ticks)
        self._cycles_from = 0                # the cycle budget runs from here (the host's last input)
        self._fault_pending: BoardFault | None = None   # a fault whose firmware handler runs now
        self.exit_code: int | None = None    # semihosting SYS_EXIT
        self.warnings: list[str] = []        # accesses to peripherals the board does not model, once each
        self._warned: set[str] = set()
        self._strict_error: str | None = None
        self.semihosting = Semihosting(self)
        for r in self.board.regions:
            if r.base % self.page or r.size % self.page:
                raise HarnessError(f"{self.board.name}: region {r.name} is not aligned to the "
                                   f"{self.page}-byte emulator page")
            perms = UC.UC_PROT_READ | UC.UC_PROT_EXEC | (0 if r.readonly else UC.UC_PROT_WRITE)
            uc.mem_map(r.base, r.size, perms)
            if r.readonly:
                uc.mem_write(r.base, b"\xff" * r.size)     # erased flash
        self._build_peripherals()
        self._load_image()

        # console and run state
        # (byte, cycle it has arrived) from the host: public, the UART models read it on every status read
        self.rx_queue: deque[tuple[int, int]] = deque()
        self._rx_last = 0                    # arrival of the host's last byte
        self._mmio_seq = 0                   # peripheral accesses so far (spin.PollingWaits)
        self._waits = PollingWaits(self)
        self.run_limit = 0                   # the instruction count the current run stops at (not a chunk's end)
        self._out = bytearray()              # console bytes not yet returned as lines
        self._lines: deque[str] = deque()    # complete lines not yet returned
        self._history: deque[str] = deque(maxlen=200)
        self._last_empty_poll: int | None = None
        self._empty_polls = 0                # see console_polled
        self._quiet_wfis = 0                 # see _waits_for_input_in_wfi
        self._quiet_spins = 0                # see _waits_for_input_in_self_loop
        self._wfe_entries = 0                # exception entries at the last WFE (see _event_register)
        self._stop_reason: str | None = None
        self._exact_now: int | None = None
        self._exact_ticks: tuple[int, int] | None = None    # (before, after) the performed instruction
        self._exact_pc = 0
        self._penalty_then: tuple[int, int] | None = None   # (count in a block, flash penalty it was charged)
        self._stopped_penalty = 0                           # ... of the block the last take-back was in
        self._price_error = None
        self._price_now: tuple[tuple[int, int, int] | None, int] = (None, 0)   # see now_cycles
        self._totals: dict[tuple[int, int, bool], tuple[int, int]] = {}        # see _current_price
        # (pc, lr, value, instructions, cycles, memory_events()) per CYCCNT read
        self.cyccnt_reads: deque[tuple[int, int, int, int, int, dict[str, int]]] = deque(maxlen=256)
        self._bad_access: tuple[int, int, int, int] | None = None
        self._dead: BoardFault | None = None
        self.reference_count = 0
        self._ref_core_ticks = 0             # reference runs: modelled ticks summed per instruction (+ stalls)
        self._ref_prev = None                # ... the instruction executed last
        self._ref_before = 0                 # ... ticks before the instruction reported last
        self._ref_predictor: dict[int, int] = {}
        self._ref_settled = False
        self._it_pending: list[int] = []
        # reference runs, per exact-page access: (pc, address, is_store, exact count, reference count,
        # start of the block the access is in, exact ticks before it, reference ticks before and after it)
        self.exact_log: list[tuple[int, int, bool, int, int, int, int, int, int]] = []
        self.trapped_accesses = 0            # loads/stores the engine performed for the CPU (exact pages)

        # hooks: the native block counter, invalid accesses (faults and exact pages)
        hh = ctypes.c_size_t()
        err = _ucmod.uclib.uc_hook_add(uc._uch, ctypes.byref(hh), UC.UC_HOOK_BLOCK,
                                       ctypes.c_void_p(_fn_addr(self._lib.bc_block_hook_predicted
                                                                if self._hdr.mispredict else self._lib.bc_block_hook)),
                                       ctypes.c_void_p(self._state), ctypes.c_uint64(1), ctypes.c_uint64(0))
        if err != UC.UC_ERR_OK:
            raise HarnessError(f"cannot register the native block hook: {UcError(err)}")
        self._block_hook = hh.value
        self._setup_memory_system(uc)
        self._lib.bc_set_watch_regs(self._state, _fn_addr(_ucmod.uclib.uc_reg_read), A.UC_ARM_REG_PRIMASK,
                                    A.UC_ARM_REG_FAULTMASK, A.UC_ARM_REG_BASEPRI, A.UC_ARM_REG_SP)
        self._check_fpu()
        self._site_kinds: set[int] = set()
        self._register_sites(SITE_WORD)
        uc.hook_add(UC.UC_HOOK_MEM_INVALID, self._on_invalid)
        if self.reference_counter:
            uc.hook_add(UC.UC_HOOK_CODE, self._on_code)
        self._watch_hooks = {}
        for handle in self._watches:
            self._add_watch_hook(handle)

        # fault handlers from the vector table: reaching one stops the run
        traps: dict[int, list[str]] = {}
        for index, name in _FAULT_VECTORS.items():
            addr = self._vector(index) & ~1
            if addr and self._mapped(addr):
                traps.setdefault(addr, []).append(name)
        self._trap_names = list(traps.items())
        for i, (addr, _) in enumerate(self._trap_names):
            self._hdr.traps[i] = addr
        self._hdr.ntraps = len(self._trap_names)

        self.fetch_config_changed()
        self._scs = next((m for m in self.peripherals.values() if isinstance(m, SystemControlSpace)), None)
        self.rcc = next((m for m in self.peripherals.values() if isinstance(m, Stm32f4Rcc)), None)
        # what raises interrupts by itself as modelled time passes: sampled and asked for its next one
        self._timed = [m for m in self.peripherals.values() if isinstance(m, (Stm32Timer, _StmUart))]
        self.fpu_config_changed()
        self.stack_limit, self.stack_limit_symbol = self._stack_limit()
        self._hdr.sp_limit = self.stack_limit

        sp, pc = self._vector(0), self._vector(1)
        if not pc & 1:
            raise HarnessError(f"{self.elf_path}: reset vector 0x{pc:08x} is not a Thumb address")
        uc.reg_write(A.UC_ARM_REG_MSP, sp)
        uc.reg_write(A.UC_ARM_REG_SP, sp)
        self._pc = pc & ~1

    def _build_peripherals(self) -> None:
        page = self.page
        self.peripherals: dict[str, RegisterFile] = {}
        self._exact_page: dict[int, RegisterFile] = {}     # page base -> model, for trapped accesses
        windows = []
        for p in self.board.peripherals.values():
            if p.base is None:
                continue                                    # the CPU: not on the bus
            model_cls = MODELS.get(p.cls)
            if model_cls is None:
                raise HarnessError(f"{self.board.path}: no emulator model for {p.name} ({p.cls})")
            model = model_cls(self, p)
            size = -(-max(p.size or 0, model_cls.size) // page) * page
            if p.base % page:
                raise HarnessError(f"{self.board.path}: {p.name} at 0x{p.base:08x} is not page-aligned")
            windows.append((p.base, p.base + size, p.name))
            self.peripherals[p.name] = model
            exact = {off for off in model_cls.exact_pages}
            start = None
            for off in range(0, size, page):
                if off in exact:
                    self._exact_page[p.base + off] = model
                    if start is not None:
                        self._mmio(model, start, off)
                        start = None
                elif start is None:
                    start = off
            if start is not None:
                self._mmio(model, start, size)
        taken = {b for lo, hi, _ in windows for b in range(lo, hi, page)}
        runs: list[list] = []            # [base, pages, tags]: a run of pages with the same tags is one window
        for base, tags in sorted(tag_pages(self.board.tags, page).items()):
            if base in taken or any(r.base <= base < r.end for r in self.board.regions):
                raise HarnessError(f"{self.board.path}: Tag {tags[0].name} shares an emulator page with a "
                                   f"modelled peripheral or memory")
            if runs and runs[-1][0] + runs[-1][1] * page == base and runs[-1][2] == tags:
                runs[-1][1] += 1         # an external memory's megabytes: one mapping, not one per page
            else:
                runs.append([base, 1, tags])
        for base, pages, tags in runs:
            model = TagPage(self, base, tags)
            self.uc.mmio_map(base, pages * page, lambda uc, off, size, _, m=model: m.read(off, size), None,
                             lambda uc, off, size, value, _, m=model: m.write(off, size, value), None)
        spans = sorted(windows + [(r.base, r.end, r.name) for r in self.board.regions])
        for a, b in zip(spans, spans[1:]):
            if b[0] < a[1]:
                raise HarnessError(f"{self.board.path}: {a[2]} and {b[2]} share an emulator page")

    def _mmio(self, model: RegisterFile, start: int, end: int) -> None:
        base = model.base + start

        def read(uc, offset, size, _):
            self._mmio_seq += 1
            return model.read(start + offset, size)

        def write(uc, offset, size, value, _):
            self._mmio_seq += 1
            model.write(start + offset, size, value)

        self.uc.mmio_map(base, end - start, read, None, write, None)

    def _load_image(self) -> None:
        for addr, data in self.image.segments:
            end = addr + len(data)
            if not any(r.base <= addr and end <= r.end for r in self.board.regions):
                raise HarnessError(f"{self.elf_path}: segment 0x{addr:08x}..0x{end:08x} is not inside one "
                                   f"memory region of {self.board.name}")
            self.uc.mem_write(addr, bytes(data))

    def _vector(self, index: int) -> int:
        return int.from_bytes(self.uc.mem_read(self.board.flash.base + 4 * index, 4), "little")

    def _mapped(self, addr: int) -> bool:
        return any(r.contains(addr) for r in self.board.regions)

    # ---------------------------------------------------------------- public API
    # The checks that need the image's code map (the ELF's $t/$d mapping symbols): without one (a raw
    # image, a stripped ELF) they cannot tell code from data and are not made.
    CODE_MAP_CHECKS = ("a branch into non-code (data, literal pools)",
                       "unaligned LDRD/STRD/LDM/STM addresses (the sites are found by scanning the code)",
                       "the scan for double-precision FPU instructions on a single-precision board")

    @property
    def skipped_checks(self) -> list[str]:
        """The checks this image lost for want of a code map (empty for an ELF with mapping symbols)."""
        if self.coster.memo.ranges:
            return []
        return [c for c in self.CODE_MAP_CHECKS if "FPU" not in c or self.board.fpu == "single"]

    @property
    def instructions(self) -> int:
        """Executed instructions since reset (exact whenever the CPU is stopped)."""
        return self._hdr.count

    @property
    def cycles(self) -> int:
        """Modelled cycles since reset (exact whenever the CPU is stopped); 0 without cost accounting."""
        return self._hdr.ticks // self._tpc

    @property
    def cycle_accounting(self) -> bool:
        return bool(self._hdr.cycles_on)

    def write(self, data: bytes) -> None:
        """Queue bytes into the console UART receiver, each arriving one frame after the one before, the
        first one frame after the end of what the firmware was transmitting (uart.py). Each input gives
        the firmware a fresh budget: a hang is a command that never finishes, however long the session
        before it."""
        now = self._time()
        uart = self.peripherals.get(self.board.console.uart)
        timed = isinstance(uart, _StmUart)
        frame = uart.frame_cycles() if timed else 0
        t = max(now, self._rx_last, uart.tx_done_at() if timed else 0)
        for byte in bytes(data):
            t += frame
            self.rx_queue.append((byte, t))
        self._rx_last = t
        self._budget_from = self.instructions
        self._cycles_from = now
        if timed:
            uart.update_irq(now)              # RXNE with RXNEIE raises the UART's interrupt
            self.request_interrupt_check()    # ... or will, at the first byte's arrival

    def read_line(self, max_instructions: int | None = None) -> str:
        """Run until the console has sent a complete line and return it without its line ending.
        Raises BoardIdle when the firmware waits for input instead, BoardHang past the budget (or past
        `max_instructions` for this call) and BoardFault on a fault."""
        if self._lines:
            return self._lines.popleft()
        if self._dead is not None:
            raise self._dead
        limit = self._budget_limit = self._budget_from + self.budget
        if max_instructions is not None:
            limit = min(limit, self.instructions + int(max_instructions))
        try:
            reason = self._run(limit)
            if self._fault_pending is not None and reason in self._HANDLER_ENDS:
                self._raise_pending_fault(self._HANDLER_ENDS[reason])    # whatever the handler does next
        except BoardFault:
            if self._lines:                 # lines sent before the fault come first; the fault stays
                return self._lines.popleft()
            raise
        if self._lines:
            return self._lines.popleft()
        if reason == "idle":
            verdict = f"IDLE firmware waits for input, the console receiver is empty (pc {self._at(self._pc)})"
            raise BoardIdle(self._report_text("idle", verdict), self._report("idle", verdict))
        if reason == "cycle-budget":
            verdict = (f"HANG cycle budget of {self.cycle_budget} modelled cycles exhausted since the last input "
                       f"(pc {self._at(self._pc)})")
            raise BoardHang(self._report_text("cycle-budget", verdict), self._report("cycle-budget", verdict))
        if reason in ("budget", "timeout"):
            if reason == "budget":
                verdict = f"HANG instruction budget of {self.budget} exhausted since the last input"
            else:
                verdict = f"TIMEOUT no complete line within {max_instructions} instructions"
            kind = "hang" if reason == "budget" else "timeout"
            pc = self._pc
            verdict += f" (pc {self._at(pc)})"
            raise BoardHang(self._report_text(kind, verdict), self._report(kind, verdict))
        if reason == "wfi":
            verdict = f"HANG firmware sleeps (WFI or WFE) and no interrupt can ever wake it " \
                      f"(pc {self._at(self._pc)})"
            raise BoardHang(self._report_text("wfi", verdict), self._report("wfi", verdict))
        if reason == "unmodelled":
            verdict = f"FAULT strict: {self._strict_error}"
            self._dead = BoardFault(self._report_text("unmodelled", verdict), self._report("unmodelled", verdict))
            raise self._dead
        if reason == "exit":
            raise self._dead
        if reason == "sysreset":
            verdict = f"FAULT firmware requested a system reset (AIRCR.SYSRESETREQ) (pc {self._at(self._pc)})"
            self._dead = BoardFault(self._report_text("reset", verdict), self._report("reset", verdict))
            raise self._dead
        raise HarnessError(f"internal: run stopped for {reason!r} without a line")

    def close(self) -> None:
        """Nothing to release: the engine lives in this process (RunningBoard)."""

    def uart_tail(self, n: int = 20) -> list[str]:
        """The last `n` console lines, the unfinished one included."""
        lines = list(self._history)
        if self._out:
            lines.append(self._decode(bytes(self._out)))
        return lines[-n:] if n else []

    @property
    def pending_output(self) -> str:
        """Console text after the last complete line (e.g. a prompt)."""
        return self._decode(bytes(self._out))

    def symbol_at(self, addr: int) -> str:
        """'func+0x12' from the ELF symbol table, '' when no symbol covers `addr`."""
        name = self.image.symbol_at(addr)
        return name or ""

    def _at(self, addr: int) -> str:
        """'0x08000124 main+0x1c' (the symbol part only when there is one)."""
        sym = self.symbol_at(addr)
        return f"0x{addr:08x} {sym}" if sym else f"0x{addr:08x}"

    def symbol(self, name: str) -> int:
        try:
            return self.image.symbols[name]
        except KeyError:
            raise HarnessError(f"{self.elf_path}: no symbol {name!r}") from None

    @property
    def pc(self) -> int:
        return self._pc

    def reg(self, name: str) -> int:
        return self.uc.reg_read(getattr(A, f"UC_ARM_REG_{name.upper()}"))

    def read_memory(self, addr: int, size: int) -> bytes:
        return bytes(self.uc.mem_read(addr, size))

    def read_code(self, addr: int, size: int) -> bytes:
        return bytes(self.uc.mem_read(addr, size))

    # ---------------------------------------------------------------- watch points
    def watch(self, address: int, callback) -> int:
        """Call `callback(engine, WatchHit)` every time the CPU is about to execute the instruction at
        `address` (a Thumb address, bit 0 ignored), with the exact instruction and tick counts of
        everything executed before it. A Unicorn code hook restricted to that one address: code
        elsewhere runs as fast as without it. The callback may read registers and memory and may call
        request_stop(); it must not change the CPU state. Returns a handle for unwatch(); watches
        survive reset()."""
        handle = self._next_watch
        self._next_watch += 1
        self._watches[handle] = (int(address) & ~1, callback)
        self._add_watch_hook(handle)
        return handle

    def unwatch(self, handle: int) -> None:
        self._watches.pop(handle, None)
        hook = self._watch_hooks.pop(handle, None)
        if hook is not None and self.uc is not None:
            self.uc.hook_del(hook)

    def _add_watch_hook(self, handle: int) -> None:
        address, callback = self._watches[handle]

        def on_code(uc, addr, size, _):
            if self._hdr.stopped:
                return                   # the block hook stopped the run: the instruction does not run now
            instructions, ticks = self.counts_before(addr)
            callback(self, WatchHit(addr, instructions, ticks, self._tpc))

        self._watch_hooks[handle] = self.uc.hook_add(UC.UC_HOOK_CODE, on_code, begin=address, end=address)
        # blocks translated before the hook existed would not call it
        self.uc.ctl_remove_cache(address, address + 4)

    def counts_before(self, pc: int) -> tuple[int, int]:
        """(instructions, ticks) executed before the instruction at `pc`, from inside a code hook at
        `pc`: the native counter has charged the whole current block at its entry, so the part of it
        from `pc` on (which has not run yet) is left out, with the same per-instruction prices the
        take-back after a stop uses."""
        hdr = self._hdr
        remaining, ticks = self._tail_from(pc)
        return hdr.count - remaining, hdr.ticks - ticks

    def _tail_from(self, pc: int) -> tuple[int, int]:
        """(instructions, ticks) of the current block from `pc` to its end, as charged at its entry."""
        hdr = self._hdr
        remaining = self._lib.bc_remaining(self._state, self.uc._uch, pc)
        if not remaining or not hdr.cycles_on:
            return remaining, 0
        if pc == hdr.cur_addr:           # the whole block: its entry price (a settled branch before it excluded)
            return remaining, self._current_price()
        return remaining, self._current_block().suffix(pc, bool(hdr.cur_seq), self._current_penalty())

    def profile_snapshot(self, pc: int) -> list[tuple[int, int]]:
        """From inside a code hook at `pc`: the per-function (instructions, ticks) slots (profile=True)
        as they stand before the instruction at `pc`, in slot order (slot 0: outside every function,
        then profile_functions())."""
        if self._prof is None:
            raise HarnessError("this engine was not started with profile=True")
        slots = [(s.instructions, s.ticks) for s in self._prof]
        remaining, ticks = self._tail_from(pc)
        if remaining:
            k = self._func_index(self._hdr.cur_addr)
            slots[k] = (slots[k][0] - remaining, slots[k][1] - ticks)
        return slots

    def profile_functions(self) -> list[str]:
        """Names of the profile slots: '(outside any function)', then one per ELF function."""
        return ["(outside any function)"] + [f[2] for f in self._funcs]

    @property
    def ticks_per_cycle(self) -> int:
        return self._tpc

    @property
    def ticks(self) -> int:
        """Modelled ticks since reset (cycles * ticks_per_cycle, exact on the M7's half cycles)."""
        return self._hdr.ticks

    # ---------------------------------------------------------------- hooks for the models
    def now(self) -> int:
        """Instructions completed before the one accessing a peripheral: exact for the exact pages, the
        count at the start of the current block elsewhere."""
        if self._exact_now is not None:
            return self._exact_now
        return self._hdr.count - self._hdr.cur_n

    def now_cycles(self, after: bool = False) -> int:
        """Modelled cycles completed before the instruction accessing a peripheral (`after`: with it),
        exact for the exact pages, the count at the start of the current block elsewhere. Without cost
        accounting: instructions, as now()."""
        if not self._hdr.cycles_on:
            return self.now() + self._sleep + (1 if after else 0)
        if self._exact_ticks is not None:
            return self._exact_ticks[1 if after else 0] // self._tpc
        hdr = self._hdr
        key = (hdr.count, hdr.ticks, hdr.cur_addr)
        if self._price_now[0] != key:          # a model asks several times in one access: price the block once
            self._price_now = (key, self._current_price())
        return (hdr.ticks - self._price_now[1]) // self._tpc

    def seconds(self, cycles: int) -> Fraction:
        """Board time at a cycle count: each stretch of cycles at the HCLK the firmware had programmed
        then (the RCC's clock tree), or at the .repl's clock on a board without an RCC model."""
        return self.rcc.seconds(cycles) if self.rcc is not None else Fraction(cycles, self.board.clock_hz)

    def timer_started(self) -> None:
        """A timer's CEN was set: its time base is the programmed clock, so say when that is not the
        board's nominal one (a firmware that never leaves HSI switches nothing)."""
        if self.rcc is not None:
            self.rcc.check_sysclk()

    def cyccnt_read(self, value: int) -> None:
        """The firmware read DWT CYCCNT: log (pc, lr, value, instructions, cycles) for the harness."""
        pc = self._exact_pc if self._exact_now is not None else self.uc.reg_read(A.UC_ARM_REG_PC)
        self.cyccnt_reads.append((pc, self.uc.reg_read(A.UC_ARM_REG_LR), value, self.now(), self.now_cycles(),
                                  self.memory_events()))

    def counts_between_reads(self, cycles: int) -> tuple[int, int] | None:
        """(instructions, cycles) executed between the latest two DWT CYCCNT reads (in
        `cyccnt_reads`) that were `cycles` modelled cycles apart, e.g. the firmware's own timing of an
        inference; None when no such pair was logged. Gives the exact instruction count of what the
        firmware timed."""
        pair = self._reads_apart(cycles)
        return None if pair is None else (pair[1][3] - pair[0][3], cycles)

    def events_between_reads(self, cycles: int) -> dict[str, int] | None:
        """The memory system's events (memory_events()) between the same two CYCCNT reads as
        counts_between_reads: what a calibration table's mapping needs besides the cycles."""
        pair = self._reads_apart(cycles)
        if pair is None:
            return None
        before, after = pair[0][5], pair[1][5]
        return {k: v - before.get(k, 0) for k, v in after.items()}

    def _reads_apart(self, cycles: int):
        """The latest two logged CYCCNT reads `cycles` modelled cycles apart, or None."""
        reads = list(self.cyccnt_reads)
        for j in range(len(reads) - 1, 0, -1):
            for i in range(j - 1, -1, -1):
                if reads[j][4] - reads[i][4] == cycles:
                    return reads[i], reads[j]
        return None

    # ---------------------------------------------------------------- the memory system
    def _setup_memory_system(self, uc) -> None:
        """Give the native model the board's memory system (harness/backends/memory.py): the instruction side
        in the block hook, the data side in a native memory hook on the ranges it sees (bc_mem_hook, which
        also works around unicorn-engine/unicorn#2309: a hooked load leaves a stale IT state behind)."""
        mem = self.memory
        if mem is None or not self._hdr.cycles_on:
            return
        ic = mem.icache
        if self._lib.bc_mm_config(self._state, mem.flash[0], mem.flash[1], ic.line.bit_length() - 1, ic.sets,
                                  ic.ways, self._tpc):
            raise HarnessError(f"{self.board.name}: its instruction cache is larger than the memory model holds")
        dc = mem.dcache
        if dc is None or not mem.data_ranges:
            return
        if self._lib.bc_mm_config_data(self._state, dc.line.bit_length() - 1, dc.sets, dc.ways):
            raise HarnessError(f"{self.board.name}: its data cache is larger than the memory model holds")
        self._lib.bc_set_psr_access(self._state, _fn_addr(_ucmod.uclib.uc_reg_read),
                                    _fn_addr(_ucmod.uclib.uc_reg_write), A.UC_ARM_REG_EPSR)
        for lo, hi, writes in mem.data_ranges:
            kinds = UC.UC_HOOK_MEM_READ | (UC.UC_HOOK_MEM_WRITE if writes else 0)
            hh = ctypes.c_size_t()
            err = _ucmod.uclib.uc_hook_add(uc._uch, ctypes.byref(hh), kinds,
                                           ctypes.c_void_p(_fn_addr(self._lib.bc_mem_hook)),
                                           ctypes.c_void_p(self._state), ctypes.c_uint64(lo), ctypes.c_uint64(hi - 1))
            if err != UC.UC_ERR_OK:
                raise HarnessError(f"cannot register the native memory hook: {UcError(err)}")

    def _stall_ticks(self) -> int:
        if self.memory is None:
            return 0
        self._lib.bc_mm_counters(self._state, ctypes.byref(self._mm_counters))
        return self._mm_counters.stall_ticks + self._mm_counters.data_stall_ticks

    def memory_events(self) -> dict[str, int]:
        """The memory system's counts so far (since reset): instruction fetches that start a new flash
        line, how they were served (I-cache hit, prefetch buffer, read on demand), and the stall cycles
        the model charged for them (`stall_cycles`, part of the modelled cycles). Empty on a board
        without a memory system."""
        if self.memory is None or not self._hdr.cycles_on:
            return {}
        self._lib.bc_mm_counters(self._state, ctypes.byref(self._mm_counters))
        c = self._mm_counters
        events = {name: getattr(c, name) for name, _ in c._fields_ if not name.endswith("_ticks")}
        events["stall_cycles"] = (c.stall_ticks + c.data_stall_ticks) // self._tpc
        events["data_stall_cycles"] = c.data_stall_ticks // self._tpc
        return events

    def fetch_config_changed(self) -> None:
        """The firmware switched the flash accelerator or the instruction cache, or changed the flash
        latency: flash fetches cost `latency` cycles per line while neither cache is on. The block
        running now was charged with the old penalty: remember it for a take-back in that block."""
        hdr = self._hdr
        flash, scs = self._fetch_registers()
        if self.memory is not None:
            latency, prefetch, icache, dcache = self.memory.state(flash, scs)
            self._lib.bc_mm_state(self._state, latency * self._tpc, int(prefetch), int(icache), int(dcache))
            return
        penalty = self._fetch_penalty(flash, scs)
        if penalty != hdr.flash_penalty:
            if self._penalty_then is None or self._penalty_then[0] != hdr.count:
                self._penalty_then = (hdr.count, hdr.flash_penalty)
            hdr.flash_penalty = penalty
            self._lib.bc_settings(self._state)

    def _fetch_registers(self) -> tuple[Stm32FlashController | None, SystemControlSpace | None]:
        """The peripherals whose registers say how instructions are fetched: FLASH_ACR's and SCB CCR's."""
        return (next((m for m in self.peripherals.values() if isinstance(m, Stm32FlashController)), None),
                next((m for m in self.peripherals.values() if isinstance(m, SystemControlSpace)), None))

    def _fetch_penalty(self, flash: Stm32FlashController | None, scs: SystemControlSpace | None) -> int:
        if flash is None or not self.board.facts.get("flash"):
            return 0
        if "cache" in self.board.facts:          # code runs from the AXIM flash address: the L1 I-cache
            cached = scs is not None and bool(scs.stored(SystemControlSpace.CCR) & SystemControlSpace.CCR_IC)
        else:
            cached = self.board.flash_accelerator == "art" and flash.accelerated
        return 0 if cached else flash.latency * self._tpc

    def request_stop(self, reason: str) -> None:
        """Stop at the next block boundary (the rest of the current block still runs)."""
        if self._stop_reason is None:
            self._stop_reason = reason
        self._hdr.limit = 0

    def console_rx_next(self) -> int | None:
        """The cycle the host's next byte arrives (or arrived), None when none is queued."""
        return self.rx_queue[0][1] if self.rx_queue else None

    def _console_active(self) -> None:
        """A byte went in or out, or the receiver had data: whatever the idle rules counted starts over."""
        self._quiet_wfis = self._quiet_spins = 0
        self._last_empty_poll, self._empty_polls = None, 0

    def console_rx_pop(self) -> int:
        self._console_active()
        return self.rx_queue.popleft()[0] if self.rx_queue else 0

    def warn_once(self, text: str) -> None:
        if text not in self._warned:
            self._warned.add(text)
            self.warnings.append(text)

    def wait_until(self, until: int, key: tuple, now: int) -> int | None:
        """A peripheral read at cycle `now` found a flag that sets by itself at cycle `until`: a polling
        loop's remaining turns may be skipped (spin.PollingWaits); the cycle count after them when they were."""
        return self._waits.wait_until(until, key, now)

    def _console_receives_by_interrupt(self) -> _StmUart | None:
        """The console UART when it receives by interrupt (RXNEIE) and nothing from the host is queued or
        waiting to be returned as a line: the idle rules' common ground."""
        uart = self.peripherals.get(self.board.console.uart)
        if not isinstance(uart, _StmUart) or self.rx_queue or self._lines or not uart.stored(uart.CR1) & uart.RXNEIE:
            return None
        return uart

    def _waits_for_input_in_wfi(self) -> bool:
        """At a WFI: the console receives by interrupt, its queue is empty, and the firmware has neither
        sent nor received anything for IDLE_WFIS wake-ups: it sleeps until input comes."""
        if self._console_receives_by_interrupt() is None:
            self._quiet_wfis = 0
            return False
        if not self.exceptions.wakes_wfi() and self._next_event() is None:
            return True                     # no tick and nothing pending: only input can ever wake it
        self._quiet_wfis += 1
        return self._quiet_wfis >= IDLE_WFIS

    def _waits_for_input_in_self_loop(self, pc: int) -> bool:
        """At a stop between blocks: the CPU stands at `b .` in thread mode with nothing masked and nothing
        pending, and the console receives by interrupt (RXNEIE and its NVIC line on), its queue empty: only
        an interrupt can move it on. With no SysTick coming, nothing but input can: it waits for input at
        once; with one, after IDLE_WFIS stops there in a row with nothing sent or received (the tick's
        handler might yet start a transmission), as for WFI."""
        try:
            code = bytes(self.uc.mem_read(pc, 4))
        except UcError:
            return False
        if code[:2] != b"\xfe\xe7" and code != b"\xff\xf7\xfe\xbf":       # b.n . / b.w .
            self._quiet_spins = 0
            return False
        ex = self.exceptions
        uart = self._console_receives_by_interrupt()
        if uart is None or uart.irq is None or not ex.is_enabled(X.FIRST_IRQ + uart.irq) \
                or ex.execution_priority() != 256 or ex.highest_pending() is not None:
            self._quiet_spins = 0
            return False
        if self._next_event() is None:
            return True
        self._quiet_spins += 1
        return self._quiet_spins >= IDLE_WFIS

    def console_tx(self, byte: int) -> None:
        self._console_active()
        self._out.append(byte)
        if byte == 0x0A:
            text = self._decode(bytes(self._out[:-1]).rstrip(b"\r"))
            self._out.clear()
            self._lines.append(text)
            self._history.append(text)
            self.request_stop("line")

    def console_polled(self, has_data: bool) -> None:
        """The firmware read the receiver status or data register. IDLE_POLLS empty reads in a row, each
        within IDLE_GAP instructions of the one before, with no line waiting to be returned and nothing sent
        or received in between, mean it waits for input; fewer are a transmit wait's status reads. With
        a byte on its way from the host it waits for that one."""
        if has_data or self.rx_queue:
            self._console_active()
            return
        now = self.now()
        last, self._last_empty_poll = self._last_empty_poll, now
        self._empty_polls = self._empty_polls + 1 if last is not None and now - last <= IDLE_GAP else 1
        if self._empty_polls >= IDLE_POLLS and not self._lines:
            self.request_stop("idle")

    @staticmethod
    def _decode(data: bytes) -> str:
        return data.decode("utf-8", errors="replace")


    def unmodelled_access(self, tag, addr: int, is_write: bool) -> None:
        """The firmware touched a tagged range (tags.py): a warning per tag without a value, once, or
        with `strict` an error at the next block boundary."""
        if tag is not None and tag.value is not None:
            return                                   # a board fact (UID, IDCODE, flash size)
        name = tag.name if tag is not None else f"0x{addr & ~3:08x}"
        if name in self._warned:
            return
        self._warned.add(name)
        pcs = self._accessing_pcs(addr, is_write)
        where = (f"pc {self._at(pcs[0])}" if len(pcs) == 1 else
                 f"pc {' or '.join(f'0x{pc:08x}' for pc in pcs)} in the block at {self._at(self._hdr.cur_addr)}"
                 if pcs else f"in the block at {self._at(self._hdr.cur_addr)}")
        text = (f"{'write to' if is_write else 'read from'} {name} at 0x{addr:08x}, which {self.board.name} does "
                f"not model ({where})")
        self.warnings.append(text)
        if self.strict and self._strict_error is None:
            self._strict_error = text
            self.request_stop("unmodelled")


    # ---------------------------------------------------------------- running
    def _on_invalid(self, uc, access, address, size, value, _):
        self._bad_access = (access, address, size, value)
        return False

    def _on_code(self, uc, address, size, _):
        """Reference counter (tests): one per instruction Unicorn reports. Unicorn does not report an
        instruction of an IT block whose condition fails, yet the CPU executes it (as a no-op, taking
        its issue slot), so those are added from the IT instruction's mask."""
        if self._hdr.stopped:
            return                       # the block hook stopped the run: this instruction will not run
        pending = self._it_pending
        if pending:
            inside = pending[0] <= address <= pending[-1]
            while pending and (pending[0] < address or not inside):
                self._ref_exec(pending.pop(0))   # skipped: its condition failed
                self.reference_count += 1
            if pending and pending[0] == address:
                pending.pop(0)
        self._ref_exec(address)
        self.reference_count += 1
        if size == 2:
            hw = int.from_bytes(uc.mem_read(address, 2), "little")
            if hw & 0xFF00 == 0xBF00 and hw & 0x000F:            # IT: mask in the low four bits
                count = 4 - ((hw & 0xF) & -(hw & 0xF)).bit_length() + 1
                insns = self._disassembler().disasm(bytes(uc.mem_read(address + 2, 16)), address + 2, count)
                self._it_pending = [i.address for i in insns]

    @property
    def reference_ticks(self) -> int:
        """Reference runs: the core's ticks summed instruction by instruction, plus the memory system's
        stalls as the native model charged them (they are checked by their own microbenchmarks)."""
        return self._ref_core_ticks + self._stall_ticks()

    @reference_ticks.setter
    def reference_ticks(self, value: int) -> None:
        self._ref_core_ticks = value - self._stall_ticks()

    def _ref_exec(self, address: int) -> None:
        """Reference cycle count: the cost model applied instruction by instruction, with the previous
        executed instruction as context, the taken-branch extra and predictor settled on the spot."""
        if not self._hdr.cycles_on:
            return
        insn = self.coster.instruction(address)
        prev = self._ref_prev
        seq = prev is not None and prev.end == address
        self._ref_settle(address)
        self._ref_before = self.reference_ticks
        pred = prev if seq else None
        self.reference_ticks += self.model.cost(insn, pred) \
            + self.coster.line_start(insn, pred) * self._hdr.flash_penalty
        self._ref_prev = insn
        self._ref_settled = False

    def _ref_settle(self, address: int) -> None:
        """Reference count: the instruction at `address` comes next; if the one before it was a
        conditional branch, it was taken unless `address` follows it (once per branch)."""
        prev = self._ref_prev
        if prev is None or self._ref_settled or not (prev.cond and is_branch(prev)):
            return
        self._ref_settled = True
        taken = prev.end != address
        if taken:
            self.reference_ticks += self.model.taken_extra(prev)
        if self.model.mispredict_ticks:
            slot = (prev.end >> 1) & (PRED_SIZE - 1)       # as pred_slot() in blockcount.c
            ctr = self._ref_predictor.get(slot)
            if ctr is None:
                ctr = 2 if prev.target is not None and prev.target <= prev.addr else 1
            if (ctr >= 2) != taken:
                self.reference_ticks += self.model.mispredict_ticks
            self._ref_predictor[slot] = min(ctr + 1, 3) if taken else max(ctr - 1, 0)

    # ---------------------------------------------------------------- cycle accounting
    def _price(self, addr: int, size: int, out) -> int:
        """Native hook callback: price the block (addr, size) for the native table (once per block)."""
        try:
            block = self.coster.cost(addr, size)
            c = out.contents
            c.cost_seq, c.lines_seq = block.total(seq=True)
            c.cost_branch, c.lines_branch = block.total(seq=False)
            c.taken, c.flags = block.taken, block.flags
            c.func = self._func_index(addr) if self._prof is not None else 0
            c.special, c.sp_dec = self._block_checks(addr, block)
            return 0
        except BaseException as e:          # noqa: BLE001 - reported after emu_start returns
            self._price_error = e
            return -1


    def _func_index(self, addr: int) -> int:
        """Profile slot of the function containing `addr` (0: none)."""
        i = bisect.bisect_right(self._func_starts, addr) - 1
        if i >= 0 and addr < self._funcs[i][0] + self._funcs[i][1]:
            return i + 1
        return 0

    def profile(self) -> list[dict]:
        """Per-function totals since reset (profile=True): name, instructions, ticks, cycles, the most
        expensive first. Exact: the sums over all entries equal `instructions` and the tick total,
        `cycles` of an entry is ticks / ticks_per_cycle (a fraction on the M7 model)."""
        if self._prof is None:
            raise HarnessError("this engine was not started with profile=True")
        out = []
        for i, slot in enumerate(self._prof):
            if slot.instructions or slot.ticks:
                name = self._funcs[i - 1][2] if i else "(outside any function)"
                out.append({"function": name, "instructions": slot.instructions, "ticks": slot.ticks,
                            "cycles": slot.ticks / self._tpc})
        return sorted(out, key=lambda d: (-d["ticks"], d["function"]))

    def _profile_add(self, addr: int, instructions: int, ticks: int) -> None:
        if self._prof is not None:
            slot = self._prof[self._func_index(addr)]
            slot.instructions += instructions
            slot.ticks += ticks

    def _current_block(self):
        """The price of the block the CPU is in (memoised; checked against the code bytes)."""
        return self.coster.cost(self._hdr.cur_addr, self._hdr.cur_size)

    def _current_penalty(self) -> int:
        """The flash penalty the current block was charged with."""
        then = self._penalty_then
        if then is not None and then[0] == self._hdr.count:
            return then[1]
        return self._hdr.flash_penalty

    def _current_price(self) -> int:
        """Ticks charged for the current block at its entry (the previous block's branch excluded)."""
        hdr = self._hdr
        if not hdr.cur_size:
            return 0
        key = (hdr.cur_addr, hdr.cur_size, bool(hdr.cur_seq))
        totals = self._totals.get(key)
        if totals is None or not self.coster.in_flash(hdr.cur_addr):     # code in RAM may change
            totals = self._totals[key] = self._current_block().total(key[2])
        return totals[0] + totals[1] * self._current_penalty()

    def _take_back(self, pc: int) -> None:
        """Emulation stopped with the CPU at `pc`: take back the instructions and the ticks of the
        current block from `pc` on, which did not run, so that both counts are exact."""
        hdr = self._hdr
        remaining = self._lib.bc_remaining(self._state, self.uc._uch, pc)
        if not remaining:
            return
        self._stopped_penalty = self._current_penalty()
        if hdr.cycles_on:
            if pc == hdr.cur_addr:        # the block did not run at all: undo its entry (not the branch to it)
                ticks = self._current_price()
                hdr.prev_end = hdr.cur_addr if hdr.cur_seq else NOSEQ
            else:
                ticks = self._current_block().suffix(pc, bool(hdr.cur_seq), self._current_penalty())
                hdr.prev_end = pc
            hdr.ticks -= ticks
            hdr.pend_flags = hdr.pend_taken = 0   # the block's last instruction did not run
            self._lib.bc_mm_resume(self._state, pc, hdr.ticks)
            self._profile_add(hdr.cur_addr, -remaining, -ticks)
        hdr.count -= remaining

    def _ticks_of_insn_at(self, pc: int) -> int:
        """Ticks of the instruction at `pc` (in the current block, the CPU standing at it after a
        take-back), as the block's price charges it."""
        hdr = self._hdr
        block = self._current_block()
        k = block.index(pc)
        if k is None:
            raise HarnessError(f"internal: 0x{pc:08x} is not an instruction of the block at 0x{hdr.cur_addr:08x}")
        return block.cost_at(k, hdr.prev_end == pc if k == 0 else True, self._stopped_penalty)

    def _run(self, limit: int) -> str:
        """Run until something asks to stop; returns the reason ('line', 'idle', 'budget', 'timeout',
        'sysreset'), raises BoardFault on a fault, Interrupted on Ctrl-C or SIGTERM (harness/interrupt.py)."""
        with deferred(self.uc.emu_stop) as caught:
            return self._run_until(limit, caught)

    def _run_until(self, limit: int, caught) -> str:
        uc, hdr = self.uc, self._hdr
        self._stop_reason = None
        idle_returns = 0
        while True:
            self._service_interrupts()
            handler_limit = self._handler_limit()
            self.run_limit = min(limit, handler_limit)     # what a skipped polling loop may not pass either
            hdr.limit = min(self.run_limit, hdr.count + CHUNK)
            hdr.stopped = 0
            hdr.trap_hit = 0
            self._bad_access = None
            start_count, start_pc = hdr.count, self._pc
            try:
                uc.emu_start(self._pc | 1, UNTIL)
                err = None
            except UcError as e:
                err = e
            pc = uc.reg_read(A.UC_ARM_REG_PC)
            if hdr.cost_error:
                hdr.cost_error = 0
                raise HarnessError(f"internal: the cycle model cannot price a block: {self._price_error!r}") \
                    from self._price_error
            self._take_back(pc)                     # what did not run of the current block
            self._pc = pc
            if self.reference_counter and hdr.cycles_on:
                self._ref_settle(pc)                # the CPU stands at pc: a branch before it is settled
            if hdr.unknown:
                raise HarnessError("internal: Unicorn reported a block without a size; the count is inexact")
            if caught.signum is not None:
                raise Interrupted(caught.signum)    # whatever emu_start said: an interrupt is never a fault
            if err is None:
                if hdr.trap_hit:
                    raise self._handler_fault(hdr.trap_hit - 1)
                chunk_end = hdr.stopped == 1 and hdr.limit < min(limit, handler_limit)   # hdr.count is taken back
                if self._fault_pending is not None:
                    if hdr.stopped == 4:
                        self._raise_pending_fault("looped forever")
                    if self._stop_reason == "sysreset":
                        self._raise_pending_fault("requested a system reset")
                    if hdr.stopped == 1 and not chunk_end and self._stop_reason is None:
                        self._raise_pending_fault("ran out of the instruction budget" if hdr.limit == limit else
                                                  f"was still running {HANDLER_INSTRUCTIONS:,} instructions later")
                if chunk_end and self._stop_reason is None:
                    if self._waits_for_input_in_self_loop(pc):
                        return "idle"
                    continue                # the end of a chunk: signals were looked at, the run goes on
                if self._stop_reason is not None:
                    return self._stop_reason
                if hdr.stopped == 5:
                    self._special_stop(pc, limit)
                    continue
                if hdr.stopped == 3 and self._cycle_budget_spent():
                    return "cycle-budget"
                if hdr.stopped == 3 and self._waits_for_input_in_self_loop(pc):
                    return "idle"
                if hdr.stopped == 3 or hdr.stopped == 4:
                    continue                # an interrupt fell due or the masks changed: serviced at the top
                if hdr.stopped:
                    return "budget" if limit == self._budget_limit else "timeout"
                if self._hint_before(pc) == "wfi":
                    reason = self._sleep_until_woken()
                    if reason is not None:
                        return reason
                    continue
                # Unicorn returned by itself for another reason: carry on, unless nothing moves
                idle_returns = idle_returns + 1 if (hdr.count, pc) == (start_count, start_pc) else 0
                if idle_returns > MAX_IDLE_RETURNS:
                    raise HarnessError(f"internal: emulation makes no progress at 0x{pc:08x}")
                continue
            if err.errno == UC.UC_ERR_INSN_INVALID and self._hint_before(pc) in ("wfe", "yield"):
                # Unicorn stops after these hints. YIELD falls through; WFE sleeps as WFI does unless
                # the event register is set (an exception taken since the last WFE, or SEV just before)
                if self._hint_before(pc) == "wfe" and not self._event_register(pc):
                    reason = self._sleep_until_woken(wfe=True)
                    if reason is not None:
                        return reason
                continue
            if err.errno in (UC.UC_ERR_EXCEPTION, UC.UC_ERR_FETCH_UNMAPPED, UC.UC_ERR_FETCH_PROT) \
                    and pc >= 0xFFFFFFE0 and self.exceptions.exit(pc | 1):
                continue                    # a branch to EXC_RETURN: the exception returned
            if err.errno == UC.UC_ERR_EXCEPTION:
                if self._svc_before(pc):
                    self.exceptions.pend(X.SVCALL)      # taken at the top, or escalated below
                    if self.exceptions.takeable() == X.SVCALL:
                        continue
                    raise self._fault(err, pc)          # SVC at or above its priority: no handler
                stop = self.semihosting.at_bkpt(pc)
                if stop == "continue":
                    continue
                if stop == "exit":
                    self._dead = self._exit_stop()      # final: lines sent before it come first
                    return "exit"
                if stop == "bkpt":
                    fault = self._bkpt_fault(pc)
                    if self._enter_fault_handler(fault, pc):
                        continue
                    raise fault
            access = self._bad_access
            if access is not None and err.errno in (UC.UC_ERR_READ_UNMAPPED, UC.UC_ERR_WRITE_UNMAPPED):
                page = access[1] - access[1] % self.page
                model = self._exact_page.get(page)
                if model is not None:
                    self._perform(pc, access)
                    if self._stop_reason is not None:
                        return self._stop_reason
                    if hdr.count > limit:
                        return "budget" if limit == self._budget_limit else "timeout"
                    continue
            fault = self._fault(err, pc)
            if self._enter_fault_handler(fault, pc):
                self._dead = None
                continue
            if self._fault_pending is not None:
                self._raise_pending_fault(f"faulted itself: {fault.verdict}")
            raise fault


    def _sleep_until_woken(self, wfe: bool = False) -> str | None:
        """The CPU sleeps (WFI, or WFE without an event): None when an interrupt wakes it, else why the
        run stops ('idle': only the host's input can wake it; 'wfi': nothing ever will). A WFE that nothing
        could ever wake falls through instead, as if the event register were set: its state at reset and
        the events of other sources (SEV further back, debug) are not modelled, and a hint no firmware
        relies on to sleep for ever (engine_probe's `wfe; yield; sev`) must not end the run."""
        if self._waits_for_input_in_wfi():
            self._quiet_wfis = 0
            return "idle"
        if self._wfi():
            return "cycle-budget" if self._cycle_budget_spent() else None
        return None if wfe else "wfi"       # sleeps until an interrupt, and none can ever come

    def _event_register(self, pc: int) -> bool:
        """WFE just before pc: read and clear the event register (ARMv7-M "Wait For Event"). It is set by
        an exception entry since the last WFE (an interrupt that would have woken it) or by an SEV right
        before this WFE (the `SEV; WFE` idiom that clears it); an SEV further back is not seen."""
        entries, self._wfe_entries = self._wfe_entries, self.exceptions.entries
        try:
            narrow = int.from_bytes(self.uc.mem_read(pc - 2, 2), "little") == 0xBF20
            at = pc - (2 if narrow else 4)                  # the WFE's address
            sev_narrow = int.from_bytes(self.uc.mem_read(at - 2, 2), "little") == 0xBF40
            sev_wide = bytes(self.uc.mem_read(at - 4, 4)) == b"\xaf\xf3\x04\x80"
        except UcError:
            sev_narrow = sev_wide = False
        return sev_narrow or sev_wide or self.exceptions.entries != entries

    def _exit_stop(self) -> BoardExit:
        """The firmware exited through semihosting: the final stop (read_line raises it from now on)."""
        verdict = f"EXIT firmware exited through semihosting with code {self.exit_code} (pc {self._at(self._pc)})"
        report = self._report("exit", verdict)
        report["exit_code"] = self.exit_code
        return BoardExit(self._report_text("exit", verdict), report, self.exit_code)

    def step_over(self, pc: int, size: int) -> None:
        """The engine performed the instruction at `pc` itself (e.g. a semihosting BKPT): count it with
        its modelled cycles and go on after it."""
        hdr = self._hdr
        ticks = self._ticks_of_insn_at(pc) if hdr.cycles_on and hdr.cur_size else 0
        self._pc = pc + size
        hdr.count += 1
        if hdr.cycles_on:
            hdr.ticks += ticks
            hdr.prev_end = pc + size
            self._profile_add(pc, 1, ticks)

    _HINTS = {0xBF10: "yield", 0xBF20: "wfe", 0xBF30: "wfi"}
    _WIDE_HINTS = {0xF3AF8001: "yield", 0xF3AF8002: "wfe", 0xF3AF8003: "wfi"}

    def _hint_before(self, pc: int) -> str | None:
        """'wfi', 'wfe' or 'yield' when the instruction just before `pc` is that hint."""
        try:
            hw = int.from_bytes(self.uc.mem_read(pc - 2, 2), "little")
            first, second = (int.from_bytes(self.uc.mem_read(pc - 4 + i, 2), "little") for i in (0, 2))
        except UcError:
            return None
        if hw in self._HINTS:
            return self._HINTS[hw]
        return self._WIDE_HINTS.get((first << 16) | second)

    # ---------------------------------------------------------------- exact-page accesses
    # one disassembler per thread: a capstone handle keeps the last instruction's details, and two engines
    # may run at once (a pty bridge's thread next to a direct engine), so a shared one mixes their operands
    _cs = threading.local()

    @classmethod
    def _disassembler(cls):
        cs = getattr(cls._cs, "cs", None)
        if cs is None:
            import capstone
            cs = capstone.Cs(capstone.CS_ARCH_ARM, capstone.CS_MODE_THUMB | capstone.CS_MODE_MCLASS)
            cs.detail = True
            cls._cs.cs = cs
        return cs

    def _decode_insn(self, pc: int):
        code = bytes(self.uc.mem_read(pc, 4))
        return next(self._disassembler().disasm(code, pc, 1), None)

    def _accessing_pcs(self, addr: int, is_write: bool) -> list[int]:
        """Inside a peripheral callback, which instruction of the current block accessed `addr`: Unicorn
        knows only the block, but the registers are the accessing instruction's, so each load (store) of
        the block is asked where it would access now; those that would reach `addr` are the candidates
        (one, unless another instruction of the block uses the same base and offset)."""
        import capstone.arm as C
        hdr = self._hdr
        try:
            code = bytes(self.uc.mem_read(hdr.cur_addr, hdr.cur_size))
        except UcError:
            return []
        regs = _capstone_regs()
        pcs = []
        for insn in self._disassembler().disasm(code, hdr.cur_addr):
            def reg(r, pc=insn.address):
                return (pc + 4) & ~3 if r == C.ARM_REG_PC else self.uc.reg_read(regs[r])
            found = _memory_accesses(insn, reg)
            if found and any(a <= addr < a + size and store == is_write for a, size, store, _ in found[0]):
                pcs.append(insn.address)
        return pcs

    def _perform(self, pc: int, access: tuple[int, int, int, int]) -> None:
        """The instruction at `pc` touched an exact page and was stopped before it took effect. Perform
        it against the models with the exact instruction and cycle counts (the current block's tail
        from `pc` has been taken back; the instruction's own cycles are charged as its block priced
        them), then step past it."""
        import capstone.arm as C
        insn = self._decode_insn(pc)
        if insn is None:
            raise HarnessError(f"internal: cannot decode the instruction at 0x{pc:08x}")
        uc = self.uc
        regs = _capstone_regs()

        def reg(r):
            if r == C.ARM_REG_PC:
                return (pc + 4) & ~3
            return uc.reg_read(regs[r])

        writes: list[tuple[int, int]] = []          # (unicorn register, value)
        hdr = self._hdr
        ticks = self._ticks_of_insn_at(pc) if hdr.cycles_on else 0
        self._exact_now = hdr.count
        self._exact_ticks = (hdr.ticks, hdr.ticks + ticks)
        self._exact_pc = pc
        if self.reference_counter:
            self.exact_log.append((pc, access[1], access[0] == UC.UC_MEM_WRITE_UNMAPPED, self._exact_now,
                                   self.reference_count, hdr.cur_addr, hdr.ticks, self._ref_before,
                                   self.reference_ticks))
        try:
            found = _memory_accesses(insn, reg)
            if found is None:
                raise HarnessError(f"the emulator cannot perform `{insn.mnemonic} {insn.op_str}` at 0x{pc:08x} "
                                   f"({self.symbol_at(pc)}) on a peripheral register")
            accesses, base_write, signed = found
            writes.extend((regs[r], v) for r, v in base_write)
            if accesses[0][0] & 0xFFFFFFFF != access[1]:
                raise HarnessError(f"internal: `{insn.mnemonic} {insn.op_str}` at 0x{pc:08x}: computed address "
                                   f"0x{accesses[0][0]:08x}, the CPU accessed 0x{access[1]:08x}")
            loaded: list[tuple[int, int]] = []
            for addr, size, is_store, r in accesses:
                addr &= 0xFFFFFFFF
                model = self._exact_page.get(addr - addr % self.page)
                if model is None:
                    raise HarnessError(f"the emulator cannot perform `{insn.mnemonic} {insn.op_str}` at "
                                       f"0x{pc:08x}: it spans 0x{addr:08x} outside the peripheral page")
                if is_store:
                    model.write(addr - model.base, size, reg(r) & size_mask(size))
                else:
                    value = model.read(addr - model.base, size)
                    if signed and value >> (8 * size - 1):
                        value -= 1 << (8 * size)
                    loaded.append((r, value & 0xFFFFFFFF))
        finally:
            self._exact_now = None
            self._exact_ticks = None
        self.trapped_accesses += 1
        for r, value in loaded:
            if r == C.ARM_REG_PC:
                raise HarnessError(f"the emulator cannot load the PC from a peripheral (0x{pc:08x})")
            writes.append((regs[r], value))
        for uc_reg, value in writes:
            uc.reg_write(uc_reg, value)
        _advance_itstate(uc)
        self._pc = pc + insn.size
        hdr.count += 1
        if hdr.cycles_on:
            hdr.ticks += ticks
            hdr.prev_end = pc + insn.size         # the next block follows it sequentially
            self._profile_add(hdr.cur_addr, 1, ticks)

    # ---------------------------------------------------------------- reports
    def _registers(self) -> dict[str, int]:
        return {name: self.uc.reg_read(r) for name, r in _REPORT_REGS}

    def _report(self, kind: str, verdict: str, address: int | None = None) -> dict:
        pc = self._pc
        return {"kind": kind, "verdict": verdict, "pc": pc, "symbol": self.symbol_at(pc), "address": address,
                "instructions": self.instructions, "cycles": self.cycles, "registers": self._registers(),
                "uart_tail": self.uart_tail(20), "board": self.board.name, "elf": str(self.elf_path)}

    def _report_text(self, kind: str, verdict: str, address: int | None = None, extra: list[str] = ()) -> str:
        pc = self._pc
        lines = [verdict, f"  pc           {self._at(pc)}"]
        insn = self._safe_disasm(pc)
        if insn:
            lines.append(f"  instruction  {insn}")
        if address is not None:
            where = self._describe(address)
            lines.append(f"  address      0x{address:08x}" + (f"  ({where})" if where else ""))
        lines.extend(extra)
        regs = self._registers()
        names = list(regs)
        for i in range(0, len(names), 4):
            lines.append("  " + "  ".join(f"{n:>4} 0x{regs[n]:08x}" for n in names[i:i + 4]))
        lines.append(f"  instructions {self.instructions}")
        if self._hdr.cycles_on:
            lines.append(f"  cycles       {self.cycles} (modelled)")
        tail = self.uart_tail(20)
        lines.append(f"  console, last {len(tail)} lines:" if tail else "  console: nothing sent")
        lines.extend(f"  | {t}" for t in tail)
        return "\n".join(lines)

    def _safe_disasm(self, pc: int) -> str | None:
        try:
            insn = self._decode_insn(pc)
        except Exception:
            return None
        if insn is None:
            try:
                return "undecodable " + self.read_memory(pc, 4).hex()
            except UcError:
                return None
        return f"{insn.mnemonic} {insn.op_str}".strip()

    def _describe(self, addr: int) -> str:
        for r in self.board.regions:
            if r.contains(addr):
                return f"{r.name}+0x{addr - r.base:x}" + (", read-only" if r.readonly else "")
        for m in self.peripherals.values():
            if m.base <= addr < m.base + max(self.board.peripherals[m.name].size or 0, type(m).size):
                return f"{m.name}+0x{addr - m.base:x}"
        below = [r for r in self.board.regions if r.end <= addr]
        if below:
            r = max(below, key=lambda r: r.end)
            if addr - r.end < 0x10000:
                return f"{addr - r.end} bytes past the end of {r.name}" if addr > r.end else f"just past the end of {r.name}"
        return "not in the memory map"

    def _fault(self, err: UcError, pc: int) -> BoardFault:
        access = self._bad_access
        address = access[1] if access else None
        kinds = {
            UC.UC_ERR_READ_UNMAPPED: ("read-unmapped", "read from unmapped address"),
            UC.UC_ERR_WRITE_UNMAPPED: ("write-unmapped", "write to unmapped address"),
            UC.UC_ERR_FETCH_UNMAPPED: ("fetch-unmapped", "fetch from unmapped address"),
            UC.UC_ERR_WRITE_PROT: ("write-readonly", "write to read-only"),
            UC.UC_ERR_READ_PROT: ("read-protected", "read from protected"),
            UC.UC_ERR_FETCH_PROT: ("fetch-protected", "fetch from non-executable"),
            UC.UC_ERR_READ_UNALIGNED: ("read-unaligned", "unaligned read at"),
            UC.UC_ERR_WRITE_UNALIGNED: ("write-unaligned", "unaligned write at"),
            UC.UC_ERR_FETCH_UNALIGNED: ("fetch-unaligned", "unaligned fetch at"),
        }
        extra: list[str] = []
        if err.errno in kinds:
            kind, what = kinds[err.errno]
            if address is None:
                address = pc
            if kind in ("write-readonly", "read-protected", "fetch-protected"):
                region = next((r.name for r in self.board.regions if r.contains(address)), None)
                where = f"{region} at" if region else "memory at"
                if region is None:
                    model = next((m for m in self.peripherals.values()
                                  if m.base <= address < m.base + 0x1000), None)
                    where = f"peripheral {model.name} at" if model else where
                verdict = f"FAULT {what} {where} 0x{address:08x}"
            else:
                verdict = f"FAULT {what} 0x{address:08x}"
            if access:
                extra.append(f"  access       {access[2]} bytes" + (f", value 0x{access[3] & 0xFFFFFFFF:x}"
                                                                    if access[0] in (UC.UC_MEM_WRITE_UNMAPPED,
                                                                                     UC.UC_MEM_WRITE_PROT) else ""))
        elif err.errno == UC.UC_ERR_INSN_INVALID:
            kind, address = "undefined-instruction", pc
            verdict = f"FAULT undefined instruction at 0x{pc:08x}"
        elif err.errno == UC.UC_ERR_EXCEPTION:
            kind, address = "exception", pc
            insn = self._safe_disasm(pc) or "?"
            verdict = f"FAULT unhandled CPU exception ({insn}) at 0x{pc:08x}"
        else:                     # Unicorn's own trouble (UC_ERR_MAP, ...): no firmware action explains it
            raise HarnessError(f"internal: the emulator failed: {err} (pc {self._at(pc)}); not a firmware fault")
        if kind == "fetch-unmapped":
            last = self._hdr.cur_addr
            extra.append(f"  came from    the block at {self._at(last)}")
        verdict += f" (pc {self._at(pc)})"
        fault = BoardFault(self._report_text(kind, verdict, address, extra), self._report(kind, verdict, address))
        self._dead = fault
        return fault

    def _handler_fault(self, index: int) -> BoardFault:
        addr, vectors = self._trap_names[index]
        verdict = f"FAULT firmware reached its {'/'.join(vectors)} handler (pc {self._at(addr)})"
        lr = self.uc.reg_read(A.UC_ARM_REG_LR)
        extra = [f"  called from  {self._at(lr & ~1)} (lr)"]
        fault = BoardFault(self._report_text("fault-handler", verdict, None, extra),
                           self._report("fault-handler", verdict))
        fault.report["handler"] = vectors
        self._dead = fault
        return fault


# --------------------------------------------------------------------------------------------------
# helpers for performing an instruction on the CPU's behalf

_CS_REGS: dict[int, int] | None = None


def _capstone_regs() -> dict[int, int]:
    """capstone register id -> unicorn register id for r0..r15."""
    global _CS_REGS
    if _CS_REGS is None:
        import capstone.arm as C
        m = {getattr(C, f"ARM_REG_R{i}"): getattr(A, f"UC_ARM_REG_R{i}") for i in range(13)}
        m.update({C.ARM_REG_SB: A.UC_ARM_REG_R9, C.ARM_REG_SL: A.UC_ARM_REG_R10, C.ARM_REG_FP: A.UC_ARM_REG_R11,
                  C.ARM_REG_IP: A.UC_ARM_REG_R12, C.ARM_REG_SP: A.UC_ARM_REG_SP, C.ARM_REG_LR: A.UC_ARM_REG_LR,
                  C.ARM_REG_PC: A.UC_ARM_REG_PC})
        _CS_REGS = m
    return _CS_REGS


def _advance_itstate(uc: Uc) -> None:
    """Step the IT state past one instruction, as the CPU does when an instruction in an IT block ends."""
    xpsr = uc.reg_read(A.UC_ARM_REG_XPSR)
    it = ((xpsr >> 25) & 0x3) | (((xpsr >> 10) & 0x3F) << 2)
    if not it:
        return
    it = 0 if (it & 0x7) == 0 else (it & 0xE0) | ((it << 1) & 0x1F)
    xpsr = (xpsr & ~((0x3 << 25) | (0x3F << 10))) | ((it & 0x3) << 25) | ((it >> 2) << 10)
    uc.reg_write(A.UC_ARM_REG_XPSR, xpsr)


def _memory_accesses(insn, reg) -> tuple[list[tuple[int, int, bool, int]], list[tuple[int, int]], bool] | None:
    """What a load or store instruction accesses, with register values from `reg(capstone reg)`:
    ([(address, size, is_store, data register)], [(capstone base register, its written-back value)],
    loads sign-extend); None for an instruction that is not a plain load/store (single, dual, multiple)."""
    import capstone.arm as C
    loads = {C.ARM_INS_LDR: (4, False), C.ARM_INS_LDRH: (2, False), C.ARM_INS_LDRB: (1, False),
             C.ARM_INS_LDRSH: (2, True), C.ARM_INS_LDRSB: (1, True), C.ARM_INS_LDRD: (4, False)}
    stores = {C.ARM_INS_STR: 4, C.ARM_INS_STRH: 2, C.ARM_INS_STRB: 1, C.ARM_INS_STRD: 4}
    multiple = {C.ARM_INS_LDM: (False, True), C.ARM_INS_LDMDB: (False, False),
                C.ARM_INS_STM: (True, True), C.ARM_INS_STMDB: (True, False)}
    ops = list(insn.operands)
    accesses: list[tuple[int, int, bool, int]] = []
    writes: list[tuple[int, int]] = []
    if insn.id in loads or insn.id in stores:
        size = loads[insn.id][0] if insn.id in loads else stores[insn.id]
        mem_i = next(i for i, o in enumerate(ops) if o.type == C.ARM_OP_MEM)
        data_regs = [o.reg for o in ops[:mem_i]]
        mem = ops[mem_i].mem
        base = reg(mem.base)
        if insn.post_index:
            extra = ops[mem_i + 1]
            step = extra.imm if extra.type == C.ARM_OP_IMM else reg(extra.reg)
            if extra.type != C.ARM_OP_IMM and extra.subtracted:
                step = -step
            addr, new_base = base, base + step
        else:
            offset = mem.disp
            if mem.index:
                offset = reg(mem.index) << (ops[mem_i].shift.value if ops[mem_i].shift.type else 0)
                if ops[mem_i].subtracted:
                    offset = -offset
            addr = new_base = (base + offset) & 0xFFFFFFFF
        for k, r in enumerate(data_regs):
            accesses.append((addr + 4 * k, size, insn.id in stores, r))
        if insn.writeback:
            writes.append((mem.base, new_base & 0xFFFFFFFF))
        return accesses, writes, loads.get(insn.id, (0, False))[1]
    if insn.id in multiple:
        is_store, up = multiple[insn.id]
        base_reg, reglist = ops[0].reg, [o.reg for o in ops[1:]]
        base = reg(base_reg)
        start = base if up else base - 4 * len(reglist)
        for k, r in enumerate(reglist):
            accesses.append((start + 4 * k, 4, is_store, r))
        if insn.writeback:
            writes.append((base_reg, (base + (4 if up else -4) * len(reglist)) & 0xFFFFFFFF))
        return accesses, writes, False
    return None
