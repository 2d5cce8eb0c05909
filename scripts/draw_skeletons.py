"""Draw predicted skeletons on a few images.

    python scripts/draw_skeletons.py --annotations A --images DIR --results R --output-dir DIR --count N
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from higherhrnet.evaluation.draw import draw_results  # noqa: E402
from higherhrnet.errors import WorkflowError, cli_main  # noqa: E402
from higherhrnet.evaluation.cocoeval import load_results  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--annotations", required=True, help="COCO annotation JSON (image files)")
    p.add_argument("--images", required=True, help="folder of the images")
    p.add_argument("--results", required=True, help="COCO keypoint results JSON")
    p.add_argument("--output-dir", "--output_dir", required=True, help="where drawings go")
    p.add_argument("--count", type=int, default=8, help="number of images to draw (8)")
    p.add_argument("--format", choices=("jpg", "png"), default="jpg")
    p.add_argument("--min-score", "--min_score", type=float, default=0.1,
                   help="draw joints whose heatmap value is above this (0.1)")
    args = p.parse_args(argv)
    if args.count < 0:
        raise WorkflowError(f"--count must be >= 0, got {args.count}")
    Path(args.output_dir).mkdir(parents=True, exist_ok=True)
    written = draw_results(Path(args.annotations), Path(args.images), load_results(args.results),
                           Path(args.output_dir), args.count, "." + args.format, args.min_score)
    print(f"draw_skeletons: {len(written)} drawing(s) in {args.output_dir}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    cli_main(main)
