"""Content digests of the code a workflow rule runs, for code-aware re-run triggers.

Snakemake's own code trigger sees a rule's shell text, not the stage script it calls nor the
library modules behind it. :func:`rule_digest` hashes all of it: the rule's text in its
``.smk`` file, the stage scripts it names (``$HHRNET_SCRIPTS/<name>.py``) and every module of
the library package they import, transitively, found by reading the import statements with
:mod:`ast` (anywhere in a file, so lazy imports inside functions count too). Only contents
and paths relative to the project go in: a fresh clone or a ``touch`` gives the same digest.
"""

from __future__ import annotations

import ast
import hashlib
import re
from functools import lru_cache
from pathlib import Path

PACKAGE = "higherhrnet"
SCRIPT_REF = re.compile(r"\$HHRNET_SCRIPTS/([\w.-]+\.py)")


def module_file(src: Path, name: str) -> Path | None:
    """The file of module ``name`` (dotted) under ``src``: a ``.py`` or a package's ``__init__``."""
    base = src.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def module_name(src: Path, path: Path) -> str | None:
    """Dotted name of a file under ``src`` (a package's ``__init__.py`` names the package)."""
    try:
        parts = list(path.relative_to(src).with_suffix("").parts)
    except ValueError:
        return None  # a script outside the package
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_names(path: Path, name: str | None) -> set[str]:
    """Dotted names a file may import: each ``import X`` and, for ``from X import a``, X and X.a
    (a may be a submodule or an attribute; the caller keeps those that are files). Relative
    imports are resolved against the file's own package."""
    tree = ast.parse(path.read_bytes(), filename=str(path))
    is_package = path.name == "__init__.py"
    package = (name or "").split(".") if is_package else (name or "").split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                if name is None or node.level - 1 > len(package):
                    continue  # relative import outside a package: Python refuses it too
                parts = package[: len(package) - (node.level - 1)]
                base = ".".join(parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            if base:
                found.add(base)
            found.update(f"{base}.{alias.name}" if base else alias.name for alias in node.names)
    return found


def with_parents(name: str) -> list[str]:
    """a.b.c -> [a, a.b, a.b.c]: importing a module runs its packages' ``__init__`` first."""
    parts = name.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def code_files(script: Path, src: Path, package: str = PACKAGE) -> list[Path]:
    """The script and every module of ``package`` (under ``src``) it imports, transitively."""
    script, src = Path(script), Path(src)
    seen: dict[Path, None] = {script: None}
    queue = [script]
    while queue:
        path = queue.pop()
        for imported in imported_names(path, module_name(src, path)):
            if imported.split(".")[0] != package:
                continue
            for name in with_parents(imported):
                found = module_file(src, name)
                if found is not None and found not in seen:
                    seen[found] = None
                    queue.append(found)
    return sorted(seen)


def rule_text(snakefile_text: str, rule: str) -> str | None:
    """The text of ``rule <name>:`` in a Snakefile: its header and the lines indented below it
    (the rule itself may be indented, under an ``if``)."""
    m = re.search(rf"^([ \t]*)rule {re.escape(rule)}:\n(?:\1[ \t]+\S.*\n|[ \t]*\n)*",
                  snakefile_text, re.M)
    return m.group(0).rstrip() + "\n" if m else None


def digest(root: Path, files: list[Path], texts: list[str] = ()) -> str:
    """sha256 (16 hex digits) of texts and files, each file as its path relative to root + bytes."""
    h = hashlib.sha256()
    for text in texts:
        h.update(text.encode() + b"\0")
    for path in sorted(files, key=lambda p: Path(p).relative_to(root).as_posix()):
        h.update(Path(path).relative_to(root).as_posix().encode() + b"\0")
        h.update(Path(path).read_bytes() + b"\0")
    return h.hexdigest()[:16]


@lru_cache(maxsize=None)
def rule_digest(root: Path, rule: str, snakefiles: tuple[Path, ...],
                scripts_dir: str = "scripts", src_dir: str = "src") -> str:
    """Digest of what ``rule`` runs: its text in one of ``snakefiles``, the stage scripts it
    names and the library modules they import. Raises ValueError for an unknown rule."""
    root = Path(root)
    for snakefile in snakefiles:
        text = rule_text(Path(snakefile).read_text(), rule)
        if text is not None:
            break
    else:
        raise ValueError(f"rule {rule} is not defined in {', '.join(map(str, snakefiles))}")
    files: set[Path] = set()
    for script in SCRIPT_REF.findall(text):
        files.update(code_files(root / scripts_dir / script, root / src_dir))
    return digest(root, sorted(files), [text])
