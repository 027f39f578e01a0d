"""What every `harness` command prints through: the two consoles, and one way to end a command on a
HarnessError (its message on one line, exit status 1, no traceback)."""
from __future__ import annotations

import signal
import sys
from contextlib import contextmanager

import typer
from rich.console import Console

from harness.errors import HarnessError
from harness.interrupt import signum_of

out = Console(width=None if sys.stdout.isatty() else 200)   # logs and CI: do not squeeze the tables
err = Console(stderr=True)


def print_error(e: BaseException | str) -> None:
    # soft_wrap: one line however narrow the terminal (rich would fold it at 80 columns in a pipe)
    err.print(f"error: {e}", markup=False, highlight=False, soft_wrap=True)


@contextmanager
def exit_on_error():
    """A HarnessError inside ends the command: `error: <message>` on stderr, exit status 1. Ctrl-C or
    SIGTERM that reaches here (before or between a command's own handling) ends it as `stopped:
    interrupted`, exit 130 / 143, rather than click's `Aborted!` and 1."""
    try:
        yield
    except HarnessError as e:
        print_error(e)
        raise typer.Exit(1) from None
    except KeyboardInterrupt as e:
        raise interrupted_exit(e) from None


def interrupted_exit(e: KeyboardInterrupt) -> typer.Exit:
    """`stopped: interrupted (SIGINT)` said, and the exit to raise: 130 for SIGINT, 143 for SIGTERM."""
    err.print(f"stopped: interrupted ({signal.Signals(signum_of(e)).name})", highlight=False)
    return typer.Exit(128 + signum_of(e))


def refuse_negative(**options: int | None) -> None:
    """`--seed -1` would reach numpy and `--jobs -3` the process pool, each as a traceback: refuse a
    negative count or seed by its option's name first."""
    for name, value in options.items():
        if value is not None and value < 0:
            raise HarnessError(f"--{name} must be 0 or more, not {value}")
