"""How every command-line entry point of the toolkit reports errors.

An *expected* error (bad input: a config value, a missing file, a damaged or unsafe
checkpoint, an export that would overwrite something) is printed as one line
``error: <message>`` on stderr and the command exits with status 2; its message
already says what was expected, what came and how to fix it. Anything else is a bug
and shows its traceback. ``--debug`` shows the traceback of expected errors too.

Used by ``python -m neuromodels.training`` (``neuromodels-train``),
``python -m neuromodels.brainscore`` (``neuromodels-brainscore``) and
``python -m experiments`` (``neuromodels-experiments``).

Examples
--------
>>> def body():
...     raise FileNotFoundError("config file 'x.yaml' does not exist")
>>> run_command(body, debug=False, expected=(FileNotFoundError,))  # prints "error: config file ..." on stderr
2
"""
from __future__ import annotations

import argparse
import errno
import sys
from typing import Callable

__all__ = ["EXIT_BAD_INPUT", "add_debug_flag", "run_command", "disk_error"]

#: exit status of a command refused for bad input (nothing was done, or it stopped cleanly)
EXIT_BAD_INPUT = 2


def add_debug_flag(parser: argparse.ArgumentParser) -> None:
    """Add ``--debug`` (show tracebacks of expected errors too) to a parser."""
    parser.add_argument("--debug", action="store_true", help="show the full traceback of errors")


def disk_error(err: BaseException) -> bool:
    """An ``OSError`` the user fixes outside the program: no space, read-only file system, no permission."""
    return isinstance(err, OSError) and (
        isinstance(err, PermissionError) or err.errno in (errno.ENOSPC, errno.EROFS, errno.EDQUOT, errno.EACCES)
    )


def run_command(body: Callable[[], int], *, debug: bool, expected: tuple[type[BaseException], ...]) -> int:
    """Run ``body``; print expected errors as one line and return :data:`EXIT_BAD_INPUT`.

    Parameters
    ----------
    body
        The command; returns its exit status.
    debug
        Re-raise expected errors (full traceback) instead of the one-line message.
    expected
        Exception types that mean bad input rather than a bug. ``OSError``s for a full
        disk, a read-only file system or missing permissions are always expected.

    Returns
    -------
    int
        ``body()``'s status, or 2 after an expected error.
    """
    try:
        return body()
    except BaseException as err:  # noqa: BLE001 - sorted into expected and bugs below
        if debug or not (isinstance(err, expected) or disk_error(err)):
            raise
        message = str(err) or type(err).__name__
        if isinstance(err, OSError) and err.filename and str(err.filename) not in message:
            message = f"{message} ({err.filename})"
        print(f"error: {message}", file=sys.stderr)
        return EXIT_BAD_INPUT
