"""Helpers for the inference tests: sample-image tensors, a tiny stand-in model, the fakes.

The tiny model has the real output contract (input ``input`` [N,3,H,W] -> ``output1``
[N,34,H/4,W/4], ``output2`` [N,17,H/2,W/2]) so layout, Ascend and error tests stay fast;
parity tests use the real network with synthetic weights (session fixtures in conftest).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np

FAKES = Path(__file__).resolve().parents[1] / "fakes"
_PYTHONPATH = os.environ.get("PYTHONPATH", "")


def sample_images(coco_sample: Path) -> list[dict]:
    ann = json.loads((coco_sample / "person_keypoints_sample.json").read_text())
    return sorted(ann["images"], key=lambda im: im["id"])


def sample_tensors(coco_sample: Path, limit: int | None = None, half: bool = False,
                   policy: str = "ascend17") -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """stem -> (normal, flipped) float32 [1,3,H,W] tensors of the sample images.

    Built from the library's size rule and reference warp; ``half`` halves each side
    (still multiples of 32) to keep the full-network tests fast.
    """
    import cv2

    from higherhrnet.data.images import read_image_rgb
    from higherhrnet.preprocess.manifest import stem_for
    from higherhrnet.preprocess.shapes import input_geometry
    from higherhrnet.preprocess.transforms import flip_width, to_normalized_tensor, warp_to_input

    out = {}
    for im in sample_images(coco_sample)[:limit]:
        img = read_image_rgb(coco_sample / "images" / im["file_name"])
        geom = input_geometry(im["width"], im["height"], policy)
        canvas = warp_to_input(img, geom)
        if half:
            canvas = cv2.resize(canvas, (geom.input_w // 2, geom.input_h // 2),
                                interpolation=cv2.INTER_AREA)
        t = to_normalized_tensor(canvas)
        out[stem_for(im["id"])] = (t, flip_width(t))
    return out


def write_inputs(folder: Path, tensors: dict[str, np.ndarray]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for stem, t in tensors.items():
        np.save(folder / f"{stem}.npy", t)
    return folder


def tiny_model():
    """A small torch module with HigherHRNet's output contract."""
    import torch
    from torch import nn

    class TinyPoseNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1), nn.ReLU())   # /2
            self.down = nn.Sequential(nn.Conv2d(8, 16, 3, 2, 1), nn.ReLU())  # /4
            self.head1 = nn.Conv2d(16, 34, 1)
            self.up = nn.ConvTranspose2d(16 + 34, 17, 4, 2, 1)                # /2

        def forward(self, x):
            f = self.down(self.stem(x))
            out1 = self.head1(f)
            return out1, self.up(torch.cat([f, out1], 1))

    torch.manual_seed(0)
    return TinyPoseNet().eval()


def export_tiny(path: Path) -> Path:
    import warnings

    import torch

    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # legacy-exporter deprecation notes
        torch.onnx.export(tiny_model(), (torch.zeros(1, 3, 64, 64),), str(path), dynamo=False,
                          opset_version=11, input_names=["input"],
                          output_names=["output1", "output2"],
                          dynamic_axes={"input": {0: "n", 2: "h", 3: "w"},
                                        "output1": {0: "n", 2: "h4", 3: "w4"},
                                        "output2": {0: "n", 2: "h2", 3: "w2"}})
    return path


def random_inputs(folder: Path, shapes: dict[str, tuple[int, int]], seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    return write_inputs(folder, {stem: rng.standard_normal((1, 3, h, w), dtype=np.float32)
                                 for stem, (h, w) in shapes.items()})


def use_fakes(monkeypatch, tmp: Path, pylib: str | None = "pylib",
              path: bool = True) -> Path:
    """Put the Ascend test doubles on PATH / PYTHONPATH (for this test); returns set_env.sh."""
    if path:
        monkeypatch.setenv("PATH", f"{FAKES / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        ([str(FAKES / pylib)] if pylib else []) + [_PYTHONPATH]))
    monkeypatch.setenv("FAKE_PYTHON", sys.executable)
    monkeypatch.setenv("FAKE_CALLS", str(tmp / "calls.jsonl"))
    for key in ("FAKE_ATC_EXPECT", "FAKE_AIS_BENCH_EXPECT", "FAKE_AOE_EXPECT", "FAKE_ATC_FAIL",
                "FAKE_AOE_FAIL", "FAKE_AIS_BENCH_FAIL", "FAKE_AIS_BENCH_SKIP", "FAKE_OM_OS_ARCH",
                "FAKE_CANN_SOURCED", "ASCEND_RT_VISIBLE_DEVICES", "FAKE_NPU_STATE",
                "FAKE_AIS_BENCH_HOLD_S", "HHRNET_DEVICES_FROM_ALLOCATION"):
        monkeypatch.delenv(key, raising=False)
    # the stage CLIs' device locks (inference.devices) in this test's folder
    monkeypatch.setenv("HHRNET_DEVICE_LOCKS", str(tmp / "device_locks"))
    return FAKES / "cann" / "set_env.sh"


def expect(monkeypatch, var: str, argv: list[str]) -> None:
    monkeypatch.setenv(var, json.dumps(argv))


def calls(tmp: Path) -> list[list[str]]:
    path = tmp / "calls.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
