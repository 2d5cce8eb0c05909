"""conda cannot be installed here: check that envs/*.yaml parse and agree with requirements.txt."""

import re

import pytest
import yaml

PIN = re.compile(r"^([A-Za-z0-9_.\-]+)(\[[a-z,]+\])?==([^\s;]+)")


def pins(lines):
    out = {}
    for line in lines:
        m = PIN.match(line.strip())
        if m:
            out[m.group(1).lower()] = m.group(3)
    return out


@pytest.fixture(scope="module")
def required(root):
    return pins((root / "requirements.txt").read_text().splitlines())


def env_files(root):
    return sorted((root / "envs").glob("*.yaml"))


def test_every_rule_env_exists(root):
    rules = "\n".join(p.read_text() for p in (root / "rules").glob("*.smk"))
    named = set(re.findall(r'"\.\./envs/([a-z_]+)\.yaml"', rules))
    named |= {f"{b}" for b in ("onnxruntime", "torch", "ascend")}  # envs/{BACKEND}.yaml
    have = {p.stem for p in env_files(root)}
    assert named <= have, f"rules name env files that do not exist: {sorted(named - have)}"


def test_envs_parse_and_agree_with_requirements(root, required):
    files = env_files(root)
    assert len(files) >= 6
    for path in files:
        env = yaml.safe_load(path.read_text())
        assert isinstance(env, dict), path
        assert env.get("channels") and "defaults" not in env["channels"], path
        deps = env["dependencies"]
        assert any(str(d).startswith("python=") for d in deps), f"{path}: no python pin"
        pip = [d["pip"] for d in deps if isinstance(d, dict) and "pip" in d]
        assert pip, f"{path}: no pip section"
        env_pins = pins(pip[0])
        assert env_pins, f"{path}: no pinned packages"
        for name, version in env_pins.items():
            assert name in required, f"{path}: {name} is not pinned in requirements.txt"
            assert version == required[name], (
                f"{path}: {name}=={version} but requirements.txt pins {required[name]}")
        for line in pip[0]:
            if not line.startswith("--"):
                assert PIN.match(line), f"{path}: unpinned pip requirement {line!r}"


def test_requirements_match_installed(required):
    """The pins are what the tests run with (catches a stale requirements.txt)."""
    from importlib.metadata import PackageNotFoundError, version

    for name, pinned in required.items():
        try:
            got = version(name)
        except PackageNotFoundError:
            pytest.fail(f"{name} is pinned in requirements.txt but not installed")
        assert got.split("+")[0] == pinned, f"{name}: installed {got}, pinned {pinned}"
