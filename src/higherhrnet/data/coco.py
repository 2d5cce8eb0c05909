"""COCO person-keypoint annotation files: loading with clear errors, image list, sharding.

The reference evaluates every image of the annotation file (``list(coco.imgs.keys())``),
including those without people, in JSON order (docs/reference.md, "Data"); so does
:func:`image_records`.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Sequence

from ..errors import WorkflowError
from ..files import read_json
from .images import is_utf8, shown

NUM_KEYPOINTS = 17
#: COCO left/right permutation of the keypoints (nose, L/R eye, L/R ear, L/R shoulder, L/R
#: elbow, L/R wrist, L/R hip, L/R knee, L/R ankle): a width-flipped image's keypoint
#: ``FLIP_INDEX[c]`` is keypoint ``c`` of the original.
FLIP_INDEX = (0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15)
KEYPOINT_NAMES = [
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
]
#: COCO's 19 limbs, 1-based keypoint indices (the standard person category block).
SKELETON = [[16, 14], [14, 12], [17, 15], [15, 13], [12, 13], [6, 12], [7, 13], [6, 7],
            [6, 8], [7, 9], [8, 10], [9, 11], [2, 3], [1, 2], [1, 3], [2, 4], [3, 5],
            [4, 6], [5, 7]]
CATEGORY_ID = 1  # the person category of COCO results
PERSON_CATEGORY = {"supercategory": "person", "id": CATEGORY_ID, "name": "person",
                   "keypoints": KEYPOINT_NAMES, "skeleton": SKELETON}


@dataclass(frozen=True)
class ImageRecord:
    """One entry of the annotation file's ``images`` list."""

    id: int
    file_name: str
    width: int
    height: int


def _person_category(cats: list, path: Path) -> dict:
    """The 'person' category with the keypoints of a known set: COCO's 17 or CrowdPose's 14
    (:mod:`.keypoints`)."""
    from .keypoints import KEYPOINT_SETS

    counts = {k.num_joints: k.title for k in KEYPOINT_SETS.values()}
    for cat in cats:
        if isinstance(cat, dict) and cat.get("name") == "person":
            kps = cat.get("keypoints")
            if not isinstance(kps, list) or len(kps) not in counts:
                n = len(kps) if isinstance(kps, list) else "no"
                raise WorkflowError(f"annotations {path}: the 'person' category has {n} "
                                    f"keypoints, expected {NUM_KEYPOINTS} (COCO keypoints) or "
                                    "14 (CrowdPose)")
            return cat
    raise WorkflowError(f"annotations {path}: no 'person' category with {NUM_KEYPOINTS} "
                        "keypoints (is this a person_keypoints_*.json file?)")


def keypoints_of(coco: dict[str, Any]) -> str:
    """The keypoint set (:mod:`.keypoints` name) of a checked annotation file."""
    from .keypoints import for_channels

    person = next(c for c in coco["categories"]
                  if isinstance(c, dict) and c.get("name") == "person")
    return for_channels(len(person["keypoints"])).name


def _is_int(value) -> bool:
    """An integer, not a boolean (JSON ``true`` would be read as id 1)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _check_images(images: list, path: Path) -> None:
    seen: set[int] = set()
    for i, im in enumerate(images):
        ok = (isinstance(im, dict) and _is_int(im.get("id"))
              and isinstance(im.get("file_name"), str) and im.get("file_name")
              and _is_int(im.get("width")) and _is_int(im.get("height"))
              and im["width"] > 0 and im["height"] > 0)
        if not ok:
            raise WorkflowError(f"annotations {path}: images[{i}] needs an integer 'id', a "
                                "'file_name' and positive integer 'width'/'height' "
                                f"(got {json.dumps(im)[:200]})")
        if not is_utf8(im["file_name"]):
            raise WorkflowError(f"annotations {path}: images[{i}] file_name "
                                f"'{shown(im['file_name'])}' is not valid UTF-8 (a lone "
                                "surrogate escape); give the file a UTF-8 name")
        name = PurePosixPath(im["file_name"])
        if name.is_absolute() or ".." in name.parts:
            raise WorkflowError(f"annotations {path}: images[{i}] file_name "
                                f"{im['file_name']!r} is outside the images folder (absolute, "
                                "or climbing out with '..'); give it relative to the folder")
        if im["id"] in seen:
            raise WorkflowError(f"annotations {path}: image id {im['id']} appears twice")
        seen.add(im["id"])


def _check_annotations(anns: list, image_ids: set, person_id: int, path: Path,
                       num_joints: int = NUM_KEYPOINTS) -> None:
    for i, ann in enumerate(anns):
        if not isinstance(ann, dict) or "image_id" not in ann or "category_id" not in ann:
            raise WorkflowError(f"annotations {path}: annotations[{i}] needs 'image_id' and "
                                "'category_id'")
        if ann["image_id"] not in image_ids:
            raise WorkflowError(f"annotations {path}: annotations[{i}] refers to image id "
                                f"{ann['image_id']}, which is not in 'images'")
        kps = ann.get("keypoints")
        if ann["category_id"] == person_id and kps is not None and (
                not isinstance(kps, list) or len(kps) != 3 * num_joints):
            raise WorkflowError(f"annotations {path}: annotations[{i}] has "
                                f"{len(kps) if isinstance(kps, list) else 'non-list'} keypoint "
                                f"values, expected {3 * num_joints}")


def load_keypoint_annotations(path: str | os.PathLike) -> dict[str, Any]:
    """Read and check a COCO person-keypoints json; returns the parsed dict (shared: callers
    must not change it).

    Raises :class:`WorkflowError` naming the file for: missing/unreadable file, invalid JSON,
    missing ``images``/``annotations``/``categories`` lists, no ``person`` category with 17
    (COCO) or 14 (CrowdPose) keypoints, malformed or duplicate image entries, annotations
    pointing at unknown images.

    The start-up checks (images on disk, the model's joints, shard count, disk estimate) each
    ask for the file; one process reads and checks it once while it is unchanged (val2017's
    is 250 MB, seconds a read).
    """
    try:
        st = os.stat(path)
    except OSError:
        return _load_keypoint_annotations(str(path), os.getcwd(), None)  # names the problem
    return _load_keypoint_annotations(str(path), os.getcwd(), (st.st_mtime_ns, st.st_size))


@lru_cache(maxsize=2)
def _load_keypoint_annotations(path: str, cwd: str, version) -> dict[str, Any]:
    """:func:`load_keypoint_annotations` of ``path`` as it is at ``version`` (mtime and size;
    with the working directory a relative path is read from, only the cache key; a failure
    is not cached)."""
    path = Path(path)
    data = read_json(path, "annotations")
    if not isinstance(data, dict):
        raise WorkflowError(f"annotations {path}: top level is {type(data).__name__}, expected "
                            "a COCO object with 'images', 'annotations' and 'categories'")
    for key in ("images", "annotations", "categories"):
        if not isinstance(data.get(key), list):
            raise WorkflowError(f"annotations {path}: missing the '{key}' list "
                                "(not a COCO annotation file)")
    person = _person_category(data["categories"], path)
    _check_images(data["images"], path)
    _check_annotations(data["annotations"], {im["id"] for im in data["images"]},
                       person.get("id"), path, len(person["keypoints"]))
    return data


def image_records(coco: dict[str, Any]) -> list[ImageRecord]:
    """Every image of the file, in JSON order (the reference's ``coco.imgs.keys()`` order)."""
    return [ImageRecord(int(im["id"]), str(im["file_name"]), int(im["width"]), int(im["height"]))
            for im in coco["images"]]


def shard_bounds(n: int, shard: int, num_shards: int) -> tuple[int, int]:
    """[start, stop) of shard ``shard`` of ``num_shards`` over ``n`` items.

    Contiguous blocks in order; the first ``n % num_shards`` shards hold one item more
    (the same split as ``numpy.array_split``). Concatenating shards 0..N-1 gives the
    original order back, so gathered results keep the JSON order.
    """
    if not isinstance(num_shards, int) or num_shards < 1:
        raise WorkflowError(f"--num-shards must be a positive integer, got {num_shards!r}")
    if not isinstance(shard, int) or not 0 <= shard < num_shards:
        raise WorkflowError(f"--shard must be in 0..{num_shards - 1}, got {shard!r}")
    base, extra = divmod(n, num_shards)
    start = shard * base + min(shard, extra)
    return start, start + base + (1 if shard < extra else 0)


def shard_image_ids(ids: Sequence[int], shard: int, num_shards: int) -> list[int]:
    """The ids of shard ``shard`` (0-based) of ``num_shards``: see :func:`shard_bounds`."""
    start, stop = shard_bounds(len(ids), shard, num_shards)
    return list(ids[start:stop])
