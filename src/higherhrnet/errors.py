"""User-facing errors.

Every stage raises :class:`WorkflowError` (or a subclass) for problems a user can fix: a
missing or malformed file, a bad argument, a missing tool. Stage CLIs catch it and print
``error: <message>`` with exit status 2 instead of a traceback (see :func:`cli_main`); an
``OSError`` (full disk, read-only or missing folder, permissions) becomes one such line too,
naming the path and the cause.
"""

from __future__ import annotations

import errno
import sys
from typing import Callable


class WorkflowError(Exception):
    """A problem the user can act on; the message names the file and what is wrong."""


def first_few(items, n: int = 10, sep: str = ", ") -> str:
    """``a, b, c, ... (+N more)``: the first ``n`` items of a list for an error message."""
    items = list(items)
    text = sep.join(items[:n])
    return text + (f"{sep}... (+{len(items) - n} more)" if len(items) > n else "")


#: errno values that mean: the file system has no room for what is written
DISK_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


def describe_os_error(exc: OSError) -> str:
    """``<path>: <cause>`` for an OSError; ENOSPC / EDQUOT read "disk full"."""
    paths = [str(p) for p in (exc.filename, exc.filename2) if p is not None]
    if exc.errno in DISK_FULL:
        cause = ("disk full (no space left on device)" if exc.errno == errno.ENOSPC
                 else "disk full (disk quota exceeded)")
    else:
        cause = exc.strerror or str(exc) or type(exc).__name__
    where = " -> ".join(paths) if paths else "(no path given)"
    return f"{where}: {cause[:1].lower() + cause[1:]}"


def cli_main(main: Callable[[list[str] | None], int | None], argv: list[str] | None = None) -> None:
    """Run a stage's ``main`` as a command: first the threads its rule declares
    (:func:`higherhrnet.threads.stage_threads`), then ``main``; :class:`WorkflowError` and
    ``OSError`` become one ``error:`` line and exit 2 instead of a traceback."""
    from .threads import stage_threads

    stage_threads(argv=argv)
    try:
        code = main(argv)
    except WorkflowError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except OSError as exc:
        print(f"error: {describe_os_error(exc)}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    sys.exit(code or 0)
