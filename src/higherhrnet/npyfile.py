""".npy headers: shape, memory order and dtype of a file without reading its data."""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

import numpy as np

from .errors import WorkflowError


def read_header(fh: BinaryIO) -> tuple[tuple[int, ...], bool, np.dtype]:
    """``(shape, fortran_order, dtype)`` of an open .npy file, left at the start of the data
    (format versions 1.0 and 2.0; ValueError/EOFError for anything else)."""
    version = np.lib.format.read_magic(fh)
    read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
            else np.lib.format.read_array_header_2_0)
    shape, fortran, dtype = read(fh)
    return tuple(int(s) for s in shape), bool(fortran), np.dtype(dtype)


def header(path: str | os.PathLike) -> tuple[tuple[int, ...], bool, np.dtype]:
    """:func:`read_header` of a file, or a WorkflowError naming it."""
    try:
        with open(path, "rb") as fh:
            return read_header(fh)
    except (ValueError, OSError, EOFError) as exc:
        raise WorkflowError(f"{Path(path)}: not a readable .npy file ({exc})") from None
