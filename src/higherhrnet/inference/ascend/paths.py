"""ais_bench's path rule, checked (and, for what this workflow wrote, met) before it runs.

Every ais_bench since Sep 2023 (ait/msit ``args_check.py``, ``path_security_check.py``;
``../shared/ASCEND_TOOLS.md``) refuses, before running anything, a ``--model`` / ``--input`` /
``--output`` path (and every entry of an ``--input`` folder, subfolders included) that

- contains a character outside ``[A-Za-z0-9_./-]`` (checked on the string as given),
- is a symbolic link,
- is owned neither by the user nor by one of the user's groups,
- is group- or other-writable (mode above 0o755),

and refuses an absolute ``--output_dirname``. Under a umask of 002 (usual on shared clusters)
plain ``mkdir`` and file writes give group-writable paths, so :func:`prepare` first removes the
group/other write bits from the paths the user owns (all written by this workflow), then
:func:`violations` names whatever is still against the rule.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Iterable, Iterator

from ...errors import WorkflowError, first_few

ALLOWED = re.compile(r"[^_A-Za-z0-9/.-]")
FORBIDDEN_BITS = stat.S_IWGRP | stat.S_IWOTH
RULE = ("ais_bench accepts only paths of the characters A-Z a-z 0-9 _ - / . that are not "
        "symbolic links, belong to the user or one of the user's groups and are neither "
        "group- nor other-writable (mode at most 0o755)")


def bad_characters(path: str | os.PathLike) -> str:
    """The characters of ``path`` outside ais_bench's white list ('' when none)."""
    return "".join(sorted(set(ALLOWED.findall(str(path)))))


def string_violations(path: str | os.PathLike) -> list[str]:
    """What is wrong with the path string alone (known before the path exists)."""
    bad = bad_characters(path)
    return [f"{path}: contains {bad!r}, outside [A-Za-z0-9_./-]"] if bad else []


def _walk(path: Path) -> Iterator[Path]:
    yield path
    if path.is_dir() and not path.is_symlink():
        for entry in sorted(path.iterdir()):
            yield from _walk(entry)


def path_violations(path: str | os.PathLike, recursive: bool = False) -> list[str]:
    """Every breach of the rule by an existing ``path`` (and its entries when ``recursive``)."""
    out = string_violations(path)
    groups = set(os.getgroups()) | {os.getegid()}
    for p in (_walk(Path(path)) if recursive else [Path(path)]):
        if p != Path(path):
            out += string_violations(p)
        if p.is_symlink():
            out.append(f"{p}: is a symbolic link")
            continue
        try:
            st = p.stat()
        except FileNotFoundError:
            out.append(f"{p}: does not exist")
            continue
        if st.st_uid != os.geteuid() and st.st_gid not in groups:
            out.append(f"{p}: owned by uid {st.st_uid} / gid {st.st_gid}, neither the user "
                       "nor one of the user's groups")
        if st.st_mode & FORBIDDEN_BITS:
            out.append(f"{p}: mode {stat.S_IMODE(st.st_mode):o} is group- or other-writable")
    return out


def tighten(path: str | os.PathLike, recursive: bool = False) -> int:
    """Remove group/other write bits from the user's own paths (not through symlinks).

    Returns how many modes changed. Paths of other owners are left for :func:`violations`.
    """
    changed = 0
    for p in (_walk(Path(path)) if recursive else [Path(path)]):
        if p.is_symlink() or not p.exists():
            continue
        st = p.stat()
        if st.st_uid == os.geteuid() and st.st_mode & FORBIDDEN_BITS:
            os.chmod(p, stat.S_IMODE(st.st_mode) & ~FORBIDDEN_BITS)
            changed += 1
    return changed


def check(paths: Iterable[tuple[str | os.PathLike, bool]], what: str = "ais_bench") -> None:
    """WorkflowError listing every breach among ``(path, recursive)`` pairs."""
    problems = [v for path, recursive in paths for v in path_violations(path, recursive)]
    if problems:
        raise WorkflowError(f"{what} would refuse {len(problems)} path(s) before running: "
                            f"{first_few(problems, 5)}. {RULE}; move or copy the data to a "
                            "plain folder (not a link) of such a name, or fix its permissions")


def prepare(model: str | os.PathLike, input_dir: str | os.PathLike,
            output: str | os.PathLike, dirname: str) -> int:
    """Make the paths handed to ais_bench meet its rule, or raise naming each offending path.

    ``output`` must exist. Returns how many modes were tightened.
    """
    if os.path.isabs(dirname):
        raise WorkflowError(f"--output_dirname {dirname}: ais_bench refuses an absolute "
                            "output_dirname; give a plain folder name")
    pairs = [(model, False), (input_dir, True), (output, False)]
    problems = [v for path, _ in pairs for v in string_violations(path)] + string_violations(
        dirname)
    if problems:
        raise WorkflowError(f"ais_bench would refuse {len(problems)} path(s) before running: "
                            f"{first_few(problems, 5)}. {RULE}")
    changed = sum(tighten(path, recursive) for path, recursive in pairs)
    check(pairs)
    return changed
