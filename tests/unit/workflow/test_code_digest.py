"""The code digests behind the rules' `code` params: which files each stage's digest covers
(computed from the import graph) and what changes it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from higherhrnet.workflow.code_digest import code_files, rule_digest, rule_text

ROOT = Path(__file__).resolve().parents[3]
RULE_FILES = tuple(sorted((ROOT / "rules").glob("*.smk"))) + (ROOT / "Snakefile",)


def library_modules(script: str) -> set[str]:
    src = ROOT / "src" / "higherhrnet"
    return {p.relative_to(src).as_posix() for p in code_files(ROOT / "scripts" / script, ROOT / "src")
            if src in p.parents}


def test_postprocess_covers_grouping_not_the_model():
    mods = library_modules("postprocess.py")
    assert {"__init__.py", "postprocess/__init__.py", "postprocess/stage.py",
            "postprocess/grouping.py", "postprocess/assignment.py", "postprocess/aggregate.py",
            "postprocess/heatmap_tiles.py", "postprocess/coco_results.py",
            "preprocess/manifest.py", "data/coco.py"} <= mods
    assert not {"model/network.py", "preprocess/stage.py", "inference/engine.py"} & mods


def test_preprocess_covers_its_modules_not_postprocessing_or_the_model():
    mods = library_modules("preprocess.py")
    assert {"preprocess/stage.py", "preprocess/transforms.py", "data/images.py",
            "preprocess/shapes.py", "data/coco.py"} <= mods
    assert not {"model/network.py", "postprocess/grouping.py", "postprocess/stage.py",
                "model/export.py"} & mods


def test_lazy_imports_count_export_and_inference_cover_the_model():
    # checkpoint imports model inside a function; infer reaches it through the lazily
    # imported torch backend
    assert "model/network.py" in library_modules("export_onnx.py")
    infer = library_modules("infer.py")
    assert {"model/network.py", "inference/engine.py", "inference/torch_engine.py",
            "inference/onnxruntime_engine.py"} <= infer
    assert "postprocess/grouping.py" not in infer


def test_packages_and_relative_imports_resolve(tmp_path):
    """A stage module moved into a subpackage (postprocess/grouping.py) is still found, through
    `from .x import`, `from . import x`, `from ..x import` and the packages' __init__.py."""
    src = tmp_path / "src"
    pkg = src / "higherhrnet"
    (pkg / "postprocess").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "errors.py").write_text("")
    (pkg / "unused.py").write_text("")
    (pkg / "postprocess" / "__init__.py").write_text("from .run import main\n")
    (pkg / "postprocess" / "run.py").write_text(
        "from . import grouping\nfrom ..errors import X\n\ndef f():\n    from .assignment import a\n")
    (pkg / "postprocess" / "grouping.py").write_text("import numpy\n")
    (pkg / "postprocess" / "assignment.py").write_text("")
    script = tmp_path / "scripts" / "postprocess.py"
    script.parent.mkdir()
    script.write_text("import sys\nfrom higherhrnet.postprocess import main\n")
    found = {p.relative_to(tmp_path).as_posix() for p in code_files(script, src)}
    assert found == {"scripts/postprocess.py", "src/higherhrnet/__init__.py",
                     "src/higherhrnet/errors.py", "src/higherhrnet/postprocess/__init__.py",
                     "src/higherhrnet/postprocess/run.py", "src/higherhrnet/postprocess/grouping.py",
                     "src/higherhrnet/postprocess/assignment.py"}


def test_rule_text_is_the_whole_rule_block():
    text = rule_text((ROOT / "rules" / "postprocess.smk").read_text(), "postprocess")
    assert text.startswith("rule postprocess:\n") and "scripts/postprocess.py" not in text
    assert '$HHRNET_SCRIPTS/postprocess.py' in text and "rule gather_results" not in text
    assert rule_text("rule a:\n    shell:\n        'x'\n", "b") is None


def test_rule_text_finds_a_rule_under_an_if():
    text = rule_text((ROOT / "rules" / "predictions.smk").read_text(), "list_images")
    assert text.startswith("    rule list_images:\n") and "list_images.py" in text
    assert "rule draw_predictions" not in text


@pytest.fixture()
def project_copy(tmp_path):
    copy = tmp_path / "clone"
    for sub in ("rules", "scripts", "src"):
        shutil.copytree(ROOT / sub, copy / sub, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "Snakefile", copy / "Snakefile")
    return copy


def digests(root: Path) -> dict[str, str]:
    files = tuple(sorted((root / "rules").glob("*.smk"))) + (root / "Snakefile",)
    rule_digest.cache_clear()
    return {r: rule_digest(root, r, files) for r in
            ("preprocess", "export_onnx", "infer", "postprocess", "gather_results", "evaluate")}


def test_digest_depends_on_contents_only(project_copy):
    """A copy elsewhere (a fresh clone) and new mtimes give the same digests; an edit to
    grouping.py changes exactly postprocess's, one to the rule's text that rule's."""
    original = digests(ROOT)
    assert digests(project_copy) == original
    for p in project_copy.rglob("*"):
        p.touch()
    assert digests(project_copy) == original
    grouping = project_copy / "src/higherhrnet/postprocess/grouping.py"
    grouping.write_text(grouping.read_text() + "# edited\n")
    edited = digests(project_copy)
    assert {r for r in original if edited[r] != original[r]} == {"postprocess"}
    rules = project_copy / "rules/postprocess.smk"
    rules.write_text(rules.read_text().replace("mem_mb=4000", "mem_mb=4001"))
    assert digests(project_copy)["evaluate"] != original["evaluate"]


def test_unknown_rule_is_named():
    with pytest.raises(ValueError, match="rule nope is not defined"):
        rule_digest(ROOT, "nope", RULE_FILES)
