"""Report of a run on own images or a video (no ground truth, so no metrics): counts, time
per stage (from the Snakemake benchmark files) and a grid of skeleton drawings."""

from __future__ import annotations

import base64
import html
import os
from pathlib import Path

import numpy as np

from ..pages import PAGE_START
from .draw import write_image
from .report import run_line

CELL = 320  # grid cell side in pixels
LABEL = 20  # height of the label line below a picture


def drawing_grid(paths: list[Path], output: str | os.PathLike, columns: int = 4,
                 labels: list[str] | None = None) -> int:
    """The drawings scaled to fit CELL x CELL, each with its label (name) right below it, in
    rows as high as their highest picture, as one JPEG."""
    import cv2

    tiles = []
    for p, label in zip(paths, labels or [p.name for p in paths]):
        img = cv2.imread(str(p), cv2.IMREAD_COLOR)
        if img is None:
            continue
        s = CELL / max(img.shape[:2])
        img = cv2.resize(img, (max(1, round(img.shape[1] * s)), max(1, round(img.shape[0] * s))),
                         interpolation=cv2.INTER_AREA)
        tile = np.full((img.shape[0] + LABEL, CELL, 3), 255, np.uint8)
        tile[: img.shape[0], : img.shape[1]] = img
        cv2.putText(tile, label[-40:], (4, img.shape[0] + 15), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                    (0, 0, 0), 1, cv2.LINE_AA)
        tiles.append(tile)
    if not tiles:
        tiles = [np.full((CELL + LABEL, CELL, 3), 255, np.uint8)]
    columns = min(columns, len(tiles))
    rows = [tiles[r: r + columns] for r in range(0, len(tiles), columns)]
    rows[-1] = rows[-1] + [np.full((1, CELL, 3), 255, np.uint8)] * (columns - len(rows[-1]))
    grid = np.vstack([np.hstack([_pad_to(t, max(t.shape[0] for t in row)) for t in row])
                      for row in rows])
    write_image(Path(output), grid)
    return len(paths)


def _pad_to(tile: np.ndarray, height: int) -> np.ndarray:
    """White rows below a tile up to ``height``."""
    pad = np.full((height - tile.shape[0], *tile.shape[1:]), 255, np.uint8)
    return np.vstack([tile, pad])


def summary_html(*, dataset: str, source: str, backend: str, weights: str,
                 counts: list[tuple[str, object]], unreadable: list[str],
                 stage_seconds: dict[str, float], grid: str | os.PathLike | None,
                 variant: str = "w32_512", scales=(1.0,)) -> str:
    esc = html.escape
    warning = ("<p><b>Synthetic weights: NOT a trained model.</b> The skeletons only show that "
               "the pipeline runs end to end.</p>" if weights == "synthetic" else "")
    rows = "".join(f"<tr><td>{esc(k)}</td><td>{esc(str(v))}</td></tr>" for k, v in counts)
    times = "".join(f"<tr><td>{esc(k)}</td><td>{v:.1f}</td></tr>"
                    for k, v in stage_seconds.items())
    bad = ""
    if unreadable:
        bad = ("<h4>Unreadable inputs (skipped)</h4><ul>"
               + "".join(f"<li>{esc(u)}</li>" for u in unreadable) + "</ul>")
    img = ""
    if grid is not None and Path(grid).is_file():
        data = base64.b64encode(Path(grid).read_bytes()).decode("ascii")
        img = f"<h4>Drawings</h4><img src='data:image/jpeg;base64,{data}' style='max-width:100%'>"
    return (PAGE_START +
            f"<h3>Pose estimation on {esc(source)}: dataset {esc(dataset)}, backend "
            f"{esc(backend)}, weights {esc(weights)}</h3>{run_line(variant, scales)}{warning}"
            "<p>No metrics (no annotations): no ground truth, so no accuracy metrics.</p>"
            f"<table border='1' cellpadding='4'>{rows}</table>{bad}"
            "<h4>Time per stage (wall-clock seconds, sum over shards)</h4>"
            f"<table border='1' cellpadding='4'><tr><th>stage</th><th>s</th></tr>{times}</table>"
            f"{img}</body></html>\n")
