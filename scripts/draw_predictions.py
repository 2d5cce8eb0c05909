"""Draw the predicted skeletons on own images (all, or the first N in sorted-path order).

    python scripts/draw_predictions.py --images DIR --predictions P --output-dir D \
        [--count N] listing0.json ...

Each drawing has the image's relative path (and format) under the output folder.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from higherhrnet.evaluation.draw import draw_listed  # noqa: E402
from higherhrnet.errors import WorkflowError, cli_main  # noqa: E402
from higherhrnet.data.image_folder import read_listings  # noqa: E402
from higherhrnet.files import read_json  # noqa: E402
from higherhrnet.evaluation.predictions import drawing_path  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--images", required=True, help="the images folder")
    p.add_argument("--predictions", required=True, help="predictions json")
    p.add_argument("--output-dir", "--output_dir", required=True)
    p.add_argument("--count", type=int, default=0, help="first N images; 0 = every image")
    p.add_argument("listings", nargs="+")
    a = p.parse_args(argv)
    if a.count < 0:
        raise WorkflowError(f"--count must be >= 0, got {a.count}")
    entries, _, _ = read_listings(a.listings)
    entries = sorted(entries, key=lambda e: e["file_name"])
    if a.count:
        entries = entries[: a.count]
    Path(a.output_dir).mkdir(parents=True, exist_ok=True)
    written = draw_listed(Path(a.images), entries, read_json(a.predictions, "predictions"),
                          [drawing_path(a.output_dir, e, "images") for e in entries])
    print(f"draw_predictions: {len(written)} drawing(s) in {a.output_dir}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    cli_main(main)
