"""The stage CLIs' arguments and the jobs' resources, built from the config: what the rules'
``params:`` and ``resources:`` hold (so a change of a number re-runs exactly its stage)."""

from __future__ import annotations

import re
import shlex
from typing import Sequence

from ..data.download import COCO_ANNOTATIONS_TRAINVAL2017, COCO_VAL2017_IMAGES
from .config import Settings


def shape_args(s: Settings) -> str:
    """Which input shapes the Ascend model is compiled for (and the benchmark measures)."""
    return f"--variant {s.variant.name} --scales {s.scales_arg}"


def infer_args(config: dict, s: Settings) -> str:
    """The infer CLI's engine options (its backend record's)."""
    return s.backend.engine_args(config, s.variant.name, s.scales_arg, False)


def benchmark_args(config: dict, s: Settings) -> str:
    """infer_args() without batching (benchmarks run batch 1), with the variant and scales
    whose shape set is measured when benchmark_model.shapes is empty."""
    return s.backend.engine_args(config, s.variant.name, s.scales_arg, True)


def trt_build_args(config: dict, s: Settings) -> str:
    """build_trt_engines.py's options: the run configuration its engines are for."""
    i = config["infer"]
    return (f"--precision {i['precision']} --max-batch {i['batch_size']} "
            f"--profiles {i['tensorrt_profiles']} {shape_args(s)}")


def engines_flag(s: Settings, engines: str) -> str:
    """--trt-engines of the infer and benchmark_model jobs when the run loads TensorRT
    engines (``engines``: their manifest), else nothing."""
    return f"--trt-engines {shlex.quote(engines)}" if s.trt_tag else ""


def benchmark_batch_sizes(config: dict) -> str:
    """--batch-sizes of benchmark_model when other than batch 1 alone."""
    sizes = config["benchmark_model"]["batch_sizes"]
    return "" if list(sizes) == [1] else "--batch-sizes " + ",".join(str(b) for b in sizes)


def conda_env(config: dict, s: Settings) -> str:
    """The inference jobs' env (envs/<name>.yaml): ``gpu`` (the pinned GPU stack) when the
    config runs on a GPU, else the backend's own (CPU wheels, or CANN's for ascend)."""
    return "gpu" if s.device_kind == "gpu" else s.backend.name


def infer_resources(s: Settings) -> dict:
    """mem_mb, runtime and, for a backend that runs on an NPU or a GPU, npu=1 / gpu=1 (the
    profiles' GRES; a local run holds as many at once as the device list is long)."""
    return {"mem_mb": 6000, "runtime": 120, **({s.device_kind: 1} if s.device_kind else {})}


def devices_arg(s: Settings) -> str:
    """The device list the infer and benchmark jobs take one device of (``--devices``): passed
    through the environment (the shell prefix), not params, so that adding a device re-runs
    nothing (results do not depend on which device computed them)."""
    return ",".join(str(d) for d in s.devices)


def preprocess_geometry(geo: str) -> str:
    """--input-size, --scale and --min-scale of the preprocess job of a path tag."""
    if not geo:
        return "--input-size 512 --scale 1 --min-scale 1"
    size, scale, smallest = re.fullmatch(r"_(\d+)_s([0-9.]+)_min([0-9.]+)", geo).groups()
    return f"--input-size {size} --scale {scale} --min-scale {smallest}"


def scale_flags(s: Settings, outputs: Sequence[str], outputs_flip: Sequence[str],
                manifests: Sequence[str]) -> str:
    """One --dump-dir, --dump-dir-flip and --manifest per scale (one scale: the guide's
    flags alone)."""
    flags = [] if s.scales == (1.0,) else ["--scales", s.scales_arg]
    for d, f, m in zip(outputs, outputs_flip, manifests):
        flags += ["--dump-dir", d, "--dump-dir-flip", f, "--manifest", m]
    return shlex.join(flags)


def postprocess_switches(config: dict) -> str:
    """--no-adjust / --no-refine when those steps are off."""
    p = config["postprocess"]
    return " ".join(flag for flag, on in (("--no-adjust", not p["adjust"]),
                                          ("--no-refine", not p["refine"])) if on)


def coco_zip_checks() -> str:
    """unpack_coco's size and md5 checks (a zip put there by hand never went through
    download.py's)."""
    images, annotations = COCO_VAL2017_IMAGES, COCO_ANNOTATIONS_TRAINVAL2017
    return (f"--images-size {images.size} --images-md5 {images.md5} "
            f"--annotations-size {annotations.size} --annotations-md5 {annotations.md5}")
