"""Shared test fixtures: where the project and ../shared are.

The tests mirror the code: tests/unit/<package>/ (src/higherhrnet/<package>, no Snakemake;
`pytest tests/unit/postprocess` is the inner loop), tests/workflow/ (real snakemake runs),
tests/clusters/ (Slurm, Donau), with one helper package, tests/support/, and the Ascend and
Donau doubles in tests/fakes/.
"""

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
sys.path.insert(0, str(ROOT / "tests"))  # the helpers: `from support.infer import ...`

# Two xdist workers share two cores: OpenMP threads (torch) that spin while idle take CPU from
# the other worker's jobs. Passive waiting changes no result, only the time under load; it
# reaches the workers and every stage the workflow tests start (inherited environment).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def _require(path: Path) -> Path:
    if not path.exists():
        pytest.fail(f"{path} is missing: the tests need ../shared beside the project "
                    "(or HIGHERHRNET_SHARED pointing at it)")
    return path


@pytest.fixture(autouse=True, scope="module")
def torch_threads_kept():
    """A module that sets torch's threads (an engine, a stage's thread setting) leaves the next
    module on the same worker the default: torch's CPU kernels can round differently with
    another thread count, and test_grouping / test_heatmap_tiles compare with torch bitwise."""
    try:
        import torch
    except ImportError:
        yield
        return
    before = torch.get_num_threads()
    yield
    if torch.get_num_threads() != before:
        torch.set_num_threads(before)


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def reference() -> Path:
    return _require(REFERENCE)


@pytest.fixture(scope="session")
def coco_sample() -> Path:
    return _require(COCO_SAMPLE)


@pytest.fixture(scope="session")
def synthetic_weights_path(tmp_path_factory) -> Path:
    """The synthetic (untrained) HigherHRNet-W32 .pth, written once per session."""
    from higherhrnet.model.synthetic_weights import write_synthetic_weights

    return write_synthetic_weights(tmp_path_factory.mktemp("weights"))


@pytest.fixture(scope="session")
def synthetic_onnx_path(synthetic_weights_path, tmp_path_factory) -> Path:
    """The synthetic weights exported once per session to ONNX (opset 11, dynamic N/H/W)."""
    from higherhrnet.model.checkpoint import load_model
    from higherhrnet.model.export import DEFAULT_ONNX_NAME, export_onnx

    model = load_model(synthetic_weights_path)
    return export_onnx(model, tmp_path_factory.mktemp("onnx") / DEFAULT_ONNX_NAME, opset=11)


# Longest modules first (measured with --durations), so that the two pytest-xdist workers of
# the README's test command (--dist loadfile: a module stays on one worker, with its
# module-scoped workflow runs and clusters; --no-loadscope-reorder: in this order, not by test
# count) start on the long ones and end together.
SLOW_MODULES_FIRST = [
    "test_reliability.py",
    "test_workflow.py",
    "test_slurm_cluster.py",
    "test_donau_profile.py",
    "test_rerun.py",
    "test_workflow_crowdpose.py",
    "test_workflow_devices.py",
    "test_workflow_own_data.py",
    "test_workflow_whole_images.py",
    "test_workflow_variants.py",
    "test_workflow_gpu.py",
    "test_donau_devices.py",
    "test_export.py",
    "test_infer.py",
    "test_crowdpose_models.py",
    "test_postprocess.py",
    "test_variants.py",
    "test_multiscale.py",
    "test_model.py",
]


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(SLOW_MODULES_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: order kept within
