"""Predictions for own images and videos: the COCO results joined to the listings.

Outputs (one stage, written atomically):

* ``predictions.json``: COCO keypoint results (``image_id``, ``category_id``,
  ``keypoints`` = 17 x (x, y, heatmap value), ``score``, ``bbox``) with ``file_name`` beside
  ``image_id`` (images; the path relative to ``dataset.images``) or ``frame`` and
  ``timestamp_s`` (video), in sorted-path / frame order, each image's people by score;
* ``keypoints.csv``: one row per person, ``pandas.read_csv(path)`` loads it: id, file or
  frame and time, ``person`` (0 = highest score in its image), ``score``, then
  ``<joint>_x``, ``<joint>_y``, ``<joint>_score`` for the 17 COCO joints;
* an index csv: every input with its id (the id -> file mapping), size, number of people
  and, for images, ``status`` ok / unreadable with the reason;
* ``unreadable.txt``: one line per file that could not be read (empty when none).
"""

from __future__ import annotations

import csv
import os
from collections import defaultdict
from pathlib import Path

from ..atomic import atomic_open, write_json, write_text
from ..data.keypoints import COCO, keypoint_set


def keypoint_columns(names=COCO.names) -> list[str]:
    """``<joint>_x``, ``<joint>_y``, ``<joint>_score`` per joint of the model."""
    return [f"{name}_{c}" for name in names for c in ("x", "y", "score")]


KEYPOINT_COLUMNS = keypoint_columns()


def _where(entry: dict, source: str) -> dict:
    if source == "video":
        return {"frame": int(entry["frame"]), "timestamp_s": float(entry["timestamp_s"])}
    return {"file_name": entry["file_name"]}


def _order(entries: list[dict], source: str) -> list[dict]:
    key = (lambda e: int(e["frame"])) if source == "video" else (lambda e: e["file_name"])
    return sorted(entries, key=key)


def join(results: list[dict], entries: list[dict], source: str) -> list[dict]:
    """COCO results with file name (or frame and time), in input order, people by score."""
    by_image = defaultdict(list)
    for r in results:
        by_image[int(r["image_id"])].append(r)
    known = {int(e["id"]) for e in entries}
    stray = sorted(set(by_image) - known)
    if stray:
        from ..errors import WorkflowError, first_few

        raise WorkflowError(f"results name image id(s) no listing has: {first_few(map(str, stray))}"
                            " (results and listings of different runs?)")
    out = []
    for e in _order(entries, source):
        for r in sorted(by_image.get(int(e["id"]), []), key=lambda r: -r["score"]):
            out.append({"image_id": int(e["id"]), **_where(e, source),
                        **{k: v for k, v in r.items() if k != "image_id"}})
    return out


def keypoint_rows(predictions: list[dict], source: str,
                  joints: str = "coco") -> tuple[list[str], list[list]]:
    """One row per person; ``joints``: the model's keypoint set (its names are the columns)."""
    names = keypoint_set(joints).names
    where = ["frame", "timestamp_s"] if source == "video" else ["file_name"]
    header = ["image_id", *where, "person", "score", *keypoint_columns(names)]
    rows, rank = [], defaultdict(int)
    for p in predictions:
        person = rank[p["image_id"]]
        rank[p["image_id"]] += 1
        rows.append([p["image_id"], *(p[k] for k in where), person, p["score"],
                     *p["keypoints"][: 3 * len(names)]])
    return header, rows


def index_rows(entries: list[dict], unreadable: list[dict], predictions: list[dict],
               source: str) -> tuple[list[str], list[list]]:
    people = defaultdict(int)
    for p in predictions:
        people[p["image_id"]] += 1
    if source == "video":
        header = ["image_id", "frame", "timestamp_s", "width", "height", "people"]
        return header, [[e["id"], e["frame"], e["timestamp_s"], e["width"], e["height"],
                         people[int(e["id"])]] for e in _order(entries, source)]
    header = ["image_id", "file_name", "width", "height", "people", "status", "error"]
    rows = [[e["id"], e["file_name"], e["width"], e["height"], people[int(e["id"])], "ok", ""]
            for e in entries]
    rows += [[u["image_id"], u["file_name"], "", "", 0, "unreadable", u["error"]]
             for u in unreadable]
    return header, sorted(rows, key=lambda r: r[1])


def write_csv(path: str | os.PathLike, header: list[str], rows: list[list]) -> None:
    with atomic_open(path, "w") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def write_predictions(results: list[dict], entries: list[dict], unreadable: list[dict],
                      source: str, *, predictions: str | os.PathLike,
                      keypoints: str | os.PathLike, index: str | os.PathLike,
                      unreadable_list: str | os.PathLike, joints: str = "coco") -> list[dict]:
    preds = join(results, entries, source)
    write_json(predictions, preds, indent=None)
    write_csv(keypoints, *keypoint_rows(preds, source, joints))
    write_csv(index, *index_rows(entries, unreadable, preds, source))
    write_text(unreadable_list, "".join(f"{u['file_name']}: {u['error']}\n"
                                        for u in sorted(unreadable,
                                                        key=lambda u: u["file_name"])))
    return preds


def drawing_path(output_dir: str | os.PathLike, entry: dict, source: str) -> Path:
    """Where an input's drawing goes: the same relative path (and format) as the image, or
    ``frame_<index:08d>.jpg`` for a video frame."""
    if source == "video":
        return Path(output_dir) / f"frame_{int(entry['frame']):08d}.jpg"
    return Path(output_dir) / entry["file_name"]
