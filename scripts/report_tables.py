"""Metrics table (HTML) beside the guide's AP, for the Snakemake report."""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from higherhrnet.atomic import write_text  # noqa: E402
from higherhrnet.errors import cli_main  # noqa: E402
from higherhrnet.evaluation.metric_sets import metric_set  # noqa: E402
from higherhrnet.model.variants import get_variant  # noqa: E402
from higherhrnet.evaluation.report import cropped_note, metrics_html, read_metrics  # noqa: E402
from higherhrnet.preprocess.shapes import parse_scales  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--metrics", required=True, help="metrics json of the evaluate stage")
    ap.add_argument("--weights-source", default="official")
    ap.add_argument("--dataset", default="coco_val2017")
    ap.add_argument("--backend", default="onnxruntime")
    ap.add_argument("--variant", default="w32_512", help="model.variant")
    ap.add_argument("--scales", default="1", help="test.scales, comma-separated")
    ap.add_argument("--manifests", nargs="*", default=[],
                    help="preprocess manifests (scale 1): the images the shape policy cropped")
    ap.add_argument("--output", required=True, help="HTML file to write")
    a = ap.parse_args(argv)
    ms = metric_set(get_variant(a.variant).keypoints)
    page = metrics_html(read_metrics(a.metrics, ms), weights=a.weights_source,
                        dataset=a.dataset, backend=a.backend, variant=a.variant,
                        scales=parse_scales(a.scales))
    page = page.replace("</body>", cropped_note(a.manifests) + "</body>", 1)
    write_text(a.output, page)


if __name__ == "__main__":
    cli_main(main)
