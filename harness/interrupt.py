"""Ctrl-C and SIGTERM: one exception for both, and a way to take them while the emulator runs.

Unicorn calls back into Python (peripheral reads, the block pricer) from inside `emu_start`. A signal
handler that raises there raises inside a ctypes callback, where the exception is swallowed or turned
into an emulator error that reads like a firmware fault. So while native code runs, `deferred` makes a
signal only ask the engine to stop; the engine raises `Interrupted` once `emu_start` has returned.
"""
from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Callable, Iterator

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """The user (SIGINT) or the system (SIGTERM) asked the run to stop. `done`: what finished before."""

    def __init__(self, signum: int = signal.SIGINT, done: list | None = None):
        super().__init__(signal.Signals(signum).name)
        self.signum = int(signum)
        self.done = done or []

    @property
    def exit_code(self) -> int:
        return 128 + self.signum          # the shell's convention: 130 for SIGINT, 143 for SIGTERM


def signum_of(e: BaseException) -> int:
    """A plain KeyboardInterrupt (Python's own SIGINT handler) is SIGINT."""
    return getattr(e, "signum", signal.SIGINT)


def _raise(signum, frame):
    raise Interrupted(signum)


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextmanager
def raised_on_signals() -> Iterator[None]:
    """For a command: SIGINT and SIGTERM raise Interrupted in the main thread (SIGTERM's default would
    end the process at once, leaving its worker processes behind and its report unwritten)."""
    if not _main_thread():
        yield
        return
    old = {s: signal.signal(s, _raise) for s in SIGNALS}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


class _Caught:
    signum: int | None = None


@contextmanager
def deferred(stop: Callable[[], None]) -> Iterator[_Caught]:
    """While native code runs: a SIGINT or SIGTERM whose handler would raise (Python's default SIGINT
    handler, raised_on_signals) calls `stop()` and is recorded in the yielded object instead; the
    caller raises Interrupted(caught.signum) when it is safe. Signals set to anything else (ignored in a
    pool worker, a caller's own handler) are left alone."""
    caught = _Caught()
    if not _main_thread():
        yield caught
        return

    def note(signum, frame):
        if caught.signum is None:
            caught.signum = signum
        stop()

    old = {}
    for s in SIGNALS:
        h = signal.getsignal(s)
        if h is signal.default_int_handler or h is _raise:
            old[s] = signal.signal(s, note)
    try:
        yield caught
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def worker_init() -> None:
    """A pool worker: the parent owns Ctrl-C and ends the workers itself (a worker leads its own process
    group, so a terminal's Ctrl-C reaches the parent only, and is ignored here anyway); SIGTERM ends a
    worker at once; and a worker dies with its parent (Linux PR_SET_PDEATHSIG), so a parent killed
    outright leaves none behind."""
    import os
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.setpgrp()                            # the parent ends the worker with the compilers it started
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)       # PR_SET_PDEATHSIG = 1
        if os.getppid() == 1:               # the parent died before prctl: do not run on as an orphan
            os._exit(1)
    except (OSError, AttributeError):
        pass                                # not Linux: the parent's own clean-up still ends the workers


def end_workers(pool) -> None:
    """Cancel a ProcessPoolExecutor's queued tasks and end its running ones now (a running emulation
    does not poll for cancellation): each worker leads its own process group (worker_init), so the
    compilers it started end with it. `_processes` is CPython's table of the workers; the executor has
    no public way to stop a running task."""
    import os
    procs = list((getattr(pool, "_processes", None) or {}).values())
    # a second Ctrl-C now would leave the workers half ended: it is dropped for the few ms this takes
    held = {s: signal.signal(s, signal.SIG_IGN) for s in SIGNALS} if _main_thread() else {}
    try:
        pool.shutdown(wait=False, cancel_futures=True)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for p in procs:
                if p.is_alive():
                    try:
                        os.killpg(p.pid, sig)
                    except (ProcessLookupError, PermissionError):
                        p.kill()         # not (yet) a group leader
            for p in procs:
                p.join(3)
    finally:
        for s, h in held.items():
            signal.signal(s, h)


def run_pool(fn: Callable, items: list, jobs: int | None = None, on_done: Callable = lambda r: None) -> list:
    """fn(item) for every item in worker processes (or here, with one job); results in the order of
    `items`. `fn` must not raise (it turns its own failures into a result). On Ctrl-C or SIGTERM the
    workers are ended and Interrupted carries the results finished so far."""
    import os
    from concurrent.futures import ProcessPoolExecutor, as_completed
    jobs = min(jobs or os.cpu_count() or 1, max(len(items), 1))
    results: dict[int, object] = {}
    if jobs == 1:
        try:
            for i, item in enumerate(items):
                results[i] = fn(item)
                on_done(results[i])
        except KeyboardInterrupt as e:
            raise Interrupted(signum_of(e), list(results.values())) from None
        return [results[i] for i in range(len(items))]
    pool = ProcessPoolExecutor(max_workers=jobs, initializer=worker_init)
    try:
        futures = {pool.submit(fn, item): i for i, item in enumerate(items)}
        for fut in as_completed(futures):
            results[futures[fut]] = fut.result()
            on_done(results[futures[fut]])
    except KeyboardInterrupt as e:
        end_workers(pool)
        raise Interrupted(signum_of(e), [results[i] for i in sorted(results)]) from None
    pool.shutdown()
    return [results[i] for i in range(len(items))]
