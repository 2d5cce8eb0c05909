"""The GPU settings as the workflow reads them: infer.precision and the TensorRT engines'
run configuration (its path, the build rule's arguments, the jobs' --trt-engines), and the
config errors before any job."""

from __future__ import annotations

import pytest

from support.config import make_config

from higherhrnet.inference.tensorrt_engines import config_problem
from higherhrnet.workflow import args, targets
from higherhrnet.workflow.config import ConfigProblem, settings
from higherhrnet.workflow.paths import artifact_paths
from higherhrnet.workflow.preflight import check_cross_fields


def both(**overrides):
    config = make_config(**overrides)
    return config, settings(config)


TRT = {"onnxruntime_provider": "tensorrt"}


def test_precision_defaults_to_fp32_and_adds_no_argument():
    config, s = both()
    assert config["infer"]["precision"] == "fp32"
    assert config["infer"]["tensorrt_profiles"] == "dynamic"
    assert config["benchmark_model"]["batch_sizes"] == [1]
    assert "--precision" not in args.infer_args(config, s)
    assert s.trt_tag == "" and args.engines_flag(s, "x") == ""
    assert "build_trt_engines" not in targets.stage_rules(s)
    assert args.benchmark_batch_sizes(config) == ""


@pytest.mark.parametrize("backend, infer, problem", [
    ("onnxruntime", {"precision": "fp16"}, "only the tensorrt provider runs fp16"),
    ("onnxruntime", {"precision": "fp16", "onnxruntime_provider": "cuda"},
     "onnxruntime_provider cuda: only the tensorrt provider"),
    ("onnxruntime", {"precision": "fp16", **TRT}, ""),
    ("torch", {"precision": "fp16"}, "fp16 autocast runs on CUDA"),
    ("torch", {"precision": "fp16", "torch_device": "cuda:1"}, ""),
    ("ascend", {"precision": "fp16"}, "ascend.precision_mode"),
    ("onnxruntime", {"precision": "fp32"}, ""),
])
def test_fp16_is_a_config_error_where_it_would_silently_be_fp32(backend, infer, problem):
    config = make_config(backend=backend, infer=infer)
    found = config_problem(config)
    assert (problem in found and found) if problem else found == ""
    if problem:
        with pytest.raises(ConfigProblem, match="config problem: infer.precision fp16"):
            check_cross_fields(config)


def test_tensorrt_needs_the_fixed_shape_set_and_batches_within_the_engines():
    config = make_config(infer=TRT, preprocess={"shape_policy": "reference"})
    assert "needs preprocess.shape_policy ascend17" in config_problem(config)
    config = make_config(infer={**TRT, "batch_size": 4},
                         benchmark_model={"enabled": True, "batch_sizes": [1, 8]})
    assert "benchmark_model.batch_sizes [1, 8]" in config_problem(config)
    config = make_config(infer={**TRT, "batch_size": 8},
                         benchmark_model={"enabled": True, "batch_sizes": [1, 8]})
    assert config_problem(config) == ""


def test_tensorrt_run_configuration_names_the_engines_and_their_arguments():
    config, s = both(infer={**TRT, "precision": "fp16", "batch_size": 8},
                     test={"scales": [1, 0.5]}, model={"variant": "w32_640"})
    assert s.trt_tag == "fp16_b8_dynamic_s1-0.5"
    p = artifact_paths(config, s)
    assert p.trt_engines == "results/model/w32_640/tensorrt_fp16_b8_dynamic_s1-0.5/engines.json"
    assert args.trt_build_args(config, s) == (
        "--precision fp16 --max-batch 8 --profiles dynamic --variant w32_640 --scales 1,0.5")
    assert args.infer_args(config, s) == (
        "--batch-size 8 --providers tensorrt --variant w32_640 --precision fp16")
    assert args.engines_flag(s, p.trt_engines) == f"--trt-engines {p.trt_engines}"
    assert targets.stage_rules(s)[-1] == "build_trt_engines"
    # the CUDA provider and torch load no engines
    for overrides in ({"infer": {"onnxruntime_provider": "cuda"}},
                      {"backend": "torch", "infer": {"torch_device": "cuda"}}):
        assert both(**overrides)[1].trt_tag == ""


@pytest.mark.parametrize("backend, infer, env", [
    ("onnxruntime", {}, "onnxruntime"),
    ("onnxruntime", TRT, "gpu"),
    ("onnxruntime", {"onnxruntime_provider": "cuda"}, "gpu"),
    ("torch", {}, "torch"),
    ("torch", {"torch_device": "cuda"}, "gpu"),
    ("ascend", TRT, "ascend"),
])
def test_gpu_runs_take_the_pinned_gpu_env(root, backend, infer, env):
    config, s = both(backend=backend, infer=infer)
    assert args.conda_env(config, s) == env
    assert (root / "envs" / f"{env}.yaml").is_file()


def test_gpu_env_has_the_extras_pins(root):
    import tomllib

    import yaml

    extra = tomllib.loads((root / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]["gpu"]
    pip = yaml.safe_load((root / "envs" / "gpu.yaml").read_text())["dependencies"][-1]["pip"]
    assert set(extra) <= set(pip), (extra, pip)


def test_per_shape_profiles_and_benchmark_batches_reach_the_commands():
    config, s = both(infer={**TRT, "tensorrt_profiles": "per_shape", "batch_size": 32},
                     benchmark_model={"batch_sizes": [1, 32]})
    assert s.trt_tag == "fp32_b32_per_shape"
    assert "--profiles per_shape --variant w32_512 --scales 1" in args.trt_build_args(config, s)
    assert args.benchmark_batch_sizes(config) == "--batch-sizes 1,32"
    config, s = both(backend="torch", infer={"torch_device": "cuda", "precision": "fp16"})
    assert args.infer_args(config, s) == "--providers cuda --variant w32_512 --precision fp16"
