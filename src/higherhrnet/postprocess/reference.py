"""The reference test-time computation, written straight, over dense maps.

This is the peer of the fast path (``postprocess.path: reference``, ``--path reference``):
every step as docs/reference.md describes it, on whole maps, with no bounds, tiles or
emulation.  It is slow (seconds per image with many candidates) and meant to be read,
switched to when in doubt, and compared with: the tests and ``bench/bench_postprocess.py``
check that the fast path gives identical results stage by stage.

Steps (docs/reference.md sections in brackets):

* :func:`aggregate` [flip test, aggregation]: both passes to dense ``det [J,H,W]`` and
  ``tags [J,H,W,2]`` at the network input size;
* :func:`top_k` [NMS, top-k]: max-pool NMS and the ``max_people`` best peaks per joint
  (equal values in row-major order, the tie rule of the project);
* :func:`match_by_tag` [grouping]: persons keyed by their first tag component;
* :func:`adjust`, :func:`scores`, :func:`refine` [adjust, scores, refine];
* :func:`parse`: all of them, returning the same :class:`ParseResult` as the fast parser.

The assignment solver is :mod:`.assignment`'s (a port of the steps of the reference's
``munkres`` package, whose tie-breaking decides groupings), chosen by
``GroupingParams.assignment``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from ..data.keypoints import COCO, keypoint_set
from .assignment import ASSIGNMENTS
from .params import GroupingParams


@dataclass
class ParseResult:
    """Every stage of a parse (both paths), for tests and diagnostics."""

    candidates: list  # per joint id: float64 rows [n,5] (x, y, val, t1, t2) with val > thr
    matched: np.ndarray  # float32 [P,J,5]
    adjusted: np.ndarray
    scores: np.ndarray  # float32 [P]
    refined: np.ndarray
    stats: dict = field(default_factory=dict)


# ----------------------------------------------------------------------------- aggregation

def _resize(x: torch.Tensor, size) -> torch.Tensor:
    return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False)


def one_pass(out0: np.ndarray, out1: np.ndarray, flipped: bool, flip_index=COCO.flip_index):
    """One pass at output1's resolution: heatmaps and tags ``[1,J,H/2,W/2]`` (torch)."""
    o0, o1 = torch.from_numpy(np.asarray(out0, np.float32)), torch.from_numpy(
        np.asarray(out1, np.float32))
    up = _resize(o0, o1.shape[2:])
    n_joints = len(flip_index)
    if flipped:  # flip back along width, then swap left and right
        up, o1 = torch.flip(up, [3]), torch.flip(o1, [3])
        perm = list(flip_index)
        return (up[:, :n_joints][:, perm] + o1[:, :n_joints][:, perm]) / 2, \
            up[:, n_joints:][:, perm]
    return (up[:, :n_joints] + o1[:, :n_joints]) / 2, up[:, n_joints:]


def aggregate(normal0, normal1, flipped0, flipped1, flip_index=COCO.flip_index):
    """Dense ``det [J,H,W]`` and ``tags [J,H,W,2]`` (float32) at the network input size."""
    hm_n, tag_n = one_pass(normal0, normal1, False, flip_index)
    hm_f, tag_f = one_pass(flipped0, flipped1, True, flip_index)
    size = (2 * hm_n.shape[2], 2 * hm_n.shape[3])
    det = (_resize(hm_n, size) + _resize(hm_f, size)) / 2
    tags = torch.stack([_resize(tag_n, size), _resize(tag_f, size)], dim=-1)
    return det[0].numpy(), tags[0].numpy()


# ----------------------------------------------------------------------------- NMS, top-k

def nms(det: np.ndarray, params: GroupingParams) -> np.ndarray:
    """``det`` where it equals the max of its window (ties all kept), 0 elsewhere."""
    t = torch.from_numpy(det)[None]
    pooled = F.max_pool2d(t, params.nms_kernel, 1, params.nms_padding)
    return (t * torch.eq(pooled, t).float())[0].numpy()


def top_k(det: np.ndarray, tags: np.ndarray, params: GroupingParams) -> list:
    """Per joint: float64 rows ``(x, y, val, t1, t2)`` of the ``max_people`` highest NMS
    values, value-descending, equal values in row-major order, only ``val > threshold``."""
    n, h, w = det.shape
    flat = nms(det, params).reshape(n, -1)
    rows = []
    for j in range(n):
        ind = np.argsort(-flat[j], kind="stable")[: params.max_people]
        val = flat[j][ind]
        r = np.concatenate([np.stack([ind % w, ind // w], 1).astype(np.float64),
                            val[:, None].astype(np.float64),
                            tags[j].reshape(-1, 2)[ind].astype(np.float64)], axis=1)
        rows.append(r[val > params.detection_threshold])
    return rows


# ----------------------------------------------------------------------------- grouping

def match_by_tag(candidates: list, params: GroupingParams) -> np.ndarray:
    """Group candidate rows into persons -> float32 ``[P,J,5]``, in insertion order, walking
    the joints in the keypoint set's grouping order."""
    n_joints = len(candidates)
    order = keypoint_set(params.keypoints).grouping_order
    if len(order) != n_joints:
        raise ValueError(f"{n_joints} joints of candidates, but keypoint set "
                         f"{params.keypoints} has {len(order)}")
    joint_dict: dict = {}  # first tag component -> [J,5] person
    tag_dict: dict = {}  # same key -> the person's tag vectors (float32)
    for i, idx in enumerate(order):
        joints = candidates[idx]
        joints = joints[joints[:, 2] > params.detection_threshold]
        tags = joints[:, 3:5].astype(np.float32)
        if joints.shape[0] == 0:
            continue
        if i == 0 or len(joint_dict) == 0:
            for tag, joint in zip(tags, joints):
                joint_dict.setdefault(tag[0], np.zeros((n_joints, 5)))[idx] = joint
                tag_dict[tag[0]] = [tag]
            continue
        grouped_keys = list(joint_dict)[: params.max_people]
        grouped_tags = [np.mean(tag_dict[k], axis=0) for k in grouped_keys]
        diff = joints[:, None, 3:] - np.array(grouped_tags)[None, :, :]
        dist = np.linalg.norm(diff, ord=2, axis=2)
        cost = np.round(dist) * 100 - joints[:, 2:3]
        n_added, n_grouped = cost.shape
        if n_added > n_grouped:
            cost = np.concatenate([cost, np.zeros((n_added, n_added - n_grouped)) + 1e10], 1)
        for row, col in zip(*ASSIGNMENTS[params.assignment](cost)):
            if row < n_added and col < n_grouped and dist[row][col] < params.tag_threshold:
                key = grouped_keys[col]
                joint_dict[key][idx] = joints[row]
                tag_dict[key].append(tags[row])
            else:
                key = tags[row][0]
                joint_dict.setdefault(key, np.zeros((n_joints, 5)))[idx] = joints[row]
                tag_dict[key] = [tags[row]]
    if not joint_dict:
        return np.zeros((0, n_joints, 5), dtype=np.float32)
    return np.array([joint_dict[k] for k in joint_dict]).astype(np.float32)


# ----------------------------------------------------------------------------- adjust, refine

def quarter_step(m: np.ndarray, x: int, y: int) -> tuple[float, float]:
    """``(dx, dy)``: +0.25 toward the higher of the two neighbours (clamped at the border),
    -0.25 on a tie, along x then y of the map ``m [H,W]``."""
    h, w = m.shape
    dx = 0.25 if m[y, min(x + 1, w - 1)] > m[y, max(x - 1, 0)] else -0.25
    dy = 0.25 if m[min(y + 1, h - 1), x] > m[max(y - 1, 0), x] else -0.25
    return dx, dy


def adjust(persons: np.ndarray, det: np.ndarray) -> np.ndarray:
    """Every detected joint: quarter step toward the higher neighbour, plus 0.5 (in place)."""
    for person in persons:
        for j, joint in enumerate(person):
            if joint[2] > 0:
                x, y = int(joint[0]), int(joint[1])
                dx, dy = quarter_step(det[j], x, y)
                joint[0] = joint[0] + np.float32(dx) + np.float32(0.5)
                joint[1] = joint[1] + np.float32(dy) + np.float32(0.5)
    return persons


def scores(persons: np.ndarray) -> np.ndarray:
    """Mean value over all J joints (missing joints count 0), float32."""
    return np.array([p[:, 2].mean() for p in persons], dtype=np.float32)


def refine(det: np.ndarray, tags: np.ndarray, person: np.ndarray) -> np.ndarray:
    """Fill the person's missing joints (value 0) at the best tag-consistent position of
    each whole map (in place): ``argmax(det[j] - round(||tags[j] - mean tag||))``, row-major
    first; a person without a detected joint has a NaN mean tag and gets position 0."""
    found = [tags[j, int(person[j, 1]), int(person[j, 0])]
             for j in range(person.shape[0]) if person[j, 2] > 0]
    with np.errstate(invalid="ignore"):
        prev = np.mean(found, axis=0) if found else np.full(tags.shape[-1], np.nan, np.float32)
        best = []
        for j in range(person.shape[0]):
            dist = ((tags[j] - prev[None, None, :]) ** 2).sum(axis=2) ** 0.5
            y, x = np.unravel_index(np.argmax(det[j] - np.round(dist)), det[j].shape)
            dx, dy = quarter_step(det[j], int(x), int(y))
            best.append((x + 0.5 + dx, y + 0.5 + dy, det[j, y, x]))
    for j, (x, y, val) in enumerate(best):
        if val > 0 and person[j, 2] == 0:
            person[j, 0], person[j, 1], person[j, 2] = x, y, val
    return person


# ----------------------------------------------------------------------------- parse

def parse(det: np.ndarray, tags: np.ndarray,
          params: GroupingParams = GroupingParams()) -> ParseResult:
    """The reference parser on one image's dense maps, every stage kept."""
    cands = top_k(det, tags, params)
    matched = match_by_tag(cands, params)
    adjusted = adjust(matched.copy(), det) if params.adjust else matched.copy()
    person_scores = scores(adjusted)
    refined = adjusted.copy()
    if params.refine:
        for person in refined:
            refine(det, tags, person)
    return ParseResult(cands, matched, adjusted, person_scores, refined)


def parse_outputs(arrays, params: GroupingParams) -> ParseResult:
    """:func:`parse` of :func:`aggregate` of the four raw outputs of one image."""
    flip_index = keypoint_set(params.keypoints).flip_index
    return parse(*aggregate(*arrays, flip_index=flip_index), params)
