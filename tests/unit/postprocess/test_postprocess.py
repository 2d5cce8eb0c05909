"""The postprocess stage and its CLIs: crafted reference case, bad input, and the oracle
run on the real COCO sample images (ground-truth heatmaps through the whole chain)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from higherhrnet.errors import WorkflowError
from higherhrnet.postprocess.coco_results import results_for_image
from higherhrnet.postprocess.params import GroupingParams
from higherhrnet.postprocess.stage import postprocess_arrays
from higherhrnet.preprocess.manifest import Manifest, ManifestEntry
from higherhrnet.preprocess.shapes import input_geometry
from support.postprocess import realistic_cases, sample_oracle_cases

OUTPUTS = ("normal_output0", "normal_output1", "flipped_output0", "flipped_output1")


def _load_script(root, name):
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"script_{name}", root / "scripts" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def scripts(root):
    return {n: _load_script(root, n) for n in ("postprocess", "gather_results", "evaluate")}


def _write_case(tmp, entries_arrays, policy="ascend17"):
    """entries_arrays: [(ManifestEntry, [n0, n1, f0, f1])] -> (dump, dump_flip, manifest)."""
    dump, flip = tmp / "out", tmp / "out_flip"
    dump.mkdir(exist_ok=True)
    flip.mkdir(exist_ok=True)
    for entry, arrays in entries_arrays:
        for folder, pair in ((dump, arrays[:2]), (flip, arrays[2:])):
            for k, a in enumerate(pair):
                np.save(folder / f"{entry.stem}_{k}.npy", a)
    manifest = tmp / "manifest.json"
    Manifest([e for e, _ in entries_arrays], policy).write(manifest)
    return dump, flip, manifest


@pytest.fixture()
def crafted_case(reference, tmp_path):
    d = np.load(reference / "postprocess" / "crafted_640x427.npz")
    entry = ManifestEntry.from_geometry(1, "000000000001.jpg", input_geometry(640, 427))
    return _write_case(tmp_path, [(entry, [d[k] for k in OUTPUTS])])


def _run(scripts, dump, flip, manifest, out, *extra):
    scripts["postprocess"].main(["--dump_dir", str(dump), "--dump_dir_flip", str(flip),
                                 "--manifest", str(manifest), "--output", str(out), *extra])
    return json.loads(out.read_text())


def _assert_results_close(got, expected):
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert list(g) == list(e)  # key names and order as the reference writes them
        assert g["image_id"] == e["image_id"] and g["category_id"] == e["category_id"]
        np.testing.assert_allclose(g["keypoints"], e["keypoints"], atol=1e-4)
        np.testing.assert_allclose(g["bbox"], e["bbox"], atol=1e-4)
        assert g["score"] == pytest.approx(e["score"], abs=1e-6)


def test_crafted_gives_reference_results(reference, scripts, crafted_case, tmp_path):
    got = _run(scripts, *crafted_case, tmp_path / "r.json")
    expected = json.loads((reference / "postprocess" / "mini_coco_expected_results.json").read_text())
    _assert_results_close(got, expected["results"])
    metrics = tmp_path / "m.json"
    scripts["evaluate"].main(["--annotations", str(reference / "postprocess" / "mini_coco_gt.json"),
                              "--results", str(tmp_path / "r.json"), "--metrics", str(metrics)])
    stats = json.loads(metrics.read_text())
    names = ("AP", "Ap .5", "AP .75", "AP (M)", "AP (L)", "AR", "AR .5", "AR .75", "AR (M)", "AR (L)")
    for ours, theirs in zip(("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl"),
                            names):
        want = expected["stats"][theirs]  # -1: COCOeval's "no ground truth", null here
        assert stats[ours] == (None if want == -1 else pytest.approx(want, abs=1e-4)), ours


def test_final_preds_match_reference(reference):
    from higherhrnet.postprocess.coco_results import to_image

    d = np.load(reference / "postprocess" / "crafted_640x427.npz")
    geom = input_geometry(*d["image_wh"])
    assert (geom.input_w, geom.input_h) == tuple(d["base_size_wh"])
    np.testing.assert_allclose(to_image(d["refined"], geom), d["final_preds"], atol=1e-4)


def test_cli_subprocess_with_hyphenated_flags(root, crafted_case, tmp_path):
    dump, flip, manifest = crafted_case
    out = tmp_path / "r.json"
    cmd = [sys.executable, str(root / "scripts" / "postprocess.py"), "--dump-dir", str(dump),
           "--dump-dir-flip", str(flip), "--manifest", str(manifest), "--output", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert len(json.loads(out.read_text())) == 4
    (flip / "000000000001_1.npy").unlink()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "000000000001_1.npy" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("flags", [["--no-refine"], ["--no-adjust"], ["--detection-threshold", "0.6"],
                                   ["--tag-threshold", "0.01"], ["--max-people", "1"]])
def test_each_flag_changes_the_result(scripts, crafted_case, tmp_path, flags):
    base = _run(scripts, *crafted_case, tmp_path / "a.json")
    changed = _run(scripts, *crafted_case, tmp_path / "b.json", *flags)
    assert changed != base


def test_nms_flags_reach_the_parser(scripts, crafted_case, tmp_path, monkeypatch):
    import higherhrnet.postprocess.stage as pp

    seen = []
    real = pp.parse_outputs
    monkeypatch.setattr(pp, "parse_outputs", lambda arrays, params, path:
                        seen.append(params) or real(arrays, params, path))
    _run(scripts, *crafted_case, tmp_path / "a.json", "--nms-kernel", "3", "--nms-padding", "1")
    assert (seen[0].nms_kernel, seen[0].nms_padding) == (3, 1)
    with pytest.raises(WorkflowError, match="padding"):
        _run(scripts, *crafted_case, tmp_path / "b.json", "--nms-kernel", "5", "--nms-padding", "1")


def test_missing_outputs_are_all_listed(scripts, reference, tmp_path):
    d = np.load(reference / "postprocess" / "crafted_640x427.npz")
    geom = input_geometry(640, 427)
    entries = [(ManifestEntry.from_geometry(i, f"{i:012d}.jpg", geom), [d[k] for k in OUTPUTS])
               for i in (1, 2, 3)]
    dump, flip, manifest = _write_case(tmp_path, entries)
    (dump / "000000000002_0.npy").unlink()
    (flip / "000000000003_1.npy").unlink()
    (flip / "000000000003_0.npy").unlink()
    out = tmp_path / "r.json"
    with pytest.raises(WorkflowError) as err:
        _run(scripts, dump, flip, manifest, out)
    msg = str(err.value)
    assert "3 inference output file(s) missing" in msg
    for name in ("000000000002_0.npy", "000000000003_1.npy", "000000000003_0.npy"):
        assert name in msg
    assert not out.exists()


def test_wrong_shape_names_file_and_shapes(scripts, crafted_case, tmp_path):
    dump, flip, manifest = crafted_case
    np.save(dump / "000000000001_1.npy", np.zeros((1, 17, 256, 256), np.float32))
    with pytest.raises(WorkflowError, match=r"000000000001_1\.npy: shape \(1, 17, 256, 256\), "
                                            r"expected \(1, 17, 256, 384\)"):
        _run(scripts, dump, flip, manifest, tmp_path / "r.json")


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_outputs_fail(scripts, crafted_case, tmp_path, bad):
    dump, flip, manifest = crafted_case
    a = np.load(flip / "000000000001_0.npy")
    a[0, 20, 3, 4] = bad
    np.save(flip / "000000000001_0.npy", a)
    with pytest.raises(WorkflowError, match=r"out_flip/000000000001_0\.npy: 1 NaN or inf"):
        _run(scripts, dump, flip, manifest, tmp_path / "r.json")


def test_integer_outputs_fail(scripts, crafted_case, tmp_path):
    dump, flip, manifest = crafted_case
    np.save(dump / "000000000001_0.npy", np.zeros((1, 34, 128, 192), np.int32))
    with pytest.raises(WorkflowError, match="dtype int32"):
        _run(scripts, dump, flip, manifest, tmp_path / "r.json")


def test_empty_shard_writes_empty_list(scripts, tmp_path):
    dump, flip, manifest = _write_case(tmp_path, [])
    assert _run(scripts, dump, flip, manifest, tmp_path / "r.json") == []


def test_image_without_people_adds_no_results(scripts, reference, tmp_path):
    d = np.load(reference / "postprocess" / "crafted_640x427.npz")
    geom = input_geometry(640, 427)
    empty = [np.zeros_like(d[k]) - 1.0 for k in OUTPUTS]
    dump, flip, manifest = _write_case(tmp_path, [
        (ManifestEntry.from_geometry(5, "000000000005.jpg", geom), empty),
        (ManifestEntry.from_geometry(1, "000000000001.jpg", geom), [d[k] for k in OUTPUTS])])
    got = _run(scripts, dump, flip, manifest, tmp_path / "r.json")
    assert [r["image_id"] for r in got] == [1, 1, 1, 1]


def test_gather_sorts_by_image_id_stably(scripts, tmp_path):
    def res(i, s):
        return {"image_id": i, "category_id": 1, "keypoints": [0.0] * 51, "score": s}
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps([res(7, 0.1), res(3, 0.9), res(7, 0.5)]))
    b.write_text(json.dumps([res(3, 0.2), res(1, 0.3)]))
    out = tmp_path / "all.json"
    scripts["gather_results"].main(["--output", str(out), str(a), str(b)])
    got = [(r["image_id"], r["score"]) for r in json.loads(out.read_text())]
    assert got == [(1, 0.3), (3, 0.9), (3, 0.2), (7, 0.1), (7, 0.5)]
    scripts["gather_results"].main(["--output", str(out)])
    assert json.loads(out.read_text()) == []


# ----------------------------------------------------------------------------- oracle

def test_oracle_outputs_on_coco_sample_reach_high_ap(root, coco_sample, tmp_path):
    """Ground-truth heatmaps and tags of the real sample images through the real postprocess
    and evaluation CLIs: AP must be above 0.9 (checks the whole coordinate chain)."""
    ann_path = coco_sample / "person_keypoints_sample.json"
    cases = sample_oracle_cases(coco_sample)
    dump, flip, manifest = _write_case(tmp_path, cases)
    results, metrics = tmp_path / "results.json", tmp_path / "metrics.json"
    slow = tmp_path / "results_reference.json"
    for cmd in (
        ["postprocess.py", "--dump_dir", dump, "--dump_dir_flip", flip, "--manifest", manifest,
         "--output", results],
        ["postprocess.py", "--dump_dir", dump, "--dump_dir_flip", flip, "--manifest", manifest,
         "--output", slow, "--path", "reference"],
        ["evaluate.py", "--annotations", ann_path, "--results", results, "--metrics", metrics],
    ):
        proc = subprocess.run([sys.executable, str(root / "scripts" / cmd[0]), *map(str, cmd[1:])],
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr
    m = json.loads(metrics.read_text())
    print("oracle metrics", m)
    assert m["AP"] > 0.9, m
    assert m["AR"] > 0.9, m
    assert json.loads(slow.read_text()) == json.loads(results.read_text())  # the same floats


@pytest.mark.parametrize("flags", [[], ["--no-adjust"], ["--assignment", "scipy"]])
def test_reference_path_gives_identical_results(scripts, crafted_case, tmp_path, flags):
    """``--path reference`` (the straight port over dense maps) writes the same results."""
    fast = _run(scripts, *crafted_case, tmp_path / "fast.json", *flags)
    slow = _run(scripts, *crafted_case, tmp_path / "ref.json", "--path", "reference", *flags)
    assert len(fast) == 4 and slow == fast


def test_unknown_path_is_rejected(scripts, crafted_case, tmp_path):
    with pytest.raises(SystemExit):
        _run(scripts, *crafted_case, tmp_path / "r.json", "--path", "brute")
    from higherhrnet.postprocess.stage import run

    with pytest.raises(WorkflowError, match="path must be one of"):
        run(*crafted_case, tmp_path / "r.json", None, path="brute")


def test_output_reader_equals_load_output_and_falls_back(tmp_path):
    """Reused buffers give each file's values; other layouts and bad files behave exactly as
    load_output (converted, or the same WorkflowError)."""
    from higherhrnet.postprocess.stage import OutputReader, load_output

    rng = np.random.default_rng(0)
    reader = OutputReader()
    for i in range(2):  # the second image overwrites the first one's buffer
        a = rng.normal(size=(1, 17, 8, 12)).astype(np.float32)
        np.save(tmp_path / f"a{i}.npy", a)
        np.testing.assert_array_equal(reader.read(0, tmp_path / f"a{i}.npy", a.shape), a)
    a = rng.normal(size=(1, 17, 8, 12))
    np.save(tmp_path / "f64.npy", a)
    np.save(tmp_path / "fortran.npy", np.asfortranarray(a.astype(np.float32)))
    for name in ("f64.npy", "fortran.npy"):
        got = reader.read(1, tmp_path / name, a.shape)
        np.testing.assert_array_equal(got, load_output(tmp_path / name, a.shape))
        assert got.dtype == np.float32
    np.save(tmp_path / "cut.npy", a.astype(np.float32))
    data = (tmp_path / "cut.npy").read_bytes()
    (tmp_path / "cut.npy").write_bytes(data[:-8])
    b = a.astype(np.float32)
    b[0, 3, 2, 1] = np.nan
    np.save(tmp_path / "nan.npy", b)
    for name, words in (("cut.npy", "not a readable"), ("nan.npy", "1 NaN or inf"),
                        ("missing.npy", "not a readable")):
        with pytest.raises(WorkflowError, match=words):
            reader.read(2, tmp_path / name, a.shape)
    with pytest.raises(WorkflowError, match="shape"):
        reader.read(2, tmp_path / "f64.npy", (1, 17, 8, 13))


# ----------------------------------------------------------------------------- network-like

@pytest.fixture(scope="module")
def realistic(reference, tmp_path_factory):
    """The network-like outputs of the 8 sample images (../shared/reference/realistic)."""
    return realistic_cases(reference.parent, tmp_path_factory.mktemp("realistic"))


@pytest.mark.parametrize("threads", ["1", "2"])
def test_network_like_outputs_give_the_reference_implementations_results(
        root, reference, realistic, tmp_path, threads):
    """The stage CLI (fast path) on all 8 images, in its own process with the threads a
    workflow job gives it (the postprocess rule declares 1), writes exactly the results the
    reference implementation wrote on these outputs (86 people, weak and missing joints
    refined)."""
    manifest, dump, flip, _ = realistic
    out = tmp_path / "r.json"
    env = {**os.environ, "OMP_NUM_THREADS": threads}
    proc = subprocess.run([sys.executable, str(root / "scripts" / "postprocess.py"),
                           "--dump_dir", str(dump), "--dump_dir_flip", str(flip), "--manifest",
                           str(manifest), "--output", str(out)], env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    expected = json.loads((reference / "realistic" / "expected_results.json").read_text())
    got = json.loads(out.read_text())
    assert len(got) == 86 and got == expected


def test_network_like_image_reference_path_gives_the_same_results(reference, realistic):
    """The reference path (the straight port) on one network-like image (19 people, the
    most refine-filled joints): the reference implementation's results, bit for bit."""
    *_, cases = realistic
    entry, arrays = next((e, a) for e, a in cases if e.image_id == 329323)
    preds, scores = postprocess_arrays(arrays, entry, GroupingParams(), path="reference")
    got = json.loads(json.dumps(results_for_image(entry.image_id, preds, scores)))
    expected = json.loads((reference / "realistic" / "expected_results.json").read_text())
    assert got == [r for r in expected if r["image_id"] == 329323]


def test_stage_process_keeps_freed_memory_on_glibc(root):
    """The postprocess CLI's process asks glibc to keep freed memory (no page faults image
    after image); checked in a fresh process, so the test's own allocator is untouched."""
    code = ("import platform; import numpy as np; "
            "from higherhrnet.postprocess.memory import keep_freed_memory; "
            "print(keep_freed_memory(), platform.libc_ver()[0], "
            "np._core.multiarray._get_madvise_hugepage())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=root, check=True).stdout.split()
    assert out[0] == str(out[1] == "glibc")
    assert out[2] == "False"  # no huge pages for the sparse tile buffers
