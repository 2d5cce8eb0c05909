"""The preprocess manifest: what postprocess needs to map predictions back to the image.

One JSON file per shard::

    {"format": "higherhrnet-manifest/1", "shape_policy": "ascend17",
     "shard": 0, "num_shards": 4, "input_size": 512, "scale": 1.0, "min_scale": 1.0,
     "images": [{"stem": "000000000785", "image_id": 785, "file_name": "000000000785.jpg",
                 "width": 640, "height": 425, "input_w": 768, "input_h": 512,
                 "center": [320, 213], "scale": [4.25, 2.125]}, ...],
     "cropped": []}

The stem is the COCO image id zero-padded to 12 digits; it names the ``.npy`` tensors and
the inference outputs (``<stem>_0.npy``, ``<stem>_1.npy``). ``input_size``, ``scale`` and
``min_scale`` say which scale of which test the sizes are for (multi-scale test); a manifest
written before they existed is the one-scale test at 512. ``cropped`` names (file names) the
images the ``ascend17`` policy cuts off (wider or taller than about 2:1; the report counts
them); the other policies see every image whole.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..atomic import write_json
from ..errors import WorkflowError, first_few
from ..files import read_json
from .shapes import INPUT_SIZE, Geometry, input_geometry

FORMAT = "higherhrnet-manifest/1"


def stem_for(image_id: int) -> str:
    return f"{int(image_id):012d}"


@dataclass(frozen=True)
class ManifestEntry:
    stem: str
    image_id: int
    file_name: str
    width: int
    height: int
    input_w: int
    input_h: int
    center: tuple[int, int]
    scale: tuple[float, float]

    @classmethod
    def from_geometry(cls, image_id: int, file_name: str, geom: Geometry) -> "ManifestEntry":
        return cls(stem_for(image_id), int(image_id), file_name, geom.width, geom.height,
                   geom.input_w, geom.input_h, tuple(geom.center), tuple(geom.scale))

    def geometry(self) -> Geometry:
        return Geometry(self.width, self.height, self.input_w, self.input_h,
                        tuple(self.center), tuple(self.scale))


@dataclass
class Manifest:
    entries: list[ManifestEntry]
    shape_policy: str
    shard: int = 0
    num_shards: int = 1
    input_size: int = INPUT_SIZE
    scale: float = 1.0
    min_scale: float = 1.0
    #: file names of the images the shape policy crops (``ascend17`` only)
    cropped: list[str] = field(default_factory=list)

    def base_geometry(self, entry: ManifestEntry) -> Geometry:
        """The entry's geometry at scale 1 of this manifest's test: the size every scale's
        maps are projected to (the reference's ``base_size``)."""
        return input_geometry(entry.width, entry.height, self.shape_policy, self.input_size,
                              1.0, self.min_scale)

    def write(self, path: str | os.PathLike) -> None:
        write_json(path, {
            "format": FORMAT,
            "shape_policy": self.shape_policy,
            "shard": self.shard,
            "num_shards": self.num_shards,
            "input_size": self.input_size,
            "scale": self.scale,
            "min_scale": self.min_scale,
            "images": [asdict(e) for e in self.entries],
            "cropped": list(self.cropped),
        })

    @classmethod
    def read(cls, path: str | os.PathLike) -> "Manifest":
        path = Path(path)
        data = read_json(path, "manifest", " (run the preprocess stage first)")
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise WorkflowError(f"manifest {path}: not a {FORMAT} file (no matching 'format' key)")
        fields = set(ManifestEntry.__dataclass_fields__)
        entries = []
        for i, item in enumerate(data.get("images", [])):
            if not isinstance(item, dict) or set(item) != fields:
                missing = sorted(fields - set(item)) if isinstance(item, dict) else sorted(fields)
                raise WorkflowError(f"manifest {path}: entry {i} is malformed (missing {missing})")
            item = dict(item, center=tuple(item["center"]), scale=tuple(item["scale"]))
            entries.append(ManifestEntry(**item))
        return cls(entries, data.get("shape_policy", "ascend17"),
                   int(data.get("shard", 0)), int(data.get("num_shards", 1)),
                   int(data.get("input_size", INPUT_SIZE)), float(data.get("scale", 1.0)),
                   float(data.get("min_scale", 1.0)), list(data.get("cropped", [])))

    def check_tensors(self, folder: str | os.PathLike,
                      path: str | os.PathLike = "the manifest") -> None:
        """Fail naming the folder if a tensor the manifest lists is missing or if the folder has
        tensors the manifest does not list (e.g. a temp folder half-deleted by a killed run)."""
        folder = Path(folder)
        present = {p.stem for p in folder.glob("*.npy")} if folder.is_dir() else set()
        listed = [e.stem for e in self.entries]
        missing = [s for s in listed if s not in present]
        extra = sorted(present - set(listed))
        if not missing and not extra:
            return
        problems = []
        if missing:
            problems.append(f"{len(missing)} of the {len(listed)} tensors listed in {path} are "
                            f"missing ({first_few([s + '.npy' for s in missing], 5)})")
        if extra:
            problems.append(f"{len(extra)} tensor(s) are not listed in {path} "
                            f"({first_few([s + '.npy' for s in extra], 5)})")
        raise WorkflowError(f"{folder}: {'; '.join(problems)}. The folder does not match its "
                            "preprocess run (a killed run can leave a temporary folder "
                            "half-deleted): delete it and run the workflow again.")
