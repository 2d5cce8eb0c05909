"""The run's settings from the config: ``--config`` strings read as the schema's types, the
one-switch form of ``keep_intermediates``, and what the rules derive from the config (dataset,
backend record, variant, scales and their path tags)."""

from __future__ import annotations

from dataclasses import dataclass

import yaml

from ..errors import WorkflowError
from ..inference.engine import Backend, backend, job_device
from ..model.variants import VARIANTS, Variant, get_variant
from ..preprocess.shapes import check_scales, format_scale

#: the user's own pictures or video, no annotations: the run ends in predictions
OWN_DATASETS = ("images", "video")


class ConfigProblem(WorkflowError):
    """A config the workflow refuses before any job; the message names the key."""


def fail(message: str):
    raise ConfigProblem(f"config problem: {message}")


def coerce_cli_scalars(values: dict, schema: dict) -> None:
    """--config parses nested mappings with YAML's BaseLoader, so `postprocess={max_people: 20}`
    arrives as the string "20": read such strings as YAML where the schema wants a non-string.
    """
    for key, value in values.items():
        sub = schema.get("properties", {}).get(key, {})
        if isinstance(value, dict):
            coerce_cli_scalars(value, sub)
        elif isinstance(value, list) and sub.get("type") == "array":
            items = dict(enumerate(value))  # `test={scales: [1, 0.5]}`
            coerce_cli_scalars(items, {"properties": dict.fromkeys(items, sub["items"])})
            values[key] = list(items.values())
        elif isinstance(value, str) and sub.get("type") in ("integer", "number", "boolean"):
            try:
                values[key] = yaml.safe_load(value)
            except yaml.YAMLError:
                pass  # left as is: validation names the key


def expand_keep_intermediates(values: dict) -> None:
    """`keep_intermediates: true/false` (the one switch of earlier versions) sets both kinds."""
    keep = values.get("keep_intermediates")
    if isinstance(keep, str) and keep.lower() in ("true", "false"):
        keep = keep.lower() == "true"
    if isinstance(keep, bool):
        values["keep_intermediates"] = {"preprocessed": keep, "raw_outputs": keep}


def prepare(config: dict, schema: dict) -> None:
    """The config as the schema validates it: coerced scalars, expanded switches (in place)."""
    coerce_cli_scalars(config, schema)
    expand_keep_intermediates(config)


@dataclass(frozen=True)
class Settings:
    """What the rules derive from a validated config."""

    dataset: str
    backend: Backend
    shards: int
    variant: Variant
    scales: tuple[float, ...]  # visiting order
    aoe: str  # ascend.aoe; YAML reads a bare `off` as false
    #: the shards that get jobs, when not every one of ``shards`` (preflight.plan_shards:
    #: fewer images than shards); ``shards`` stays the --num-shards that places each image
    shard_ids: tuple[int, ...] = ()
    shape_policy: str = "ascend17"  # preprocess.shape_policy with `auto` resolved
    #: the TensorRT engines' run configuration (tensorrt_engines.engine_tag) when the run
    #: loads them (onnxruntime_provider tensorrt), else ""
    trt_tag: str = ""
    device_kind: str | None = None  # "npu", "gpu" or None (CPU): what inference jobs hold
    devices: tuple[int, ...] = ()  # the local run's devices of that kind (logical indices)

    @property
    def run_shards(self) -> tuple[int, ...]:
        """The shards that get jobs, ascending."""
        return self.shard_ids or tuple(range(self.shards))

    @property
    def compiled_policy(self) -> str:
        """The policy the ATC/AOE rules compile for: both ascend17 policies have the same
        shapes, so the model is compiled once whichever dataset runs."""
        return "ascend17" if self.shape_policy.startswith("ascend17") else self.shape_policy

    @property
    def own(self) -> bool:
        return self.dataset in OWN_DATASETS

    @property
    def input_size(self) -> int:
        return self.variant.input_size

    @property
    def scales_arg(self) -> str:
        return ",".join(format_scale(s) for s in self.scales)

    def scale_tag(self, scale: float) -> str:
        """The path tag of one scale's tensors, manifests and raw outputs (prep<tag>/,
        infer<tag>/): empty for the one-scale test at input 512 (the paths of one-scale runs),
        else input size, scale and smallest scale (the sizes depend on all three)."""
        smallest = min(self.scales)
        if (self.input_size, scale, smallest) == (512, 1.0, 1.0):
            return ""
        return f"_{self.input_size}_s{format_scale(scale)}_min{format_scale(smallest)}"

    @property
    def geos(self) -> list[str]:
        return [self.scale_tag(s) for s in self.scales]

    @property
    def keypoints(self) -> str:
        """The model's joints (data.keypoints): coco or crowdpose."""
        return self.variant.keypoints

    @property
    def synthetic_layout(self) -> str:
        """The synthetic weights' layout: the first variant of the same layout (W32-640 has
        W32-512's, so the same file)."""
        return next(v.name for v in VARIANTS.values()
                    if v.layout_key == self.variant.layout_key)


def shape_policy(config: dict) -> str:
    """``preprocess.shape_policy`` with ``auto`` resolved: the guide's ``ascend17`` (which
    crops images wider or taller than about 2:1, counted and named in the log and report)
    where its numbers are the point, COCO val2017; ``ascend17_fit`` (the same shapes, such
    images letterboxed whole) for every other dataset, own images and videos above all."""
    policy = config["preprocess"]["shape_policy"]
    if policy != "auto":
        return policy
    return "ascend17" if config["dataset"]["name"] == "coco_val2017" else "ascend17_fit"


def job_devices(config: dict, b: Backend) -> tuple[str | None, tuple[int, ...]]:
    """What the backend's inference jobs run on and the list of those devices:
    ``ascend.devices`` (else ``[ascend.device]``) for NPUs, ``infer.devices`` (else
    torch_device's index, else 0) for GPUs; ConfigProblem when both forms disagree."""
    kind, named = job_device(config, b)
    if kind == "npu":
        a = config["ascend"]
        listed = a.get("devices")
        if listed and a["device"] and list(listed) != [a["device"]]:
            fail(f"ascend.device {a['device']} and ascend.devices {listed} disagree; set only "
                 "ascend.devices")
        return kind, tuple(listed or [a["device"]])
    if kind == "gpu":
        listed = config["infer"].get("devices")
        if listed and named is not None and list(listed) != [named]:
            fail(f"infer.torch_device {config['infer']['torch_device']} and infer.devices "
                 f"{listed} disagree; write torch_device: cuda with the list in infer.devices")
        return kind, tuple(listed or [named or 0])
    return None, ()


def settings(config: dict) -> Settings:
    """:class:`Settings` of a validated config; ConfigProblem for scales the test cannot use."""
    variant = get_variant(config["model"]["variant"])
    try:
        scales = tuple(check_scales(config["test"]["scales"], variant.input_size))
    except ValueError as exc:
        fail(str(exc))
    from ..inference import tensorrt_engines as trt
    from ..preprocess.shapes import format_scale

    i = config["infer"]
    trt_tag = (trt.engine_tag(i["precision"], i["batch_size"], i["tensorrt_profiles"],
                              ",".join(format_scale(s) for s in scales))
               if trt.wanted(config) else "")
    record = backend(config["backend"])
    device_kind, devices = job_devices(config, record)
    return Settings(config["dataset"]["name"], record, config["shards"], variant, scales,
                    config["ascend"]["aoe"] or "off", shape_policy=shape_policy(config),
                    device_kind=device_kind, devices=devices, trt_tag=trt_tag)
