"""Workflow tests: real snakemake runs of the whole DAG on the synthetic set and the sample.

The synthetic run keeps its intermediates (keep_intermediates: true) so that the partial
re-run checks below see exactly the stages a change invalidates; the interrupted run uses the
default (temp intermediates) and must still end byte-identical.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from higherhrnet.data.coco import PERSON_CATEGORY

from higherhrnet.preprocess.shapes import ASCEND_SHAPES
from support.workflow import (BENCHMARK_MODEL_ON, CONFIGS, ROOT, assert_raw_outputs_close,
                              command, env, planned_jobs, planned_outputs, run_logs, snakemake,
                              synthetic_raw_output_files, tensors_in_flight)

pytestmark = pytest.mark.workflow

RUN = Path("results/synthetic/onnxruntime")
KEEP = ["keep_intermediates=True", BENCHMARK_MODEL_ON]  # both kinds kept
TEMP = ["keep_intermediates=False"]  # both temp()
DOWNSTREAM_OF_POSTPROCESS = {"postprocess", "gather_results", "evaluate", "metrics_table",
                             "draw_skeletons", "plot_stage_times", "all"}


@pytest.fixture(scope="module")
def synthetic_run(tmp_path_factory):
    work = tmp_path_factory.mktemp("wf_synthetic")
    snakemake(work, "--cores", "2", config=KEEP)
    return work


def test_preprocessing_does_not_run_ahead_of_inference(synthetic_run):
    """Issue 17, item 3: with --cores 2 one 2-thread job runs at a time and inference goes
    first, so at most jobs_at_once (1) + 1 shard-passes hold tensors (before: every one of the
    4, all preprocessed before the first inference)."""
    assert tensors_in_flight(run_logs(synthetic_run)[0]) <= 2


def assert_results_well_formed(path: Path) -> list[dict]:
    results = json.loads(path.read_text())
    assert results, f"{path} is empty"
    for r in results:
        assert {"image_id", "category_id", "keypoints", "score"} <= set(r)
        assert r["category_id"] == 1 and len(r["keypoints"]) == 51
    return results


@pytest.mark.slow
def test_full_dag_produces_metrics_and_report(synthetic_run):
    w = synthetic_run
    metrics = json.loads((w / RUN / "metrics.json").read_text())
    names = ["AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl"]
    assert all(0.0 <= metrics[k] <= 1.0 for k in names), metrics
    header, values = (w / RUN / "metrics.csv").read_text().splitlines()
    assert header.split(",") == names and len(values.split(",")) == 10
    assert "67.1" in (w / RUN / "metrics.html").read_text()
    assert "NOT a trained model" in (w / RUN / "metrics.html").read_text()
    assert (w / RUN / "stage_times.png").stat().st_size > 1000
    assert len(list((w / RUN / "drawings").glob("*.jpg"))) == 2
    results = json.loads((w / RUN / "keypoints_results.json").read_text())
    assert isinstance(results, list)
    # one log per job
    assert sorted(p.name for p in (w / "logs/synthetic/preprocess").iterdir()) == [
        "shard0.log", "shard1.log"]
    assert (w / "benchmarks/synthetic/onnxruntime/infer/shard1.tsv").is_file()
    bench = json.loads((w / RUN / "benchmark_model.json").read_text())
    assert [(r["height"], r["width"], r["count"]) for r in bench["shapes"]] == [
        (512, 512, 2), (512, 576, 2)]
    assert all(r["throughput"] > 0 for r in bench["shapes"]) and bench["threads"] == 2
    assert "185.28" in (w / RUN / "benchmark_model.html").read_text()
    for name in ("metrics.html", "benchmark_model.html"):  # issue 27, item 11
        assert (w / RUN / name).read_text().startswith(
            '<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head>'), name
    # every stage that ran is in the time plot (issue 27, item 11: before, not the three last)
    plotted = (w / "logs/synthetic/onnxruntime/plot_stage_times.log").read_text()
    for stage in ("gather_results", "evaluate", "draw_skeletons", "benchmark_model", "infer_flip"):
        assert f"{stage}: " in plotted, plotted


def readme_commands() -> tuple[list[str], list[str]]:
    """The README's offline try-out and its report command, as words."""
    text = (ROOT / "README.md").read_text()
    run = re.search(r"`(snakemake --cores 2 --configfile [^`]+)`", text)
    report = re.search(r"`(snakemake --report report\.html [^`]+)`", text)
    assert run and report, "the README names no try-out or no report command for it"
    return run.group(1).split(), report.group(1).split()


@pytest.mark.slow
def test_readme_report_command_after_the_try_out(synthetic_run):
    """Issue 27, item 4: the README's report command, after its offline try-out (the same
    --configfile; the fixture's --config too), builds the report, without a Missing metadata
    warning; its front page names what ran (item 3)."""
    run, report = readme_commands()
    configfile = run[run.index("--configfile") + 1]
    assert report[report.index("--configfile") + 1] == configfile
    args = [a for a in report[1:] if a not in ("--configfile", configfile)]
    out = snakemake(synthetic_run, *args, configfile=ROOT / configfile, config=KEEP)
    assert "Missing metadata" not in out.stdout + out.stderr, out.stderr[-3000:]
    page = (synthetic_run / "report.html").read_text(errors="replace")
    assert len(page) > 50_000 and "metrics.html" in page and "stage_times.png" in page
    assert "benchmark_model.html" in page
    for words in ("HigherHRNet-W32-512", "w32_512", "input <strong>512</strong>",
                  "<strong>[1]</strong> with flip test", "<strong>synthetic</strong>",
                  "COCO keypoint evaluation"):
        assert words in page, words


@pytest.mark.slow
def test_report_without_the_runs_config_says_so(synthetic_run):
    """Issue 27, item 4: `snakemake --report` without the run's --configfile reported the
    default COCO run: hundreds of Missing metadata warnings, then metrics.html missing. Now
    one error that names the missing results and the fix."""
    out = snakemake(synthetic_run, "--report", "wrong.html", configfile=ROOT / "config.yaml",
                    check=False)
    text = out.stdout + out.stderr
    assert out.returncode != 0 and not (synthetic_run / "wrong.html").exists()
    assert "Missing metadata" not in text, text[-3000:]
    assert "no finished run of this config (dataset coco_val2017" in text, text[-3000:]
    assert "results/coco_val2017/onnxruntime/metrics.json" in text
    assert "must name the same --configfile / --config as the run" in text


@pytest.mark.slow
def test_second_invocation_does_nothing(synthetic_run):
    out = snakemake(synthetic_run, "-n", config=KEEP)
    assert "Nothing to be done" in out.stdout + out.stderr
    assert planned_jobs(out.stdout) == {}


@pytest.mark.slow
def test_postprocess_number_reruns_only_postprocess_onward(synthetic_run):
    out = snakemake(synthetic_run, "-n", config=KEEP + ["postprocess={detection_threshold: 0.15}"])
    jobs = planned_jobs(out.stdout)
    assert set(jobs) == DOWNSTREAM_OF_POSTPROCESS, jobs
    assert jobs["postprocess"] == 2


@pytest.mark.slow
def test_preprocess_number_reruns_preprocess_onward_not_export(synthetic_run):
    out = snakemake(synthetic_run, "-n", config=KEEP + ["preprocess={shape_policy: reference}"])
    jobs = planned_jobs(out.stdout)
    assert {"preprocess", "preprocess_flip", "infer", "infer_flip", "postprocess"} <= set(jobs)
    assert "export_onnx" not in jobs and "make_synthetic_weights" not in jobs


@pytest.mark.slow
def test_without_kept_intermediates_a_postprocess_change_regenerates_them(synthetic_run):
    """Documented trade-off: temp() intermediates are gone, so they are recomputed (not export)."""
    out = snakemake(synthetic_run, "-n", config=TEMP + ["postprocess={detection_threshold: 0.15}"])
    jobs = planned_jobs(out.stdout)
    assert "postprocess" in jobs and "export_onnx" not in jobs


@pytest.mark.slow
def test_killed_run_resumes_without_recomputing_finished_shards(synthetic_run, tmp_path):
    work = tmp_path / "killed"
    work.mkdir()
    log = tmp_path / "first_run.log"
    with open(log, "w") as fh:
        proc = subprocess.Popen(command(work, "--cores", "2", config=TEMP), env=env(),
                                start_new_session=True, stdout=fh, stderr=subprocess.STDOUT)
    finished = re.compile(r"Finished jobid: \d+ \(Rule: infer(_flip)?\)")
    removing = re.compile(r"Removing temporary output (\S+)\.$", re.M)

    def first_inference_done_and_cleaned() -> bool:
        text = log.read_text()
        first = finished.search(text)
        removed = [work / p for p in removing.findall(text, first.end())] if first else []
        return bool(removed) and not any(p.exists() for p in removed)

    deadline = time.time() + 600
    try:  # kill once a tensor folder is consumed and gone (a half-deleted one: the test below)
        while (not first_inference_done_and_cleaned() and time.time() < deadline
               and proc.poll() is None):
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # a crash: no clean-up by Snakemake
        proc.wait()
    assert finished.search(log.read_text()), "no inference job finished before the kill"
    # a hard kill leaves Snakemake's lock; the message says how to remove it, then resume
    assert "--unlock" in snakemake(work, "--cores", "2", check=False, config=TEMP).stderr
    snakemake(work, "--unlock", config=TEMP)
    every = {work / RUN / f"infer/shard{k}/{d}_summary.json"
             for k in (0, 1) for d in ("output_dir", "output_flip_dir")}
    dry_run = snakemake(work, "-n", config=TEMP).stdout
    planned = {work / p for p in planned_outputs(dry_run, "infer", "infer_flip")
               if p.endswith("_summary.json")}
    done = every - planned
    assert done and len(done) < 4, "the kill must land between two inference jobs"
    before = {p: p.stat().st_mtime_ns for p in done}
    snakemake(work, "--cores", "2", config=TEMP)
    for p, mtime in before.items():
        assert p.stat().st_mtime_ns == mtime, f"{p} was recomputed"
    resumed = (work / RUN / "keypoints_results.json").read_bytes()
    assert resumed == (synthetic_run / RUN / "keypoints_results.json").read_bytes()
    # keep_intermediates false: preprocessed tensors and raw outputs were temp() and are gone
    for k in (0, 1):
        assert not (work / f"results/synthetic/prep/shard{k}").exists()
        assert not (work / f"results/synthetic/prep_flip/shard{k}").exists()
        assert not (work / RUN / f"infer/shard{k}/output_dir").exists()
    check_half_deleted_temp_folders(work)


def check_half_deleted_temp_folders(work):
    """Snakemake deletes a temp folder file by file: a kill meanwhile leaves part of it, without
    its .snakemake_timestamp, so with a fresh mtime. Nothing may re-run on it; forced, inference
    refuses it by name; --delete-temp-output clears it."""
    tensors = work / "results/synthetic/prep/shard0"
    outputs = work / RUN / "infer/shard0/output_dir"
    (tensors / "prep_dir").mkdir(parents=True)
    (tensors / "prep_dir" / "000000000001.npy").write_bytes(b"left over")
    outputs.mkdir()
    (outputs / "000000000001_0.npy").write_bytes(b"left over")
    out = snakemake(work, "-n", config=TEMP)
    assert "Nothing to be done" in out.stdout + out.stderr, out.stdout
    summary = RUN / "infer/shard0/output_dir_summary.json"
    forced = snakemake(work, "--cores", "1", "--forcerun", "infer", "--", str(summary),
                       check=False, config=TEMP)
    assert forced.returncode != 0
    infer_log = (work / "logs/synthetic/onnxruntime/infer/shard0.log").read_text()
    assert "results/synthetic/prep/shard0/prep_dir" in infer_log
    assert "tensors listed in" in infer_log and "delete it and run the workflow again" in infer_log
    snakemake(work, "--cores", "1", "--delete-temp-output", config=TEMP)
    assert not tensors.exists()


@pytest.mark.slow
def test_coco_sample_run(tmp_path, coco_sample):
    config = [f"dataset={{name: coco_folder, annotations: {coco_sample}/person_keypoints_sample.json,"
              f" images: {coco_sample}/images}}"]
    snakemake(tmp_path, "--cores", "2", configfile=CONFIGS / "coco_sample.yaml", config=config)
    run = tmp_path / "results/coco_folder/onnxruntime"
    metrics = json.loads((run / "metrics.json").read_text())
    assert 0.0 <= metrics["AP"] <= 1.0 and 0.0 <= metrics["AR"] <= 1.0
    ids = {r["image_id"] for r in json.loads((run / "keypoints_results.json").read_text())}
    gt = json.loads((coco_sample / "person_keypoints_sample.json").read_text())
    assert ids and ids <= {im["id"] for im in gt["images"]}
    assert len(list((run / "drawings").glob("*.jpg"))) == 2


# ------------------------------------------------------------------ fast checks (no jobs run)


def test_lint_is_clean(tmp_path):
    out = snakemake(tmp_path, "--lint", check=False)
    assert out.returncode == 0, out.stdout + out.stderr


def test_snakefiles_are_snakefmt_formatted():
    proc = subprocess.run(["snakefmt", "--check", "Snakefile", "rules"], cwd=ROOT, env=env(),
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("override,key", [
    ("shards=0", "shards"),
    ("backend=tensorflow", "backend"),
    ("postprocess={max_people: -1}", "max_people"),
    ("preprocess={shape_policy: square}", "shape_policy"),
])
def test_invalid_config_value_names_the_key(tmp_path, override, key):
    out = snakemake(tmp_path, "-n", config=[override], check=False)
    assert out.returncode != 0
    text = out.stdout + out.stderr
    assert "Error validating config" in text and key in text, text[-2000:]


def test_missing_dataset_path_is_reported_before_any_job(tmp_path):
    out = snakemake(tmp_path, "--cores", "1", check=False, config=[
        f"dataset={{name: coco_folder, annotations: {tmp_path}/nope.json, images: {tmp_path}}}"])
    assert out.returncode != 0
    text = out.stdout + out.stderr
    assert "dataset.annotations" in text and "nope.json" in text and "does not exist" in text
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize("dataset", [
    "{name: coco_folder, annotations: ann/nope.json, images: .}",
    "{name: images, images: my_photos}",
])
def test_relative_dataset_path_error_names_the_folder_looked_at(tmp_path, dataset):
    """Issue 27, item 11: under --directory D a relative dataset path is read in D; the error
    says the absolute path it looked at (before: only the relative one)."""
    out = snakemake(tmp_path, "-n", check=False, config=[f"dataset={dataset}"])
    assert out.returncode != 0
    text = out.stdout + out.stderr
    wanted = tmp_path / ("ann/nope.json" if "coco_folder" in dataset else "my_photos")
    assert f"(looked at {wanted})" in text, text[-2000:]


def test_missing_backend_tools_reported_before_any_job(tmp_path):
    out = snakemake(tmp_path, "--cores", "1", check=False,
                    config=["backend=ascend", f"ascend={{cann_env: {tmp_path}/set_env.sh}}"])
    assert out.returncode != 0
    text = out.stdout + out.stderr
    assert "set_env.sh" in text and "CANN" in text and "onnxruntime" in text
    assert not (tmp_path / "results").exists()


def test_ais_bench_path_rule_checked_before_any_job(tmp_path):
    """A symlinked tensor folder would be refused by ais_bench hours later: say so now."""
    fakes = ROOT / "tests" / "fakes"
    target = tmp_path / "elsewhere"
    target.mkdir()
    (tmp_path / "results/synthetic/prep/shard1").mkdir(parents=True)
    (tmp_path / "results/synthetic/prep/shard1/prep_dir").symlink_to(target)
    out = snakemake(tmp_path, "--cores", "1", check=False, config=[
        "backend=ascend", f"ascend={{cann_env: {fakes / 'cann' / 'set_env.sh'}}}"])
    assert out.returncode != 0
    text = out.stdout + out.stderr
    assert "results/synthetic/prep/shard1/prep_dir: is a symbolic link" in text, text[-2000:]
    assert "group- nor other-writable" in text
    assert not (tmp_path / "resources").exists()


def test_dry_run_of_default_config_without_data_lists_downloads(tmp_path):
    out = snakemake(tmp_path, "-n", configfile=ROOT / "config.yaml")
    jobs = planned_jobs(out.stdout)
    assert {"download_coco_images", "download_coco_annotations", "unpack_coco",
            "download_weights"} <= set(jobs)
    assert jobs["preprocess"] == 50


def test_guide_layout_is_used_without_download(tmp_path):
    (tmp_path / "data/coco/annotations").mkdir(parents=True)
    (tmp_path / "data/coco/images/val2017").mkdir(parents=True)
    # a COCO file with no image (the start-up check refuses a malformed one)
    (tmp_path / "data/coco/annotations/person_keypoints_val2017.json").write_text(json.dumps(
        {"images": [], "annotations": [], "categories": [PERSON_CATEGORY]}))
    out = snakemake(tmp_path, "-n", configfile=ROOT / "config.yaml")
    jobs = planned_jobs(out.stdout)
    assert "download_coco_images" not in jobs and "unpack_coco" not in jobs
    assert "download_weights" in jobs


def ais_bench_runs(om, device="0"):
    """The argvs the workflow hands to the ais_bench double: both passes per shard, then the
    benchmark's --loop runs for tests/configs/synthetic.yaml's two shapes."""
    runs = [[f"--model={om}", f"--input=results/synthetic/{prep}/shard{k}/{prep}_dir",
             f"--output=results/synthetic/ascend/infer/shard{k}", f"--output_dirname={name}",
             "--outfmt", "NPY", "--auto_set_dymdims_mode", "1", "--device", device]
            for k in (0, 1) for prep, name in (("prep", "output_dir"),
                                               ("prep_flip", "output_flip_dir"))]
    work = "results/synthetic/ascend/benchmark_model_work"
    return runs + [[f"--model={om}", f"--input={work}/{shape}/input", f"--output={work}/{shape}",
                    "--output_dirname=output", "--outfmt", "NPY", "--auto_set_dymdims_mode",
                    "1", "--loop", "2", "--warmup_count", "1", "--device", device]
                   for shape in ("512x512", "512x576")]


def agrees_with_onnxruntime(work):
    """The doubles' ONNX Runtime session is another numerical path (its own thread count):
    compare raw outputs within tolerance, not noise-derived results."""
    ascend = work / "results/synthetic/ascend"
    assert assert_raw_outputs_close(ascend, work / RUN) == synthetic_raw_output_files()
    assert_results_well_formed(ascend / "keypoints_results.json")
    assert (ascend / "metrics.json").is_file()


@pytest.mark.slow
def test_ascend_backend_through_tool_doubles(synthetic_run, monkeypatch):
    """backend: ascend in the same folder, through the doubles of atc / aoe / ais_bench
    (tests/fakes), reusing the export and the preprocessed tensors; results agree with the ONNX
    Runtime run (the doubles compute with ONNX Runtime).

    First run: under umask 002 with tensors as preprocess writes them under it (group-
    writable), ATC writing <prefix>_linux_aarch64.om: compile_om + both ais_bench runs per shard
    + the benchmark's ais_bench --loop runs. Second run: ascend.aoe both: AOE subgraph then
    operator tuning replaces the ATC model; inference and benchmark rerun on the tuned one."""
    fakes = ROOT / "tests" / "fakes"
    om = "results/model/higher_hrnet_dynamic_Ascend310P3.om"
    dims = ";".join(f"{h},{w}" for h, w in ASCEND_SHAPES)
    shape = ["--input_format=ND", "--input_shape=input:1,3,-1,-1", f"--dynamic_dims={dims}"]
    atc = ["--framework=5", "--model=results/model/higher_hrnet_dynamic.onnx",
           "--output=results/model/higher_hrnet_dynamic_Ascend310P3", *shape,
           "--soc_version=Ascend310P3"]
    calls = synthetic_run / "ascend_calls.jsonl"
    monkeypatch.setenv("PATH", f"{fakes / 'bin'}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("PYTHONPATH", str(fakes / "pylib"))
    monkeypatch.setenv("FAKE_PYTHON", sys.executable)
    monkeypatch.setenv("FAKE_CALLS", str(calls))
    monkeypatch.setenv("FAKE_OM_OS_ARCH", "linux_aarch64")
    monkeypatch.setenv("FAKE_ATC_EXPECT", json.dumps(atc))
    monkeypatch.setenv("FAKE_AIS_BENCH_EXPECT", json.dumps(ais_bench_runs(om)))
    config = KEEP + ["backend=ascend", f"ascend={{cann_env: {fakes / 'cann' / 'set_env.sh'}}}"]
    dry = planned_jobs(snakemake(synthetic_run, "-n", config=config).stdout)
    assert dry["compile_om"] == 1 and dry["infer"] == 2 and dry["infer_flip"] == 2
    assert dry["benchmark_model"] == 1 and "tune_om" not in dry
    assert "export_onnx" not in dry and "preprocess" not in dry
    for folder in (synthetic_run / "results/synthetic").glob("prep*/shard*/prep*_dir"):
        for p in (folder, *folder.iterdir()):
            p.chmod(p.stat().st_mode | 0o020)  # as written under umask 002
    old = os.umask(0o002)
    try:
        snakemake(synthetic_run, "--cores", "2", config=config)
    finally:
        os.umask(old)
    issued = [json.loads(line) for line in calls.read_text().splitlines()]
    assert [c for c in issued if c[0] == "atc"] == [["atc", *atc]]
    assert sorted(c[1:] for c in issued if c[0] == "python3 -m ais_bench") == sorted(
        ais_bench_runs(om))
    assert not list((synthetic_run / "results/model").glob("*_linux_aarch64.om"))
    agrees_with_onnxruntime(synthetic_run)
    bench = json.loads((synthetic_run / "results/synthetic/ascend/benchmark_model.json")
                       .read_text())
    assert [r["count"] for r in bench["shapes"]] == [2, 2] and bench["backend"] == "ascend"

    tuned = "results/model/higher_hrnet_dynamic_Ascend310P3_aoe_both.om"
    aoe = [["--framework=5", "--model=results/model/higher_hrnet_dynamic.onnx",
            f"--job_type={j}", *shape, "--output=" + tuned[:-3]] for j in (1, 2)]
    monkeypatch.setenv("FAKE_AOE_EXPECT", json.dumps(aoe))
    monkeypatch.setenv("FAKE_AIS_BENCH_EXPECT", json.dumps(ais_bench_runs(tuned)))
    calls.unlink()
    config = KEEP + ["backend=ascend",
                     f"ascend={{cann_env: {fakes / 'cann' / 'set_env.sh'}, aoe: both}}"]
    snakemake(synthetic_run, "--cores", "2", config=config)
    issued = [json.loads(line) for line in calls.read_text().splitlines()]
    assert [c for c in issued if c[0] in ("atc", "aoe")] == [["aoe", *a] for a in aoe]
    assert sorted(c[1:] for c in issued if c[0] == "python3 -m ais_bench") == sorted(
        ais_bench_runs(tuned))
    log = (synthetic_run / "logs/model/tune_om_both.log").read_text()
    assert re.search(r"aoe subgraph tuning \(--job_type=1\): [0-9.]+ s", log)
    assert re.search(r"aoe operator tuning \(--job_type=2\): [0-9.]+ s", log)
    agrees_with_onnxruntime(synthetic_run)


@pytest.mark.slow
def test_torch_backend_reuses_preprocessing_and_agrees_with_onnxruntime(synthetic_run, tmp_path):
    config = KEEP + ["backend=torch"]
    dry = planned_jobs(snakemake(synthetic_run, "-n", config=config).stdout)
    assert dry["infer"] == 2 and dry["infer_flip"] == 2
    assert not {"export_onnx", "preprocess", "preprocess_flip"} & set(dry)
    snakemake(synthetic_run, "--cores", "2", config=config)
    run = synthetic_run / "results/synthetic/torch"
    summary = json.loads((run / "infer/shard0/output_dir_summary.json").read_text())
    assert summary["backend"] == "torch" and summary["threads"] == 2
    # torch and ONNX Runtime agree to ~1e-5; on the synthetic set's noise that flips near-tied
    # grouping decisions (which ones depends on the CPU), so the engines are compared on every
    # raw output file within tolerance, and the results only for their form
    assert assert_raw_outputs_close(run, synthetic_run / RUN) == synthetic_raw_output_files()
    assert_results_well_formed(run / "keypoints_results.json")
    assert (run / "metrics.json").is_file()
    # the comparison catches a real regression: one value of one output off by 1e-3
    perturbed = tmp_path / "perturbed"
    shutil.copytree(run / "infer", perturbed / "infer")
    victim = perturbed / "infer/shard1/output_flip_dir" / sorted(
        p.name for p in (run / "infer/shard1/output_flip_dir").glob("*_1.npy"))[0]
    heatmaps = np.load(victim)
    heatmaps.flat[heatmaps.size // 2] += 1e-3
    np.save(victim, heatmaps)
    with pytest.raises(AssertionError, match="output_flip_dir"):
        assert_raw_outputs_close(perturbed, synthetic_run / RUN)


@pytest.mark.slow
def test_replaced_weights_rerun_export_onward_not_preprocess(synthetic_run):
    # last of the tests on synthetic_run: it leaves the weights newer than the export
    weights = synthetic_run / "resources/weights/synthetic_untrained_higherhrnet_w32_512.pth"
    data = weights.read_bytes()
    time.sleep(1.1)
    weights.write_bytes(data)  # replaced by a file (same bytes here): newer than the ONNX
    out = snakemake(synthetic_run, "-n", config=KEEP)
    jobs = planned_jobs(out.stdout)
    assert {"export_onnx", "infer", "infer_flip", "postprocess", "evaluate"} <= set(jobs)
    assert "preprocess" not in jobs and "preprocess_flip" not in jobs


def test_no_network_for_a_download_says_what_and_where(tmp_path):
    """A download that cannot connect fails at once, naming the URL and where to put the file."""
    url = "http://127.0.0.1:9/pose_higher_hrnet_w32_512.pth"  # discard port: refused
    out = snakemake(tmp_path, "--cores", "1", "--until", "download_weights", check=False,
                    config=[f"weights={{source: official, url: '{url}'}}"])
    assert out.returncode != 0
    text = out.stdout + out.stderr
    assert f"could not fetch {url}" in text
    assert "put it at resources/weights/pose_higher_hrnet_w32_512.pth" in text
    assert not (tmp_path / "resources/weights/pose_higher_hrnet_w32_512.pth").exists()


@pytest.mark.slow
def test_more_shards_than_images(tmp_path):
    """More shards than images (issue 27): the shards without an image get no jobs, and the
    run is the same as with one shard per image."""
    proc = snakemake(tmp_path, "--cores", "2",
                     config=["dataset={name: synthetic, synthetic_images: 3}", "shards=4"])
    assert "shards: 4 for 3 image(s): 3 shard(s) get jobs" in proc.stderr
    run = tmp_path / RUN
    assert (run / "postprocess/shard2.json").is_file()
    assert not (run / "postprocess/shard3.json").exists() and not (run / "infer/shard3").exists()
    ids = {r["image_id"] for r in json.loads((run / "keypoints_results.json").read_text())}
    assert len(ids) <= 3 and (run / "metrics.json").is_file()
