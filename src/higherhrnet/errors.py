"""User-facing errors.

Every stage raises :class:`WorkflowError` (or a subclass) for problems a user can fix: a
missing or malformed file, a bad argument, a missing tool. Stage CLIs catch it and print
``error: <message>`` with exit status 2 instead of a traceback (see :func:`cli_main`).
"""

from __future__ import annotations

import sys
from typing import Callable


class WorkflowError(Exception):
    """A problem the user can act on; the message names the file and what is wrong."""


def first_few(items, n: int = 10, sep: str = ", ") -> str:
    """``a, b, c, ... (+N more)``: the first ``n`` items of a list for an error message."""
    items = list(items)
    text = sep.join(items[:n])
    return text + (f"{sep}... (+{len(items) - n} more)" if len(items) > n else "")


def cli_main(main: Callable[[list[str] | None], int | None], argv: list[str] | None = None) -> None:
    """Run a stage's ``main`` and turn :class:`WorkflowError` into a clean exit 2."""
    try:
        code = main(argv)
    except WorkflowError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    sys.exit(code or 0)
