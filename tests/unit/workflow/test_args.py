"""The argument builders of higherhrnet.workflow.args, called as plain functions: what each
rule's params hold for each backend and config."""

from __future__ import annotations

import pytest

from support.config import make_config

from higherhrnet.data.download import COCO_ANNOTATIONS_TRAINVAL2017, COCO_VAL2017_IMAGES
from higherhrnet.workflow import args
from higherhrnet.workflow.config import ConfigProblem, settings


def both(**overrides):
    config = make_config(**overrides)
    return config, settings(config)


def test_shape_args_name_variant_and_scales():
    _, s = both(model={"variant": "w48_640"}, test={"scales": [1, 0.5]})
    assert args.shape_args(s) == "--variant w48_640 --scales 1,0.5"


def test_infer_args_per_backend():
    config, s = both(infer={"threads": 3, "batch_size": 2, "onnxruntime_provider": "cuda"})
    assert args.infer_args(config, s) == "--batch-size 2 --providers cuda --variant w32_512"
    config, s = both(backend="torch", infer={"threads": 2, "torch_device": "cuda:1"})
    assert args.infer_args(config, s) == "--providers cuda --variant w32_512 --device 1"
    config, s = both(backend="torch")
    assert args.infer_args(config, s) == "--providers cpu --variant w32_512"
    config, s = both(backend="ascend", ascend={"device": 1, "cann_env": "/opt/my cann/set_env.sh"})
    # the NPU is not an argument: the job claims one of ascend.devices (devices_arg)
    assert args.infer_args(config, s) == (
        "--cann-env='/opt/my cann/set_env.sh' --variant w32_512 --scales 1")


def test_benchmark_args_add_the_shape_set_only_when_no_shapes_are_given():
    config, s = both()
    assert args.benchmark_args(config, s) == (
        "--providers cpu --variant w32_512 --scales 1")
    config, s = both(benchmark_model={"shapes": ["512x512"]})
    assert args.benchmark_args(config, s) == "--providers cpu"
    config, s = both(backend="torch", test={"scales": [1, 2]})
    assert args.benchmark_args(config, s) == (
        "--providers cpu --variant w32_512 --scales 2,1")
    config, s = both(backend="torch", benchmark_model={"shapes": ["512x512"]})
    assert args.benchmark_args(config, s) == "--providers cpu --variant w32_512"
    config, s = both(backend="ascend")
    assert args.benchmark_args(config, s) == args.infer_args(config, s)


def test_infer_resources_hold_an_npu_on_ascend_only():
    assert args.infer_resources(both()[1]) == {"mem_mb": 6000, "runtime": 120}
    assert args.infer_resources(both(backend="ascend")[1])["npu"] == 1
    assert "npu" not in args.infer_resources(both(backend="torch")[1])


@pytest.mark.parametrize("backend, infer, gpu", [
    ("onnxruntime", {"onnxruntime_provider": "cuda"}, True),
    ("onnxruntime", {"onnxruntime_provider": "tensorrt"}, True),
    ("onnxruntime", {"onnxruntime_provider": "cpu"}, False),
    ("torch", {"torch_device": "cuda"}, True),
    ("torch", {"torch_device": "cuda:1"}, True),
    ("torch", {"torch_device": "cpu"}, False),
    ("ascend", {"onnxruntime_provider": "cuda", "torch_device": "cuda"}, False),  # its NPU
])
def test_infer_resources_ask_for_a_gpu_when_the_config_runs_on_one(backend, infer, gpu):
    resources = args.infer_resources(both(backend=backend, infer=infer)[1])
    assert resources.get("gpu") == (1 if gpu else None), resources
    assert "npu" in resources if backend == "ascend" else "npu" not in resources


def test_infer_resources_hold_an_npu_on_ascend_and_a_gpu_on_cuda():
    assert args.infer_resources(both()[1]) == {"mem_mb": 6000, "runtime": 120}
    assert args.infer_resources(both(backend="ascend")[1])["npu"] == 1
    assert "npu" not in args.infer_resources(both(backend="torch")[1])
    assert args.infer_resources(both(infer={"onnxruntime_provider": "tensorrt"})[1])["gpu"] == 1
    assert args.infer_resources(both(backend="torch", infer={"torch_device": "cuda"})[1])[
        "gpu"] == 1
    assert "gpu" not in args.infer_resources(both(backend="ascend")[1])


def test_device_lists_of_the_config():
    """Issue 23: ascend.devices (ascend.device as a one-element list), infer.devices for CUDA
    (torch_device's index as a one-element list); what the jobs' --devices gets."""
    assert args.devices_arg(both()[1]) == ""  # CPU: nothing to claim
    s = both(backend="ascend")[1]
    assert (s.device_kind, s.devices, args.devices_arg(s)) == ("npu", (0,), "0")
    assert args.devices_arg(both(backend="ascend", ascend={"device": 1})[1]) == "1"
    assert args.devices_arg(both(backend="ascend", ascend={"devices": [0, 1]})[1]) == "0,1"
    with pytest.raises(ConfigProblem, match="ascend.device 1 and ascend.devices"):
        both(backend="ascend", ascend={"device": 1, "devices": [0, 1]})
    s = both(backend="torch", infer={"torch_device": "cuda:1"})[1]
    assert (s.device_kind, args.devices_arg(s)) == ("gpu", "1")
    s = both(infer={"onnxruntime_provider": "cuda", "devices": [0, 1, 2]})[1]
    assert (s.device_kind, args.devices_arg(s)) == ("gpu", "0,1,2")
    assert both(infer={"devices": [0, 1]})[1].device_kind is None  # CPU provider
    with pytest.raises(ConfigProblem, match="infer.torch_device cuda:1 and infer.devices"):
        both(backend="torch", infer={"torch_device": "cuda:1", "devices": [0, 1]})


def test_preprocess_geometry_of_a_path_tag():
    assert args.preprocess_geometry("") == "--input-size 512 --scale 1 --min-scale 1"
    assert args.preprocess_geometry("_640_s0.5_min0.25") == (
        "--input-size 640 --scale 0.5 --min-scale 0.25")


def test_scale_flags_one_scale_uses_the_guides_flags():
    _, s = both()
    assert args.scale_flags(s, ["o"], ["f"], ["m.json"]) == (
        "--dump-dir o --dump-dir-flip f --manifest m.json")


def test_scale_flags_several_scales_in_visiting_order_quoted():
    _, s = both(test={"scales": [1, 2]})
    flags = args.scale_flags(s, ["a 2", "a 1"], ["b2", "b1"], ["m2", "m1"])
    assert flags == ("--scales 2,1 --dump-dir 'a 2' --dump-dir-flip b2 --manifest m2 "
                     "--dump-dir 'a 1' --dump-dir-flip b1 --manifest m1")


def test_postprocess_switches():
    assert args.postprocess_switches(make_config()) == ""
    assert args.postprocess_switches(make_config(postprocess={"adjust": False})) == "--no-adjust"
    assert args.postprocess_switches(make_config(postprocess={"adjust": False, "refine": False})) \
        == "--no-adjust --no-refine"


def test_coco_zip_checks_carry_both_zips_size_and_md5():
    checks = args.coco_zip_checks().split()
    assert checks == ["--images-size", str(COCO_VAL2017_IMAGES.size),
                      "--images-md5", COCO_VAL2017_IMAGES.md5,
                      "--annotations-size", str(COCO_ANNOTATIONS_TRAINVAL2017.size),
                      "--annotations-md5", COCO_ANNOTATIONS_TRAINVAL2017.md5]
