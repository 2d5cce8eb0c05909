"""ONNX export of HigherHRNet (any variant) and its check against PyTorch on the Ascend shapes.

The graph follows the Ascend port's ``HigherHRNet_pth2onnx.py``: input ``input``
``[N,3,H,W]`` with N, H and W dynamic, outputs ``output1`` ``[N,34,H/4,W/4]`` and
``output2`` ``[N,17,H/2,W/2]``, opset 11 by default. torch >= 2.9 defaults to the dynamo
exporter (needs onnxscript); the legacy TorchScript exporter (``dynamo=False``) is used.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import torch
from torch import nn

from ..errors import WorkflowError
from ..preprocess.shapes import ASCEND_SHAPES

INPUT_NAME = "input"
OUTPUT_NAMES = ("output1", "output2")
DEFAULT_OPSET = 11
DEFAULT_ONNX_NAME = "pose_higher_hrnet_w32_512_bs1_dynamic.onnx"
DYNAMIC_AXES = {
    INPUT_NAME: {0: "batch", 2: "height", 3: "width"},
    OUTPUT_NAMES[0]: {0: "batch", 2: "height_4", 3: "width_4"},
    OUTPUT_NAMES[1]: {0: "batch", 2: "height_2", 3: "width_2"},
}


class ExportMismatch(WorkflowError):
    """ONNX Runtime and PyTorch disagree; ``.report`` holds the per-shape comparison."""

    def __init__(self, message: str, report: dict):
        super().__init__(message)
        self.report = report


def export_onnx(model: nn.Module, onnx_path: str | os.PathLike, opset: int = DEFAULT_OPSET,
                sample_shape: tuple[int, int] = (512, 512)) -> Path:
    """Export ``model`` (eval mode, CPU) to ``onnx_path``, run ``onnx.checker``; return the path.

    The file appears under its final name only once it is complete and checked.
    """
    import onnx

    onnx_path = Path(onnx_path)
    onnx_path.parent.mkdir(parents=True, exist_ok=True)
    model = model.cpu().eval()
    dummy = torch.zeros(1, 3, *sample_shape)
    fd, tmp = tempfile.mkstemp(prefix=f".{onnx_path.name}.", suffix=".part", dir=onnx_path.parent)
    os.close(fd)
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # legacy-exporter deprecation chatter
            torch.onnx.export(
                model, (dummy,), tmp, dynamo=False, opset_version=opset,
                input_names=[INPUT_NAME], output_names=list(OUTPUT_NAMES),
                dynamic_axes=DYNAMIC_AXES, do_constant_folding=True,
            )
        try:
            onnx.checker.check_model(tmp, full_check=True)
        except Exception as exc:
            raise WorkflowError(f"{onnx_path}: exported model fails onnx.checker: {exc}") from None
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 would hide the model from others
        os.replace(tmp, onnx_path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    return onnx_path


def timed_export(model: nn.Module, onnx_path: str | os.PathLike,
                 opset: int = DEFAULT_OPSET, input_size: int = 512) -> float:
    """:func:`export_onnx` with a square sample input of the model's input size, returning
    the seconds it took."""
    start = time.perf_counter()
    export_onnx(model, onnx_path, opset, (input_size, input_size))
    return time.perf_counter() - start


def ort_session(onnx_path: str | os.PathLike, threads: int | None = None):
    """An ONNX Runtime CPU session; ``threads`` sets intra-op threads (None: ORT default)."""
    import onnxruntime as ort

    onnx_path = Path(onnx_path)
    if not onnx_path.is_file():
        raise WorkflowError(f"{onnx_path}: ONNX model not found")
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    try:
        return ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise WorkflowError(f"{onnx_path}: ONNX Runtime cannot load it: {exc}") from None


def check_export(onnx_path: str | os.PathLike, model: nn.Module,
                 shapes: Iterable[tuple[int, int]] = ASCEND_SHAPES,
                 atol: float = 1e-4, rtol: float = 1e-4, seed: int = 0,
                 progress: bool = False) -> dict:
    """Run ONNX Runtime and PyTorch on one random input per (H, W) shape and compare.

    Returns ``{"onnx", "atol", "rtol", "ok", "shapes": [{"shape", "max_abs_diff":
    {output1, output2}, "ok"}, ...]}``; raises :class:`ExportMismatch` (a WorkflowError
    carrying ``.report``) when any output differs beyond ``atol + rtol * |torch|`` or has the
    wrong shape.
    """
    session = ort_session(onnx_path)
    model = model.cpu().eval()
    rng = np.random.default_rng(seed)
    rows = []
    shapes = list(shapes)
    for n, (h, w) in enumerate(shapes, 1):
        x = rng.standard_normal((1, 3, h, w)).astype(np.float32)
        with torch.no_grad():
            expected = [t.numpy() for t in model(torch.from_numpy(x))]
        got = session.run(list(OUTPUT_NAMES), {INPUT_NAME: x})
        diffs, ok = {}, True
        for name, e, g in zip(OUTPUT_NAMES, expected, got):
            if e.shape != g.shape:
                diffs[name] = None
                ok = False
                continue
            diffs[name] = float(np.abs(e - g).max())
            ok = ok and bool(np.allclose(g, e, atol=atol, rtol=rtol))
        rows.append({"shape": f"{h}x{w}", "max_abs_diff": diffs, "ok": ok})
        if progress:
            print(f"[check_export] {n}/{len(shapes)} {h}x{w} max|diff| {diffs} "
                  f"{'ok' if ok else 'MISMATCH'}", file=sys.stderr)
    report = {"onnx": str(onnx_path), "atol": atol, "rtol": rtol,
              "ok": all(r["ok"] for r in rows), "shapes": rows}
    if not report["ok"]:
        bad = [f"{r['shape']} {r['max_abs_diff']}" for r in rows if not r["ok"]]
        raise ExportMismatch(
            f"{onnx_path}: ONNX Runtime differs from PyTorch beyond atol={atol} rtol={rtol} "
            f"on {len(bad)} of {len(rows)} shapes: " + "; ".join(bad), report)
    return report


def parse_shapes(spec: str | Sequence[tuple[int, int]],
                 policy_shapes: Sequence[tuple[int, int]] = ASCEND_SHAPES) -> list[tuple[int, int]]:
    """``ascend17`` (``policy_shapes``: the variant's shape set) or ``HxW[,HxW...]`` ->
    list of (H, W)."""
    if not isinstance(spec, str):
        return list(spec)
    if spec == "ascend17":
        return list(policy_shapes)
    shapes = []
    for item in spec.split(","):
        try:
            h, w = (int(v) for v in item.lower().split("x"))
        except ValueError:
            raise WorkflowError(f"bad shape {item!r}: expected HxW, e.g. 512x768") from None
        if h <= 0 or w <= 0 or h % 32 or w % 32:
            raise WorkflowError(f"bad shape {item!r}: H and W must be positive multiples of 32")
        shapes.append((h, w))
    return shapes
