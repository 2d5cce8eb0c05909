"""Defaults are written once, in schemas/config.schema.yaml: the README's configuration table
and the library's parameter defaults agree with it."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys

import pytest

from higherhrnet.workflow.schema import defaults, flat_defaults
from higherhrnet.postprocess.params import DEFAULT_PATH, PATHS, GroupingParams


def _readme_rows(root):
    text = (root / "README.md").read_text()
    section = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[0].startswith("`"):
            yield re.findall(r"`([^`]+)`", cells[0]), cells[1]


def _shown(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "empty" if value == "" else str(value)


def test_readme_config_table_matches_the_schema(root):
    schema = flat_defaults()
    rows = list(_readme_rows(root))
    assert len(rows) > 10
    seen = set()
    for keys, cell in rows:
        shown = [v.strip().strip("`") for v in cell.split(", ")] if len(keys) > 1 else \
            [cell.strip("`")]
        if len(shown) == 1:
            shown = shown * len(keys)  # one value for all ("empty")
        assert len(shown) == len(keys), f"README row {keys}: {cell!r}"
        for key, value in zip(keys, shown):
            assert key in schema, f"README names {key}, which the schema does not have"
            assert value == _shown(schema[key]), f"{key}: README {value!r}, schema {schema[key]!r}"
            seen.add(key)
    missing = {k for k in schema if k.startswith("postprocess.")} - seen
    assert not missing, f"postprocess keys missing from the README table: {missing}"


def test_grouping_params_defaults_are_the_schemas():
    want = defaults("postprocess")
    got = {f.name: f.default for f in dataclasses.fields(GroupingParams)}
    # the keypoint set is the model's (model.variant), not a postprocess setting
    assert got.pop("keypoints") == "coco"
    assert got == {k: v for k, v in want.items() if k in got}
    assert set(want) - set(got) == {"path"} and DEFAULT_PATH == want["path"] in PATHS


def test_grouping_params_are_keyword_only():
    with pytest.raises(TypeError):
        GroupingParams(0.2)  # positional: a reordered dataclass would swap values silently
    section = {**defaults("postprocess"), "max_people": 5}
    p = GroupingParams.from_mapping(section)
    assert p.max_people == 5 and p.detection_threshold == section["detection_threshold"]


def test_installed_package_reads_its_schema(root, tmp_path):
    """``pip install .`` (not editable) ships the schema: the installed library, away from
    the source tree, reads its defaults (issue 21, item 6: it looked for the source tree's
    ``schemas/`` and failed at import). ``schemas/config.schema.yaml`` is a link to it."""
    target, elsewhere = tmp_path / "site", tmp_path / "cwd"
    elsewhere.mkdir()
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                    "--no-build-isolation", "--target", str(target), str(root)],
                   check=True, capture_output=True, text=True, timeout=600)
    code = ("import higherhrnet, higherhrnet.postprocess.params as p; "
            "print(higherhrnet.__file__); print(p.GroupingParams().detection_threshold)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=elsewhere, capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(target)}, timeout=300)
    assert proc.returncode == 0, proc.stderr
    where, threshold = proc.stdout.split()
    assert where.startswith(str(target)) and float(threshold) == defaults("postprocess")[
        "detection_threshold"]
    assert (root / "schemas" / "config.schema.yaml").resolve() == \
        (root / "src" / "higherhrnet" / "workflow" / "config.schema.yaml").resolve()


def _enums(node: dict, prefix: str = "") -> dict[str, list]:
    """``dotted.key -> enum values`` of every key of the schema that has an enum."""
    out = {}
    for key, sub in node.get("properties", {}).items():
        name = f"{prefix}{key}"
        if "enum" in sub:
            out[name] = sub["enum"]
        out.update(_enums(sub, name + "."))
    return out


def test_readme_config_table_lists_every_allowed_value(root):
    """Issue 27, item 10: the dataset.name row listed 3 of its 5 values; every row of a key
    with a fixed set of values names each of them (as `value`)."""
    import yaml

    schema = yaml.safe_load((root / "src/higherhrnet/workflow/config.schema.yaml").read_text())
    enums = _enums(schema)
    text = (root / "README.md").read_text()
    section = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    checked = 0
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[0].startswith("`"):
            continue
        keys = re.findall(r"`([^`]+)`", cells[0])
        for key in keys:
            if key in enums:  # (ascend.aoe's false is YAML's reading of `off`)
                named = set(re.findall(r"`([^`]+)`", cells[2]))
                absent = [str(v) for v in enums[key]
                          if not isinstance(v, bool) and str(v) not in named]
                assert not absent, f"README row {key} does not name {absent}"
                checked += 1
    assert checked >= 4 and "dataset.name" in enums
