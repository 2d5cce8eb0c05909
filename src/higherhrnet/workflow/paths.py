"""Every artifact path of the workflow, named once: the rules, the disk estimate and the
ais_bench path check all read them here.

``results/<dataset>/`` holds backend-independent artifacts (preprocessed tensors, manifests,
listings); ``results/<dataset>/<backend>/`` inference outputs, results, metrics and drawings;
``results/model[/<variant>]/`` the exported and compiled models. Patterns keep ``{geo}`` (a
scale's path tag, :meth:`Settings.scale_tag`) and ``{shard}`` as rule wildcards.
"""

from __future__ import annotations

from dataclasses import dataclass

from .config import Settings

#: ais_bench's --input folder inside a tensor folder, and its --output_dirname per pass: the
#: tensors go one level down, as Snakemake puts a timestamp file into every directory() output
#: and ais_bench reads every file of its --input folder
PREP_DIRNAME = {"prep": "prep_dir", "prep_flip": "prep_flip_dir"}
OUTPUT_DIRNAME = {"prep": "output_dir", "prep_flip": "output_flip_dir"}


@dataclass(frozen=True)
class Paths:
    dataset: str
    backend: str
    model_dir: str
    soc: str
    aoe: str
    synthetic_layout: str
    keypoints: str = "coco"  # the model's joints: the synthetic set's labels follow them
    trt_tag: str = ""  # Settings.trt_tag

    @property
    def ds(self) -> str:
        return f"results/{self.dataset}"

    @property
    def run(self) -> str:
        return f"results/{self.dataset}/{self.backend}"

    # data and weights
    synthetic_images = "resources/synthetic/images"

    @property
    def synthetic_annotations(self) -> str:
        """COCO labels, or CrowdPose-format ones (14 joints, crowdIndex) for a CrowdPose
        model: the same images either way."""
        if self.keypoints == "coco":
            return "resources/synthetic/annotations.json"
        return f"resources/synthetic/annotations_{self.keypoints}.json"
    official_weights = "resources/weights/pose_higher_hrnet_w32_512.pth"

    @property
    def synthetic_weights(self) -> str:
        return f"resources/weights/synthetic_untrained_higherhrnet_{self.synthetic_layout}.pth"

    # model
    @property
    def onnx(self) -> str:
        return f"{self.model_dir}/higher_hrnet_dynamic.onnx"

    @property
    def om(self) -> str:
        return f"{self.model_dir}/higher_hrnet_dynamic_{self.soc}.om"

    @property
    def om_aoe(self) -> str:
        return f"{self.model_dir}/higher_hrnet_dynamic_{self.soc}_aoe_{self.aoe}.om"

    def model(self, loads: str, weights: str) -> str:
        """What a backend loads (its record's ``loads``): the .om (AOE-tuned when ascend.aoe
        is on), the .onnx, or the weights .pth."""
        om = self.om if self.aoe == "off" else self.om_aoe
        return {"om": om, "onnx": self.onnx, "pth": weights}[loads]

    @property
    def trt_engines(self) -> str:
        """The TensorRT engines' manifest (build_trt_engines); its folder holds the engines."""
        return f"{self.model_dir}/tensorrt_{self.trt_tag}/engines.json"

    # per shard and scale ({geo}, {shard}); kind: prep or prep_flip
    def tensors(self, kind: str = "prep") -> str:
        return f"{self.ds}/{kind}{{geo}}/shard{{shard}}"

    def manifest(self, kind: str = "prep") -> str:
        return f"{self.ds}/{kind}{{geo}}/shard{{shard}}.manifest.json"

    @property
    def infer(self) -> str:
        return f"{self.run}/infer{{geo}}/shard{{shard}}"

    def outputs(self, kind: str = "prep") -> str:
        return f"{self.infer}/{OUTPUT_DIRNAME[kind]}"

    def summary(self, kind: str = "prep") -> str:
        return f"{self.infer}/{OUTPUT_DIRNAME[kind]}_summary.json"

    @property
    def listing(self) -> str:
        return f"{self.ds}/listing/shard{{shard}}.json"

    @property
    def frames(self) -> str:
        return f"{self.ds}/frames/shard{{shard}}"

    @property
    def postprocess(self) -> str:
        return f"{self.run}/postprocess/shard{{shard}}.json"

    # per run
    def result(self, name: str) -> str:
        """``results/<dataset>/<backend>/<name>``: keypoints_results.json, metrics.{json,csv,
        md,html}, stage_times.png, drawings, benchmark_model.{json,html}, predictions.json,
        keypoints.csv, images.csv / frames.csv, unreadable.txt, skeletons, summary.html,
        drawings_grid.jpg, annotated.mp4, benchmark_model_work."""
        return f"{self.run}/{name}"

    # logs and benchmark files
    def log(self, name: str, per_backend: bool = True) -> str:
        """``logs/<dataset>[/<backend>]/<name>.log`` of a per-dataset rule."""
        return f"logs/{self._where(per_backend)}/{name}.log"

    def bench(self, name: str, per_backend: bool = True) -> str:
        """``benchmarks/<dataset>[/<backend>]/<name>.tsv`` of a per-dataset rule."""
        return f"benchmarks/{self._where(per_backend)}/{name}.tsv"

    def _where(self, per_backend: bool) -> str:
        return f"{self.dataset}/{self.backend}" if per_backend else self.dataset

    # what the checks before any job look at
    def tensor_dirs(self, geos: list[str]) -> list[str]:
        """The folders that hold the per-image intermediates (the disk estimate's reusable)."""
        return ([f"{self.ds}/{kind}{g}" for g in geos for kind in ("prep", "prep_flip")]
                + [f"{self.run}/infer{g}" for g in geos])

    def ais_bench_handed(self, model: str, shards, geos: list[str]) -> list[str]:
        """The paths the rules hand to ais_bench (--model, --input, --output), as given;
        ``shards``: a count or the shard numbers that get jobs."""
        paths = [model]
        for shard in (range(shards) if isinstance(shards, int) else shards):
            for g in geos:
                paths += [f"{self.tensors(kind).format(geo=g, shard=shard)}/{PREP_DIRNAME[kind]}"
                          for kind in ("prep", "prep_flip")]
                paths.append(self.infer.format(geo=g, shard=shard))
        return paths + [self.result("benchmark_model_work")]


def artifact_paths(config: dict, s: Settings) -> Paths:
    """The run's paths; W32-512 keeps the one-variant model paths, others get a folder."""
    model_dir = ("results/model" if s.variant.name == "w32_512"
                 else f"results/model/{s.variant.name}")
    return Paths(s.dataset, s.backend.name, model_dir, config["ascend"]["soc_version"], s.aoe,
                 s.synthetic_layout, s.keypoints, s.trt_tag)
