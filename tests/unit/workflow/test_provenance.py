"""higherhrnet.workflow.provenance: the made-from digest of each stage changes with its own
config values and code and with every upstream stage's, and with nothing else."""

from __future__ import annotations

import pytest
from support.config import make_config

from higherhrnet.workflow import provenance
from higherhrnet.workflow.config import settings


def digest_of(stage, code=lambda rule: f"code-of-{rule}", **overrides):
    config = make_config(**overrides)
    return provenance.made_from(config, settings(config), stage, code)


def test_same_config_and_code_same_digest():
    assert digest_of("gather_results") == digest_of("gather_results")
    assert len(digest_of("gather_results")) == 16


@pytest.mark.parametrize("override,changed,same", [
    # a postprocess number: postprocess onward, never inference or preprocessing
    ({"postprocess": {"detection_threshold": 0.5}},
     {"postprocess", "gather_results", "evaluate", "metrics_table", "draw_skeletons",
      "predictions", "predictions_report"}, {"infer", "preprocess", "benchmark_model"}),
    ({"preprocess": {"shape_policy": "reference"}},
     {"preprocess", "infer", "postprocess", "gather_results", "evaluate"}, set()),
    ({"export": {"opset": 13}}, {"infer", "postprocess", "evaluate", "benchmark_model"},
     {"preprocess"}),
    ({"benchmark_model": {"loops": 3}}, {"benchmark_model"}, {"infer", "evaluate"}),
    # what never changes an artifact: threads of the report, keeping intermediates, drawings
    ({"keep_intermediates": {"raw_outputs": False}}, set(),
     {"preprocess", "infer", "postprocess", "evaluate", "benchmark_model"}),
    ({"benchmark_model": {"enabled": False}}, set(), {"benchmark_model"}),
    ({"infer": {"threads": 1}}, {"benchmark_model"}, {"infer", "postprocess", "evaluate"}),
    ({"weights": {"url": "https://example.org/w.pth", "md5": "0" * 32}}, set(),
     {"infer", "evaluate"}),
])
def test_a_change_reaches_exactly_its_stage_and_what_comes_after(override, changed, same):
    for stage in changed:
        assert digest_of(stage, **override) != digest_of(stage), stage
    for stage in same:
        assert digest_of(stage, **override) == digest_of(stage), stage


def test_code_of_a_stage_reaches_every_stage_after_it():
    def edited(rule):
        return lambda r: f"code-of-{r}" + ("*" if r == rule else "")

    assert digest_of("evaluate", edited("postprocess")) != digest_of("evaluate")
    assert digest_of("gather_results", edited("infer")) != digest_of("gather_results")
    assert digest_of("infer", edited("export_onnx")) != digest_of("infer")
    assert digest_of("infer", edited("postprocess")) == digest_of("infer")
    assert digest_of("preprocess", edited("infer")) == digest_of("preprocess")


def test_the_model_rules_follow_the_backend_and_weights():
    config = make_config(weights={"source": "synthetic"})
    assert provenance.model_rules(config, settings(config)) == ["make_synthetic_weights",
                                                                "export_onnx"]
    config = make_config(backend="ascend", ascend={"aoe": "subgraph"})
    assert provenance.model_rules(config, settings(config)) == ["export_onnx", "tune_om"]
    config = make_config(backend="torch")
    assert provenance.model_rules(config, settings(config)) == []


def test_unknown_stage_is_refused():
    with pytest.raises(ValueError, match="unknown stage 'nope'"):
        digest_of("nope")


def test_every_stage_upstream_is_a_stage():
    for stage, upstream in provenance.UPSTREAM.items():
        assert set(upstream) <= set(provenance.UPSTREAM), stage
