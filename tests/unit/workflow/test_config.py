"""higherhrnet.workflow.config as plain functions: --config coercion, the keep_intermediates
switch, and the settings the rules derive (scales, path tags, the backend record)."""

from __future__ import annotations

import pytest
import yaml

from support.config import SCHEMA, make_config

from higherhrnet.workflow.config import (ConfigProblem, coerce_cli_scalars,
                                         expand_keep_intermediates, settings)


def schema():
    return yaml.safe_load(SCHEMA.read_text())


def test_cli_strings_become_the_schemas_types():
    values = {"postprocess": {"max_people": "20", "adjust": "false", "detection_threshold": "0.2",
                              "assignment": "scipy"},
              "test": {"scales": ["1", "0.5"]}, "shards": "4"}
    coerce_cli_scalars(values, schema())
    assert values == {"postprocess": {"max_people": 20, "adjust": False,
                                      "detection_threshold": 0.2, "assignment": "scipy"},
                      "test": {"scales": [1, 0.5]}, "shards": 4}


def test_an_unreadable_string_is_left_for_validation_to_name():
    values = {"postprocess": {"max_people": "[unclosed"}}
    coerce_cli_scalars(values, schema())
    assert values["postprocess"]["max_people"] == "[unclosed"


@pytest.mark.parametrize("switch, both", [(True, True), ("false", False), ("True", True)])
def test_keep_intermediates_switch_sets_both_kinds(switch, both):
    values = {"keep_intermediates": switch}
    expand_keep_intermediates(values)
    assert values["keep_intermediates"] == {"preprocessed": both, "raw_outputs": both}


def test_keep_intermediates_mapping_is_kept():
    values = {"keep_intermediates": {"preprocessed": True}}
    expand_keep_intermediates(values)
    assert values["keep_intermediates"] == {"preprocessed": True}


def test_settings_of_the_default_config():
    s = settings(make_config())
    assert (s.dataset, s.backend.name, s.shards, s.variant.name) == (
        "coco_val2017", "onnxruntime", 50, "w32_512")
    assert s.scales == (1.0,) and s.scales_arg == "1" and s.geos == [""] and s.aoe == "off"
    assert not s.own and s.synthetic_layout == "w32_512"


def test_scale_tags_name_size_scale_and_smallest_scale():
    s = settings(make_config(model={"variant": "w32_640"}, test={"scales": [0.5, 1]}))
    assert s.scales == (1.0, 0.5)  # visiting order
    assert s.geos == ["_640_s1_min0.5", "_640_s0.5_min0.5"]
    assert s.synthetic_layout == "w32_512"  # W32-640 shares W32-512's layout
    assert settings(make_config(model={"variant": "w48_640"})).synthetic_layout == "w48_640"


def test_bad_scales_are_a_config_problem():
    with pytest.raises(ConfigProblem, match="config problem: .*1"):
        settings(make_config(test={"scales": [0.5, 2]}))


def test_aoe_off_read_by_yaml_as_false():
    assert settings(make_config(ascend={"aoe": False})).aoe == "off"
    assert settings(make_config(ascend={"aoe": "both"})).aoe == "both"


@pytest.mark.parametrize("dataset,backend,expected", [
    ("coco_val2017", "onnxruntime", "ascend17"),  # the guide's numbers: its crop, counted
    ("coco_val2017", "ascend", "ascend17"),
    ("images", "onnxruntime", "ascend17_fit"),  # own images are never cropped
    ("images", "ascend", "ascend17_fit"),
    ("video", "torch", "ascend17_fit"),
    ("coco_folder", "onnxruntime", "ascend17_fit"),
    ("synthetic", "onnxruntime", "ascend17_fit"),
])
def test_auto_shape_policy(dataset, backend, expected):
    s = settings(make_config(dataset={"name": dataset}, backend=backend))
    assert s.shape_policy == expected and s.compiled_policy == "ascend17"
    for chosen in ("ascend17", "ascend17_fit", "reference"):  # a chosen policy is kept
        s = settings(make_config(dataset={"name": dataset}, preprocess={"shape_policy": chosen}))
        assert s.shape_policy == chosen


def test_default_shape_policy_is_auto():
    assert make_config()["preprocess"]["shape_policy"] == "auto"
    assert settings(make_config()).shape_policy == "ascend17"
