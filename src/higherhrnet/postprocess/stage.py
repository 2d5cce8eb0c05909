"""The postprocess stage for one shard: raw outputs of both passes -> COCO keypoint results.

For every manifest entry it loads ``<stem>_0.npy`` (``[1,2J,H/4,W/4]``) and ``<stem>_1.npy``
(``[1,J,H/2,W/2]``; J = 17 for COCO models, 14 for CrowdPose ones) from the normal-input
dump folder and the flipped-input one, checks them, aggregates the flip test, groups people,
maps them back to the image and collects the results.  Bad input (each a
:class:`WorkflowError` naming the files):

* manifest stems without an output file: all of them are listed, nothing is written;
* an array of the wrong shape (file, expected and actual shape) or not floating point;
* NaN or inf in an array (file and count);
* an empty manifest: ``[]`` is written; an image where nobody is found adds no results.

``path`` picks the computation: ``fast`` (:mod:`.aggregate`, :mod:`.grouping`) or
``reference`` (:mod:`.reference`, the straight port); both give identical results.
"""

from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path

import numpy as np

from .. import files as npyfile
from ..atomic import write_json
from ..inference.output_layout import output_paths as ais_bench_paths
from ..inference.output_layout import output_shapes
from ..data.keypoints import keypoint_set
from ..errors import WorkflowError, first_few
from ..preprocess.manifest import Manifest, ManifestEntry
from ..progress import Progress
from . import grouping, reference
from .aggregate import Aggregated
from .coco_results import results_for_image, to_image
from .params import PATHS, GroupingParams


def output_paths(entry: ManifestEntry, dump_dir: Path, dump_dir_flip: Path) -> list[Path]:
    """``[normal _0, normal _1, flipped _0, flipped _1]`` (ais_bench naming)."""
    return [p for d in (Path(dump_dir), Path(dump_dir_flip))
            for p in ais_bench_paths(d.parent, d.name, entry.stem)]


def expected_shapes(entry: ManifestEntry, num_joints: int = 17) -> list[tuple[int, ...]]:
    return list(output_shapes(entry.input_h, entry.input_w, num_joints)) * 2


def check_complete(entries, dump_dir, dump_dir_flip) -> None:
    """Fail listing every missing output file of the shard."""
    missing = [p for e in entries for p in output_paths(e, dump_dir, dump_dir_flip)
               if not p.is_file()]
    if missing:
        raise WorkflowError(f"{len(missing)} inference output file(s) missing for the manifest "
                            "(did inference run for this shard?): "
                            f"{first_few(map(str, missing), 50)}")


NPY_MAGIC = b"\x93NUMPY"


def damaged(path: Path, problem: str) -> WorkflowError:
    """A raw output file that inference did not write as it should (truncated, overwritten):
    the way out is to make it again, which deleting its folder does (the workflow re-runs
    that shard's inference for a missing folder)."""
    folder = Path(path).parent
    return WorkflowError(f"{path}: {problem}; a damaged inference output: delete its folder "
                         f"(rm -r {shlex.quote(str(folder))}) and run the workflow again, "
                         "which re-runs that inference")


def load_output(path: Path, shape: tuple[int, ...]) -> np.ndarray:
    """Load one output array, checked: float, the expected shape, all finite."""
    try:
        with open(path, "rb") as fh:
            magic = fh.read(len(NPY_MAGIC))
        if magic != NPY_MAGIC:  # else numpy talks of "pickled data"
            raise damaged(path, "not an .npy file (it does not start with the NPY magic "
                                f"bytes; starts with {magic!r})")
        arr = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise damaged(path, f"not a readable .npy file ({exc})") from None
    if not np.issubdtype(arr.dtype, np.floating):
        raise damaged(path, f"dtype {arr.dtype}, expected float32")
    if tuple(arr.shape) != tuple(shape):
        raise damaged(path, f"shape {tuple(arr.shape)}, expected {tuple(shape)} (from the "
                            "manifest's input size)")
    return _check_finite(path, arr.astype(np.float32, copy=False))


#: Largest |value| taken from the network: tag differences are squared and maps summed in
#: float32 (max 3.4e38), so finite outputs beyond ~1e19 overflow to inf inside the grouping
#: (and made the assignment loop forever). Real outputs are heatmaps in [0, 1], tags O(10).
MAX_ABS_OUTPUT = 1e18


def _check_finite(path: Path, arr: np.ndarray) -> np.ndarray:
    bad = int(arr.size - np.count_nonzero(np.abs(arr) <= MAX_ABS_OUTPUT))
    if bad:
        nonfinite = int(arr.size - np.count_nonzero(np.isfinite(arr)))
        if nonfinite:
            raise WorkflowError(f"{path}: {nonfinite} NaN or inf value(s) in the network output")
        raise WorkflowError(f"{path}: {bad} value(s) in the network output are too large "
                            f"(up to {float(np.abs(arr).max()):.3g}, limit {MAX_ABS_OUTPUT:g}): "
                            "the grouping's float32 arithmetic would overflow (broken weights "
                            "or model?)")
    return arr


class OutputReader:
    """:func:`load_output` into buffers reused from image to image, one per output slot.

    A fresh 7 MB array per file costs page faults that take most of ``np.load``'s time
    (about 1.6 ms per file against 0.2 ms into a reused buffer).  The fast path takes only
    plain little-endian float32 C-order files of the expected shape read in full; anything
    else goes through :func:`load_output` and its checks and messages.  The arrays of
    one image are valid until the next call for the same slot (nothing keeps them: the
    aggregation computes new arrays).
    """

    def __init__(self):
        self._buffers: dict[int, np.ndarray] = {}

    def read(self, slot: int, path: Path, shape: tuple[int, ...]) -> np.ndarray:
        buf = self._buffers.get(slot)
        if buf is None or buf.shape != tuple(shape):
            buf = self._buffers[slot] = np.empty(shape, dtype="<f4")
        try:
            with open(path, "rb") as f:
                if npyfile.read_header(f) != (tuple(shape), False, np.dtype("<f4")) or \
                        f.readinto(memoryview(buf).cast("B")) != buf.nbytes:
                    return load_output(path, shape)
        except (OSError, ValueError, EOFError):
            return load_output(path, shape)
        return _check_finite(path, buf)


def parse_outputs(arrays, params: GroupingParams, path: str = "fast"):
    """The four raw outputs of one image -> :class:`.reference.ParseResult`, by ``path``."""
    if path == "fast":
        start = time.perf_counter()
        maps = Aggregated.from_outputs(*arrays,
                                       flip_index=keypoint_set(params.keypoints).flip_index)
        seconds = time.perf_counter() - start
        parsed = grouping.parse(maps, params)
        parsed.stats["aggregate"] = seconds
        return parsed
    if path == "reference":
        return reference.parse_outputs(arrays, params)
    raise ValueError(f"postprocess path must be one of {PATHS}, got {path!r}")


def postprocess_arrays(arrays, entry: ManifestEntry, params: GroupingParams,
                       path: str = "fast"):
    """Aggregate, group and map back one image: ``(final_preds [P,17,5], scores [P])``."""
    parsed = parse_outputs(arrays, params, path)
    return to_image(parsed.refined, entry.geometry()), parsed.scores


def postprocess_manifest(manifest: Manifest, dump_dir, dump_dir_flip,
                         params: GroupingParams = GroupingParams(), log: bool = True,
                         path: str = "fast") -> list[dict]:
    """COCO results for every image of a manifest, in manifest order."""
    entries = manifest.entries
    check_complete(entries, dump_dir, dump_dir_flip)
    results: list[dict] = []
    progress = Progress(len(entries), f"postprocess ({path})", enabled=log)
    reader = OutputReader()
    n_joints = keypoint_set(params.keypoints).num_joints
    for entry in entries:
        paths = output_paths(entry, dump_dir, dump_dir_flip)
        shapes = expected_shapes(entry, n_joints)
        arrays = [reader.read(k, p, s) for k, (p, s) in enumerate(zip(paths, shapes))]
        try:
            preds, scores = postprocess_arrays(arrays, entry, params, path)
        except (ValueError, RuntimeError) as exc:  # the assignment's refusals
            raise WorkflowError(f"image {entry.image_id} ({paths[0].parent / entry.stem}_*.npy "
                                f"and the flipped ones): grouping failed: {exc}") from None
        results.extend(results_for_image(entry.image_id, preds, scores))
        progress.update(note=f"{len(results)} people")
    return results


def run(dump_dir, dump_dir_flip, manifest_path, output, params: GroupingParams,
        path: str = "fast") -> list[dict]:
    """The stage: read the manifest, post-process the shard, write the results atomically."""
    if path not in PATHS:
        raise WorkflowError(f"postprocess path must be one of {PATHS}, got {path!r}")
    manifest = Manifest.read(manifest_path)
    if not manifest.entries:
        print(f"postprocess: manifest {manifest_path} has no images; writing []", file=sys.stderr)
    results = postprocess_manifest(manifest, Path(dump_dir), Path(dump_dir_flip), params,
                                   path=path)
    write_json(output, results, indent=None)
    return results
