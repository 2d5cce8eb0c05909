"""PyTorch engine: the network itself from a .pth (CPU, or CUDA when present).

For parity checks against ONNX Runtime and for users without ONNX Runtime. The model comes
from :func:`higherhrnet.checkpoint.load_model`, which gives clear errors for bad checkpoints.
"""

from __future__ import annotations

import contextlib
import os
import time

import numpy as np

from ..errors import WorkflowError
from .runner import SELECT_HINT, check_model_file

ACCELERATORS = ("cpu", "cuda")


def import_torch():
    try:
        import torch
    except ImportError as exc:
        raise WorkflowError(f"the torch backend needs PyTorch ({exc}); install it with "
                            f"`pip install torch`, or {SELECT_HINT}") from None
    return torch


class TorchEngine:
    backend = "torch"

    def __init__(self, weights: str | os.PathLike, threads: int | None = None,
                 providers: str = "cpu", device: int | None = None,
                 variant: str = "w32_512", precision: str = "fp32"):
        """``precision`` fp16: CUDA autocast (convolutions in float16, outputs float32 as
        ever); the first batch also runs in float32 and the raw outputs' largest deviation
        goes into ``info()`` (the run's summary)."""
        torch = import_torch()
        self.torch = torch
        if providers not in ACCELERATORS:
            raise WorkflowError(f"--providers {providers!r}: the torch backend runs on "
                                f"{' or '.join(ACCELERATORS)}")
        if precision not in ("fp32", "fp16"):
            raise WorkflowError(f"--precision {precision!r}: choose fp32 or fp16")
        if precision == "fp16" and providers != "cuda":
            raise WorkflowError("--precision fp16: the torch backend runs fp16 (autocast) on "
                                "CUDA only; use --providers cuda or --precision fp32")
        self.precision = precision
        self.deviation: dict | None = None
        if providers == "cuda" and not torch.cuda.is_available():
            raise WorkflowError(
                f"--providers cuda: this PyTorch {torch.__version__} sees no CUDA device "
                "(a CPU-only build or no GPU here); install a CUDA build of torch on a GPU "
                "node or use `--providers cpu`")
        self.device = torch.device("cpu" if providers == "cpu" else f"cuda:{device or 0}")
        if self.device.type == "cuda":
            # TF32 convolutions (PyTorch's CUDA default) would cost the 1e-4 parity with ONNX
            # Runtime that the outputs are checked against; keep full float32.
            torch.backends.cudnn.allow_tf32 = False
            torch.backends.cuda.matmul.allow_tf32 = False
        if threads:
            if threads < 1:
                raise WorkflowError(f"--threads must be >= 1, got {threads}")
            torch.set_num_threads(int(threads))
        self.threads = torch.get_num_threads()
        self.weights = check_model_file(weights, "PyTorch weights (.pth)")
        from ..model.checkpoint import load_model

        t0 = time.perf_counter()
        model = load_model(self.weights, variant=variant)
        self.model = model.to(self.device).eval()
        self.startup_s = time.perf_counter() - t0

    def forward(self, x: np.ndarray):
        torch = self.torch
        cuda = self.device.type == "cuda"
        with torch.inference_mode():
            t0 = time.perf_counter()
            xt = torch.from_numpy(x).to(self.device)
            if cuda:
                torch.cuda.synchronize(self.device)
            t1 = time.perf_counter()
            with (torch.autocast("cuda", dtype=torch.float16) if self.precision == "fp16"
                  else contextlib.nullcontext()):
                out1, out2 = self.model(xt)
            if cuda:
                torch.cuda.synchronize(self.device)
            t2 = time.perf_counter()
            o1, o2 = out1.float().cpu().numpy(), out2.float().cpu().numpy()
            t3 = time.perf_counter()
            if self.precision == "fp16" and self.deviation is None:  # untimed, once
                from .tensorrt_engines import max_abs_deviation

                ref1, ref2 = self.model(xt)
                self.deviation = {"shape": list(x.shape), **max_abs_deviation(
                    (o1, o2), (ref1.cpu().numpy(), ref2.cpu().numpy()))}
        if not cuda:
            return o1, o2, (t2 - t0) * 1000.0, 0.0, 0.0
        return o1, o2, (t2 - t1) * 1000.0, (t1 - t0) * 1000.0, (t3 - t2) * 1000.0

    def info(self) -> dict:
        return {"backend": self.backend, "device": str(self.device), "threads": self.threads,
                "providers": [str(self.device)], "session_startup_s": self.startup_s,
                "model": str(self.weights), "versions": {"torch": self.torch.__version__},
                "precision": self.precision,
                **({"fp16_deviation_first_batch": self.deviation} if self.deviation else {})}
