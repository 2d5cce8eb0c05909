"""Resumable, verified downloads of COCO val2017 and the weights, and unpacking into the
guide's layout.

Download protocol (:func:`download`): bytes go to ``<dest>.part``; a re-run resumes it with
an HTTP ``Range`` request (a server that answers 200 instead of 206 restarts it); when the
transfer ends the size and md5 (when known) are checked, plus an optional ``verify``
callback, and only then is ``.part`` renamed to ``dest``. A failed check deletes ``.part``
(its bytes are wrong, resuming would keep them). A network failure keeps ``.part`` and says
what could not be fetched and where to put the file by hand.

``update=True`` (the weights rule, whose url/md5 may be edited): an existing ``dest`` that
passes the md5 is kept; without an md5, one that passes the other checks and came from the
same url (``<dest>.url``, written after each download; absent: taken as the same) is kept;
otherwise the new file is fetched and replaces ``dest`` only once verified. A failed fetch or
check leaves ``dest`` as it was.

Unpacking (:func:`unpack_coco`) checks each zip's size/md5 first (a zip put there by hand
never went through :func:`download`), writes only into a folder it owns (marked by
:data:`UNPACK_MARKER`), and never deletes a zip.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..atomic import atomic_open
from ..errors import WorkflowError


@dataclass(frozen=True)
class RemoteFile:
    url: str
    file_name: str
    size: int | None = None
    md5: str | None = None


COCO_VAL2017_IMAGES = RemoteFile(
    "http://images.cocodataset.org/zips/val2017.zip", "val2017.zip",
    815_585_330, "442b8da7639aecaf257c1dceb8ba8c80")
COCO_ANNOTATIONS_TRAINVAL2017 = RemoteFile(
    "http://images.cocodataset.org/annotations/annotations_trainval2017.zip",
    "annotations_trainval2017.zip", 252_907_541, "f4bbac642086de4f52a3fdda2de5fa2c")
#: The official weights, from the Ascend ModelZoo guide (README at commit 16d05e61, step
#: "获取权重文件"). No size or md5 is published: :func:`verify_state_dict` checks the content.
HIGHERHRNET_W32_512_WEIGHTS = RemoteFile(
    "https://ascend-repo-modelzoo.obs.cn-east-2.myhuaweicloud.com/model/1_PyTorch_PTH/"
    "HigherHRNet/PTH/pose_higher_hrnet_w32_512.pth", "pose_higher_hrnet_w32_512.pth")

#: HigherHRNet-W32 state_dict layout (reference higherhrnet_w32_512_state_dict.tsv):
#: 1509 float32 tensors holding 28,700,243 values, plus 301 BN ``num_batches_tracked``.
W32_FLOAT_TENSORS = 1509
W32_FLOAT_VALUES = 28_700_243

CHUNK = 1 << 20


def md5_of(path: str | os.PathLike, chunk: int = 8 * CHUNK) -> str:
    h = hashlib.md5()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def _by_hand(url: str, dest: Path, size: int | None, md5: str | None) -> str:
    facts = ", ".join(x for x in (f"{size:,} bytes" if size else "",
                                  f"md5 {md5}" if md5 else "") if x)
    return (f"fetch it elsewhere ({url}) and put it at {dest}" + (f" ({facts})" if facts else "")
            + f"; partial data in {dest}.part is resumed on the next run")


class _Meter:
    def __init__(self, name: str, total: int | None, start: int, every_s: float = 2.0):
        self.name, self.total, self.start, self.every_s = name, total, start, every_s
        self.t0 = self.last = time.monotonic()

    def show(self, done: int, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - self.last < self.every_s:
            return
        self.last = now
        rate = (done - self.start) / max(now - self.t0, 1e-9) / 1e6
        of = f" of {self.total / 1e6:.1f} MB ({100 * done / self.total:.1f}%)" if self.total else ""
        print(f"download {self.name}: {done / 1e6:.1f} MB{of}, {rate:.1f} MB/s",
              file=sys.stderr, flush=True)


def _fetch(url: str, part: Path, size: int | None, timeout: float) -> None:
    """Append the missing bytes of ``url`` to ``part`` (resuming with Range when possible)."""
    have = part.stat().st_size if part.exists() else 0
    if size is not None and have >= size:
        return  # complete (or too long: the size check will say so)
    req = urllib.request.Request(url, headers={"User-Agent": "higherhrnet-workflow"})
    if have:
        req.add_header("Range", f"bytes={have}-")
    try:
        resp = urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # nothing left to send: the size/md5 check decides
            return
        raise
    with resp:
        status = getattr(resp, "status", 200)
        if have and status != 206:
            print(f"download {part.name}: server ignored the Range request, restarting",
                  file=sys.stderr)
            have = 0
        length = resp.headers.get("Content-Length")
        total = size or (have + int(length) if length and length.isdigit() else None)
        meter = _Meter(part.name[:-len(".part")], total, have)
        with open(part, "ab" if have else "wb") as fh:
            while block := resp.read(CHUNK):
                fh.write(block)
                have += len(block)
                meter.show(have)
        meter.show(have, final=True)
    if size is not None and have < size:
        raise OSError(f"connection closed after {have:,} of {size:,} bytes")


def download(url: str, dest: str | os.PathLike, *, size: int | None = None,
             md5: str | None = None, verify: Callable[[Path], None] | None = None,
             timeout: float = 60.0, retries: int = 3, update: bool = False) -> Path:
    """Download ``url`` to ``dest`` (resumable, verified; see the module doc).

    An existing ``dest`` that passes the checks is kept and nothing is fetched; one that
    fails them is an error (it was not put there by us: we only rename verified files),
    unless ``update``: then it is kept until a verified download replaces it.
    Mid-transfer failures are retried ``retries`` times, resuming each time.
    """
    dest = Path(dest)
    md5 = md5 or None  # "" (an unset config value) means: no md5 known
    kept = ""
    if dest.exists() and not update:
        _verify(dest, size, md5, verify, what=f"existing file {dest}",
                fix="delete it to download again, or replace it with the right file")
        return dest
    record = dest.with_name(dest.name + ".url")  # where the file came from (update mode)
    if dest.exists():
        if md5 is not None:
            if dest.stat().st_size == (size or dest.stat().st_size) \
                    and md5_of(dest) == md5.lower():
                return dest  # the file asked for; the content check passed when it came
        elif (not record.exists() or record.read_text().strip() == url) \
                and _passes(dest, size, verify):
            record.write_text(url + "\n")  # no md5 to tell: same url (or unknown), checks pass
            return dest
        kept = f"; {dest}, the file already there, is kept as it was"
    try:
        _download_new(url, dest, size, md5, verify, timeout, retries)
    except WorkflowError as exc:
        raise WorkflowError(f"{exc}{kept}") from None
    if update:
        record.write_text(url + "\n")
    return dest


def _passes(path: Path, size: int | None, verify: Callable[[Path], None] | None) -> bool:
    try:
        _verify(path, size, None, verify, what=str(path), fix="")
    except WorkflowError:
        return False
    return True


def _download_new(url: str, dest: Path, size: int | None, md5: str | None,
                  verify: Callable[[Path], None] | None, timeout: float, retries: int) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    for attempt in range(retries + 1):
        before = part.stat().st_size if part.exists() else 0
        try:
            _fetch(url, part, size, timeout)
            break
        except urllib.error.HTTPError as exc:
            raise WorkflowError(f"download of {url} failed: HTTP {exc.code} {exc.reason}; "
                                + _by_hand(url, dest, size, md5)) from None
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
            after = part.stat().st_size if part.exists() else 0
            reason = getattr(exc, "reason", None) or exc
            if attempt < retries and after > before:  # progress was made: resume
                print(f"download {dest.name}: interrupted ({reason}), resuming",
                      file=sys.stderr)
                time.sleep(min(2 ** attempt, 10))
                continue
            raise WorkflowError(f"could not fetch {url} ({reason}); "
                                + _by_hand(url, dest, size, md5)) from None
    try:
        _verify(part, size, md5, verify, what=f"download of {url}",
                fix="the partial file was deleted; run again to download it afresh")
    except WorkflowError:
        part.unlink(missing_ok=True)
        raise
    os.replace(part, dest)
    return dest


def _verify(path: Path, size: int | None, md5: str | None,
            verify: Callable[[Path], None] | None, what: str, fix: str) -> None:
    actual = path.stat().st_size
    if size is not None and actual != size:
        raise WorkflowError(f"{what}: size {actual:,} bytes, expected {size:,}; {fix}")
    if md5 is not None:
        got = md5_of(path)
        if got != md5.lower():
            raise WorkflowError(f"{what}: md5 {got}, expected {md5}; {fix}")
    if verify is not None:
        try:
            verify(path)
        except WorkflowError as exc:
            raise WorkflowError(f"{what}: {exc}; {fix}") from None


def verify_state_dict(path: str | os.PathLike) -> None:
    """Check that ``path`` loads as a HigherHRNet-W32 state_dict (no md5 is published).

    Accepts a plain state_dict or a training checkpoint's ``state_dict`` (``module.``
    prefix); requires 1509 floating tensors with 28,700,243 values in all.
    """
    import torch

    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many types for bad files
        raise WorkflowError(f"{path} does not load as a torch checkpoint ({exc})") from None
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise WorkflowError(f"{path} is not a state_dict (a mapping of names to tensors)")
    floats = [v for v in obj.values() if v.is_floating_point()]
    values = sum(v.numel() for v in floats)
    if (len(floats), values) != (W32_FLOAT_TENSORS, W32_FLOAT_VALUES):
        raise WorkflowError(f"{path} has {len(floats)} float tensors / {values:,} values; "
                            f"HigherHRNet-W32 has {W32_FLOAT_TENSORS} / {W32_FLOAT_VALUES:,}")


# ---------------------------------------------------------------- unpacking

ANNOTATION_MEMBER = "annotations/person_keypoints_val2017.json"
IMAGES_PREFIX = "val2017/"


def coco_layout(root: str | os.PathLike) -> tuple[Path, Path]:
    """(annotation json, images folder) of the guide's layout under ``root`` (data/coco)."""
    root = Path(root)
    return root / ANNOTATION_MEMBER, root / "images" / "val2017"


def _open_zip(path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except FileNotFoundError:
        raise WorkflowError(f"zip {path}: file not found") from None
    except (zipfile.BadZipFile, OSError) as exc:
        raise WorkflowError(f"zip {path}: not a readable zip file ({exc})") from None


def _replace_dir(tmp: Path, target: Path) -> None:
    """Put folder ``tmp`` at ``target``, replacing an old one only after ``tmp`` is complete."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old.{os.getpid()}")
        os.replace(target, old)
    os.replace(tmp, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


#: written into ``root`` by :func:`unpack_coco`: the layout under it is the workflow's own
UNPACK_MARKER = ".unpacked_by_higherhrnet_workflow"


def unpacked_by_workflow(root: str | os.PathLike) -> bool:
    return (Path(root) / UNPACK_MARKER).is_file()


def _check_zip(path: Path, check: tuple[int | None, str | None]) -> None:
    size, md5 = check
    if not path.is_file():
        raise WorkflowError(f"zip {path}: file not found")
    _verify(path, size, md5 or None, None, what=f"zip {path}",
            fix="nothing was unpacked and the zip is kept: replace it with the right file, "
                "or delete it to have it downloaded")


def unpack_coco(images_zip: str | os.PathLike, annotations_zip: str | os.PathLike,
                root: str | os.PathLike,
                images_check: tuple[int | None, str | None] = (None, None),
                annotations_check: tuple[int | None, str | None] = (None, None),
                ) -> tuple[Path, Path]:
    """Extract val2017 images and the val2017 person-keypoints json into ``root``.

    Result: ``<root>/images/val2017/*.jpg`` and ``<root>/annotations/person_keypoints_val2017.json``
    (the guide's ``data/coco`` layout). Each part is extracted into a temporary folder under
    ``root`` and renamed into place when complete. Only ``val2017/<name>.jpg`` members and the
    one json are taken (no other annotation files, no paths outside ``root``).

    First each zip is checked against its ``(size, md5)`` (``None``: not checked), and an
    existing layout under ``root`` that :func:`unpack_coco` did not write (no
    :data:`UNPACK_MARKER`) is refused: it may hold the user's own files. Zips are never deleted.
    """
    images_zip, annotations_zip, root = Path(images_zip), Path(annotations_zip), Path(root)
    ann_path, img_dir = coco_layout(root)
    theirs = [str(p) for p in (img_dir, ann_path) if p.exists()]
    if theirs and not unpacked_by_workflow(root):
        raise WorkflowError(f"{' and '.join(theirs)}: exist(s) and were not written by "
                            f"unpack_coco (no {root / UNPACK_MARKER}); unpacking would replace "
                            "them: move them away, or unpack into another folder")
    _check_zip(annotations_zip, annotations_check)
    _check_zip(images_zip, images_check)
    root.mkdir(parents=True, exist_ok=True)

    with _open_zip(annotations_zip) as zf:
        if ANNOTATION_MEMBER not in zf.namelist():
            raise WorkflowError(f"zip {annotations_zip}: has no {ANNOTATION_MEMBER} "
                                "(expected annotations_trainval2017.zip)")
        (root / UNPACK_MARKER).write_text("images/val2017 and annotations/person_keypoints_"
                                          "val2017.json here are written by unpack_coco and "
                                          "replaced when it runs again\n")
        with zf.open(ANNOTATION_MEMBER) as src, atomic_open(ann_path, "wb") as dst:
            shutil.copyfileobj(src, dst, CHUNK)

    with _open_zip(images_zip) as zf:
        members = [m for m in zf.infolist() if m.filename.startswith(IMAGES_PREFIX)
                   and not m.is_dir() and "/" not in m.filename[len(IMAGES_PREFIX):]
                   and m.filename.lower().endswith(".jpg")]
        if not members:
            raise WorkflowError(f"zip {images_zip}: has no {IMAGES_PREFIX}*.jpg "
                                "(expected val2017.zip)")
        img_dir.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".val2017.", dir=img_dir.parent))
        try:
            for i, m in enumerate(members, 1):
                name = m.filename[len(IMAGES_PREFIX):]
                with zf.open(m) as src, open(tmp / name, "wb") as dst:
                    shutil.copyfileobj(src, dst, CHUNK)
                if i % 1000 == 0 or i == len(members):
                    print(f"unpack {images_zip.name}: {i}/{len(members)} images",
                          file=sys.stderr, flush=True)
            os.chmod(tmp, 0o755)
            _replace_dir(tmp, img_dir)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return ann_path, img_dir
