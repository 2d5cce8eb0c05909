"""TensorRT engines for ``infer.onnxruntime_provider: tensorrt``, built once as an artifact.

The ``build_trt_engines`` rule (the NVIDIA counterpart of ``compile_om``) builds the engines
of the run configuration (precision, largest batch, profile mode, the variant's shape set: the
shapes ATC compiles) into ``results/model[/<variant>]/tensorrt_<tag>/`` and writes
``engines.json`` there last (the rule's output, this module's *manifest*). Every infer,
infer_flip and benchmark_model job then opens its session with the very provider options the
manifest records, so ONNX Runtime loads the cached engines instead of building them.

Why ONNX Runtime's TensorRT execution provider and not TensorRT's own builder (the
``tensorrt`` package): the engines come from the same ``.onnx`` and run inside the same
:class:`~.onnxruntime_engine.OnnxRuntimeEngine` as the CPU and CUDA providers (one summary,
one output layout, no CUDA buffer code of our own); nodes TensorRT cannot take fall back to
the CUDA provider; and ONNX Runtime names and checks its cache files itself (model, TensorRT
version, GPU). The price: onnxruntime-gpu's TensorRT provider needs the TensorRT major it was
built against (the ``gpu`` extra pins a pair).

What this relies on, from ONNX Runtime's "TensorRT Execution Provider" page
(onnxruntime.ai/docs/execution-providers/TensorRT-ExecutionProvider.html, "Configurations"
and "TensorRT EP Caches") and the pull request that added explicit profiles
(microsoft/onnxruntime#15546):

* ``trt_engine_cache_enable`` + ``trt_engine_cache_path``: serialized engines (and their
  ``.profile`` files) are written there and loaded by later sessions;
* ``trt_timing_cache_enable`` + ``trt_timing_cache_path``: the layer timing cache, which
  speeds up later builds (shared by the run configurations of one model folder);
* ``trt_fp16_enable``: FP16 kernels where TensorRT picks them; inputs and outputs stay
  float32 at the graph's boundary;
* ``trt_profile_min_shapes`` / ``_opt_shapes`` / ``_max_shapes`` ("input:1x3x512x512", one
  entry per profile, the input's name repeated for several profiles): with the engine cache
  on, ONNX Runtime compares them with the saved ``.profile`` to decide whether to rebuild, so
  jobs that pass the build's profiles load its engines, and an input inside them never
  triggers a rebuild. ONNX Runtime derives the cache files' names from the model: the jobs
  load the very ``.onnx`` the build read, under the same name (the manifest checks its sha256).

Not verified on a GPU (none was lent to the session that wrote this): whether TensorRT picks
TF32 kernels for the fp32 engines on Ampere and later GPUs; the build records each shape's
deviation from the CPU and warns above 1e-4, which would show it.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import WorkflowError
from .runner import INPUT_NAME

PRECISIONS = ("fp32", "fp16")
#: ``dynamic``: one profile from the smallest to the largest shape; ``per_shape``: one
#: profile per shape of the set (the ATC way). Which is faster is measured on a GPU.
PROFILE_MODES = ("dynamic", "per_shape")
MANIFEST_NAME = "engines.json"
MANIFEST_FORMAT = 1
#: what a build compares with ONNX Runtime on the CPU, per shape (fp32 is held to this)
FP32_TOLERANCE = 1e-4
REBUILD = "re-run the build_trt_engines rule (delete the file, or --forcerun build_trt_engines)"

Dims = tuple[int, int, int, int]


def wanted(config: dict) -> bool:
    """Whether the configured run loads TensorRT engines (and so needs the build rule): its
    backend record's ``trt_engines``."""
    from .engine import backend

    return backend(config["backend"]).trt_engines(config)


def config_problem(config: dict) -> str:
    """"" or why the precision / TensorRT settings cannot run (a config error before any job).

    fp16 needs a GPU path that has it: the TensorRT provider (``trt_fp16_enable``) or torch on
    CUDA (autocast); the CPU and CUDA providers run the exported float32 graph, so fp16 there
    would be a silent no-op."""
    from .engine import backend

    i = config["infer"]
    if i["precision"] == "fp16":
        problem = backend(config["backend"]).fp16(config)
        if problem:
            return problem
    if wanted(config):
        if config["preprocess"]["shape_policy"] not in ("auto", "ascend17", "ascend17_fit"):
            return ("onnxruntime_provider tensorrt needs preprocess.shape_policy ascend17, "
                    "ascend17_fit or auto: the engines are built for the fixed shape set "
                    "(the shapes ATC compiles); 'reference' gives shapes outside it")
        batches = config["benchmark_model"].get("batch_sizes") or [1]
        if config["benchmark_model"]["enabled"] and max(batches) > i["batch_size"]:
            return (f"benchmark_model.batch_sizes {batches}: the TensorRT engines hold batches "
                    f"up to infer.batch_size {i['batch_size']}; raise infer.batch_size or "
                    "lower the benchmark's batch sizes")
    return ""


def engine_tag(precision: str, max_batch: int, mode: str, scales_arg: str) -> str:
    """The run configuration in the engine folder's name: a change of any of these builds
    other engines (and keeps the earlier ones for the configuration that made them)."""
    scales = "" if scales_arg == "1" else "_s" + scales_arg.replace(",", "-")
    return f"{precision}_b{max_batch}_{mode}{scales}"


def profiles(shapes: Sequence[tuple[int, int]], max_batch: int, mode: str
             ) -> list[tuple[Dims, Dims, Dims]]:
    """(min, opt, max) input dims per TensorRT optimization profile.

    ``dynamic``: one profile, batch 1..max_batch, H and W from the smallest to the largest of
    the set, tuned (opt) for the square shape at the largest batch. ``per_shape``: one
    profile per (H, W), batch 1..max_batch, tuned at the largest batch."""
    if mode not in PROFILE_MODES:
        raise WorkflowError(f"TensorRT profiles {mode!r}: choose one of {PROFILE_MODES}")
    if max_batch < 1:
        raise WorkflowError(f"TensorRT largest batch {max_batch}: must be >= 1")
    if not shapes:
        raise WorkflowError("TensorRT profiles: no input shapes")
    if mode == "per_shape":
        return [((1, 3, h, w), (max_batch, 3, h, w), (max_batch, 3, h, w)) for h, w in shapes]
    hs, ws = [h for h, _ in shapes], [w for _, w in shapes]
    short = min(min(hs), min(ws))
    return [((1, 3, min(hs), min(ws)), (max_batch, 3, short, short),
             (max_batch, 3, max(hs), max(ws)))]


def _dims(d: Sequence[int]) -> str:
    return "x".join(str(int(v)) for v in d)


def profile_options(profs: Sequence[tuple[Dims, Dims, Dims]], input_name: str = INPUT_NAME
                    ) -> dict[str, str]:
    """``trt_profile_{min,opt,max}_shapes`` ("input:1x3x512x512,input:..."), one entry per
    profile (the input named again for each further profile)."""
    return {f"trt_profile_{kind}_shapes": ",".join(f"{input_name}:{_dims(p[i])}" for p in profs)
            for i, kind in enumerate(("min", "opt", "max"))}


def provider_options(cache_dir: str | os.PathLike, timing_dir: str | os.PathLike,
                     precision: str, profs: Sequence[tuple[Dims, Dims, Dims]],
                     device: int | None = None) -> dict:
    """The TensorRT provider's options of a build and of every job that loads its engines."""
    if precision not in PRECISIONS:
        raise WorkflowError(f"precision {precision!r}: choose one of {PRECISIONS}")
    return {"device_id": int(device or 0),
            "trt_engine_cache_enable": True, "trt_engine_cache_path": str(cache_dir),
            "trt_timing_cache_enable": True, "trt_timing_cache_path": str(timing_dir),
            "trt_fp16_enable": precision == "fp16",
            **profile_options(profs)}


def covered(profs: Sequence, dims: Sequence[int]) -> bool:
    """Whether an input of ``dims`` lies inside one of the profiles (no rebuild, no error)."""
    return any(all(lo <= d <= hi for lo, d, hi in zip(p[0], dims, p[2])) for p in profs)


def check_covered(profs: Sequence, dims: Sequence[int], manifest: str | os.PathLike) -> None:
    if not covered(profs, dims):
        ranges = "; ".join(f"{_dims(p[0])}..{_dims(p[2])}" for p in profs)
        raise WorkflowError(f"{manifest}: an input of {_dims(dims)} is outside the TensorRT "
                            f"engines' profiles ({ranges}); the engines hold the shape set of "
                            "model.variant and test.scales and batches up to infer.batch_size: "
                            f"{REBUILD} for this input")


def sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def cache_files(cache_dir: str | os.PathLike | None) -> dict[str, list[int]]:
    """name -> [size, mtime_ns] of ONNX Runtime's files in the engine folder (not the
    manifest): compared before and after a session starts, it tells whether engines were
    loaded or (re)built."""
    if cache_dir is None or not Path(cache_dir).is_dir():
        return {}
    folder = Path(cache_dir)
    if not folder.is_dir():
        return {}
    return {p.name: [p.stat().st_size, p.stat().st_mtime_ns] for p in sorted(folder.iterdir())
            if p.is_file() and p.name != MANIFEST_NAME}


def changed_files(before: dict, after: dict) -> list[str]:
    """The engine-folder files a session wrote (new or rewritten)."""
    return sorted(name for name, stat in after.items() if before.get(name) != stat)


def timing_dir(manifest: str | os.PathLike) -> Path:
    """The timing cache, shared by the engine folders of one model folder."""
    return Path(manifest).resolve().parent.parent / "tensorrt_timing_cache"


def read_manifest(path: str | os.PathLike, onnx: str | os.PathLike,
                  precision: str | None = None) -> dict:
    """The build's manifest, checked against what this job runs: the same ONNX file (sha256),
    the same precision, its engine files still there. WorkflowError naming the file and what
    to do otherwise."""
    path = Path(path)
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise WorkflowError(f"{path}: no TensorRT engines manifest here; {REBUILD}") from None
    except (OSError, ValueError) as exc:
        raise WorkflowError(f"{path}: not a readable engines manifest ({exc}); {REBUILD}") \
            from None
    found = manifest.get("format") if isinstance(manifest, dict) else None
    if found != MANIFEST_FORMAT:
        raise WorkflowError(f"{path}: engines manifest format {found!r}, expected "
                            f"{MANIFEST_FORMAT}; {REBUILD}")
    digest = sha256(onnx)
    if manifest.get("onnx_sha256") != digest:
        raise WorkflowError(f"{path}: the engines were built from another ONNX model than "
                            f"{onnx} (sha256 {str(manifest.get('onnx_sha256'))[:12]}..., this "
                            f"one {digest[:12]}...); {REBUILD}")
    if precision is not None and manifest.get("precision") != precision:
        raise WorkflowError(f"{path}: the engines are {manifest.get('precision')}, this run "
                            f"asks for {precision} (--precision / infer.precision); {REBUILD} "
                            "with this precision")
    missing = [n for n in manifest.get("engine_files", {}) if not (path.parent / n).is_file()]
    if missing:
        raise WorkflowError(f"{path}: {len(missing)} engine file(s) it lists are gone "
                            f"({', '.join(missing[:3])}); {REBUILD}")
    return manifest


def session_options(manifest_path: str | os.PathLike, manifest: dict,
                    device: int | None = None) -> dict:
    """The provider options of a job that loads the manifest's engines: the build's own,
    with the cache folders where the manifest lies now and this job's GPU."""
    profs = [tuple(tuple(d) for d in p) for p in manifest["profiles"]]
    return provider_options(Path(manifest_path).resolve().parent, timing_dir(manifest_path),
                            manifest["precision"], profs, device)


def max_abs_deviation(got: Sequence[np.ndarray], want: Sequence[np.ndarray]) -> dict:
    """{output1: max |got - want|, output2: ...} of two engines' raw outputs."""
    return {f"output{i + 1}": float(np.max(np.abs(np.asarray(g, np.float64)
                                                 - np.asarray(w, np.float64))))
            for i, (g, w) in enumerate(zip(got, want))}


def build_engines(onnx: str | os.PathLike, manifest_path: str | os.PathLike,
                  shapes: Sequence[tuple[int, int]], precision: str = "fp32",
                  max_batch: int = 1, mode: str = "dynamic", device: int | None = None,
                  threads: int | None = None, compare_cpu: bool = True) -> dict:
    """Build the engines of every profile into the manifest's folder, run each shape once at
    batch 1 and at ``max_batch`` (TensorRT builds lazily; this also proves each shape
    runs), record the raw outputs' deviation from ONNX Runtime on the CPU per shape, and
    write the manifest last. Returns the manifest."""
    from .onnxruntime_engine import OnnxRuntimeEngine, import_onnxruntime

    ort = import_onnxruntime()
    profs = profiles(shapes, max_batch, mode)
    manifest_path = Path(manifest_path)
    cache = manifest_path.parent
    cache.mkdir(parents=True, exist_ok=True)
    manifest_path.unlink(missing_ok=True)
    for stale in cache_files(cache):  # another ONNX or profile: ORT would keep them
        (cache / stale).unlink()
    timing = timing_dir(manifest_path)
    timing.mkdir(parents=True, exist_ok=True)
    options = provider_options(cache, timing, precision, profs, device)
    t0 = time.perf_counter()
    engine = OnnxRuntimeEngine(onnx, threads, "tensorrt", device, precision,
                               trt_options=options)
    startup_s = time.perf_counter() - t0
    reference = OnnxRuntimeEngine(onnx, threads, "cpu") if compare_cpu else None
    rng = np.random.default_rng(0)
    deviation: dict[str, dict] = {}
    for h, w in shapes:
        for batch in sorted({1, max_batch}):
            x = np.ascontiguousarray(rng.standard_normal((batch, 3, h, w), dtype=np.float32))
            out1, out2 = engine.forward(x)[:2]
        if reference is not None:  # the last batch of this shape against the CPU
            ref1, ref2 = reference.forward(x)[:2]
            deviation[f"{h}x{w}"] = max_abs_deviation((out1, out2), (ref1, ref2))
        print(f"build_trt_engines: {h}x{w} ready ({time.perf_counter() - t0:.1f} s)",
              file=sys.stderr, flush=True)
    worst = {k: max(d[k] for d in deviation.values()) for k in ("output1", "output2")} \
        if deviation else {}
    manifest = {
        "format": MANIFEST_FORMAT, "onnx": str(onnx), "onnx_sha256": sha256(onnx),
        "precision": precision, "profile_mode": mode, "max_batch": max_batch,
        "shapes": [list(s) for s in shapes], "profiles": [[list(d) for d in p] for p in profs],
        "provider_options": {k: v for k, v in options.items()
                             if k not in ("device_id", "trt_engine_cache_path",
                                          "trt_timing_cache_path")},
        "versions": {"onnxruntime": ort.__version__, "tensorrt": _tensorrt_version()},
        "gpu": _gpu_name(device),
        "session_startup_s": startup_s, "build_s": time.perf_counter() - t0,
        "deviation_from_cpu": deviation, "deviation_from_cpu_max": worst,
        "engine_files": {n: s[0] for n, s in cache_files(cache).items()},
    }
    if precision == "fp32" and worst and max(worst.values()) > FP32_TOLERANCE:
        print(f"warning: build_trt_engines: fp32 engines deviate from ONNX Runtime on the CPU "
              f"by {worst} (more than {FP32_TOLERANCE})", file=sys.stderr)
    from ..atomic import write_json

    write_json(manifest_path, manifest)
    return manifest


def _tensorrt_version() -> str | None:
    try:
        import tensorrt
    except ImportError:
        return None
    return getattr(tensorrt, "__version__", None)


def _gpu_name(device: int | None) -> str | None:
    try:
        import torch
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return None
    return torch.cuda.get_device_name(int(device or 0))


__all__ = ["MANIFEST_NAME", "PRECISIONS", "PROFILE_MODES", "build_engines", "cache_files",
           "changed_files", "check_covered", "config_problem", "covered", "engine_tag",
           "profile_options", "profiles", "provider_options", "read_manifest",
           "session_options", "wanted"]
