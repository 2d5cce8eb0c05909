"""The report's front page (report/workflow.rst, rendered as Snakemake renders it) says what
ran, from the run's config (issue 27, item 3: it was fixed text naming HigherHRNet-W32, input
512 and COCO evaluation for every run)."""

from __future__ import annotations

import pytest
from jinja2 import Environment
from support.config import make_config
from support.workflow import ROOT

from higherhrnet.model.variants import get_variant


def front_page(config: dict) -> str:
    class Snakemake:  # what snakemake.report hands the template
        pass

    Snakemake.config = config
    env = Environment(trim_blocks=True, lstrip_blocks=True)  # snakemake.report's settings
    text = env.from_string((ROOT / "report" / "workflow.rst").read_text()).render(
        snakemake=Snakemake)
    return " ".join(text.split())


@pytest.mark.parametrize("variant,scales", [("w32_512", [1]), ("w32_640", [1, 2]),
                                            ("w48_640", [0.5, 1, 2])])
def test_front_page_names_model_input_scales_and_evaluation(variant, scales):
    page = front_page(make_config(model={"variant": variant}, test={"scales": scales},
                                  weights={"source": "local", "path": "w.pth"},
                                  backend="torch"))
    v = get_variant(variant)
    assert f"{v.title} bottom-up" in page and f"input **{v.input_size}**" in page, page
    assert f"**[{', '.join(f'{s:g}' for s in scales)}]** with flip test" in page, page
    assert "**torch** backend, weights **local** (w.pth), dataset **coco_val2017**" in page
    assert "COCO keypoint evaluation" in page and "no metrics" not in page
    assert "NOT a trained model" not in page and "ONNX" not in page


@pytest.mark.parametrize("dataset", [{"name": "images", "images": "photos"},
                                     {"name": "video", "video": "clip.mp4"}])
def test_front_page_of_own_data_says_no_metrics(dataset):
    page = front_page(make_config(dataset=dataset, weights={"source": "synthetic"}))
    assert "**no metrics (no annotations)**" in page and "COCO keypoint evaluation" not in page
    assert f"dataset **{dataset['name']}** ({dataset.get('images') or dataset['video']})" in page
    assert "HigherHRNet-W32-512" in page and "**onnxruntime**" in page and "ONNX export" in page
    assert "NOT a trained model" in page and "skeletons only prove" in page
