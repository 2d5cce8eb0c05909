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


def provider_list(ort, providers: str, device: int | None) -> list:
    """Providers argument for ``InferenceSession``; clear error when not installed."""
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
        if name != "CPUExecutionProvider" and device is not None:
            out.append((name, {"device_id": int(device)}))
        else:
            out.append(name)
    return out


class OnnxRuntimeEngine:
    """An ONNX Runtime session plus the bookkeeping the summary needs."""

    backend = "onnxruntime"

    def __init__(self, model: str | os.PathLike, threads: int | None = None,
                 providers: str = "cpu", device: int | None = None):
        ort = import_onnxruntime()
        self.model = check_model_file(model, "ONNX model")
        self.providers_choice = providers
        self.device_id = device
        plist = provider_list(ort, providers, device)
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
        t0 = time.perf_counter()
        out1, out2 = self.session.run(self.output_names, {self.input_name: x})
        return out1, out2, (time.perf_counter() - t0) * 1000.0, 0.0, 0.0

    def info(self) -> dict:
        import onnxruntime as ort

        device = "cpu" if self.providers_choice == "cpu" else f"cuda:{self.device_id or 0}"
        return {"backend": self.backend, "device": device, "threads": self.threads,
                "providers": self.session.get_providers(),
                "session_startup_s": self.startup_s, "model": str(self.model),
                "versions": {"onnxruntime": ort.__version__}}
