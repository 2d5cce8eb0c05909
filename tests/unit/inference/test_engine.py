"""The backend records of higherhrnet.inference.engine: one per backend, each saying what it
loads and needs and how it is checked, and the in-process engines meeting the Engine protocol."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from support.config import make_config
from support.infer import export_tiny

from higherhrnet.errors import WorkflowError
from higherhrnet.inference import engine
from higherhrnet.inference.engine import BACKENDS, Backend, backend, create_engine

ROOT = Path(__file__).resolve().parents[3]


def test_one_record_per_backend_and_what_each_loads():
    assert list(BACKENDS) == ["onnxruntime", "ascend", "torch"]
    assert all(isinstance(r, Backend) and r.name == n and r.needs for n, r in BACKENDS.items())
    assert {n: r.loads for n, r in BACKENDS.items()} == {
        "onnxruntime": "onnx", "ascend": "om", "torch": "pth"}
    assert [n for n, r in BACKENDS.items() if r.npu] == ["ascend"]
    assert [n for n, r in BACKENDS.items() if r.compiled_shapes] == ["ascend"]
    assert [n for n, r in BACKENDS.items() if r.open is None] == ["ascend"]


def test_an_unknown_backend_is_named_with_the_choices():
    with pytest.raises(WorkflowError, match="backend 'tpu': choose one of onnxruntime, ascend"):
        backend("tpu")
    with pytest.raises(WorkflowError, match="no in-process engine; choose one of onnxruntime, "
                                            "torch"):
        create_engine("ascend", "m.om")


def test_checks_of_the_in_process_backends(monkeypatch):
    config = make_config()
    assert BACKENDS["onnxruntime"].check(config) == ""
    assert BACKENDS["torch"].check(config) == ""
    monkeypatch.setattr(engine.importlib.util, "find_spec", lambda name: None)
    assert "onnxruntime is not installed" in BACKENDS["onnxruntime"].check(config)
    assert "PyTorch is not installed" in BACKENDS["torch"].check(config)


def test_check_of_ascend(tmp_path):
    check = BACKENDS["ascend"].check
    assert "shape_policy: ascend17" in check(make_config(preprocess={"shape_policy": "reference"}))
    (tmp_path / "env.sh").write_text("")
    for policy in ("auto", "ascend17", "ascend17_fit"):  # the compiled 17 shapes
        assert check(make_config(preprocess={"shape_policy": policy},
                                 ascend={"cann_env": str(tmp_path / "env.sh")})) == ""
    assert "backend ascend: " in check(make_config(test={"scales": [1, 0.5, 0.25, 2, 3, 4]}))
    assert "CANN environment script" in check(make_config(ascend={"cann_env": str(tmp_path)}))
    (tmp_path / "set_env.sh").write_text("")
    assert check(make_config(ascend={"cann_env": str(tmp_path / "set_env.sh")})) == ""


def test_in_process_engines_meet_the_engine_protocol(tmp_path, synthetic_weights_path):
    onnx = export_tiny(tmp_path / "tiny.onnx")
    for name, model in (("onnxruntime", onnx), ("torch", synthetic_weights_path)):
        e = create_engine(name, model, threads=1)
        out1, out2, compute_ms, h2d, d2h = e.forward(np.zeros((1, 3, 64, 64), np.float32))
        assert out1.shape[1] == 34 and out2.shape[1] == 17 and compute_ms > 0
        assert e.info()["backend"] == name


def test_nothing_else_switches_on_a_backend_name():
    """Backend names are compared only in the engine records (and in CLI defaults/docs)."""
    pattern = re.compile(r"""(==|!=|\bin)\s*\(?["'](onnxruntime|ascend|torch)["']""")
    offenders = []
    for path in [*(ROOT / "src").rglob("*.py"), *(ROOT / "scripts").glob("*.py"),
                 *(ROOT / "rules").glob("*.smk"), ROOT / "Snakefile"]:
        if path.name == "engine.py":
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if pattern.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not offenders, offenders
