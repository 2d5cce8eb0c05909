"""Shared test fixtures: where the project and ../shared are."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("HIGHERHRNET_SHARED", ROOT.parent / "shared")).resolve()
REFERENCE = SHARED / "reference"
COCO_SAMPLE = SHARED / "data" / "coco_sample"

sys.path.insert(0, str(ROOT / "src"))


def _require(path: Path) -> Path:
    if not path.exists():
        pytest.fail(f"{path} is missing: the tests need ../shared beside the project "
                    "(or HIGHERHRNET_SHARED pointing at it)")
    return path


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def reference() -> Path:
    return _require(REFERENCE)


@pytest.fixture(scope="session")
def coco_sample() -> Path:
    return _require(COCO_SAMPLE)
