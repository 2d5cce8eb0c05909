"""How many jobs run at once, which bounds the preprocessed shards in flight (issue 17).

Preprocess declares the inference threads, so every job of the per-shard chain takes the same
share of the cores and at most :func:`jobs_at_once` of them run together; postprocess
(priority 20) and infer (10) go before preprocess (0), so a new preprocess job starts only
when no finished tensors wait for inference (nothing orders a shard's two passes: the raw
outputs of one pass may wait for the other's, see :mod:`.disk`); and the jobs that get and
build the model (weights, export, ATC, AOE: priority 30) take every core of a local run, so
that no preprocessing runs ahead while there is nothing to infer with. Tensors held at once:
at most jobs_at_once() shard-passes, plus one whose inference has just ended.

Devices (issue 23): every inference and benchmark job of an NPU / GPU backend holds
``npu=1`` / ``gpu=1``, and a local run provides as many as its device list is long
(:func:`device_resources`), so that at most that many run at once; each takes one free
device of the list (:mod:`higherhrnet.inference.devices`).
"""

from __future__ import annotations


def total_cores(cores: int | None, main_process: bool, default: int) -> int:
    """--cores N of a local run; a cluster run (--jobs N) defines no total: ``default``.

    A job that a cluster runs (Snakemake's remote mode, e.g. inside a Slurm allocation) parses
    the workflow again with its own --cores: it must declare the threads its submission asked
    for (``default``), or the Slurm jobstep's srun asks for more CPUs than the job holds.
    """
    if not main_process:
        return default
    return int(cores or default)


def jobs_at_once(cores: int | None, nodes: int | None, threads: int) -> int:
    """How many ``threads``-thread jobs run together: cores // threads in a local run, the
    --jobs N of a cluster run."""
    if cores:
        return max(1, int(cores) // threads)
    return int(nodes) if nodes and nodes < 10**6 else 1


def device_resources(kind: str | None, count: int, given, cores: int | None,
                     main_process: bool) -> dict[str, int]:
    """The ``--resources`` a local run gets by default: ``{kind: count}`` (npu or gpu: the
    length of the device list), unless the command line names that resource (``given``: the
    names of ``--resources``). None in a cluster run (no --cores: the scheduler allocates
    the devices) and in the jobs such a run starts."""
    if not kind or not main_process or not cores or kind in given:
        return {}
    return {kind: int(count)}
