"""ONNX Runtime engine: the default backend (CPU; CUDA / TensorRT with onnxruntime-gpu).

One session per run (created once, start-up time measured and reported); intra-op threads
from the caller (the Snakemake rule's ``threads``); equal-shape inputs may be batched since
the exported graph has a dynamic batch axis.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np

from ..errors import WorkflowError
from .runner import INPUT_NAME, OUTPUTS, SELECT_HINT, check_model_file

#: ``--providers`` value -> ONNX Runtime execution providers, in priority order.
PROVIDERS = {
    "cpu": ("CPUExecutionProvider",),
    "cuda": ("CUDAExecutionProvider", "CPUExecutionProvider"),
    "tensorrt": ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"),
}


def import_onnxruntime():
    try:
        import onnxruntime
    except ImportError as exc:
        raise WorkflowError(
            f"the onnxruntime backend needs the Python package onnxruntime ({exc}); install it "
            "with `pip install onnxruntime` (CPU) or `pip install onnxruntime-gpu` (CUDA/"
            f"TensorRT), or {SELECT_HINT}") from None
    return onnxruntime


def provider_list(ort, providers: str, device: int | None, trt_options: dict | None = None
                  ) -> list:
    """Providers argument for ``InferenceSession``; clear error when not installed.
    ``trt_options``: the TensorRT provider's options (:mod:`.tensorrt_engines`)."""
    if providers not in PROVIDERS:
        raise WorkflowError(f"--providers {providers!r}: choose one of {sorted(PROVIDERS)}")
    wanted = PROVIDERS[providers]
    available = ort.get_available_providers()
    if wanted[0] not in available:
        raise WorkflowError(
            f"--providers {providers}: ONNX Runtime {ort.__version__} here has no "
            f"{wanted[0]} (available: {', '.join(available)}). Install onnxruntime-gpu "
            "(`pip uninstall onnxruntime && pip install onnxruntime-gpu`, with matching CUDA/"
            "cuDNN/TensorRT libraries) on a GPU node, or use `--providers cpu` "
            "(onnxruntime providers in config.yaml)")
    out: list = []
    for name in wanted:
        if name == "TensorrtExecutionProvider" and trt_options:
            out.append((name, dict(trt_options)))
        elif name != "CPUExecutionProvider" and device is not None:
            out.append((name, {"device_id": int(device)}))
        else:
            out.append(name)
    return out


class OnnxRuntimeEngine:
    """An ONNX Runtime session plus the bookkeeping the summary needs."""

    backend = "onnxruntime"

    def __init__(self, model: str | os.PathLike, threads: int | None = None,
                 providers: str = "cpu", device: int | None = None, precision: str = "fp32",
                 engines: str | os.PathLike | None = None, trt_options: dict | None = None):
        """``precision`` fp16 and ``engines`` (a build's manifest, :mod:`.tensorrt_engines`)
        are the tensorrt provider's; ``trt_options``: its options as given (the build)."""
        from . import tensorrt_engines as trt

        ort = import_onnxruntime()
        self.model = check_model_file(model, "ONNX model")
        self.providers_choice = providers
        self.device_id = device
        self.precision = precision
        self.engines = engines
        self.manifest: dict | None = None
        self.profiles: list | None = None
        if precision not in trt.PRECISIONS:
            raise WorkflowError(f"--precision {precision!r}: choose one of {trt.PRECISIONS}")
        if providers != "tensorrt" and (precision != "fp32" or engines):
            raise WorkflowError(
                f"--providers {providers}: --precision fp16 and --trt-engines are the tensorrt "
                "provider's (the cpu and cuda providers run the float32 ONNX model)")
        if providers == "tensorrt" and trt_options is None:
            if engines:
                self.manifest = trt.read_manifest(engines, self.model, precision)
                trt_options = trt.session_options(engines, self.manifest, device)
            else:
                print("warning: --providers tensorrt without --trt-engines: the engines are "
                      "built in this process and not kept (the workflow builds them once, "
                      "rule build_trt_engines)", file=sys.stderr)
                trt_options = {"device_id": int(device or 0),
                               "trt_fp16_enable": precision == "fp16"}
        if trt_options and "trt_profile_min_shapes" in trt_options:
            self.profiles = [
                tuple(tuple(int(v) for v in e.split(":")[1].split("x")) for e in entries)
                for entries in zip(*(trt_options[f"trt_profile_{k}_shapes"].split(",")
                                     for k in ("min", "opt", "max")))]
        plist = provider_list(ort, providers, device, trt_options)
        # the engine folder before the session: what ONNX Runtime writes there is a rebuild
        self._cache_dir = os.path.dirname(os.path.abspath(engines)) if engines else None
        self._cache_before = trt.cache_files(self._cache_dir)
        self._warned = False
        opts = ort.SessionOptions()
        if threads:
            if threads < 1:
                raise WorkflowError(f"--threads must be >= 1, got {threads}")
            opts.intra_op_num_threads = int(threads)
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.log_severity_level = 3
        t0 = time.perf_counter()
        try:
            self.session = ort.InferenceSession(str(self.model), sess_options=opts,
                                                providers=plist)
        except Exception as exc:  # ORT raises its own pybind exception types
            raise WorkflowError(f"{self.model}: ONNX Runtime cannot load this model "
                                f"({type(exc).__name__}: {str(exc).strip()[:500]}); re-run "
                                "the export_onnx stage") from None
        self.startup_s = time.perf_counter() - t0
        active = self.session.get_providers()
        if active[0] != PROVIDERS[providers][0]:
            raise WorkflowError(
                f"--providers {providers}: ONNX Runtime fell back to {active[0]} (the "
                f"{PROVIDERS[providers][0]} libraries did not load; see CUDA/cuDNN/TensorRT "
                "installation) - use `--providers cpu` or fix the GPU libraries")
        self.threads = threads or opts.intra_op_num_threads or os.cpu_count()
        self._bind_names()

    def _bind_names(self) -> None:
        ins = [i.name for i in self.session.get_inputs()]
        outs = [o.name for o in self.session.get_outputs()]
        names = [name for name, _, _ in OUTPUTS]
        if len(ins) != 1 or len(outs) != 2:
            raise WorkflowError(f"{self.model}: expected one input and two outputs "
                                f"(HigherHRNet export), found inputs {ins}, outputs {outs}")
        self.input_name = ins[0]
        if set(outs) == set(names):
            self.output_names = names
        else:  # older exports: trust the order (output1 = 34 channels, checked afterwards)
            self.output_names = outs
            print(f"warning: {self.model}: outputs named {outs}, not {names}; using their "
                  "order", file=sys.stderr)
        if self.input_name != INPUT_NAME:
            print(f"warning: {self.model}: input named {self.input_name!r}, not "
                  f"{INPUT_NAME!r}", file=sys.stderr)

    def forward(self, x: np.ndarray):
        if self.profiles is not None and self.engines:
            from .tensorrt_engines import check_covered

            check_covered(self.profiles, x.shape, self.engines)
        t0 = time.perf_counter()
        out1, out2 = self.session.run(self.output_names, {self.input_name: x})
        return out1, out2, (time.perf_counter() - t0) * 1000.0, 0.0, 0.0

    def engines_reused(self) -> bool | None:
        """Whether this session (so far) only loaded the build's engines: None without
        --trt-engines; False, with a warning, when ONNX Runtime wrote engine files."""
        from .tensorrt_engines import REBUILD, cache_files, changed_files

        if self._cache_dir is None:
            return None
        written = changed_files(self._cache_before, cache_files(self._cache_dir))
        if written and not self._warned:
            self._warned = True
            print(f"warning: {self.engines}: ONNX Runtime wrote {', '.join(written)} instead "
                  "of loading the built engines (another GPU or TensorRT version than the "
                  f"build's?); {REBUILD}", file=sys.stderr)
        return not written

    def info(self) -> dict:
        import onnxruntime as ort

        device = "cpu" if self.providers_choice == "cpu" else f"cuda:{self.device_id or 0}"
        info = {"backend": self.backend, "device": device, "threads": self.threads,
                "providers": self.session.get_providers(),
                "session_startup_s": self.startup_s, "model": str(self.model),
                "versions": {"onnxruntime": ort.__version__}, "precision": self.precision}
        if self.manifest is not None:  # the build's engines: which, and whether reused
            info.update({"trt_engines": str(self.engines),
                         "trt_engines_reused": self.engines_reused(),
                         "deviation_from_cpu": self.manifest.get("deviation_from_cpu_max")})
        return info
