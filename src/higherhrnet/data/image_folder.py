"""A folder of the user's own images (``dataset.name: images``): listing, stable ids, shards.

The folder is searched recursively for files with a common image extension
(:data:`IMAGE_EXTENSIONS`, any case); hidden files and folders (name starting with ``.``,
such as ``.DS_Store`` or macOS ``._photo.jpg`` resource forks) are skipped. Symlinked files
and folders are followed, the images of a symlinked folder named by the link's path; a
symlinked folder that leads to a folder searched already (a loop, or a second way to the
same folder) is skipped with a note, and so is a symlinked image file whose target is
missing. A subfolder that cannot be listed (permissions) is skipped with a note naming it
and the reason; the folder itself must be readable. Each image is named by its relative
path with ``/`` separators, and the list is sorted by that path.

A file name that is not valid UTF-8 (``a\\xff.jpg``; Linux allows any bytes) cannot be a
Snakemake input (Snakemake encodes every path as UTF-8), so such a file is not used: it gets
an id like any other, a warning at start-up and an entry in its shard's ``unreadable`` list,
named with its undecodable bytes as ``\\xNN`` (:func:`~higherhrnet.data.images.shown`).
The notes (:attr:`FolderScan.notes`) are printed at start-up and in the listing logs.

Ids and shards must not move when the folder changes, so that a re-run with one added
image re-runs only the shard it falls in: an image's id is derived from its relative path
alone (:func:`path_id`, 1 .. 10**12 - 1, so the 12-digit stems of the manifest still
apply), and its shard is ``id % num_shards``. An index in the sorted list would shift the
ids (and, with contiguous blocks, the shards) of every later image. The rare clash of
two paths on one id is resolved in sorted-path order (the later path takes the next free
id), which is deterministic for a given set of paths.

Per shard, :func:`write_listing` reads every image with the stage reader
(:func:`~higherhrnet.images.read_image_rgb`) and writes a COCO image-info file (``images``
with id, file_name, width, height; no annotations; the person category), the format of
COCO's own ``image_info_test-dev2017.json``, which the preprocess stage reads like any
annotation file. Files that cannot be read are left out, each with a line in the log and
an entry in the listing's ``unreadable`` list.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from ..atomic import write_json
from ..errors import WorkflowError, first_few
from .images import is_utf8, read_image_rgb, shown
from ..files import read_json
from .coco import PERSON_CATEGORY

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
#: ids are 1 .. ID_SPACE, so that the manifest's 12-digit stems hold them
ID_SPACE = 10**12 - 1
LISTING_FORMAT = "higherhrnet-listing/1"


@dataclass(frozen=True)
class FolderImage:
    id: int
    file_name: str  # relative path inside the folder, "/" separators


def path_id(rel_path: str) -> int:
    """The id of an image from its relative path alone (first 8 bytes of its SHA-256)."""
    digest = hashlib.sha256(rel_path.encode("utf-8", "surrogateescape")).digest()
    return int.from_bytes(digest[:8], "big") % ID_SPACE + 1


def shard_of(image_id: int, num_shards: int) -> int:
    return int(image_id) % int(num_shards)


def _reason(exc: OSError) -> str:
    text = exc.strerror or str(exc) or type(exc).__name__
    return text[:1].lower() + text[1:]


def _folder_key(path: str) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_dev, st.st_ino


def _search(folder: Path) -> tuple[list[str], list[str]]:
    """(sorted relative paths of the image files, notes on the folders skipped): real
    folders first, then symlinked ones, each only when its target was not searched yet."""
    if not folder.is_dir():
        raise WorkflowError(f"dataset.images: {shown(folder)} does not exist or is not a folder")
    found, notes, searched = [], [], set()
    real: deque = deque([(str(folder), "")])
    links: deque = deque()
    while real or links:
        if not real:  # every real folder is searched: follow the next symlinked one
            path, rel = links.popleft()
            try:
                key = _folder_key(path)
            except OSError as exc:
                notes.append(f"symlinked folder {shown(rel.rstrip('/'))}: skipped ({_reason(exc)})")
                continue
            if key in searched:
                notes.append(f"symlinked folder {shown(rel.rstrip('/'))}: skipped (it leads to "
                             f"{shown(os.path.realpath(path))}, which is searched already: a "
                             "loop, or a second way to the same folder)")
                continue
            real.append((path, rel))
            continue
        path, rel = real.popleft()
        try:
            key = _folder_key(path)
            if key in searched:  # a bind mount of a folder searched already
                notes.append(f"folder {shown(path)}: skipped (the same folder as one searched "
                             "already, mounted twice)")
                continue
            searched.add(key)
            with os.scandir(path) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            if not rel:
                raise WorkflowError(f"dataset.images: {shown(folder)} cannot be read "
                                    f"({_reason(exc)})") from None
            notes.append(f"folder {shown(path)}: cannot be read ({_reason(exc)}); the images "
                         "in it are skipped")
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            sub = rel + entry.name
            try:
                if entry.is_dir(follow_symlinks=False):
                    real.append((entry.path, sub + "/"))
                elif entry.is_symlink() and entry.is_dir():
                    links.append((entry.path, sub + "/"))
                elif Path(entry.name).suffix.lower() in IMAGE_EXTENSIONS:
                    if entry.is_file():
                        found.append(sub)
                    elif entry.is_symlink() and not os.path.exists(entry.path):
                        notes.append(f"{shown(sub)}: skipped (a symbolic link to "
                                     f"{shown(os.readlink(entry.path))}, which does not exist)")
            except OSError as exc:
                notes.append(f"{shown(sub)}: skipped ({_reason(exc)})")
    return sorted(found), notes


def relative_image_paths(folder: str | os.PathLike) -> list[str]:
    """Sorted relative paths of the image files under ``folder`` (see the module doc)."""
    return _search(Path(folder))[0]


def assign_ids(rel_paths) -> list[FolderImage]:
    """Stable ids for sorted relative paths (clashes: next free id, in sorted order)."""
    taken: set[int] = set()
    out = []
    for rel in sorted(rel_paths):
        image_id = path_id(rel)
        while image_id in taken:
            image_id = image_id % ID_SPACE + 1
        taken.add(image_id)
        out.append(FolderImage(image_id, rel))
    return out


@dataclass(frozen=True)
class FolderScan:
    """What a folder holds: the images a run can use (UTF-8 names), those it cannot (names
    that are not UTF-8, with ids all the same), and notes on what was skipped."""

    images: list[FolderImage]
    bad_names: list[FolderImage] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def warnings(self, folder: str | os.PathLike) -> list[str]:
        """The notes, then one line per file name that is not UTF-8."""
        return [*self.notes, *(bad_name_error(folder, im) for im in self.bad_names)]


def bad_name_error(folder: str | os.PathLike, im: FolderImage) -> str:
    return (f"image {shown(Path(folder) / im.file_name)}: the file name is not valid UTF-8, "
            "which Snakemake cannot take as an input: skipped; rename it to use it (e.g. "
            "convmv -f latin1 -t utf8)")


def scan(folder: str | os.PathLike) -> FolderScan:
    """Every image file of the folder with its id (see the module doc); fails when there is
    none a run can use."""
    rels, notes = _search(Path(folder))
    every = assign_ids(rels)
    images = [im for im in every if is_utf8(im.file_name)]
    bad = [im for im in every if not is_utf8(im.file_name)]
    if not images:
        skipped = "; ".join([*notes, *(bad_name_error(folder, im) for im in bad)])
        raise WorkflowError(f"dataset.images: {shown(folder)} holds no image files (searched "
                            f"recursively for {', '.join(IMAGE_EXTENSIONS)}, any case)"
                            + (f"; skipped: {skipped}" if skipped else ""))
    return FolderScan(images, bad, notes)


def scan_folder(folder: str | os.PathLike) -> list[FolderImage]:
    """The images of the folder a run can use, in sorted-path order; fails when there is none."""
    return scan(folder).images


def shard_images(images: list[FolderImage], shard: int, num_shards: int) -> list[FolderImage]:
    if not 0 <= shard < num_shards:
        raise WorkflowError(f"--shard must be in 0..{num_shards - 1}, got {shard}")
    return [im for im in images if shard_of(im.id, num_shards) == shard]


def check_some_readable(folder: str | os.PathLike, images: list[FolderImage]) -> None:
    """Stop before any work when not one image can be read; reads until the first good one."""
    problems = []
    for im in images:
        try:
            read_image_rgb(Path(folder) / im.file_name)
            return
        except WorkflowError as exc:
            problems.append(str(exc))
    raise WorkflowError(f"dataset.images: none of the {len(images)} image file(s) in "
                        f"{shown(folder)} can be read:\n  " + "\n  ".join(problems))


def listing(entries: list[dict], unreadable: list[dict], *, source: str, shard: int,
            num_shards: int, **info) -> dict:
    """A COCO image-info document (no annotations) with the shard's unreadable files."""
    return {"format": LISTING_FORMAT, "source": source, "shard": shard,
            "num_shards": num_shards, "info": info, "images": entries, "annotations": [],
            "categories": [PERSON_CATEGORY], "unreadable": unreadable}


def write_listing(folder: str | os.PathLike, shard: int, num_shards: int,
                  output: str | os.PathLike, log=sys.stderr) -> dict:
    """Read shard ``shard``'s images, write its listing; returns the listing."""
    folder = Path(folder)
    found = scan(folder)
    for note in found.notes:
        print(f"skipped: {note}", file=log)
    images = shard_images(found.images, shard, num_shards)
    entries, unreadable = [], []
    for im in images:
        try:
            h, w = read_image_rgb(folder / im.file_name).shape[:2]
        except WorkflowError as exc:
            print(f"unreadable, skipped: {exc}", file=log)
            unreadable.append({"file_name": im.file_name, "image_id": im.id, "error": str(exc)})
            continue
        entries.append({"id": im.id, "file_name": im.file_name, "width": int(w),
                        "height": int(h)})
    for im in shard_images(found.bad_names, shard, num_shards):
        error = bad_name_error(folder, im)
        print(f"unreadable, skipped: {error}", file=log)
        unreadable.append({"file_name": shown(im.file_name), "image_id": im.id, "error": error})
    doc = listing(entries, unreadable, source="images", shard=shard, num_shards=num_shards,
                  folder=str(folder))
    write_json(output, doc)
    print(f"list_images shard {shard}/{num_shards}: {len(entries)} readable, "
          f"{len(unreadable)} unreadable", file=log)
    return doc


def read_listing(path: str | os.PathLike) -> dict:
    data = read_json(path, "listing", " (run the list_images / extract_frames stage first)")
    if not isinstance(data, dict) or data.get("format") != LISTING_FORMAT:
        raise WorkflowError(f"listing {path}: not a {LISTING_FORMAT} file")
    return data


def read_listings(paths) -> tuple[list[dict], list[dict], str]:
    """(readable image entries, unreadable entries, source) of all shards' listings.

    Fails naming the files when not one image of all shards could be read.
    """
    entries, unreadable, sources = [], [], set()
    for p in paths:
        data = read_listing(p)
        entries += data["images"]
        unreadable += data["unreadable"]
        sources.add(data["source"])
    if len(sources) > 1:
        raise WorkflowError(f"listings mix sources {sorted(sources)}: {first_few(map(str, paths))}")
    if not entries:
        raise WorkflowError("no input could be read:\n  "
                            + "\n  ".join(u["error"] for u in unreadable))
    return entries, unreadable, sources.pop() if sources else "images"
