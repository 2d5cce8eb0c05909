"""A workflow config as rules/common.smk sees it after validation (config.yaml, overrides,
the schema's defaults), for the unit tests of higherhrnet.workflow."""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "schemas" / "config.schema.yaml"


def merge(base: dict, over: dict) -> dict:
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            merge(base[key], value)
        else:
            base[key] = value
    return base


def make_config(**overrides) -> dict:
    """config.yaml with ``overrides`` (nested dicts merge), coerced and validated like a run's
    (snakemake.utils.validate fills the schema's defaults)."""
    from snakemake.utils import validate

    from higherhrnet.workflow.config import prepare

    config = merge(copy.deepcopy(yaml.safe_load((ROOT / "config.yaml").read_text())), overrides)
    prepare(config, yaml.safe_load(SCHEMA.read_text()))
    validate(config, str(SCHEMA))
    return config
