"""Reading artifacts with a clear error that names the file: JSON content, .npy headers
(shape, memory order and dtype of a file without reading its data)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from .errors import WorkflowError


def read_json(path: str | os.PathLike, what: str, hint: str = "") -> Any:
    """Parsed content of ``path``; WorkflowError ``"<what> <path>: ..."`` when missing or bad."""
    path = Path(path)
    if not path.is_file():
        raise WorkflowError(f"{what} {path}: file not found{hint}")
    try:
        with open(path, "rb") as fh:
            return json.load(fh)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WorkflowError(f"{what} {path}: not readable JSON ({exc})") from None


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
