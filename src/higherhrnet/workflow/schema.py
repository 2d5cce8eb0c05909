"""The workflow's config schema: the one home of defaults.

The library's own defaults (e.g. :class:`higherhrnet.postprocess.params.GroupingParams`)
and the README's configuration table are read from or checked against it, so a default is
written once.  The file lives in this package (``config.schema.yaml``, shipped as package
data, so an installed library finds it too); ``schemas/config.schema.yaml``, where the
workflow and its users look, is a link to it.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from ..errors import WorkflowError

SCHEMA_PATH = Path(__file__).with_name("config.schema.yaml")


@lru_cache(maxsize=None)
def load_schema(path: Path = SCHEMA_PATH) -> dict:
    import yaml

    try:
        return yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise WorkflowError(f"{path}: cannot read the config schema ({exc}); the library "
                            "reads its defaults from it (reinstall the package: it ships "
                            "the file)") from None


def defaults(section: str | None = None) -> dict:
    """``{key: default}`` of the top level or of one section (``postprocess``...)."""
    props = load_schema()["properties"]
    if section is not None:
        props = props[section]["properties"]
    return {k: v["default"] for k, v in props.items() if "default" in v}


def flat_defaults() -> dict:
    """Every leaf default as ``{"section.key" or "key": value}`` (for the README check)."""
    out = {}
    for key, sub in load_schema()["properties"].items():
        if sub.get("type") == "object" and "properties" in sub:
            out.update({f"{key}.{k}": v for k, v in defaults(key).items()})
        elif "default" in sub:
            out[key] = sub["default"]
    return out
