"""The inference backends behind one contract: the :class:`Engine` protocol and one
:class:`Backend` record per backend (the one place that knows a backend by name).

Every backend writes ais_bench's layout (:mod:`.output_layout`, :mod:`.runner`), so that
postprocess never knows which one ran. ``onnxruntime`` (default) and ``torch`` are in-process
engines; ``ascend`` runs ``python3 -m ais_bench`` on an ATC-compiled ``.om``
(:mod:`.ascend`). A record says what the backend loads, what it needs, how the workflow
checks it before any job, which options the stage CLIs get from the config, and how it runs
an inference pass and the per-shape benchmark. :func:`run_infer` is the one entry point of
the infer stage.
"""

from __future__ import annotations

import importlib.util
import os
import shlex
from dataclasses import dataclass
from typing import Callable, Protocol, Sequence

import numpy as np

from ..errors import WorkflowError
from .runner import discover_inputs, run_local, write_empty_run


class Engine(Protocol):
    """An in-process engine: the session is created once, then ``forward`` per batch."""

    def forward(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, float, float]:
        """``(output1, output2, compute_ms, h2d_ms, d2h_ms)`` for ``x [B,3,H,W]`` float32."""

    def info(self) -> dict:
        """backend, device, threads, providers, session_startup_s, model, versions."""


@dataclass(frozen=True)
class Backend:
    """One backend: ``loads`` the model artifact (``onnx``, ``pth`` or ``om``); ``needs`` in
    words; ``npu``: its jobs hold an NPU; ``compiled_shapes``: its model holds a fixed shape
    set (and its tools take paths under ais_bench's rule); ``check(config)``: "" or why the
    configured run cannot work on this machine; ``engine_args(config, variant, scales, bench)``:
    the infer (or, with ``bench``, benchmark_model) CLI's engine options; ``open``: the
    in-process engine factory (None: runs a tool); ``infer`` and ``measure``: one inference
    pass and the per-shape benchmark rows; ``gpu(config)``: whether the configured run
    needs a GPU (the jobs' ``gpu`` resource, which the cluster profiles request);
    ``fp16(config)``: "" or why ``infer.precision: fp16`` cannot run as configured;
    ``trt_engines(config)``: whether the run loads TensorRT engines (build_trt_engines)."""

    name: str
    loads: str
    needs: str
    npu: bool
    compiled_shapes: bool
    check: Callable[[dict], str]
    engine_args: Callable[[dict, str, str, bool], str]
    open: Callable[..., Engine] | None
    infer: Callable[..., dict]
    measure: Callable[..., tuple[list, dict]]
    gpu: Callable[[dict], bool] = lambda config: False
    fp16: Callable[[dict], str] = lambda config: "infer.precision fp16: not on this backend"
    trt_engines: Callable[[dict], bool] = lambda config: False


def _module_check(module: str, message: str) -> Callable[[dict], str]:
    return lambda config: "" if importlib.util.find_spec(module) else message


def _ascend_check(config: dict) -> str:
    """The shape policy and the shape set ATC can compile, and the CANN environment script."""
    from ..model.variants import get_variant
    from ..preprocess.shapes import check_scales, shape_set

    if config["preprocess"]["shape_policy"] not in ("auto", "ascend17", "ascend17_fit"):
        return ("backend ascend needs preprocess.shape_policy: ascend17, ascend17_fit or auto "
                "(ATC compiles the 17 fixed input shapes; 'reference' can produce other shapes)")
    size = get_variant(config["model"]["variant"]).input_size
    try:  # ATC compiles at most 100 input shapes
        shape_set(size, check_scales(config["test"]["scales"], size))
    except ValueError as exc:
        return f"backend ascend: {exc}"
    cann = config["ascend"]["cann_env"]
    if not os.path.isfile(cann):
        return (f"backend ascend: the CANN environment script {cann} (ascend.cann_env) does "
                "not exist; install the CANN toolkit or choose backend: onnxruntime")
    return ""


def _shape_args(variant: str, scales: str) -> str:
    """Which shapes a model is compiled for (ATC, ais_bench) or benchmarked on."""
    return f"--variant {variant} --scales {scales}"


def _precision_arg(config: dict) -> str:
    """--precision fp16 when set (fp32, the default, adds nothing: earlier runs' params)."""
    return " --precision fp16" if config["infer"]["precision"] == "fp16" else ""


def _onnxruntime_args(config: dict, variant: str, scales: str, bench: bool) -> str:
    i = config["infer"]
    if bench:  # batch 1; the shape set when benchmark_model.shapes is empty
        engine = f"--providers {i['onnxruntime_provider']}{_precision_arg(config)}"
        return (engine if config["benchmark_model"]["shapes"]
                else f"{engine} {_shape_args(variant, scales)}")
    return (f"--batch-size {i['batch_size']} --providers {i['onnxruntime_provider']} "
            f"--variant {variant}{_precision_arg(config)}")


def _torch_args(config: dict, variant: str, scales: str, bench: bool) -> str:
    i = config["infer"]
    kind, _, index = i["torch_device"].partition(":")
    args = (f"--providers {kind} --variant {variant}"
            + (f" --device {index}" if index else "") + _precision_arg(config))
    if bench and not config["benchmark_model"]["shapes"]:
        return f"{args} --scales {scales}"
    return args


def _ascend_args(config: dict, variant: str, scales: str, bench: bool) -> str:
    a = config["ascend"]
    # the device: one of ascend.devices, claimed by the job (the rule's --devices)
    return f"--cann-env={shlex.quote(a['cann_env'])} {_shape_args(variant, scales)}"


def _open_onnxruntime(model, threads=None, providers="cpu", device=None, variant="w32_512",
                      precision="fp32", engines=None):
    from .onnxruntime_engine import OnnxRuntimeEngine

    return OnnxRuntimeEngine(model, threads, providers, device, precision, engines)


def _open_torch(model, threads=None, providers="cpu", device=None, variant="w32_512",
                precision="fp32", engines=None):
    from .torch_engine import TorchEngine

    if engines:
        raise WorkflowError("--trt-engines: TensorRT engines are the onnxruntime backend's "
                            "(onnxruntime_provider: tensorrt), not torch's")
    return TorchEngine(model, threads, providers, device, variant, precision)


def _infer_in_process(name: str):
    def infer(model, input_dir, output, dirname, *, threads=None, batch_size=1,
              providers="cpu", device=None, argv=None, progress=True, variant="w32_512",
              precision="fp32", engines=None, **_ascend_only) -> dict:
        from ..model.variants import get_variant

        engine = create_engine(name, model, threads, providers, device, variant, precision,
                               engines)
        return run_local(engine, input_dir, output, dirname, batch_size, argv, progress,
                         num_joints=get_variant(variant).num_joints)

    return infer


def _infer_ascend(model, input_dir, output, dirname, *, batch_size=1, device=None, log=None,
                  cann_env=None, python="python3", progress=True, variant="w32_512",
                  scales=(1.0,), precision="fp32", **_engine_only) -> dict:
    from ..model.variants import get_variant
    from .ascend.cann import shape_list
    from .ascend.run import run_ascend

    if precision != "fp32":
        raise WorkflowError("--precision: the Ascend model's precision is ATC's "
                            "(ascend.precision_mode); use --precision fp32")
    if batch_size != 1:
        raise WorkflowError("--batch-size: the Ascend model is compiled for batch 1 "
                            "(input:1,3,-1,-1); use --batch-size 1")
    return run_ascend(model, input_dir, output, dirname, device=device, log=log,
                      cann_env=cann_env, python=python, progress=progress,
                      compiled=shape_list("ascend17", get_variant(variant).input_size, scales),
                      num_joints=get_variant(variant).num_joints)


def _measure_in_process(name: str):
    def measure(model, shapes, loops, warmup, workdir, *, threads=None, providers="cpu",
                device=None, variant="w32_512", precision="fp32", engines=None,
                batch_sizes=(1,), **_ascend_only):
        from .benchmark import measure_engine

        engine = create_engine(name, model, threads, providers, device, variant, precision,
                               engines)
        rows = measure_engine(engine, shapes, loops, warmup, batch_sizes=batch_sizes)
        info = {k: v for k, v in engine.info().items()
                if k in ("device", "threads", "providers", "precision", "trt_engines",
                         "trt_engines_reused", "session_startup_s")}
        return rows, info

    return measure


def _measure_ascend(model, shapes, loops, warmup, workdir, *, device=None, cann_env=None,
                    python="python3", **_engine_only):
    from .ascend.run import resolve_device
    from .benchmark import measure_ascend

    rows = measure_ascend(model, shapes, loops, warmup, workdir, device, cann_env, python)
    return rows, {"device": resolve_device(device)[1], "threads": None}


def _in_process(name: str, loads: str, needs: str, module: str, install: str,
                open_: Callable[..., Engine], args, gpu: Callable[[dict], bool],
                fp16: Callable[[dict], str], trt_engines=lambda config: False) -> Backend:
    return Backend(name, loads, needs, npu=False, compiled_shapes=False,
                   check=_module_check(module, install), engine_args=args, open=open_,
                   infer=_infer_in_process(name), measure=_measure_in_process(name), gpu=gpu,
                   fp16=fp16, trt_engines=trt_engines)


def _onnxruntime_gpu(config: dict) -> bool:
    """The CUDA and TensorRT execution providers run on a GPU."""
    return config["infer"]["onnxruntime_provider"] in ("cuda", "tensorrt")


def _torch_gpu(config: dict) -> bool:
    return config["infer"]["torch_device"].startswith("cuda")


def _onnxruntime_trt(config: dict) -> bool:
    return config["infer"]["onnxruntime_provider"] == "tensorrt"


def _onnxruntime_fp16(config: dict) -> str:
    """Only TensorRT runs fp16 (trt_fp16_enable): the cpu and cuda providers run the exported
    float32 graph, so fp16 there would silently be fp32."""
    provider = config["infer"]["onnxruntime_provider"]
    if provider == "tensorrt":
        return ""
    return (f"infer.precision fp16 with onnxruntime_provider {provider}: only the tensorrt "
            "provider runs fp16 (trt_fp16_enable); the cpu and cuda providers run the float32 "
            "model. Use onnxruntime_provider: tensorrt, backend: torch with torch_device: "
            "cuda, or precision: fp32")


def _torch_fp16(config: dict) -> str:
    if _torch_gpu(config):
        return ""
    return ("infer.precision fp16 with torch_device cpu: fp16 autocast runs on CUDA; use "
            "torch_device: cuda or precision: fp32")


def _ascend_fp16(config: dict) -> str:
    return ("infer.precision fp16: the Ascend backend's precision is ATC's "
            "(ascend.precision_mode); leave infer.precision at fp32")


BACKENDS: dict[str, Backend] = {
    "onnxruntime": _in_process(
        "onnxruntime", "onnx", "the Python package onnxruntime (or onnxruntime-gpu)",
        "onnxruntime", "backend onnxruntime: the Python package onnxruntime is not installed "
        "(pip install onnxruntime, or onnxruntime-gpu), or choose backend: torch",
        _open_onnxruntime, _onnxruntime_args, _onnxruntime_gpu, _onnxruntime_fp16,
        _onnxruntime_trt),
    "ascend": Backend(
        "ascend", "om", "the CANN toolkit (ATC, AOE), ais_bench and an Ascend NPU", npu=True,
        compiled_shapes=True, check=_ascend_check, engine_args=_ascend_args, open=None,
        infer=_infer_ascend, measure=_measure_ascend, fp16=_ascend_fp16),
    "torch": _in_process(
        "torch", "pth", "PyTorch", "torch",
        "backend torch: PyTorch is not installed (pip install torch==2.13.0)",
        _open_torch, _torch_args, _torch_gpu, _torch_fp16),
}


def job_device(config: dict, record: Backend) -> tuple[str | None, int | None]:
    """What the record's inference jobs run on under ``config`` (issue 23): ``("npu", None)``
    (Ascend; ascend.devices says which), ``("gpu", N)`` (ONNX Runtime's CUDA / TensorRT
    providers, torch on ``cuda[:N]``; N the index torch_device names, else None), or
    ``(None, None)`` (CPU)."""
    kind = "npu" if record.npu else "gpu" if record.gpu(config) else None
    _, _, torch_index = config["infer"]["torch_device"].partition(":")
    named = int(torch_index) if kind == "gpu" and record.name == "torch" and torch_index else None
    return kind, named


def backend(name: str) -> Backend:
    """The record of backend ``name``; WorkflowError naming the choices otherwise."""
    try:
        return BACKENDS[name]
    except KeyError:
        raise WorkflowError(f"backend {name!r}: choose one of {', '.join(BACKENDS)}") from None


def create_engine(name: str, model: str | os.PathLike, threads: int | None = None,
                  providers: str = "cpu", device: int | None = None,
                  variant: str = "w32_512", precision: str = "fp32",
                  engines: str | os.PathLike | None = None) -> Engine:
    """An in-process engine (``onnxruntime`` or ``torch``); the session is created here once.
    ``variant``: the network the torch backend builds for the .pth (ONNX knows its own);
    ``precision`` fp16: TensorRT's or torch autocast; ``engines``: the TensorRT engines'
    manifest (:mod:`.tensorrt_engines`)."""
    record = backend(name)
    if record.open is None:
        in_process = ", ".join(n for n, r in BACKENDS.items() if r.open)
        raise WorkflowError(f"backend {name!r} has no in-process engine; choose one of "
                            f"{in_process}")
    return record.open(model, threads, providers, device, variant, precision, engines)


def run_infer(name: str, model: str | os.PathLike, input_dir: str | os.PathLike,
              output: str | os.PathLike, dirname: str, *, threads: int | None = None,
              batch_size: int = 1, providers: str = "cpu", device: int | None = None,
              log: str | os.PathLike | None = None, cann_env: str | os.PathLike | None = None,
              python: str = "python3", argv: Sequence[str] | None = None,
              progress: bool = True, allow_empty: bool = False, variant: str = "w32_512",
              scales: Sequence[float] = (1.0,), precision: str = "fp32",
              engines: str | os.PathLike | None = None) -> dict:
    """Run one inference pass (normal or flipped inputs); returns the summary dict.

    ``variant`` and ``scales`` say which network the torch backend builds and which shapes
    the Ascend .om was compiled for; ONNX Runtime and torch take any shape.

    With ``allow_empty``, a folder without inputs gives an empty output folder and summary
    without loading the model (the workflow's shards when there are fewer images than shards).
    """
    record = backend(name)
    if allow_empty and not discover_inputs(input_dir, allow_empty=True):
        return write_empty_run(name, output, dirname, argv)
    return record.infer(model, input_dir, output, dirname, threads=threads,
                        batch_size=batch_size, providers=providers, device=device, log=log,
                        cann_env=cann_env, python=python, argv=argv, progress=progress,
                        variant=variant, scales=scales, precision=precision,
                        engines=engines)


__all__ = ["BACKENDS", "Backend", "Engine", "backend", "create_engine", "job_device",
           "run_infer"]
