"""A video of the user's (``dataset.name: video``): probing, frame sampling, annotated output.

Frames are decoded with OpenCV (its FFmpeg backend), in order. The sampled frames are the
source frames ``0, s, 2s, ...`` (``s = frame_stride``), at most ``max_frames`` of them
(0 = no limit). A sampled frame's image id is its source frame index; its timestamp is the
decoder's position of that frame (``CAP_PROP_POS_MSEC``: the container's presentation time,
right for variable frame rates), or ``index / fps`` where the backend gives none.

The j-th sampled frame goes to shard ``j % num_shards``: no shard needs the frame count
(which containers only estimate). Each shard's extraction decodes the video up to its last
frame (decoding is a small part of the per-frame cost of the two network runs) and writes
its frames as PNG (lossless, so the preprocess stage sees the decoded pixels) with a
listing (:mod:`higherhrnet.image_folder`) that carries ``frame`` and ``timestamp_s``.

A video that cannot be opened or whose first frame cannot be decoded raises
:class:`WorkflowError` naming the container (from the file's leading bytes) and, when the
container opens, the codec (its FourCC).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from ..atomic import write_json
from ..errors import WorkflowError
from .image_folder import listing

#: leading bytes -> container, for the error message of a video OpenCV cannot open
_MAGIC = (
    (4, b"ftyp", "MP4/QuickTime (ISO base media)"),
    (0, b"RIFF", "RIFF (AVI)"),
    (0, b"\x1a\x45\xdf\xa3", "Matroska/WebM"),
    (0, b"FLV", "FLV"),
    (0, b"OggS", "Ogg"),
    (0, b"\x00\x00\x01\xba", "MPEG program stream"),
    (0, b"G", "MPEG transport stream (if every 188th byte is 'G')"),
    (0, b"GIF8", "GIF"),
    (0, b"0&\xb2u", "ASF/WMV"),
)


def container_of(path: str | os.PathLike) -> str:
    """A name for the file's container from its first bytes (for messages)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(16)
    except OSError as exc:
        return f"unreadable ({exc.strerror or exc})"
    for offset, magic, name in _MAGIC:
        if head[offset: offset + len(magic)] == magic:
            return name
    return f"not a container OpenCV knows (first bytes {head[:8].hex(' ')})"


def fourcc_text(code: float) -> str:
    raw = int(code).to_bytes(4, "little", signed=False) if code > 0 else b""
    text = raw.decode("ascii", "replace").strip("\x00 ")
    return text if text and text.isprintable() else "unknown"


@dataclass(frozen=True)
class VideoInfo:
    path: str
    container: str
    codec: str
    fps: float
    frame_count: int  # the container's estimate
    width: int
    height: int


def _open(path: Path):
    import cv2

    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    if not cap.isOpened():
        cap.release()
        raise WorkflowError(
            f"dataset.video: {path} cannot be opened by OpenCV's FFmpeg backend "
            f"(container: {container_of(path)}; {path.stat().st_size} bytes): a damaged file "
            "or a format FFmpeg does not read; convert it, e.g. ffmpeg -i IN -c:v libx264 "
            "out.mp4")
    return cap


def probe_video(path: str | os.PathLike) -> VideoInfo:
    """Open the video and decode its first frame; clear errors before any work is done."""
    import cv2

    path = Path(path)
    if not path.exists():
        raise WorkflowError(f"dataset.video: {path} does not exist")
    if not path.is_file():
        raise WorkflowError(f"dataset.video: {path} is not a file")
    if path.stat().st_size == 0:
        raise WorkflowError(f"dataset.video: {path} is empty (0 bytes)")
    cap = _open(path)
    try:
        codec = fourcc_text(cap.get(cv2.CAP_PROP_FOURCC))
        ok, frame = cap.read()
        if not ok or frame is None:
            raise WorkflowError(
                f"dataset.video: {path}: the first frame cannot be decoded (codec {codec}, "
                f"container {container_of(path)}): OpenCV's FFmpeg build has no decoder for "
                "it or the stream is damaged; convert it, e.g. ffmpeg -i IN -c:v libx264 "
                "out.mp4")
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        return VideoInfo(str(path), container_of(path), codec, fps if fps > 0 else 25.0,
                         int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0),
                         int(frame.shape[1]), int(frame.shape[0]))
    finally:
        cap.release()


def sampled_frames(path: str | os.PathLike, stride: int, max_frames: int,
                   keep=lambda j: True) -> Iterator[tuple[int, int, float, np.ndarray]]:
    """``(j, frame_index, timestamp_s, bgr)`` of the sampled frames for which ``keep(j)``."""
    import cv2

    if stride < 1:
        raise WorkflowError(f"dataset.frame_stride must be >= 1, got {stride}")
    if max_frames < 0:
        raise WorkflowError(f"dataset.max_frames must be >= 0, got {max_frames}")
    path = Path(path)
    cap = _open(path)
    fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0) or 25.0
    try:
        index = 0
        while True:
            j, rest = divmod(index, stride)
            if max_frames and j >= max_frames:
                return
            wanted = rest == 0 and keep(j)
            if not cap.grab():
                return
            if wanted:
                msec = cap.get(cv2.CAP_PROP_POS_MSEC)
                ok, frame = cap.retrieve()
                if not ok or frame is None:
                    raise WorkflowError(f"video {path}: frame {index} cannot be decoded")
                stamp = msec / 1000.0 if (msec > 0 or index == 0) else index / fps
                yield j, index, round(float(stamp), 6), frame
            index += 1
    finally:
        cap.release()


def extract_shard(video: str | os.PathLike, *, stride: int, max_frames: int, shard: int,
                  num_shards: int, frames_dir: str | os.PathLike,
                  listing_path: str | os.PathLike, log=sys.stderr) -> dict:
    """Decode shard ``shard``'s sampled frames to ``<frame:08d>.png`` + its listing."""
    import cv2

    from ..evaluation.draw import write_image

    info = probe_video(video)
    frames_dir = Path(frames_dir)
    frames_dir.mkdir(parents=True, exist_ok=True)
    entries = []
    for _, index, stamp, frame in sampled_frames(video, stride, max_frames,
                                                 keep=lambda j: j % num_shards == shard):
        name = f"{index:08d}.png"
        write_image(frames_dir / name, frame, [cv2.IMWRITE_PNG_COMPRESSION, 1])
        entries.append({"id": index, "file_name": name, "width": int(frame.shape[1]),
                        "height": int(frame.shape[0]), "frame": index,
                        "timestamp_s": stamp})
    doc = listing(entries, [], source="video", shard=shard, num_shards=num_shards,
                  video=str(video), fps=info.fps, codec=info.codec, container=info.container,
                  frame_stride=stride, max_frames=max_frames)
    write_json(listing_path, doc)
    print(f"extract_frames shard {shard}/{num_shards}: {len(entries)} frame(s) of {video} "
          f"({info.codec}, {info.fps:g} fps, stride {stride})", file=log)
    return doc


def open_writer(path: str | os.PathLike, fps: float, width: int, height: int):
    """An MPEG-4 (``mp4v``) writer, the codec every OpenCV FFmpeg build can encode."""
    import cv2

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), float(fps),
                             (int(width), int(height)))
    if not writer.isOpened():
        raise WorkflowError(f"{path}: OpenCV cannot write an mp4v video here "
                            "(its FFmpeg backend is missing)")
    return writer


def annotate_video(video: str | os.PathLike, predictions: list[dict], *, stride: int,
                   max_frames: int, output: str | os.PathLike,
                   drawings_dir: str | os.PathLike, drawings: int,
                   log=sys.stderr) -> int:
    """The sampled frames with their skeletons as a video at ``fps / stride`` (real-time
    playback), and the first ``drawings`` of them as JPEGs; returns the frame count."""
    from collections import defaultdict

    from ..evaluation.draw import draw_people, write_image

    info = probe_video(video)
    by_frame = defaultdict(list)
    for r in predictions:
        by_frame[int(r["image_id"])].append(r)
    output = Path(output)
    tmp = output.with_name(f".{output.stem}.part{output.suffix}")
    Path(drawings_dir).mkdir(parents=True, exist_ok=True)
    writer, n = None, 0
    try:
        for j, index, _, frame in sampled_frames(video, stride, max_frames):
            if writer is None:
                writer = open_writer(tmp, info.fps / stride, frame.shape[1], frame.shape[0])
            drawn = draw_people(frame, by_frame.get(index, []))
            writer.write(drawn)
            if j < drawings:
                write_image(Path(drawings_dir) / f"frame_{index:08d}.jpg", drawn)
            n += 1
        if writer is None:
            raise WorkflowError(f"video {video}: no frame could be decoded")
        writer.release()
        writer = None
        os.replace(tmp, output)
    finally:
        if writer is not None:
            writer.release()
        if tmp.exists():
            tmp.unlink()
    print(f"annotate_video: {n} frame(s) at {info.fps / stride:g} fps -> {output}", file=log)
    return n
