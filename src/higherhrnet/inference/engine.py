"""Inference backends: every one writes ais_bench's layout (see :mod:`.common`).

``run_infer(backend, model, input_dir, output, dirname, ...)`` is the one entry point the
infer stage calls; ``onnxruntime`` (default) and ``torch`` run in-process, ``ascend`` runs
``python3 -m ais_bench`` on an ATC-compiled ``.om`` (see :mod:`.ascend`).
"""

from __future__ import annotations

import os
from typing import Sequence

from ..errors import WorkflowError
from .runner import BACKENDS, discover_inputs, run_local, write_empty_run


def create_engine(backend: str, model: str | os.PathLike, threads: int | None = None,
                  providers: str = "cpu", device: int | None = None,
                  variant: str = "w32_512"):
    """An in-process engine (``onnxruntime`` or ``torch``); the session is created here once.
    ``variant``: the network the torch backend builds for the .pth (ONNX knows its own)."""
    if backend == "onnxruntime":
        from .onnxruntime_engine import OnnxRuntimeEngine

        return OnnxRuntimeEngine(model, threads, providers, device)
    if backend == "torch":
        from .torch_engine import TorchEngine

        return TorchEngine(model, threads, providers, device, variant)
    raise WorkflowError(f"backend {backend!r} has no in-process engine; choose one of "
                        "onnxruntime, torch")


def run_infer(backend: str, model: str | os.PathLike, input_dir: str | os.PathLike,
              output: str | os.PathLike, dirname: str, *, threads: int | None = None,
              batch_size: int = 1, providers: str = "cpu", device: int | None = None,
              log: str | os.PathLike | None = None, cann_env: str | os.PathLike | None = None,
              python: str = "python3", argv: Sequence[str] | None = None,
              progress: bool = True, allow_empty: bool = False, variant: str = "w32_512",
              scales: Sequence[float] = (1.0,)) -> dict:
    """Run one inference pass (normal or flipped inputs); returns the summary dict.

    ``variant`` and ``scales`` say which network the torch backend builds and which shapes
    the Ascend .om was compiled for; ONNX Runtime and torch take any shape.

    With ``allow_empty``, a folder without inputs gives an empty output folder and summary
    without loading the model (the workflow's shards when there are fewer images than shards).
    """
    if backend not in BACKENDS:
        raise WorkflowError(f"backend {backend!r}: choose one of {', '.join(BACKENDS)}")
    if allow_empty and not discover_inputs(input_dir, allow_empty=True):
        return write_empty_run(backend, output, dirname, argv)
    if backend == "ascend":
        from ..model.variants import get_variant
        from .ascend.run import run_ascend, shape_list

        if batch_size != 1:
            raise WorkflowError("--batch-size: the Ascend model is compiled for batch 1 "
                                "(input:1,3,-1,-1); use --batch-size 1")
        return run_ascend(model, input_dir, output, dirname, device=device, log=log,
                          cann_env=cann_env, python=python, progress=progress,
                          compiled=shape_list("ascend17", get_variant(variant).input_size, scales))
    engine = create_engine(backend, model, threads, providers, device, variant)
    return run_local(engine, input_dir, output, dirname, batch_size, argv, progress)


__all__ = ["BACKENDS", "create_engine", "run_infer"]
