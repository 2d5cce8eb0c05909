"""Join the gathered COCO results to the listings: predictions json, keypoints csv, index.

    python scripts/predictions.py --results R --predictions P --keypoints K --index I \
        --unreadable U listing0.json listing1.json ...

Stops (listing every file) when not one input of all listings could be read.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from higherhrnet.errors import cli_main  # noqa: E402
from higherhrnet.evaluation.cocoeval import load_results  # noqa: E402
from higherhrnet.data.image_folder import read_listings  # noqa: E402
from higherhrnet.evaluation.predictions import write_predictions  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--results", required=True, help="gathered COCO keypoint results")
    p.add_argument("--predictions", required=True, help="results json with file names")
    p.add_argument("--keypoints", required=True, help="csv, one row per person")
    p.add_argument("--index", required=True, help="csv, one row per input (id -> file)")
    p.add_argument("--unreadable", required=True, help="text file, one unreadable input a line")
    p.add_argument("--joints", choices=("coco", "crowdpose"), default="coco",
                   help="the model's keypoint set: the csv's joint columns (default coco)")
    p.add_argument("listings", nargs="+", help="the shards' listing jsons")
    a = p.parse_args(argv)
    entries, unreadable, source = read_listings(a.listings)
    for u in unreadable:
        print(f"unreadable, skipped: {u['error']}", file=sys.stderr)
    preds = write_predictions(load_results(a.results), entries, unreadable, source,
                              predictions=a.predictions, keypoints=a.keypoints, index=a.index,
                              unreadable_list=a.unreadable, joints=a.joints)
    print(f"predictions: {len(preds)} people in {len(entries)} {source} input(s), "
          f"{len(unreadable)} unreadable", file=sys.stderr)
    return 0


if __name__ == "__main__":
    cli_main(main)
