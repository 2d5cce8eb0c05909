"""Report of a run on own images or a video: counts, time per stage, grid of drawings.

    python scripts/predictions_report.py --predictions P --index I --drawings-dir D \
        --grid grid.jpg --output summary.html [--count 4 ...] bench1.tsv ...
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from higherhrnet.atomic import write_text  # noqa: E402
from higherhrnet.errors import cli_main  # noqa: E402
from higherhrnet.files import read_json  # noqa: E402
from higherhrnet.evaluation.prediction_report import drawing_grid, summary_html  # noqa: E402
from higherhrnet.evaluation.report import cropped_note, stage_seconds  # noqa: E402
from higherhrnet.preprocess.shapes import parse_scales  # noqa: E402


def counts(index_rows: list[dict], predictions: list[dict], video: bool) -> list[tuple]:
    ok = [r for r in index_rows if r.get("status", "ok") == "ok"]
    found = {p["image_id"] for p in predictions}
    what = "frames" if video else "images"
    out = [] if video else [("images found", len(index_rows)),
                            ("unreadable (skipped)", len(index_rows) - len(ok))]
    out += [(f"{what} processed", len(ok)), ("people found", len(predictions)),
            (f"{what} with at least one person", len(found)),
            (f"people per {what[:-1]} (mean)", f"{len(predictions) / max(1, len(ok)):.2f}")]
    if video and ok:
        out.append(("time span (s)", f"{float(ok[0]['timestamp_s']):.3f} .. "
                                     f"{float(ok[-1]['timestamp_s']):.3f}"))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--predictions", required=True)
    p.add_argument("--index", required=True, help="index csv of the predictions stage")
    p.add_argument("--drawings-dir", "--drawings_dir", required=True)
    p.add_argument("--count", type=int, default=4, help="drawings in the grid (4)")
    p.add_argument("--grid", required=True, help="JPEG grid of drawings to write")
    p.add_argument("--output", required=True, help="HTML to write")
    p.add_argument("--dataset", default="images")
    p.add_argument("--backend", default="onnxruntime")
    p.add_argument("--weights-source", default="official")
    p.add_argument("--variant", default="w32_512", help="model.variant")
    p.add_argument("--scales", default="1", help="test.scales, comma-separated")
    p.add_argument("--manifests", nargs="*", default=[],
                   help="preprocess manifests: the images the shape policy cropped")
    p.add_argument("benchmarks", nargs="*", help="Snakemake benchmark tsv files")
    a = p.parse_args(argv)
    with open(a.index, newline="") as fh:
        rows = list(csv.DictReader(fh))
    video = a.dataset == "video"
    drawings = sorted(q for q in Path(a.drawings_dir).rglob("*") if q.is_file()
                      and not q.name.startswith("."))[: a.count]
    drawing_grid(drawings, a.grid,
                 labels=[q.relative_to(a.drawings_dir).as_posix() for q in drawings])
    page = summary_html(dataset=a.dataset, source="a video" if video else "a folder of images",
                        backend=a.backend, weights=a.weights_source,
                        counts=counts(rows, read_json(a.predictions, "predictions"), video),
                        unreadable=[f"{r['file_name']}: {r['error']}" for r in rows
                                    if r.get("status") == "unreadable"],
                        stage_seconds=stage_seconds(a.benchmarks), grid=a.grid,
                        variant=a.variant, scales=parse_scales(a.scales))
    page = page.replace("</body>", cropped_note(a.manifests) + "</body>", 1)
    write_text(a.output, page)
    return 0


if __name__ == "__main__":
    cli_main(main)
