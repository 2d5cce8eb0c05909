"""Loading HigherHRNet-W32 checkpoints, with errors a user can act on.

Accepted forms (docs/reference.md, "Model and checkpoint"):

- the released ``pose_higher_hrnet_w32_512.pth`` and ``model_best.pth.tar`` /
  ``final_state.pth.tar``: a plain state dict;
- the training ``checkpoint.pth.tar``: ``{'state_dict': {'module.<name>': ...}, ...}``;
- a plain state dict saved from a ``DataParallel`` model (every key ``module.``-prefixed).

Files are read with ``torch.load(weights_only=True)``: tensors and plain containers only,
no code execution. A checkpoint that also pickles other Python objects (or a file written by
``pickle.dump``) is refused unless the caller says it is trusted; the message names what it
would import (read from the pickle without running it) and how to convert a trusted file
once to a plain state dict (:func:`convert_checkpoint`, ``scripts/convert_checkpoint.py``).
"""

from __future__ import annotations

import os
import re
import warnings
from collections import OrderedDict
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import nn

from ..errors import WorkflowError, first_few

PREFIX = "module."
_SHOW = 5  # how many names an error lists


class CheckpointError(WorkflowError):
    """A weights file that cannot be used as a checkpoint of the chosen HigherHRNet."""


def _read(path: Path, trusted: bool, mmap: bool) -> Any:
    if not path.exists():
        raise CheckpointError(f"{path}: weights file not found")
    if not path.is_file():
        raise CheckpointError(f"{path}: not a file")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path}: weights file is empty")
    try:
        with warnings.catch_warnings():  # "Detected pickle protocol 4": the error says more
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            return torch.load(path, map_location="cpu", weights_only=not trusted,
                              mmap=mmap and _is_zip(path))
    except Exception as exc:  # torch raises many types for bad bytes
        text = str(exc)
        if not trusted and "Weights only load failed" in text:
            needs = _globals_named(text) or _pickle_globals(path)
            if needs is not None:
                raise CheckpointError(f"{path}: {_refused(needs)}") from None
        first_line = text.strip().splitlines()[0][:200] if text.strip() else type(exc).__name__
        raise CheckpointError(
            f"{path}: not a PyTorch checkpoint, or truncated/corrupted ({first_line})") from None


def _globals_named(torch_text: str) -> list[str]:
    """The objects torch's safe unpickler would not take (torch 2.6 to 2.13: "Unsupported
    global: GLOBAL argparse.Namespace was not an allowed global")."""
    return re.findall(r"Unsupported global: GLOBAL (\S+)", torch_text)


def _pickle_globals(path: Path) -> list[str] | None:
    """The classes/functions a plain pickle file (pickle.dump, not torch.save; torch 2.13 then
    says only "Unsupported operand 149") would import, read without running it: None when
    the file is not one whole pickle (garbage, truncated)."""
    import pickletools

    names, strings = [], []
    try:
        with open(path, "rb") as fh:
            for op, arg, _ in pickletools.genops(fh):
                if op.name == "GLOBAL":
                    names.append(str(arg).replace(" ", "."))
                elif op.name == "STACK_GLOBAL" and len(strings) >= 2:
                    names.append(".".join(strings[-2:]))
                elif isinstance(arg, str):
                    strings.append(arg)
                if op.name == "STOP":
                    break
            else:
                return None
    except Exception:  # noqa: BLE001 - any parse failure: not a pickle
        return None
    return names


def _refused(needs: list[str]) -> str:
    """The message for a pickle torch.load(weights_only=True) refuses."""
    theirs = [n for n in dict.fromkeys(needs)  # torch's own (tensor storage) last
              if not n.startswith("torch.") and n != "collections.OrderedDict"]
    needs = theirs or list(dict.fromkeys(needs))
    what = ("a Python pickle that needs code execution to load (it holds objects besides "
            f"tensors: {first_few(needs, 3)})" if needs else
            "a plain Python pickle (pickle.dump, not torch.save), which needs the full "
            "unpickler, one that can execute code, to load")
    return (what + ", refused for safety: loading a pickle "
            "can run any code its author put in. If you trust its source, convert it once to "
            "a plain state dict: python scripts/convert_checkpoint.py --trust-checkpoint "
            "<this file> <new .pth>, and use the new file (weights.path; the stage CLIs also "
            "take --trust-checkpoint)")


def _is_zip(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(4) == b"PK\x03\x04"


def _strip_prefix(state: Mapping[str, Any]) -> "OrderedDict[str, Any]":
    keys = list(state)
    if keys and all(k.startswith(PREFIX) for k in keys):
        return OrderedDict((k[len(PREFIX):], v) for k, v in state.items())
    return OrderedDict(state)


def extract_state_dict(obj: Any, source: str = "checkpoint") -> "OrderedDict[str, torch.Tensor]":
    """The model state dict inside a loaded checkpoint object (either accepted form)."""
    if not isinstance(obj, Mapping):
        raise CheckpointError(
            f"{source}: expected a state dict (a mapping of names to tensors), "
            f"found {type(obj).__name__}")
    if "state_dict" in obj and isinstance(obj["state_dict"], Mapping):
        obj = obj["state_dict"]
    state = _strip_prefix(obj)
    not_tensors = [k for k, v in state.items() if not isinstance(v, torch.Tensor)]
    if not_tensors:
        raise CheckpointError(
            f"{source}: not a state dict: {len(not_tensors)} of {len(state)} entries are not "
            f"tensors (e.g. {first_few(map(repr, not_tensors), _SHOW)})")
    if not state:
        raise CheckpointError(f"{source}: the state dict is empty")
    return state


def load_state_dict_file(path: str | os.PathLike, trusted: bool = False,
                         mmap: bool = False) -> "OrderedDict[str, torch.Tensor]":
    """Read a checkpoint file and return its (unprefixed) state dict, on the CPU."""
    path = Path(path)
    return extract_state_dict(_read(path, trusted, mmap), str(path))


def other_layout(state: Mapping[str, torch.Tensor], expected: tuple[int, str]):
    """The :class:`~higherhrnet.model.Variant` whose layout ``state`` has, when that is not
    the expected one (``(width, keypoints)``: a W48 checkpoint given for a W32 model, a
    CrowdPose one for a COCO model, ...), else None."""
    from .network import build_model
    from .variants import VARIANTS

    for variant in VARIANTS.values():
        if variant.layout_key == expected:
            continue
        layout = build_model(variant.name).state_dict()
        if set(layout) == set(state) and all(
                tuple(state[k].shape) == tuple(v.shape) for k, v in layout.items()):
            return variant
    return None


def check_state_dict(model: nn.Module, state: Mapping[str, torch.Tensor],
                     source: str = "checkpoint") -> "OrderedDict[str, torch.Tensor]":
    """Compare ``state`` with ``model``'s layout; return it ready for a strict load.

    A checkpoint of another variant's layout gets an error naming both layouts.

    When only BN ``num_batches_tracked`` counters are missing (old checkpoints), they are
    filled with 0, as PyTorch's BN loader does for old versions (unused in eval mode).
    """
    expected = model.state_dict()
    state = OrderedDict(state)
    width = getattr(model, "width", 32)
    key = (width, getattr(model, "keypoints", "coco"))
    name = f"HigherHRNet-W{width}"
    missing = [k for k in expected if k not in state]
    if all(k.endswith(".num_batches_tracked") for k in missing):
        for name in missing:
            state[name] = torch.zeros((), dtype=torch.int64)
        missing = []
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing keys ({first_few(missing, _SHOW)})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected keys ({first_few(unexpected, _SHOW)})")
        raise CheckpointError(
            f"{source}: does not match {name} ({len(expected)} entries): " + "; ".join(parts))
    mismatched = [(k, tuple(state[k].shape), tuple(v.shape))
                  for k, v in expected.items() if state[k].shape != v.shape]
    if mismatched and (theirs := other_layout(state, key)) is not None:
        from .variants import VARIANTS

        ours = [v for v in VARIANTS.values() if v.layout_key == key]
        raise CheckpointError(
            f"{source}: is a {theirs.layout} checkpoint (model.variant "
            f"{' or '.join(v.name for v in VARIANTS.values() if v.layout_key == theirs.layout_key)}), "
            f"but the chosen model is {ours[0].layout if ours else name} (model.variant "
            f"{' or '.join(v.name for v in ours)}): set model.variant to match the weights, "
            "or use the weights of the chosen variant")
    if mismatched:
        shown = first_few((f"{k}: checkpoint {list(got)} vs model {list(want)}"
                           for k, got, want in mismatched), _SHOW, sep="; ")
        raise CheckpointError(f"{source}: {len(mismatched)} shape mismatches: {shown}")
    return state


def check_finite(state: Mapping[str, torch.Tensor], source: str = "checkpoint") -> None:
    """Refuse weights holding NaN or inf: they pass export and fail only after inference,
    with nothing pointing at the weights."""
    bad = [k for k, v in state.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        raise CheckpointError(
            f"{source}: {len(bad)} tensor(s) hold NaN or inf values ({first_few(bad, _SHOW)}): "
            "the weights file is broken; download or save it again")


def load_weights(model: nn.Module, state: Mapping[str, torch.Tensor],
                 source: str = "checkpoint") -> nn.Module:
    """Strictly load ``state`` into ``model`` after the layout check; return ``model``."""
    model.load_state_dict(check_state_dict(model, state, source), strict=True)
    return model


def load_model(path: str | os.PathLike, device: str | torch.device = "cpu",
               trusted: bool = False, variant: str = "w32_512") -> nn.Module:
    """Build HigherHRNet of ``variant``, load ``path`` strictly, move it to ``device``; eval mode.

    Synthetic (untrained) weights load too, with a printed warning; NaN or inf in any
    tensor is an error naming the file and the tensors.
    """
    from .network import build_model
    from .synthetic_weights import is_synthetic, warn_synthetic

    state = load_state_dict_file(path, trusted=trusted)
    check_finite(state, str(path))
    model = load_weights(build_model(variant), state, str(path))
    if is_synthetic(state):
        warn_synthetic(str(path), "loaded:")
    return model.to(device).eval()


def convert_checkpoint(path: str | os.PathLike, output: str | os.PathLike) -> int:
    """Load a trusted checkpoint (``weights_only=False``: it may run code) and write its
    state dict, tensors only, to ``output`` (a new file, written atomically), which a safe
    load takes. Returns the number of tensors."""
    from ..atomic import atomic_open

    path, output = Path(path), Path(output)
    if output.exists() and output.resolve() == path.resolve():
        raise CheckpointError(f"{output}: is the checkpoint itself; write a new file")
    state = load_state_dict_file(path, trusted=True)
    with atomic_open(output, "wb") as fh:
        torch.save(OrderedDict((k, v.detach().clone()) for k, v in state.items()), fh)
    return len(state)
