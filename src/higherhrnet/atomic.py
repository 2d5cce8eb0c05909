"""Atomic file writes: a file either appears complete under its final name or not at all.

Writers go to a temporary sibling (same folder, so ``os.replace`` is atomic) and rename it
at the end; on any error the temporary file is removed. No fsync: this guards against a
killed process (the case Snakemake resumes from), not against power loss.
"""

from __future__ import annotations

import contextlib
import json
import os
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
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


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
