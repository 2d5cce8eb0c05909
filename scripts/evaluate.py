"""COCO keypoint evaluation (pycocotools COCOeval) of a results JSON.

    python scripts/evaluate.py --annotations A --results R --metrics OUT.json [--csv OUT.csv] [--table OUT.md]

Evaluates over every image of the annotation file.  Metrics: AP, AP50, AP75, APm, APl,
AR, AR50, AR75, ARm, ARl (fractions; null in the json, empty in the csv and n/a in the
table where the annotations hold no person of that size: not available, with a warning).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from higherhrnet.errors import cli_main  # noqa: E402
from higherhrnet.evaluation.metric_sets import metric_set  # noqa: E402
from higherhrnet.evaluation.cocoeval import evaluate, load_results, metrics_table, write_outputs  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--annotations", required=True, help="COCO person_keypoints JSON")
    p.add_argument("--results", required=True, help="COCO keypoint results JSON")
    p.add_argument("--metrics", required=True, help="metrics JSON to write")
    p.add_argument("--csv", help="metrics CSV to write")
    p.add_argument("--table", help="markdown table (this run beside the guide's 67.1)")
    p.add_argument("--keypoints", choices=("coco", "crowdpose"), default="coco",
                   help="coco: pycocotools' COCOeval (default); crowdpose: the nine numbers of "
                        "crowdposetools (AP, Ap .5, AP .75, AR, AR .5, AR .75, AP easy/medium/hard)")
    p.add_argument("--drop-unknown", "--drop_unknown", action="store_true",
                   help="drop results for image ids not in the annotations (default: fail)")
    args = p.parse_args(argv)
    results = load_results(args.results)
    if args.keypoints == "crowdpose":
        from higherhrnet.evaluation import crowdpose_eval

        metrics = crowdpose_eval.evaluate(args.annotations, results)
    else:
        metrics = evaluate(args.annotations, results, drop_unknown=args.drop_unknown,
                           results_name=args.results)
    ms = metric_set(args.keypoints)
    write_outputs(metrics, args.metrics, args.csv, args.table, ms=ms,
                  extra={"num_results": len(results), "annotations": str(args.annotations)})
    print(metrics_table(metrics, ms), end="", file=sys.stderr)
    return 0


if __name__ == "__main__":
    cli_main(main)
