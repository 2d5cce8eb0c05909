"""Atomic file writes: a file either appears complete under its final name or not at all.

Writers go to a temporary sibling (same folder, so ``os.replace`` is atomic) and rename it
at the end; on any error the temporary file is removed. No fsync: this guards against a
killed process (the case Snakemake resumes from), not against power loss.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import IO, Any, Iterator

def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """Open a temporary sibling of ``path`` for writing; rename onto ``path`` on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the usual permissions
        with os.fdopen(fd, mode) as fh:
            yield fh
        os.replace(tmp, path)
    except OSError as exc:
        named = _naming(exc, path)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if named is exc:
            raise
        raise named from exc
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _naming(exc: OSError, path: Path) -> OSError:
    """``exc`` with ``path`` as its file name when it has none (numpy's short write,
    ``"N requested and M written"``, carries neither a path nor an errno: when the disk
    has less room than the bytes still to write, it is called what it is, ENOSPC)."""
    if exc.filename is not None:
        return exc
    code = exc.errno
    short = re.fullmatch(r"(\d+) requested and (\d+) written", str(exc))
    if code is None and short:
        with contextlib.suppress(OSError):
            if shutil.disk_usage(path.parent).free < int(short[1]) - int(short[2]):
                code = errno.ENOSPC
    return OSError(code, exc.strerror or str(exc), str(path))


def write_json(path: str | os.PathLike, obj: Any, indent: int | None = 1) -> None:
    with atomic_open(path, "w") as fh:
        json.dump(obj, fh, indent=indent)
        fh.write("\n")


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_open(path, "w") as fh:
        fh.write(text)


def save_npy(path: str | os.PathLike, array) -> None:
    import numpy as np  # lazily: the Snakefile imports the download constants, stdlib only

    with atomic_open(path, "wb") as fh:
        np.save(fh, array, allow_pickle=False)
