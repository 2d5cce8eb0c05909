"""Bad input and faults (issue 17): nothing the user had is lost, nothing hangs, no late
failures, one-line messages instead of tracebacks, declared thread counts.

Each case runs the real workflow (a real snakemake subprocess) or a stage CLI (a real
subprocess), asserts the message, and that what the user had is still there.  The full disk
and the read-only folder are real: a 1 MiB / read-only tmpfs mounted in a private mount
namespace (``unshare``); without unshare those two cases are skipped with the reason.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest

from higherhrnet.data.image_folder import path_id
from higherhrnet.preprocess.manifest import Manifest, ManifestEntry
from higherhrnet.preprocess.shapes import input_geometry
from support.workflow import (BENCHMARK_MODEL_ON, CONFIGS, ROOT, env, planned_jobs,
                              planned_outputs, snakemake)

SCRIPTS = ROOT / "scripts"
OUTPUTS = ("normal_output0", "normal_output1", "flipped_output0", "flipped_output1")
WEIGHTS = Path("resources/weights/pose_higher_hrnet_w32_512.pth")


def cli(script: str, *args, timeout: float = 300, extra_env: dict | None = None,
        prefix: list[str] | None = None) -> subprocess.CompletedProcess:
    e = env()
    e.update(extra_env or {})
    cmd = [*(prefix or []), sys.executable, str(SCRIPTS / script), *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=e)


def one_line_error(proc: subprocess.CompletedProcess) -> str:
    """The stage's message: exit 2, no traceback, one 'error:' line."""
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-3000:])
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, proc.stderr[-3000:]
    return errors[0]


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture()
def http_dir(tmp_path):
    """A local HTTP server for the files of a folder: (folder, base url)."""
    served = tmp_path / "served"
    served.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                          functools.partial(Quiet, directory=str(served)))
    thread = threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield served, f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


# ------------------------------------------------------------------ 1. weights kept on a url/md5 edit

@pytest.mark.slow
def test_weights_url_or_md5_edit_never_deletes_the_verified_file(tmp_path, http_dir,
                                                                 synthetic_weights_path):
    served, base = http_dir
    shutil.copy(synthetic_weights_path, served / "w.pth")
    good = md5(served / "w.pth")
    work = tmp_path / "work"
    target = ["--cores", "1", str(WEIGHTS)]
    snakemake(work, *target, config=[f"weights={{source: official, url: '{base}/w.pth'}}"])
    assert md5(work / WEIGHTS) == good
    # the md5 filled in with the file's own md5: verified, kept, nothing fetched
    snakemake(work, *target,
              config=[f"weights={{source: official, url: '{base}/w.pth', md5: {good}}}"])
    assert md5(work / WEIGHTS) == good
    # another file wanted, offline: the download fails, the verified file stays
    gone = "http://127.0.0.1:9/other.pth"
    out = snakemake(work, *target, check=False,
                    config=[f"weights={{source: official, url: '{gone}', md5: {'0' * 32}}}"])
    assert out.returncode != 0
    text = out.stdout + out.stderr
    assert f"could not fetch {gone}" in text and "is kept" in text, text[-3000:]
    assert md5(work / WEIGHTS) == good
    # online again: the new file replaces the old one only once verified
    (served / "w.pth").unlink()
    changed = served / "other.pth"
    import torch

    state = torch.load(synthetic_weights_path, weights_only=True)
    next(iter(v for v in state.values() if v.is_floating_point())).add_(1.0)
    torch.save(state, changed)
    new = md5(changed)
    bad = snakemake(work, *target, check=False,
                    config=[f"weights={{source: official, url: '{base}/other.pth', "
                            f"md5: {'1' * 32}}}"])
    assert bad.returncode != 0 and md5(work / WEIGHTS) == good  # wrong md5: old kept
    snakemake(work, *target,
              config=[f"weights={{source: official, url: '{base}/other.pth', md5: {new}}}"])
    assert md5(work / WEIGHTS) == new


def test_download_update_without_md5_keeps_same_url_and_replaces_only_when_verified(
        tmp_path, http_dir):
    served, base = http_dir
    (served / "a").write_bytes(b"first")
    (served / "b").write_bytes(b"second")
    out = tmp_path / "w.pth"
    assert cli("download.py", "--url", f"{base}/a", "--output", out, "--update").returncode == 0
    (served / "a").unlink()  # the same url again: kept, nothing fetched (it would 404 now)
    assert cli("download.py", "--url", f"{base}/a", "--output", out, "--update").returncode == 0
    line = one_line_error(cli("download.py", "--url", f"{base}/gone", "--output", out,
                              "--update"))
    assert "HTTP 404" in line and f"{out}, the file already there, is kept" in line
    assert out.read_bytes() == b"first"
    assert cli("download.py", "--url", f"{base}/b", "--output", out, "--update").returncode == 0
    assert out.read_bytes() == b"second"


# ------------------------------------------------------------------ 2. user's dataset and zips kept

def _tiny_coco_zips(folder: Path, images: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(folder / "val2017.zip", "w") as zf:
        for name in images:
            zf.writestr(f"val2017/{name}", b"not really a jpeg")
    with zipfile.ZipFile(folder / "annotations_trainval2017.zip", "w") as zf:
        zf.writestr("annotations/person_keypoints_val2017.json", "{}")


def test_unpack_never_replaces_the_users_incomplete_dataset(tmp_path):
    """download_dir = coco_root holding the user's images but no annotations: refused before
    any job, naming both keys and the folder; the user's image and zips stay."""
    root = tmp_path / "data" / "coco"
    mine = root / "images" / "val2017" / "mine.jpg"
    mine.parent.mkdir(parents=True)
    mine.write_bytes(b"my own image")
    _tiny_coco_zips(root, ["000000000001.jpg"])
    zips = {p: p.read_bytes() for p in root.glob("*.zip")}
    out = snakemake(tmp_path, "--cores", "1", str(root / "annotations/person_keypoints_val2017.json"),
                    check=False, configfile=ROOT / "config.yaml",
                    config=[f"dataset={{coco_root: {root}, download_dir: {root}}}",
                            "weights={source: synthetic}"])
    assert out.returncode != 0
    text = out.stdout + out.stderr
    assert "dataset.download_dir" in text and str(root / "images" / "val2017") in text, text[-3000:]
    assert mine.read_bytes() == b"my own image"
    assert sorted(p.name for p in mine.parent.iterdir()) == ["mine.jpg"]
    assert all(p.read_bytes() == data for p, data in zips.items())
    assert "Finished jobid" not in text


def test_zips_put_there_by_hand_are_checked_and_kept(tmp_path):
    """The offline message says: put val2017.zip at download_dir. Such a file is size/md5
    checked before unpacking (message names it), and never deleted."""
    folder = tmp_path / "resources" / "coco"
    _tiny_coco_zips(folder, ["000000000001.jpg"])
    assert (folder / "annotations_trainval2017.zip").stat().st_size == 182
    zips = {p: p.read_bytes() for p in folder.glob("*.zip")}
    out = snakemake(tmp_path, "--cores", "1",
                    "resources/coco/annotations/person_keypoints_val2017.json", check=False,
                    configfile=ROOT / "config.yaml", config=["weights={source: synthetic}"])
    assert out.returncode != 0
    text = out.stdout + out.stderr
    assert "annotations_trainval2017.zip: size 182 bytes, expected 252,907,541" in text, text[-3000:]
    assert "the zip is kept" in text
    assert all(p.read_bytes() == data for p, data in zips.items())
    assert not (folder / "images" / "val2017").exists()


def test_unpack_cli_checks_zips_and_refuses_a_folder_it_does_not_own(tmp_path):
    zips = tmp_path / "zips"
    _tiny_coco_zips(zips, ["000000000001.jpg"])
    img, ann = zips / "val2017.zip", zips / "annotations_trainval2017.zip"
    checks = ["--images-size", img.stat().st_size, "--images-md5", md5(img),
              "--annotations-size", ann.stat().st_size, "--annotations-md5", md5(ann)]
    root = tmp_path / "root"
    ok = cli("unpack_coco.py", "--images-zip", img, "--annotations-zip", ann, "--root", root,
             *checks)
    assert ok.returncode == 0, ok.stderr
    assert (root / "images/val2017/000000000001.jpg").is_file() and img.is_file()
    # ours: unpacking again replaces it
    ok = cli("unpack_coco.py", "--images-zip", img, "--annotations-zip", ann, "--root", root,
             *checks)
    assert ok.returncode == 0, ok.stderr
    # the user's folder: refused
    user = tmp_path / "user"
    (user / "images/val2017").mkdir(parents=True)
    (user / "images/val2017/mine.jpg").write_bytes(b"mine")
    line = one_line_error(cli("unpack_coco.py", "--images-zip", img, "--annotations-zip", ann,
                              "--root", user, *checks))
    assert str(user / "images" / "val2017") in line and "not written by" in line
    assert (user / "images/val2017/mine.jpg").read_bytes() == b"mine"
    # a wrong md5: refused before anything is written, the zip stays
    bad = checks[:3] + ["0" * 32] + checks[4:]
    line = one_line_error(cli("unpack_coco.py", "--images-zip", img, "--annotations-zip", ann,
                              "--root", tmp_path / "fresh", *bad))
    assert str(img) in line and "md5" in line and img.is_file()
    assert not (tmp_path / "fresh").exists()


# ------------------------------------------------------------------ 4 (+9). paths with spaces

@pytest.mark.slow
def test_dataset_and_weights_paths_with_spaces(tmp_path, coco_sample, synthetic_weights_path):
    """Two sample images and local weights, all under folders with spaces, workdir too; every
    stage reports the threads its rule declares (item 9), read from the libraries."""
    data = tmp_path / "my data"
    data.mkdir()
    (data / "the images").symlink_to(coco_sample / "images")
    gt = json.loads((coco_sample / "person_keypoints_sample.json").read_text())
    keep = {im["id"] for im in gt["images"][:2]}
    gt["images"] = [im for im in gt["images"] if im["id"] in keep]
    gt["annotations"] = [a for a in gt["annotations"] if a["image_id"] in keep]
    (data / "key points.json").write_text(json.dumps(gt))
    weights = tmp_path / "my weights" / "w 32.pth"
    weights.parent.mkdir()
    weights.symlink_to(synthetic_weights_path)
    work = tmp_path / "work dir"
    snakemake(work, "--cores", "2", configfile=CONFIGS / "coco_sample.yaml", config=[
        f"dataset={{name: coco_folder, annotations: '{data / 'key points.json'}', "
        f"images: '{data / 'the images'}'}}",
        f"weights={{source: local, path: '{weights}'}}",
        "shards=1", "report={drawings: 1}", "infer={threads: 2}"])
    run = work / "results/coco_folder/onnxruntime"
    assert json.loads((run / "metrics.json").read_text())["AP"] >= 0
    assert len(list((run / "drawings").glob("*.jpg"))) == 1
    logs = work / "logs/coco_folder"
    for log, n in [("preprocess/shard0.log", 2), ("onnxruntime/postprocess/shard0.log", 1),
                   ("onnxruntime/infer/shard0.log", 2),
                   ("onnxruntime/draw_skeletons.log", 1)]:
        text = (logs / log).read_text()
        assert f"threads: {n} (" in text, (log, text[-2000:])
    assert "threads: 2 (" in (work / "logs/model/export_onnx.log").read_text()


# ------------------------------------------------------------------ 5. no hang in the assignment

def _crafted(tmp_path: Path, reference: Path, change=None):
    d = np.load(reference / "postprocess" / "crafted_640x427.npz")
    arrays = {k: d[k].copy() for k in OUTPUTS}
    if change:
        change(arrays)
    entry = ManifestEntry.from_geometry(1, "000000000001.jpg", input_geometry(640, 427))
    dump, flip = tmp_path / "out", tmp_path / "out_flip"
    for folder, keys in ((dump, OUTPUTS[:2]), (flip, OUTPUTS[2:])):
        folder.mkdir()
        for k, key in enumerate(keys):
            np.save(folder / f"{entry.stem}_{k}.npy", arrays[key])
    manifest = tmp_path / "manifest.json"
    Manifest([entry], "ascend17").write(manifest)
    return ["--dump-dir", dump, "--dump-dir-flip", flip, "--manifest", manifest,
            "--output", tmp_path / "r.json"]


def test_extreme_network_outputs_fail_fast_instead_of_hanging(tmp_path, reference):
    def extreme(arrays):  # finite float32 tags of about 1e37: sums overflow to inf
        for key in ("normal_output0", "flipped_output0"):
            arrays[key][:, 17:] *= np.float32(1e37)

    args = _crafted(tmp_path, reference, extreme)
    try:
        proc = cli("postprocess.py", *args, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("postprocess hangs on extreme (finite) network outputs")
    line = one_line_error(proc)
    assert "000000000001_0.npy" in line and "too large" in line, line
    assert not (tmp_path / "r.json").exists()


def test_assignment_refuses_non_finite_costs_and_has_a_step_bound():
    from higherhrnet.postprocess.assignment import ASSIGNMENTS, munkres_assignment

    def hung(signum, frame):
        raise TimeoutError("the assignment hangs on a NaN cost")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(20)
    try:
        for solve in ASSIGNMENTS.values():
            with pytest.raises(ValueError, match="1 NaN or inf"):
                solve(np.array([[1.0, np.nan], [0.0, 2.0]]))
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    cost = np.random.default_rng(0).integers(0, 5, (8, 8)).astype(float)
    rows, cols = munkres_assignment(cost)
    assert sorted(cols) == list(range(8))
    with pytest.raises(RuntimeError, match="did not finish within 3 steps"):
        munkres_assignment(cost, max_steps=3)


# ------------------------------------------------------------------ 6. no late failures

@pytest.mark.parametrize("override,words", [
    ("postprocess={nms_kernel: 5, nms_padding: 3}", ["nms_kernel", "nms_padding", "map size"]),
    ("postprocess={nms_kernel: 4, nms_padding: 2}", ["nms_kernel", "nms_padding", "map size"]),
    ("postprocess={detection_threshold: 1.5}", ["Error validating config", "detection_threshold"]),
])
def test_cross_field_config_errors_before_any_job(tmp_path, override, words):
    out = snakemake(tmp_path, "--cores", "1", check=False, config=[override])
    assert out.returncode != 0
    text = out.stdout + out.stderr
    assert all(w in text for w in words), text[-3000:]
    assert not (tmp_path / "resources").exists() and not (tmp_path / "results").exists()


def test_weights_with_nan_fail_at_export_naming_the_file(tmp_path, synthetic_weights_path):
    import torch

    state = torch.load(synthetic_weights_path, weights_only=True)
    name = next(k for k, v in state.items() if v.is_floating_point() and "conv" in k)
    state[name].view(-1)[3] = float("nan")
    broken = tmp_path / "broken weights.pth"
    torch.save(state, broken)
    onnx = tmp_path / "m.onnx"
    line = one_line_error(cli("export_onnx.py", "--weights", broken, "--onnx-path", onnx))
    assert str(broken) in line and "NaN or inf" in line and name in line, line
    assert not onnx.exists() and broken.is_file()


# ------------------------------------------------------------------ 7. OSError -> one line

def _in_small_mount(folder: Path, options: str) -> list[str]:
    """A prefix running a command with a fresh tmpfs (``options``) mounted on ``folder``."""
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is not installed: no private tmpfs for a full disk")
    folder.mkdir(parents=True, exist_ok=True)
    probe = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c",
                            f"mount -t tmpfs -o {options} tmpfs '{folder}'"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"no private tmpfs mount here (unshare: {probe.stderr.strip()})")
    return ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c",
            f"mount -t tmpfs -o {options} tmpfs '{folder}' && exec \"$@\"", "sh"]


def _preprocess_into(out: Path, coco_sample: Path, prefix):
    return cli("preprocess.py", "--annotations", coco_sample / "person_keypoints_sample.json",
               "--images", coco_sample / "images", "--output", out / "prep",
               "--manifest", out / "m.json", "--shard", 0, "--num-shards", 4, prefix=prefix)


def test_full_disk_is_one_line_naming_the_path(tmp_path, coco_sample):
    out = tmp_path / "full"
    line = one_line_error(_preprocess_into(out, coco_sample, _in_small_mount(out, "size=1m")))
    assert "disk full" in line and str(out / "prep") in line, line


def test_read_only_folder_is_one_line_naming_the_path(tmp_path, coco_sample):
    out = tmp_path / "ro"
    line = one_line_error(_preprocess_into(out, coco_sample, _in_small_mount(out, "ro")))
    assert str(out / "prep") in line and "read-only file system" in line.lower(), line


# ------------------------------------------------------------------ 8. smaller ones

def test_negative_tag_threshold_refused_by_the_cli(tmp_path, reference):
    line = one_line_error(cli("postprocess.py", *_crafted(tmp_path, reference),
                              "--tag-threshold", "-1"))
    assert "tag threshold" in line and "-1" in line
    assert not (tmp_path / "r.json").exists()


def _annotations(tmp_path: Path, coco_sample: Path, change) -> Path:
    gt = json.loads((coco_sample / "person_keypoints_sample.json").read_text())
    gt["images"] = gt["images"][:1]
    change(gt["images"][0])
    gt["annotations"] = [a for a in gt["annotations"] if a["image_id"] == gt["images"][0]["id"]]
    path = tmp_path / "ann.json"
    path.write_text(json.dumps(gt))
    return path


@pytest.mark.parametrize("change,words", [
    (lambda im: im.update(id=True), ["images[0]", "integer 'id'"]),
    (lambda im: im.update(file_name=str(Path(im["file_name"]).resolve())),
     ["file_name", "outside the images folder"]),
    (lambda im: im.update(file_name="../images/" + im["file_name"]),
     ["file_name", "outside the images folder"]),
])
def test_odd_image_entries_refused(tmp_path, coco_sample, change, words):
    images = tmp_path / "imgs"
    images.symlink_to(coco_sample / "images")

    def absolute_from_sample(im):  # a file that exists, outside the images folder
        change(im)
        if Path(im["file_name"]).is_absolute():
            im["file_name"] = str(coco_sample / "images" / Path(im["file_name"]).name)

    ann = _annotations(tmp_path, coco_sample, absolute_from_sample)
    line = one_line_error(cli("preprocess.py", "--annotations", ann, "--images", images,
                              "--output", tmp_path / "p", "--manifest", tmp_path / "m.json",
                              "--shard", 0, "--num-shards", 1))
    assert all(w in line for w in words), line
    assert str(ann) in line
    assert not (tmp_path / "m.json").exists()


def test_garbage_npy_named_as_not_an_npy_file(tmp_path, reference):
    args = _crafted(tmp_path, reference)
    bad = tmp_path / "out" / "000000000001_1.npy"
    bad.write_bytes(b"\x00garbage" * 100)
    line = one_line_error(cli("postprocess.py", *args))
    assert str(bad) in line and "not an .npy file" in line and "pickle" not in line, line


# ------------------------------------------------------------------ 9. declared threads

PROBE = """
import runpy, sys, json
sys.argv = sys.argv[1:]
try:
    runpy.run_path(sys.argv[0], run_name="__main__")
except SystemExit as exc:
    code = exc.code
import cv2, torch
sys.path.insert(0, {src!r})
try:
    from higherhrnet.threads import blas_threads
except ImportError:
    blas_threads = lambda: None
print("PROBE " + json.dumps({{"code": code, "torch": torch.get_num_threads(),
                            "opencv": cv2.getNumThreads(), "blas": blas_threads()}}))
"""


def _threads_inside(tmp_path: Path, script: str, *args, threads: int = 1) -> dict:
    probe = tmp_path / "probe.py"
    probe.write_text(PROBE.format(src=str(ROOT / "src")))
    e = env()
    e["OMP_NUM_THREADS"] = str(threads)  # what Snakemake exports for a rule's shell command
    proc = subprocess.run([sys.executable, str(probe), str(SCRIPTS / script), *map(str, args)],
                          capture_output=True, text=True, env=e, timeout=300)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("PROBE ")]
    assert lines, proc.stderr[-3000:]
    seen = json.loads(lines[-1][len("PROBE "):])
    assert seen["code"] in (0, None), proc.stderr[-3000:]
    return seen


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one core: every default is 1 thread")
def test_stages_use_the_threads_their_rule_declares(tmp_path, reference, coco_sample):
    seen = _threads_inside(tmp_path, "postprocess.py", *_crafted(tmp_path, reference))
    assert (seen["torch"], seen["opencv"]) == (1, 1), seen
    assert seen["blas"] in (1, None), seen
    seen = _threads_inside(tmp_path, "preprocess.py",
                           "--annotations", coco_sample / "person_keypoints_sample.json",
                           "--images", coco_sample / "images", "--output", tmp_path / "p",
                           "--manifest", tmp_path / "m.json", "--shard", 0, "--num-shards", 8)
    assert (seen["torch"], seen["opencv"]) == (1, 1), seen
    assert seen["blas"] in (1, None), seen


# ------------------------------------------------------------------ 10. odd inputs (issue 21)

SAMPLE_JPG = "000000000785.jpg"


def _photos(tmp_path: Path, coco_sample: Path, names) -> Path:
    """A folder of own images: each relative name (str, or bytes for a non-UTF-8 one) a copy
    of one sample image."""
    photos = tmp_path / "photos"
    for name in names:
        dest = os.path.join(os.fsencode(photos), os.fsencode(name))
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.copy(coco_sample / "images" / SAMPLE_JPG, dest)
    return photos


def _list_images(tmp_path: Path, photos: Path, prefix: list[str] | None = None,
                 shards: int = 2) -> subprocess.CompletedProcess:
    """The start-up check and the list_images jobs of a run on ``photos``."""
    from support.workflow import command

    targets = [f"results/images/listing/shard{k}.json" for k in range(shards)]
    cmd = command(tmp_path, "--cores", "2", *targets,
                  config=[f"dataset={{name: images, images: '{photos}'}}", f"shards={shards}"])
    return subprocess.run([*(prefix or []), *cmd], check=False, env=env(), capture_output=True,
                          text=True, timeout=600)


def _listed(tmp_path: Path, shards: int = 2) -> tuple[set, list]:
    """(file names listed as readable, unreadable entries) over the shards' listings."""
    names, unreadable = set(), []
    for k in range(shards):
        doc = json.loads((tmp_path / f"results/images/listing/shard{k}.json").read_text())
        names |= {e["file_name"] for e in doc["images"]}
        unreadable += doc["unreadable"]
    return names, unreadable


@pytest.mark.parametrize("others", [["z.jpg"], ["0.jpg"]], ids=["bad-first", "good-first"])
def test_non_utf8_file_name_is_skipped_and_listed_with_the_reason(tmp_path, coco_sample, others):
    """a\\xff.jpg (legal on Linux): OpenCV's imread crashed on it (segfault) in the start-up
    check, or Snakemake's lock raised UnicodeEncodeError. Snakemake cannot track such a
    path, so it is skipped, named at start-up and in its shard's listing as unreadable."""
    photos = _photos(tmp_path, coco_sample, [b"a\xff.jpg", *others])
    out = _list_images(tmp_path, photos)
    text = out.stdout + out.stderr
    assert out.returncode == 0, text[-3000:]
    assert "Traceback" not in text and "UnicodeEncodeError" not in text, text[-3000:]
    assert "a\\xff.jpg" in out.stderr and "not valid UTF-8" in out.stderr, text[-3000:]
    names, unreadable = _listed(tmp_path)
    assert names == set(others)
    assert [u["file_name"] for u in unreadable] == ["a\\xff.jpg"]
    assert "not valid UTF-8" in unreadable[0]["error"] and "rename" in unreadable[0]["error"]
    assert os.path.isfile(os.path.join(os.fsencode(photos), b"a\xff.jpg"))  # still there


def test_image_with_non_utf8_name_is_read_by_the_stage_reader(tmp_path, coco_sample):
    """The stage reader opens files by bytes: no crash on a path OpenCV cannot take."""
    photos = _photos(tmp_path, coco_sample, [b"a\xff.jpg"])
    code = ("import os, sys; from higherhrnet.data.images import read_image_rgb; "
            "p = os.path.join(os.fsdecode(sys.argv[1].encode()), os.fsdecode(b'a\\xff.jpg')); "
            "print(read_image_rgb(p).shape)")
    proc = subprocess.run([sys.executable, "-c", code, str(photos)], check=False, env=env(),
                          capture_output=True, text=True, timeout=120,
                          cwd=ROOT / "src")
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-2000:])
    assert proc.stdout.strip() == "(425, 640, 3)", proc.stdout


def _without_root_privileges() -> list[str]:
    """A prefix under which a folder with mode 000 is unreadable (root reads it otherwise)."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: cannot make a folder unreadable")
    return ["setpriv", "--bounding-set", "-dac_override,-dac_read_search"]


def test_unreadable_subfolder_is_named_with_the_reason(tmp_path, coco_sample):
    photos = _photos(tmp_path, coco_sample, ["a.jpg", "sub/b.jpg", "locked/c.jpg"])
    (photos / "locked").chmod(0)
    try:
        out = _list_images(tmp_path, photos, _without_root_privileges())
    finally:
        (photos / "locked").chmod(0o755)
    text = out.stdout + out.stderr
    assert out.returncode == 0, text[-3000:]
    assert f"folder {photos / 'locked'}: cannot be read (permission denied)" in out.stderr, \
        text[-3000:]
    assert _listed(tmp_path)[0] == {"a.jpg", "sub/b.jpg"}
    assert (photos / "locked" / "c.jpg").is_file()


def test_unreadable_images_folder_is_named_with_the_reason(tmp_path, coco_sample):
    photos = _photos(tmp_path, coco_sample, ["a.jpg"])
    photos.chmod(0)
    try:
        out = _list_images(tmp_path, photos, _without_root_privileges())
    finally:
        photos.chmod(0o755)
    text = out.stdout + out.stderr
    assert out.returncode != 0
    assert f"dataset.images: {photos} cannot be read (permission denied)" in text, text[-3000:]
    assert "holds no image files" not in text
    assert not (tmp_path / "results").exists() and (photos / "a.jpg").is_file()


def test_symlinked_subfolder_is_followed_and_a_loop_is_named(tmp_path, coco_sample):
    photos = _photos(tmp_path, coco_sample, ["a.jpg"])
    elsewhere = _photos(tmp_path / "else", coco_sample, ["x.jpg", "deep/y.jpg"])
    (photos / "linked").symlink_to(elsewhere, target_is_directory=True)
    (elsewhere / "deep" / "back").symlink_to(elsewhere, target_is_directory=True)  # a loop
    (photos / "again").symlink_to(photos, target_is_directory=True)  # a loop
    out = _list_images(tmp_path, photos)
    text = out.stdout + out.stderr
    assert out.returncode == 0, text[-3000:]
    assert _listed(tmp_path)[0] == {"a.jpg", "linked/x.jpg", "linked/deep/y.jpg"}
    for loop in ("again", "linked/deep/back"):
        assert f"symlinked folder {loop}: skipped" in out.stderr, text[-3000:]


def test_annotated_image_missing_on_disk_is_reported_before_any_job(tmp_path, coco_sample):
    """It failed only inside its preprocess job, after the model export."""
    images = tmp_path / "imgs"
    shutil.copytree(coco_sample / "images", images)
    gone = sorted(images.iterdir())[:2]
    for p in gone:
        p.unlink()
    ann = tmp_path / "ann.json"
    shutil.copy(coco_sample / "person_keypoints_sample.json", ann)
    out = snakemake(tmp_path, "--cores", "2", check=False,
                    config=[(f"dataset={{name: coco_folder, annotations: '{ann}', "
                             f"images: '{images}'}}")])
    text = out.stdout + out.stderr
    assert out.returncode != 0
    assert "config problem" in text and "2 of the 8 images" in text, text[-3000:]
    assert all(p.name in text for p in gone), text[-3000:]
    assert not (tmp_path / "results").exists() and not (tmp_path / "resources").exists()
    assert ann.is_file() and len(list(images.iterdir())) == 6


def test_pickle_checkpoint_message_says_why_it_is_refused_and_what_to_do(tmp_path):
    """torch 2.13 refuses a plain pickle with 'Weights only load failed. In PyTorch 2.6 ...',
    not with the 'can still be loaded' phrase: it was called truncated or corrupted."""
    import argparse
    import pickle

    weights = tmp_path / "pickled weights.pth"
    with open(weights, "wb") as fh:  # a training script's pickle: its arguments with the state
        pickle.dump({"state_dict": {}, "epoch": 3, "args": argparse.Namespace(lr=0.1)}, fh)
    before = md5(weights)
    onnx = tmp_path / "m.onnx"
    line = one_line_error(cli("export_onnx.py", "--weights", weights, "--onnx-path", onnx))
    assert str(weights) in line and "truncated" not in line, line
    assert all(w in line for w in ("pickle", "code execution", "refused for safety", "trust")), line
    assert "convert_checkpoint.py" in line, line
    assert md5(weights) == before and not onnx.exists()


THREAD_COUNTS = re.compile(r"\bthreads:? (\d+)")


@pytest.mark.slow
@pytest.mark.workflow
@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one core: every default is 1 thread")
def test_cores_1_scales_every_stage_down_to_one_thread(tmp_path):
    """infer.threads is 2 (the default): with --cores 1 Snakemake scales every rule's threads
    down to 1, and each stage must run on what its job got, not on the config's count."""
    snakemake(tmp_path, "--cores", "1", config=[BENCHMARK_MODEL_ON])
    counts = {}
    for log in sorted((tmp_path / "logs").rglob("*.log")):
        found = THREAD_COUNTS.findall(log.read_text())
        if found:
            counts[str(log.relative_to(tmp_path / "logs"))] = set(found)
    stages = {Path(n).parent.name if Path(n).stem.startswith("shard") else Path(n).stem
              for n in counts}
    assert {"infer", "infer_flip", "benchmark_model", "preprocess", "postprocess"} <= stages, counts
    more = {name: found for name, found in counts.items() if found != {"1"}}
    assert not more, more
    bench = json.loads((tmp_path / "results/synthetic/onnxruntime/benchmark_model.json")
                       .read_text())
    assert bench["threads"] == 1, bench


# ------------------------------------------------- shards capped to the images (issue 27)

PER_SHARD = ("list_images", "preprocess", "preprocess_flip", "infer", "infer_flip", "postprocess")


@pytest.mark.slow
@pytest.mark.workflow
def test_one_photo_with_50_shards_runs_one_shard_and_an_added_photo_only_its_own(
        tmp_path, coco_sample):
    photos = tmp_path / "photos"
    photos.mkdir()
    sample = sorted((coco_sample / "images").glob("*.jpg"))
    (photos / "one.jpg").write_bytes(sample[0].read_bytes())
    config = [f"dataset={{name: images, images: '{photos}'}}", "shards=50"]
    one = path_id("one.jpg") % 50
    planned = snakemake(tmp_path, "-n", config=config)
    jobs = planned_jobs(planned.stdout)
    assert {r: jobs.get(r) for r in PER_SHARD} == dict.fromkeys(PER_SHARD, 1), jobs
    assert sum(jobs.values()) < 20, jobs  # 306 with a job set per configured shard
    assert planned_outputs(planned.stdout, "list_images") == [
        f"results/images/listing/shard{one}.json"]
    assert planned.stderr.count("shards: 50 for 1 image(s): 1 shard(s) get jobs") == 1

    snakemake(tmp_path, "--cores", "2", config=config)
    # one more photo (in another shard): its shard's jobs and the gathering, nothing redone
    other = next(f"photo{i}.jpg" for i in range(100) if path_id(f"photo{i}.jpg") % 50 != one)
    (photos / other).write_bytes(sample[1].read_bytes())
    planned = snakemake(tmp_path, "-n", config=config)
    jobs = planned_jobs(planned.stdout)
    assert {r: jobs.get(r) for r in PER_SHARD} == dict.fromkeys(PER_SHARD, 1), jobs
    assert planned_outputs(planned.stdout, "list_images") == [
        f"results/images/listing/shard{path_id(other) % 50}.json"]
    assert "export_onnx" not in jobs and jobs["gather_results"] == 1


# ------------------------------------------------------------------ 10. never stale results
# (issue 21, item 1) A postprocess at a new threshold that fails (a damaged raw output) or is
# killed: Snakemake deletes its shardK.json, and without the stages' made-from digests
# (workflow.provenance) the next run said "Nothing to be done" over the old threshold's
# results. The next run(s) must end with a clean run's results at the new threshold.

NEW_THRESHOLD = ["shards=1", "postprocess={detection_threshold: 0.5}"]
RESULTS = Path("results/synthetic/onnxruntime")


@pytest.fixture(scope="module")
def default_one_shard(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("default") / "work"
    snakemake(work, "--cores", "2", config=["shards=1"])
    return work


@pytest.fixture(scope="module")
def clean_new_threshold(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("clean") / "work"
    snakemake(work, "--cores", "2", config=NEW_THRESHOLD)
    return work


def _assert_results_as_clean(work: Path, clean: Path) -> None:
    for name in ("postprocess/shard0.json", "keypoints_results.json", "metrics.json",
                 "metrics.csv"):
        assert (work / RESULTS / name).read_bytes() == (clean / RESULTS / name).read_bytes(), name


@pytest.mark.slow
def test_damaged_raw_output_is_remade_and_results_never_stale(tmp_path, default_one_shard,
                                                              clean_new_threshold):
    work = tmp_path / "work"
    shutil.copytree(default_one_shard, work, symlinks=True)
    old = (work / RESULTS / "keypoints_results.json").read_bytes()
    assert old != (clean_new_threshold / RESULTS / "keypoints_results.json").read_bytes()
    bad = sorted((work / RESULTS / "infer/shard0/output_dir").glob("*_1.npy"))[0]
    with open(bad, "r+b") as fh:
        fh.truncate(1000)
    failed = snakemake(work, "--cores", "2", config=NEW_THRESHOLD, check=False)
    assert failed.returncode != 0
    log = (work / "logs/synthetic/onnxruntime/postprocess/shard0.log").read_text()
    line = [ln for ln in log.splitlines() if ln.startswith("error: ")][-1]
    assert str(bad.relative_to(work)) in line and "damaged inference output" in line, line
    # the way out the message names: delete that folder, run again
    folder = line.split("(rm -r ")[1].split(")")[0]
    assert (work / folder) == bad.parent, line
    shutil.rmtree(work / folder)
    again = snakemake(work, "--cores", "2", config=NEW_THRESHOLD)
    assert "Nothing to be done" not in again.stdout + again.stderr
    _assert_results_as_clean(work, clean_new_threshold)
    assert "Nothing to be done" in snakemake(work, "-n", config=NEW_THRESHOLD).stdout


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


@pytest.mark.slow
def test_killed_postprocess_never_leaves_stale_results(tmp_path, default_one_shard,
                                                       clean_new_threshold):
    """kill -9 of only the postprocess process of a run at a new threshold: the next run
    re-runs it and ends with the clean run's results."""
    from support.workflow import command

    work = tmp_path / "work"
    shutil.copytree(default_one_shard, work, symlinks=True)
    proc = subprocess.Popen(command(work, "--cores", "2", config=NEW_THRESHOLD), env=env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    killed = None
    try:
        while killed is None and proc.poll() is None:
            for pid in _descendants(proc.pid):
                cmd = _cmdline(pid)
                if "scripts/postprocess.py" in cmd and not cmd.startswith(("/bin/bash", "bash")):
                    os.kill(pid, signal.SIGKILL)
                    killed = pid
                    break
        out, _ = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert killed is not None, "the postprocess process was never seen"
    assert proc.returncode != 0, out[-3000:]
    assert not (work / RESULTS / "postprocess/shard0.json").exists()
    again = snakemake(work, "--cores", "2", config=NEW_THRESHOLD)
    assert "Nothing to be done" not in again.stdout + again.stderr
    _assert_results_as_clean(work, clean_new_threshold)


# ------------------------------------------------------------------ 11. the benchmark holds
# nothing back (issue 21, item 3; issue 27, item 7): it measures the shapes the run's images
# use within benchmark_model.share of the run's inferences, after the metrics / predictions.

def _bench_seconds(tsv: Path) -> float:
    header, values = tsv.read_text().splitlines()[:2]
    return float(dict(zip(header.split("\t"), values.split("\t")))["s"])


def _manifest_shapes(work: Path, ds: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for m in (work / "results" / ds).glob("prep*/shard*.manifest.json"):
        if m.parent.name.startswith("prep_flip"):
            continue
        for e in Manifest.read(m).entries:
            key = f"{e.input_h}x{e.input_w}"
            counts[key] = counts.get(key, 0) + 2  # both passes
    return counts


@pytest.mark.slow
def test_default_benchmark_is_a_small_share_and_starts_after_the_metrics(tmp_path, coco_sample):
    """A 3-image coco_folder run with the project's default config (synthetic weights, one
    shard): benchmark_model takes at most a quarter of the wall time, and starts only once
    metrics.json is written."""
    import time

    gt = json.loads((coco_sample / "person_keypoints_sample.json").read_text())
    keep = {im["id"] for im in gt["images"][:3]}
    gt["images"] = [im for im in gt["images"] if im["id"] in keep]
    gt["annotations"] = [a for a in gt["annotations"] if a["image_id"] in keep]
    ann = tmp_path / "three.json"
    ann.write_text(json.dumps(gt))
    work = tmp_path / "work"
    start = time.monotonic()
    out = snakemake(work, "--cores", "2", configfile=ROOT / "config.yaml", config=[
        f"dataset={{name: coco_folder, annotations: '{ann}', images: '{coco_sample / 'images'}'}}",
        "weights={source: synthetic}", "shards=1"])
    wall = time.monotonic() - start
    log = out.stdout + out.stderr
    run = work / "results/coco_folder/onnxruntime"
    assert (run / "metrics.json").is_file() and (run / "benchmark_model.html").is_file()
    bench = _bench_seconds(work / "benchmarks/coco_folder/onnxruntime/benchmark_model.tsv")
    assert bench <= 0.25 * wall, (bench, wall)
    evaluated = log.index("(Rule: evaluate)")
    assert evaluated < log.index("rule benchmark_model:"), "the benchmark started before the metrics"
    result = json.loads((run / "benchmark_model.json").read_text())
    used = _manifest_shapes(work, "coco_folder")
    assert {f"{s['height']}x{s['width']}": s["images"] for s in result["dataset_shapes"]} == used
    assert {f"{r['height']}x{r['width']}" for r in result["shapes"]} <= set(used)
    assert result["inferences"] == 6 and result["expected_inference_s"] > 0
    page = (run / "benchmark_model.html").read_text()
    assert "185.28" in page and "at the guide's 512x512" in page


@pytest.mark.slow
def test_own_images_get_the_per_shape_table_of_their_shapes(tmp_path, coco_sample):
    """dataset.name images with benchmark_model on: the table is made, with the shapes those
    images use, after the predictions."""
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in sorted(p.name for p in (coco_sample / "images").iterdir())[:3]:
        shutil.copy(coco_sample / "images" / name, photos / name)
    work = tmp_path / "work"
    out = snakemake(work, "--cores", "2", config=[
        f"dataset={{name: images, images: '{photos}'}}", "shards=1",
        "benchmark_model={enabled: true, shapes: []}"])
    log = out.stdout + out.stderr
    run = work / "results/images/onnxruntime"
    assert (run / "benchmark_model.html").is_file(), log[-3000:]
    assert log.index("(Rule: predictions)") < log.index("rule benchmark_model:")
    result = json.loads((run / "benchmark_model.json").read_text())
    used = _manifest_shapes(work, "images")
    assert used and {f"{s['height']}x{s['width']}": s["images"]
                     for s in result["dataset_shapes"]} == used
    assert {f"{r['height']}x{r['width']}" for r in result["shapes"]} <= set(used)
    assert "185.28" in (run / "benchmark_model.html").read_text()
