"""Which accelerator an inference or benchmark job runs on (issue 23): every NPU (or GPU) of
the list, one job per device at a time.

The list: ``ascend.devices`` (NPUs) or ``infer.devices`` (GPUs), logical indices within the
devices the process may use (``ASCEND_RT_VISIBLE_DEVICES`` / ``CUDA_VISIBLE_DEVICES`` when set;
../shared/ASCEND_TOOLS.md, "Devices of a node"). In a cluster job (the workflow sets
``HHRNET_DEVICES_FROM_ALLOCATION=1`` in the jobs its remote Snakemake runs) the scheduler's
allocation is the list: every device that variable names, whatever the config says.

A job takes one free device of the list for its whole run (:func:`claim`): an exclusive
``flock`` on a per-device lock file, which the kernel releases when the process ends in any
way (a ``kill -9`` included), so no claim outlives its job. Which free device: the one used
least recently (:func:`choose`, a pure function), so that consecutive jobs spread over the
devices. Snakemake runs at most as many device jobs at once as the list is long (the local
``--resources npu=N`` / ``gpu=N`` default, :mod:`higherhrnet.workflow.scheduling`); a job
that still finds every device taken (another run in the same folder) waits for one.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import socket
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..errors import WorkflowError

#: the variable that lists the devices a process may use, per kind (facts, "Devices of a node")
VISIBLE = {"npu": "ASCEND_RT_VISIBLE_DEVICES", "gpu": "CUDA_VISIBLE_DEVICES"}
#: set by the workflow in cluster jobs: the scheduler's allocation is the list
FROM_ALLOCATION = "HHRNET_DEVICES_FROM_ALLOCATION"
#: where the lock files are (default: .snakemake/devices of the working directory)
LOCKS_ENV = "HHRNET_DEVICE_LOCKS"
DEFAULT_LOCKS = ".snakemake/devices"
#: a CUDA_VISIBLE_DEVICES entry: an index, or a GPU / MIG UUID
_GPU_ENTRY = re.compile(r"^(\d+|GPU-[0-9A-Za-z-]+|MIG-[0-9A-Za-z/-]+)$")


@dataclass(frozen=True)
class Device:
    """One device of the job's list: ``index`` is what the tool or engine is given (a logical
    index), ``physical`` the id behind it (the visible list's entry, else the index)."""

    kind: str  # "npu" | "gpu"
    index: int
    physical: str
    visible: str = ""  # the *_VISIBLE_DEVICES value it was read from, "" when unset

    @property
    def label(self) -> str:
        """``npu:1``, or ``npu:0 (physical 5 of ASCEND_RT_VISIBLE_DEVICES=5,6)``."""
        if not self.visible:
            return f"{self.kind}:{self.index}"
        return (f"{self.kind}:{self.index} (physical {self.physical} of "
                f"{VISIBLE[self.kind]}={self.visible})")

    @property
    def key(self) -> str:
        """The lock's name: the physical device on this host."""
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{socket.gethostname()}-{self.kind}{self.physical}")
        return safe


def parse_list(text: str, what: str = "--devices") -> list[int]:
    """``"0,1"`` -> ``[0, 1]``: distinct indices >= 0, in the given order."""
    items = [t.strip() for t in str(text).split(",")]
    if not items or not all(t.isdigit() for t in items):
        raise WorkflowError(f"{what} {text!r}: write device indices separated by commas, "
                            "e.g. 0,1")
    values = [int(t) for t in items]
    if len(set(values)) != len(values):
        raise WorkflowError(f"{what} {text!r}: a device is listed twice")
    return values


def parse_visible(kind: str, value: str | None) -> list[str] | None:
    """The entries of ``ASCEND_RT_VISIBLE_DEVICES`` / ``CUDA_VISIBLE_DEVICES``; None when unset
    or empty. The runtime stops reading at the first character or id it does not take
    (facts: ``1, 2,3`` means ``1``), so anything but a clean list is refused here."""
    var = VISIBLE[kind]
    if value is None or not value.strip():
        return None
    entries = value.split(",")
    if kind == "npu":
        ok = all(e.isdigit() for e in entries)
        ok = ok and [int(e) for e in entries] == sorted({int(e) for e in entries})
        rule = "device ids in ascending order, separated by commas without spaces"
    else:
        ok = all(_GPU_ENTRY.match(e) for e in entries) and len(set(entries)) == len(entries)
        rule = "distinct device indices or GPU-/MIG- UUIDs, separated by commas without spaces"
    if not ok:
        raise WorkflowError(f"{var}={value!r}: the runtime would read only part of it; write "
                            f"{rule} (e.g. 0,1)")
    return entries


def job_devices(kind: str, configured: Sequence[int], environ: Mapping[str, str] = os.environ
                ) -> list[Device]:
    """The devices this job may take one of: ``configured`` (logical indices) in a local run;
    in a cluster job (``HHRNET_DEVICES_FROM_ALLOCATION=1``) every device of the allocation
    (the visible list), falling back to ``configured`` when the scheduler sets no list (a
    count-only GRES)."""
    raw = environ.get(VISIBLE[kind], "")
    visible = parse_visible(kind, raw)
    if visible and environ.get(FROM_ALLOCATION) == "1":
        indices = list(range(len(visible)))
    else:
        indices = list(configured)
        if not indices:
            raise WorkflowError(f"no {kind.upper()} to run on: the device list is empty")
        if visible:
            outside = [i for i in indices if i >= len(visible)]
            if outside:
                raise WorkflowError(
                    f"device {outside[0]} ({'ascend' if kind == 'npu' else 'infer'}.devices / "
                    f"--devices): a logical index within the job's devices, but "
                    f"{VISIBLE[kind]}={raw} gives this job {len(visible)} device(s) (indices "
                    f"0..{len(visible) - 1})")
    return [Device(kind, i, visible[i] if visible else str(i), raw.strip() if visible else "")
            for i in indices]


def choose(devices: Sequence[Device], busy: set[str], last_used: Mapping[str, float]
           ) -> Device | None:
    """The device a job takes: of those not ``busy`` (by key), the one used least recently
    (never used counts as oldest); ties in list order. None when all are busy."""
    free = [(last_used.get(d.key, 0.0), n, d) for n, d in enumerate(devices)
            if d.key not in busy]
    return min(free, key=lambda t: t[:2])[2] if free else None


#: the lock files' descriptors this process holds: the tools it starts inherit them
#: (:func:`held_fds`), so that the device stays taken while a tool started on it runs, even
#: when this process is killed alone
_HELD: list[int] = []


def held_fds() -> tuple[int, ...]:
    """``pass_fds`` for a tool that runs on the claimed device (ais_bench)."""
    return tuple(_HELD)


def lock_dir(environ: Mapping[str, str] = os.environ) -> Path:
    return Path(environ.get(LOCKS_ENV) or DEFAULT_LOCKS)


def _last_used(path: Path) -> float:
    try:
        return float(json.loads(path.read_text() or "{}").get("claimed", 0.0))
    except (OSError, ValueError, AttributeError):
        return 0.0


@contextmanager
def claim(devices: Sequence[Device], locks: str | os.PathLike | None = None,
          poll_s: float = 1.0, log=sys.stderr) -> Iterator[Device]:
    """Hold one free device of ``devices`` for the ``with`` block (see the module's text).
    The lock file records the holder (pid, host, time) for a person who looks; only the
    ``flock`` counts."""
    folder = Path(locks) if locks is not None else lock_dir()
    folder.mkdir(parents=True, exist_ok=True)
    busy: set[str] = set()
    waited = False
    while True:
        last = {d.key: _last_used(folder / f"{d.key}.lock") for d in devices}
        device = choose(devices, busy, last)
        if device is None:
            if not waited:
                print(f"device: every device of {[d.label for d in devices]} is held by "
                      f"another job (locks in {folder}); waiting for one", file=log, flush=True)
                waited = True
            time.sleep(poll_s)
            busy.clear()
            continue
        path = folder / f"{device.key}.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            busy.add(device.key)
            continue
        break
    try:
        record = json.dumps({"claimed": time.time(), "pid": os.getpid(),
                             "host": socket.gethostname(), "device": device.label})
        os.ftruncate(fd, 0)
        os.pwrite(fd, record.encode() + b"\n", 0)
        print(f"device: {device.label} of {[d.label for d in devices]} (lock {path})",
              file=log, flush=True)
        _HELD.append(fd)
        yield device
    finally:
        if fd in _HELD:
            _HELD.remove(fd)
        # releases the flock once no child holds it either; the kernel does the same when
        # the processes die
        os.close(fd)


def device_kind(npu: bool, providers: str) -> str | None:
    """What a job of this backend runs on: ``npu`` (Ascend), ``gpu`` (ONNX Runtime's CUDA /
    TensorRT providers, torch on CUDA) or None (CPU: nothing to claim)."""
    if npu:
        return "npu"
    return "gpu" if providers in ("cuda", "tensorrt") else None


@contextmanager
def job_device(kind: str | None, devices: str | None, device: int | None,
               environ: Mapping[str, str] = os.environ, log=sys.stderr
               ) -> Iterator[Device | None]:
    """A stage CLI's device for its whole run: one of ``--devices`` (a list; else ``--device``
    alone; else 0), claimed (:func:`claim`); None on a CPU."""
    if kind is None:
        yield None
        return
    if devices:
        configured = parse_list(devices)
    else:
        configured = [int(device or 0)]
    with claim(job_devices(kind, configured, environ), lock_dir(environ), log=log) as chosen:
        yield chosen


__all__ = [
    "DEFAULT_LOCKS",
    "FROM_ALLOCATION",
    "LOCKS_ENV",
    "VISIBLE",
    "Device",
    "choose",
    "claim",
    "device_kind",
    "job_device",
    "job_devices",
    "parse_list",
    "parse_visible",
]
