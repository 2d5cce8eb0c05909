"""HigherHRNet-W32: layout, synthetic weights, forward parity, checkpoint loading."""

from __future__ import annotations

import csv
import subprocess
import sys
from collections import OrderedDict

import numpy as np
import pytest
import torch

from higherhrnet.model.checkpoint import CheckpointError, load_model, load_state_dict_file
from higherhrnet.errors import WorkflowError
from higherhrnet.model.network import build_model
from support.weights import assert_matches_checksums
from higherhrnet.model.synthetic_weights import (
    DEFAULT_FILE_NAME,
    is_synthetic,
    synthetic_state_dict,
)


def _tsv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


@pytest.fixture(scope="module")
def synthetic_state(synthetic_weights_path):
    """The synthetic weights as read back from the written .pth."""
    return load_state_dict_file(synthetic_weights_path)


@pytest.fixture(scope="module")
def synthetic_model(synthetic_weights_path):
    return load_model(synthetic_weights_path)


def test_state_dict_layout_matches_reference(reference):
    rows = _tsv(reference / "higherhrnet_w32_512_state_dict.tsv")
    model = build_model()
    assert not model.training
    state = model.state_dict()
    assert len(rows) == len(state) == 1810
    got = [(k, ",".join(map(str, v.shape)), str(v.dtype).removeprefix("torch."))
           for k, v in state.items()]
    want = [(r["name"], r["shape"], r["dtype"]) for r in rows]
    assert got == want
    assert sum(p.numel() for p in model.parameters()) == 28_645_331
    assert sum(v.numel() for v in state.values()) == 28_700_544


def test_synthetic_weights_match_every_checksum_row(reference, synthetic_state, synthetic_weights_path):
    assert synthetic_weights_path.name == DEFAULT_FILE_NAME
    assert_matches_checksums(reference / "synthetic_weights_checksums.tsv", synthetic_state)
    # The .pth holds exactly what the generator makes (same dtypes, nothing lost on save).
    fresh = synthetic_state_dict()
    assert all(torch.equal(fresh[k], synthetic_state[k]) for k in fresh)


def test_is_synthetic(synthetic_weights_path, synthetic_state):
    assert is_synthetic(synthetic_weights_path)
    assert is_synthetic(synthetic_state)
    assert not is_synthetic(build_model().state_dict())
    tweaked = OrderedDict(synthetic_state)
    tweaked["final_layers.1.bias"] = tweaked["final_layers.1.bias"] + 1e-3
    assert not is_synthetic(tweaked)


@pytest.mark.parametrize("case", ["a_512x512", "b_512x768", "c_640x512"])
def test_forward_matches_reference_fixture(reference, synthetic_model, case):
    data = np.load(reference / "forward" / f"{case}.npz")
    x = torch.from_numpy(data["input"])
    with torch.no_grad():
        outputs = synthetic_model(x)
    assert len(outputs) == 2
    n, _, h, w = x.shape
    assert tuple(outputs[0].shape) == (n, 34, h // 4, w // 4)
    assert tuple(outputs[1].shape) == (n, 17, h // 2, w // 2)
    for i in range(2):
        np.testing.assert_allclose(outputs[i].numpy(), data[f"output{i}"], atol=1e-4, rtol=1e-4)


def test_load_model_warns_synthetic(synthetic_weights_path, capsys):
    load_model(synthetic_weights_path)
    assert "SYNTHETIC UNTRAINED" in capsys.readouterr().err


def test_training_checkpoint_form_loads(tmp_path, synthetic_state, synthetic_model):
    # checkpoint.pth.tar: module.-prefixed state_dict next to optimizer state and counters;
    # old checkpoints may also lack the BN counters.
    wrapped = OrderedDict(("module." + k, v) for k, v in synthetic_state.items()
                          if not k.endswith("num_batches_tracked"))
    path = tmp_path / "checkpoint.pth.tar"
    torch.save({"epoch": 3, "state_dict": wrapped, "best_state_dict": wrapped, "perf": 0.5,
                "optimizer": {"state": {}, "param_groups": [{"lr": 1e-3, "params": [0, 1]}]}},
               path)
    model = load_model(path)
    x = torch.zeros(1, 3, 64, 64)
    with torch.no_grad():
        got, want = model(x), synthetic_model(x)
    assert all(torch.equal(a, b) for a, b in zip(got, want))


def _save(path, obj):
    torch.save(obj, path)
    return path


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_model(tmp_path / "nope.pth")


@pytest.mark.parametrize("content", [b"", b"this is not a checkpoint", b"\x80\x04garbage"])
def test_not_a_torch_file(tmp_path, content):
    path = tmp_path / "bad.pth"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match="bad.pth") as err:
        load_model(path)
    assert "empty" in str(err.value) or "not a PyTorch checkpoint" in str(err.value)


def test_truncated_file(tmp_path, synthetic_weights_path):
    path = tmp_path / "truncated.pth"
    with open(synthetic_weights_path, "rb") as src:
        path.write_bytes(src.read(5_000_000))
    with pytest.raises(CheckpointError, match="truncated"):
        load_model(path)


def test_missing_and_unexpected_keys(tmp_path, synthetic_state):
    state = OrderedDict(synthetic_state)
    del state["conv1.weight"], state["bn1.bias"]
    state["head.extra.weight"] = torch.zeros(3)
    with pytest.raises(CheckpointError) as err:
        load_model(_save(tmp_path / "keys.pth", state))
    msg = str(err.value)
    assert "keys.pth" in msg
    assert "2 missing keys (conv1.weight, bn1.bias)" in msg
    assert "1 unexpected keys (head.extra.weight)" in msg


def test_many_missing_keys_are_summarised(tmp_path):
    with pytest.raises(CheckpointError, match=r"1809 missing keys \(.*more\)"):
        load_model(_save(tmp_path / "few.pth", {"conv1.weight": torch.zeros(64, 3, 3, 3)}))


def test_shape_mismatch(tmp_path, synthetic_state):
    state = OrderedDict(synthetic_state)
    state["final_layers.1.weight"] = torch.zeros(16, 32, 1, 1)
    with pytest.raises(CheckpointError) as err:
        load_model(_save(tmp_path / "shape.pth", state))
    assert "final_layers.1.weight: checkpoint [16, 32, 1, 1] vs model [17, 32, 1, 1]" in str(err.value)


def test_not_a_state_dict(tmp_path):
    with pytest.raises(CheckpointError, match="not tensors"):
        load_model(_save(tmp_path / "odd.pth", {"epoch": 3, "lr": 0.1}))
    with pytest.raises(CheckpointError, match="expected a state dict"):
        load_model(_save(tmp_path / "list.pth", [torch.zeros(2)]))


class _Config:  # stands for e.g. a pickled yacs config node in a training checkpoint
    pass


def test_pickled_objects_need_trust(tmp_path, synthetic_state):
    path = _save(tmp_path / "objects.pth", {"state_dict": synthetic_state, "cfg": _Config()})
    with pytest.raises(CheckpointError, match="refused for safety") as err:
        load_model(path)
    assert "test_model._Config" in str(err.value) and "code execution" in str(err.value)
    assert is_synthetic(load_model(path, trusted=True).state_dict())


def test_plain_pickle_named_as_a_pickle_not_as_corrupted(tmp_path, synthetic_state):
    """pickle.dump, not torch.save: torch 2.13 says only "Unsupported operand 149"; the
    classes it would import are read from the file without running it."""
    import argparse
    import pickle

    path = tmp_path / "pickled.pth"
    with open(path, "wb") as fh:
        pickle.dump({"state_dict": synthetic_state, "args": argparse.Namespace(lr=1)}, fh)
    with pytest.raises(CheckpointError) as err:
        load_model(path)
    msg = str(err.value)
    assert "argparse.Namespace" in msg and "refused for safety" in msg
    assert "corrupted" not in msg and "convert_checkpoint.py --trust-checkpoint" in msg


def test_convert_checkpoint_cli_writes_a_safe_state_dict(tmp_path, synthetic_state, root):
    import argparse

    path = _save(tmp_path / "objects.pth", {"state_dict": synthetic_state,
                                            "args": argparse.Namespace(lr=1)})
    before = path.read_bytes()
    out = tmp_path / "plain.pth"
    script = [sys.executable, str(root / "scripts" / "convert_checkpoint.py")]
    refused = subprocess.run([*script, str(path), str(out)], capture_output=True, text=True,
                             check=False)
    assert refused.returncode == 2 and "--trust-checkpoint" in refused.stderr
    assert not out.exists()
    done = subprocess.run([*script, "--trust-checkpoint", str(path), str(out)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert is_synthetic(load_model(out).state_dict())  # a safe load takes it
    assert path.read_bytes() == before


def test_checkpoint_error_is_workflow_error_and_cli_exits_2(tmp_path, root):
    assert issubclass(CheckpointError, WorkflowError)
    proc = subprocess.run(
        [sys.executable, str(root / "scripts" / "export_onnx.py"),
         "--weights", str(tmp_path / "missing.pth"), "--onnx_path", str(tmp_path / "m.onnx")],
        capture_output=True, text=True)
    assert proc.returncode == 2
    last = proc.stderr.splitlines()[-1]  # after the stage's "threads: ..." line
    assert last.startswith("error: ") and "missing.pth" in last
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "m.onnx").exists()
