"""What the doubles of atc and aoe share (tests/fakes/README.md); each behaviour cites its fact
in ../shared/ASCEND_TOOLS.md."""

import json
import os
import sys


def record_call(tool, args):
    if os.environ.get("FAKE_CALLS"):
        with open(os.environ["FAKE_CALLS"], "a") as fh:
            fh.write(json.dumps([tool, *args]) + "\n")


def require_cann(tool):
    # test contract: the tools are only found after sourcing set_env.sh
    if os.environ.get("FAKE_CANN_SOURCED") != "1":
        print(f"fake {tool}: CANN set_env.sh was not sourced", file=sys.stderr)
        sys.exit(4)


def check_expected(tool, var, args):
    """Exact argv check: $var holds one argv, or a list of the allowed argvs."""
    expected = os.environ.get(var)
    if expected is None:
        print(f"fake {tool}: {var} is not set; the test must say what argv to expect",
              file=sys.stderr)
        sys.exit(3)
    expected = json.loads(expected)
    allowed = expected if expected and isinstance(expected[0], list) else [expected]
    if args in allowed:
        return
    print(f"fake {tool}: unexpected arguments", file=sys.stderr)
    want = allowed[0]
    for i in range(max(len(args), len(want))):
        got = args[i] if i < len(args) else "<missing>"
        exp = want[i] if i < len(want) else "<missing>"
        if got != exp:
            print(f"  arg {i}: got {got!r}, expected {exp!r}", file=sys.stderr)
    sys.exit(3)


def options(args):
    return dict(a[2:].split("=", 1) for a in args if a.startswith("--") and "=" in a)


def om_path(prefix):
    """ASCEND_TOOLS.md, ATC: `--output=<prefix>` writes `<prefix>.om` or
    `<prefix>_<os>_<arch>.om`; FAKE_OM_OS_ARCH=linux_aarch64 selects the suffixed name."""
    suffix = os.environ.get("FAKE_OM_OS_ARCH")
    return f"{prefix}_{suffix}.om" if suffix else f"{prefix}.om"


def write_om(prefix, onnx, dims, note=""):
    """A fake .om: header `FAKEOM <dynamic_dims> [note]` + the ONNX bytes (the ais_bench double
    runs them with ONNX Runtime). Written with open(), i.e. mode 0o666 & ~umask like any tool."""
    with open(onnx, "rb") as fh:
        onnx_bytes = fh.read()
    path = om_path(prefix)
    with open(path, "wb") as fh:
        fh.write(f"FAKEOM {dims}{' ' + note if note else ''}\n".encode())
        fh.write(onnx_bytes)
    return path
