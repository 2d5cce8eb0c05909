"""Artifact paths named once (higherhrnet.workflow.paths), the default targets and the
report's stage list (targets), and the scheduling bounds, as plain functions."""

from __future__ import annotations

import pytest
from support.config import make_config

from higherhrnet.errors import WorkflowError
from higherhrnet.workflow import scheduling, targets
from higherhrnet.workflow.config import settings
from higherhrnet.workflow.paths import artifact_paths


def run_of(**overrides):
    config = make_config(**overrides)
    s = settings(config)
    return config, s, artifact_paths(config, s)


def test_paths_of_the_guides_run():
    _, s, p = run_of()
    assert (p.ds, p.run) == ("results/coco_val2017", "results/coco_val2017/onnxruntime")
    assert p.onnx == "results/model/higher_hrnet_dynamic.onnx"
    assert p.om == "results/model/higher_hrnet_dynamic_Ascend310P3.om"
    assert p.tensors("prep_flip") == "results/coco_val2017/prep_flip{geo}/shard{shard}"
    assert p.manifest() == "results/coco_val2017/prep{geo}/shard{shard}.manifest.json"
    assert p.outputs("prep_flip") == (
        "results/coco_val2017/onnxruntime/infer{geo}/shard{shard}/output_flip_dir")
    assert p.summary() == (
        "results/coco_val2017/onnxruntime/infer{geo}/shard{shard}/output_dir_summary.json")
    assert p.log("infer{geo}/shard{shard}") == "logs/coco_val2017/onnxruntime/infer{geo}/shard{shard}.log"
    assert p.bench("preprocess{geo}/shard{shard}", per_backend=False) == (
        "benchmarks/coco_val2017/preprocess{geo}/shard{shard}.tsv")


def test_model_paths_per_variant_and_what_each_backend_loads():
    _, s, p = run_of(model={"variant": "w48_640"}, ascend={"aoe": "both"})
    assert p.onnx == "results/model/w48_640/higher_hrnet_dynamic.onnx"
    assert p.model("om", "w.pth") == p.om_aoe == (
        "results/model/w48_640/higher_hrnet_dynamic_Ascend310P3_aoe_both.om")
    assert p.model("onnx", "w.pth") == p.onnx and p.model("pth", "w.pth") == "w.pth"
    _, s, p = run_of()
    assert p.model("om", "w.pth") == p.om


def test_the_checks_use_the_rules_paths():
    """The disk estimate's folders and the ais_bench check's paths are the rules' paths."""
    _, s, p = run_of(shards=2, test={"scales": [1, 0.5]})
    assert p.tensor_dirs(s.geos) == [
        "results/coco_val2017/prep_512_s1_min0.5", "results/coco_val2017/prep_flip_512_s1_min0.5",
        "results/coco_val2017/prep_512_s0.5_min0.5",
        "results/coco_val2017/prep_flip_512_s0.5_min0.5",
        "results/coco_val2017/onnxruntime/infer_512_s1_min0.5",
        "results/coco_val2017/onnxruntime/infer_512_s0.5_min0.5"]
    handed = p.ais_bench_handed("m.om", s.shards, s.geos)
    assert handed[0] == "m.om" and handed[-1] == p.result("benchmark_model_work")
    assert len(handed) == 1 + 2 * 2 * 3 + 1
    assert (p.tensors("prep_flip").format(geo=s.geos[1], shard=1) + "/prep_flip_dir") in handed
    assert p.infer.format(geo=s.geos[0], shard=0) in handed


def test_final_targets_coco_and_own_data():
    config, s, p = run_of()
    assert targets.final_targets(config, s, p) == [
        p.result(n) for n in ("metrics.json", "metrics.csv", "metrics.html", "stage_times.png",
                              "drawings", "benchmark_model.html")]
    config, s, p = run_of(benchmark_model={"enabled": False})
    assert p.result("benchmark_model.html") not in targets.final_targets(config, s, p)
    config, s, p = run_of(dataset={"name": "video", "video": "v.mp4"})
    got = targets.final_targets(config, s, p)
    assert p.result("frames.csv") in got and got[-1] == p.result("annotated.mp4")
    config, s, p = run_of(dataset={"name": "images", "images": "d"})
    got = targets.final_targets(config, s, p)
    assert p.result("images.csv") in got and p.result("annotated.mp4") not in got


def test_stage_rules_follow_dataset_and_backend_record():
    _, s, _ = run_of()
    assert targets.stage_rules(s) == [*targets.PER_SHARD_STAGES, "gather_results", "evaluate",
                                      "draw_skeletons", "export_onnx"]
    assert "benchmark_model" in targets.stage_rules(s, benchmark_model=True)
    _, s, _ = run_of(backend="torch", dataset={"name": "images", "images": "d"})
    assert targets.stage_rules(s, benchmark_model=True) == [
        "list_images", *targets.PER_SHARD_STAGES, "gather_results", "predictions",
        "draw_predictions"]
    _, s, _ = run_of(backend="ascend", dataset={"name": "video", "video": "v"})
    assert targets.stage_rules(s)[-2:] == ["export_onnx", "compile_om"]
    _, s, _ = run_of(backend="ascend", ascend={"aoe": "operator"})
    assert targets.stage_rules(s)[-1] == "tune_om"


@pytest.mark.parametrize("argv,report", [
    (["snakemake", "--report", "r.html", "--configfile", "c.yaml"], True),
    (["snakemake", "--report=r.html"], True),
    (["snakemake", "--cores", "2", "--report", "r.html", "--report-after-run"], False),
    (["snakemake", "--cores", "2", "--report-stylesheet", "s.css"], False),
])
def test_report_of_a_finished_run_is_recognised(argv, report):
    assert targets.asks_for_report(argv) is report


def test_report_of_a_run_that_is_not_there_is_refused(tmp_path, monkeypatch):
    config, s, p = run_of()
    monkeypatch.chdir(tmp_path)
    targets.check_report_run(config, s, p, ["snakemake", "--cores", "2"])  # not a report
    with pytest.raises(WorkflowError, match="same --configfile / --config as the run"):
        targets.check_report_run(config, s, p, ["snakemake", "--report", "r.html"])
    for f in targets.final_targets(config, s, p):
        (tmp_path / f).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / f).touch()
    targets.check_report_run(config, s, p, ["snakemake", "--report", "r.html"])


def test_expand_benchmark_and_shard_paths():
    assert targets.expand_benchmark("b/x.tsv", 3, [""]) == ["b/x.tsv"]
    assert targets.expand_benchmark("b/{shard}.tsv", 2, ["_a", "_b"]) == ["b/0.tsv", "b/1.tsv"]
    assert targets.expand_benchmark("b{geo}/{shard}.tsv", 2, ["_a", "_b"]) == [
        "b_a/0.tsv", "b_b/0.tsv", "b_a/1.tsv", "b_b/1.tsv"]
    assert targets.shard_paths("l/shard{shard}.json", 2) == ["l/shard0.json", "l/shard1.json"]


def test_scheduling_bounds():
    assert scheduling.jobs_at_once(4, None, 2) == 2
    assert scheduling.jobs_at_once(1, None, 2) == 1
    assert scheduling.jobs_at_once(None, 100, 2) == 100  # a cluster run: --jobs
    assert scheduling.jobs_at_once(None, 10**9, 2) == 1  # unbounded --jobs: sys.maxsize
    assert scheduling.total_cores(8, True, 1) == 8
    assert scheduling.total_cores(None, True, 2) == 2
    assert scheduling.total_cores(8, False, 2) == 2  # a job a cluster runs: its submission's



def test_device_jobs_at_once_of_a_local_run():
    """Issue 23: a local run provides npu=N / gpu=N (N devices in the list), so at most N
    device jobs run at once; --resources npu=K wins; a cluster run and its jobs get none."""
    assert scheduling.device_resources("npu", 2, {}, 4, True) == {"npu": 2}
    assert scheduling.device_resources("gpu", 3, {"_cores": 1}, 4, True) == {"gpu": 3}
    assert scheduling.device_resources("npu", 2, {"npu": 1}, 4, True) == {}
    assert scheduling.device_resources("npu", 2, {}, None, True) == {}  # --jobs N
    assert scheduling.device_resources("npu", 2, {}, 4, False) == {}  # a cluster job
    assert scheduling.device_resources(None, 0, {}, 4, True) == {}  # CPU

def test_per_scale_inputs_in_visiting_order():
    assert targets.per_scale("i{geo}/shard{shard}", ["_s1", "_s0.5"], "3") == [
        "i_s1/shard3", "i_s0.5/shard3"]


def test_shard_image_files_are_the_shards_own(coco_sample):
    from higherhrnet.data.image_folder import scan_folder

    folder = str(coco_sample / "images")
    images = scan_folder(folder)
    shards = [targets.shard_image_files(folder, images, k, 3) for k in range(3)]
    assert sorted(f for files in shards for f in files) == sorted(
        str(coco_sample / "images" / im.file_name) for im in images)
    assert all(f.startswith(folder) for f in shards[0])
