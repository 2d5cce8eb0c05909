"""Reading a JSON artifact with a clear error that names the file and what it should be."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

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
