"""Reading images exactly as the reference does, with defined behaviour for bad files.

The reference (``CocoDataset.__getitem__``) reads every image with
``cv2.imread(path, IMREAD_COLOR | IMREAD_IGNORE_ORIENTATION)`` and converts BGR to RGB;
:func:`read_image_rgb` does the same, so good images give bit-identical pixels. What
OpenCV's ``IMREAD_COLOR`` does with unusual files (checked with opencv 5.0, the same rules
hold for 4.x):

===========================  =================================================================
input                        result (uint8 H x W x 3 RGB)
===========================  =================================================================
8-bit RGB JPEG/PNG           the pixels; EXIF orientation is **ignored** (as in the reference)
grayscale (8 or 16 bit)      the gray value copied to R, G and B
CMYK / YCCK JPEG             libjpeg's CMYK output converted by OpenCV (R = C*K/255 on the
                             Adobe-inverted values; equal to Pillow's ``convert('RGB')`` within 1)
16-bit PNG / TIFF            each channel shifted right by 8 bits (``v >> 8``, not ``v / 257``)
PNG with alpha (RGBA, LA)    the alpha channel is **dropped** (no compositing on a background)
palette PNG                  expanded to its RGB colours
===========================  =================================================================

Files that cannot be decoded raise :class:`~higherhrnet.errors.WorkflowError` naming the
file and the reason: missing, not a regular file, unreadable, zero bytes, not an image
OpenCV can decode (garbage, truncated PNG, ...). A **truncated JPEG** is the one case
OpenCV does not refuse: libjpeg prints "Premature end of JPEG file" and fills the missing
rows with grey. We refuse it instead (a half-grey image gives silently wrong keypoints):
a file that starts with the JPEG SOI marker must have its EOI marker ``FF D9`` within the
last :data:`JPEG_TAIL_WINDOW` bytes (trailing padding after EOI is tolerated).

Files are read by bytes (``np.fromfile`` + ``cv2.imdecode``, the same decoders and flags as
``cv2.imread``): OpenCV's ``imread`` crashes (segmentation fault) on a path that is not valid
UTF-8, such as ``a\\xff.jpg``, which Linux allows. Messages show such a name with its
undecodable bytes as ``\\xNN`` (:func:`shown`).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import WorkflowError


def shown(path: str | os.PathLike) -> str:
    """``path`` for a message or a text file: bytes that are not UTF-8 as ``\\xNN``."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def is_utf8(path: str | os.PathLike) -> bool:
    """Whether ``path`` is valid UTF-8 (a name from the file system may not be)."""
    try:
        os.fspath(path).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _imread_flags() -> int:
    """OpenCV flags of the reference's ``cv2.imread``."""
    import cv2

    return cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION


JPEG_SOI = b"\xff\xd8\xff"
JPEG_EOI = b"\xff\xd9"
#: How far from the end of a JPEG file the end-of-image marker may be.
JPEG_TAIL_WINDOW = 4096


def _check_file(path: Path) -> int:
    """Existence, type, readability and size of ``path``; returns its size in bytes."""
    if not path.exists():
        raise WorkflowError(f"image {shown(path)}: file not found")
    if not path.is_file():
        raise WorkflowError(f"image {shown(path)}: not a regular file")
    size = path.stat().st_size
    if size == 0:
        raise WorkflowError(f"image {shown(path)}: file is empty (0 bytes)")
    if not os.access(path, os.R_OK):
        raise WorkflowError(f"image {shown(path)}: not readable (permission denied)")
    return size


def _check_jpeg_complete(path: Path, size: int) -> None:
    """Refuse a JPEG whose end-of-image marker is missing (a truncated download/copy)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(3)
            if head != JPEG_SOI:
                return
            fh.seek(max(0, size - JPEG_TAIL_WINDOW))
            tail = fh.read()
    except OSError as exc:
        raise WorkflowError(f"image {shown(path)}: cannot be read "
                            f"({exc.strerror or exc})") from None
    if JPEG_EOI not in tail:
        raise WorkflowError(f"image {shown(path)}: truncated JPEG (no end-of-image marker; "
                            f"{size} bytes) - download or copy it again")


def read_image_rgb(path: str | os.PathLike) -> np.ndarray:
    """Read ``path`` as uint8 H x W x 3 RGB, exactly like the reference (see module doc)."""
    import cv2

    path = Path(path)
    size = _check_file(path)
    _check_jpeg_complete(path, size)
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise WorkflowError(f"image {shown(path)}: cannot be read "
                            f"({exc.strerror or exc})") from None
    img = cv2.imdecode(data, _imread_flags()) if data.size else None
    if img is None:
        raise WorkflowError(f"image {shown(path)}: cannot be decoded (not an image OpenCV reads, "
                            f"or a truncated/corrupt file; {size} bytes)")
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:  # pragma: no cover
        raise WorkflowError(f"image {shown(path)}: decoded to unexpected {img.dtype} {img.shape}")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def check_size(img: np.ndarray, path: str | os.PathLike, width: int, height: int) -> None:
    """Fail when the decoded pixels disagree with the annotation's ``width`` x ``height``.

    The network geometry is computed from the real pixels (as in the reference), but the
    ground-truth keypoints are in the annotation's coordinate frame; if the two differ,
    the evaluation would compare predictions and GT in different frames. So we stop.
    """
    h, w = img.shape[:2]
    if (w, h) != (int(width), int(height)):
        raise WorkflowError(f"image {shown(path)}: size {w}x{h} disagrees with the annotation's "
                            f"{int(width)}x{int(height)} (wrong file or re-encoded image)")
