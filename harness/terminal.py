"""What every `harness` command prints through: the two consoles, and one way to end a command on a
HarnessError (its message on one line, exit status 1, no traceback)."""
from __future__ import annotations

import sys
from contextlib import contextmanager

import typer
from rich.console import Console

from harness.errors import HarnessError

out = Console(width=None if sys.stdout.isatty() else 200)   # logs and CI: do not squeeze the tables
err = Console(stderr=True)


def print_error(e: BaseException) -> None:
    err.print(f"error: {e}", markup=False, highlight=False)


@contextmanager
def exit_on_error():
    """A HarnessError inside ends the command: `error: <message>` on stderr, exit status 1."""
    try:
        yield
    except HarnessError as e:
        print_error(e)
        raise typer.Exit(1) from None
