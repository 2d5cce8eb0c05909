"""conda cannot be installed here: check that envs/*.yaml parse and agree with requirements.txt.

envs/ascend.yaml follows CANN instead where CANN constrains a package (numpy < 2 ...).
"""

import re

import pytest
import yaml
from packaging.specifiers import SpecifierSet
from packaging.version import Version

# CANN 8.x's Python requirements (CANN doc instg_0045; ../shared/ASCEND_TOOLS.md "ATC"), for
# Python < 3.13. ATC's operator compilation runs `python3` from PATH: the compile rule's env.
CANN_PYTHON = SpecifierSet("<3.13")
CANN_REQUIREMENTS = {
    "numpy": SpecifierSet(">=1.19.2,<2.0"), "decorator": SpecifierSet(),
    "sympy": SpecifierSet(), "cffi": SpecifierSet(), "protobuf": SpecifierSet("==3.20.*"),
    "attrs": SpecifierSet(), "cython": SpecifierSet(), "pyyaml": SpecifierSet(),
    "pathlib2": SpecifierSet(), "scipy": SpecifierSet(), "requests": SpecifierSet(),
    "psutil": SpecifierSet(), "absl-py": SpecifierSet(),
}
CANN_ENVS = ("ascend",)
# the GPU stack is not in requirements.txt (the CPU install): envs/gpu.yaml holds the
# pyproject gpu extra's pins (tests/unit/workflow/test_gpu_config.py)
GPU_ENVS = ("gpu",)

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
            if path.stem in CANN_ENVS and name in CANN_REQUIREMENTS:
                continue  # CANN's rule, checked by test_ascend_env_satisfies_cann
            if path.stem in GPU_ENVS and name not in required:
                continue
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


def env_pins(path):
    env = yaml.safe_load(path.read_text())
    python = next(str(d).split("=", 1)[1] for d in env["dependencies"]
                  if str(d).startswith("python="))
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    return python, pins(pip)


def cann_problems(python, env):
    problems = [] if Version(python) in CANN_PYTHON else [f"python {python} (CANN: <3.13)"]
    for name, spec in CANN_REQUIREMENTS.items():
        if name not in env:
            problems.append(f"{name} missing")
        elif Version(env[name]) not in spec:
            problems.append(f"{name}=={env[name]} (CANN: {spec})")
    return problems


def test_ascend_env_satisfies_cann(root):
    """The compile/infer env on the NPU node meets CANN's list; the other stages keep theirs."""
    python, env = env_pins(root / "envs" / "ascend.yaml")
    assert cann_problems(python, env) == []
    # the check would have caught the old env (python 3.11, numpy 2.4.6, onnx 1.23.2 only)
    assert "numpy==2.4.6 (CANN: <2.0,>=1.19.2)" in cann_problems("3.11", {"numpy": "2.4.6"})
    # CANN's pins stay out of the other stages (numpy 2 there, as requirements.txt)
    _, ort = env_pins(root / "envs" / "onnxruntime.yaml")
    assert Version(ort["numpy"]).major == 2
