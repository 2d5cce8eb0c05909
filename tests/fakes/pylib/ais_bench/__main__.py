"""Test double of `python3 -m ais_bench` (tests/fakes/README.md).

Each behaviour below names its fact in ../shared/ASCEND_TOOLS.md ("ais_bench"). Outputs are
real: the .om written by the fake atc/aoe carries the ONNX model, run here with ONNX Runtime.
"""

import argparse
import fcntl
import json
import os
import re
import stat
import sys
import time

import numpy as np

# fact "Path and permission rule" (A args_check.py, path_security_check.py)
ILLEGAL = re.compile(r"[^_A-Za-z0-9/.-]")
# fact "A folder given to --input" (T utils.py:26-41, A utils.py:77-94)
SUFFIXES = (".npy", ".NPY", ".bin", ".BIN")


def fail(msg: str, code: int = 3) -> None:
    print(f"fake ais_bench: {msg}", file=sys.stderr)
    sys.exit(code)


def refuse(flag: str, path: str, why: str) -> None:
    """fact "Path and permission rule": refused before anything runs, as an argparse error."""
    print(f"[ERROR] path: {path} {why}")
    print(f"ais_bench: error: argument {flag}: path:{path} is illegal. Please check.",
          file=sys.stderr)
    sys.exit(2)


def check_path(flag: str, path: str, write: bool = False) -> None:
    if ILLEGAL.search(path):
        refuse(flag, path, "contains illegal char, legal chars include A-Z a-z 0-9 _ - / .")
    if not os.path.exists(path):
        if write:
            return
        refuse(flag, path, "not exist")
    if os.path.islink(path):
        refuse(flag, path, "is a soft link, not supported")
    st = os.stat(path)
    if st.st_uid != os.geteuid() and st.st_gid not in os.getgroups():
        refuse(flag, path, "current user isn't the owner or in the owner group")
    if stat.S_IMODE(st.st_mode) & (stat.S_IWGRP | stat.S_IWOTH):
        refuse(flag, path, "is group writable, or is others writable, permission should not "
               "be over 0o755(rwxr-xr-x)")


def natural_key(name: str):
    """fact "A folder given to --input": natural sort order."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", name)]


def stats(values):
    """fact "Summary": min, max, mean, median, percentile(99%), count; zeros with count 0."""
    key = "percentile(99%)"
    if not values:
        return {"min": 0.0, "max": 0.0, "mean": 0.0, "median": 0.0, key: 0.0, "count": 0}
    a = np.asarray(values)
    return {"min": float(a.min()), "max": float(a.max()), "mean": float(a.mean()),
            "median": float(np.median(a)), key: float(np.percentile(a, 99)), "count": len(values)}


def parse(args):
    """fact "Flags"."""
    p = argparse.ArgumentParser(prog="ais_bench")
    p.add_argument("--model", required=True)
    p.add_argument("--input")
    p.add_argument("--output")
    p.add_argument("--output_dirname")
    p.add_argument("--outfmt", default="BIN", choices=["NPY", "BIN", "TXT"])
    p.add_argument("--loop", type=int, default=1)
    p.add_argument("--warmup_count", type=int, default=1)
    p.add_argument("--auto_set_dymdims_mode", type=lambda v: v in ("1", "true", "True"),
                   default=False)
    p.add_argument("--device", default="0")
    return p.parse_args(args)


def main() -> int:
    args = sys.argv[1:]
    if os.environ.get("FAKE_CALLS"):
        with open(os.environ["FAKE_CALLS"], "a") as fh:
            fh.write(json.dumps(["python3 -m ais_bench", *args]) + "\n")
    # fact "Entry": the tool runs as `python3 -m ais_bench`
    orig = getattr(sys, "orig_argv", [])
    if "-m" not in orig or orig[orig.index("-m") + 1] != "ais_bench":
        fail(f"not run as `python3 -m ais_bench` (interpreter argv {orig})")
    if os.environ.get("FAKE_CANN_SOURCED") != "1":  # test contract (README)
        fail("CANN set_env.sh was not sourced", 4)
    expected = os.environ.get("FAKE_AIS_BENCH_EXPECT")
    if expected is None:
        fail("FAKE_AIS_BENCH_EXPECT is not set; the test must say what argv to expect")
    expected = json.loads(expected)
    # one argv, or (several runs, e.g. a workflow's shards) a list of the allowed argvs
    allowed = expected if expected and isinstance(expected[0], list) else [expected]
    if args not in allowed:
        fail(f"unexpected arguments\n  got      {args}\n  expected one of {allowed}")

    a = parse(args)
    # fact "Path and permission rule": model, input (+ every entry), output; before running
    check_path("--model", a.model)
    check_path("--input", a.input)
    for root, dirs, files in os.walk(a.input):
        for name in sorted(dirs + files):
            check_path("--input", os.path.join(root, name))
    check_path("--output", a.output, write=True)
    if a.output_dirname and os.path.isabs(a.output_dirname):  # fact: absolute refused (:659)
        refuse("--output_dirname", a.output_dirname, "must be relative")
    if a.output_dirname and ILLEGAL.search(a.output_dirname):
        refuse("--output_dirname", a.output_dirname, "contains illegal char")
    # fact (Donau/Slurm section): --device is a logical index within ASCEND_RT_VISIBLE_DEVICES
    if "," in a.device:
        fail("--device lists are not implemented in this double")
    visible = [v for v in os.environ.get("ASCEND_RT_VISIBLE_DEVICES", "").split(",") if v]
    if visible and int(a.device) >= len(visible):
        print(f"[ERROR] acl.rt.set_device({a.device}) failed, ret[107001]: "
              f"ASCEND_RT_VISIBLE_DEVICES={','.join(visible)}")
        return 1
    if os.environ.get("FAKE_AIS_BENCH_FAIL") == "1":
        print("[ERROR] acl init failed, ret[507033] (fake failure)")
        return 1
    # test contract (README; not a fact about the real runtime): a device another running
    # process holds is refused, and every run records the device it ran on
    state = os.environ.get("FAKE_NPU_STATE")
    if state:
        # fact ("Devices of a node"): --device is an index into ASCEND_RT_VISIBLE_DEVICES
        physical = visible[int(a.device)] if visible else str(int(a.device))
        os.makedirs(state, exist_ok=True)
        held = os.open(os.path.join(state, f"npu{physical}.lock"), os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"[ERROR] fake ais_bench: device {a.device} (physical {physical}) is held by "
                  "another running process (test contract: two jobs on one device)")
            return 1
        started = time.time()
        time.sleep(float(os.environ.get("FAKE_AIS_BENCH_HOLD_S", "0")))

    with open(a.model, "rb") as fh:
        header = fh.readline().decode()
        onnx_bytes = fh.read()
    if not header.startswith("FAKEOM "):
        fail(f"{a.model} is not an om written by the fake atc/aoe", 1)
    gears = [tuple(int(v) for v in pair.split(",")) for pair in header.split()[1].split(";")]
    import onnxruntime as ort

    sess = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    print(f"[INFO] load model {a.model} success")
    # fact "A folder given to --input": only .npy/.NPY/.bin/.BIN, natural order; empty = error
    names = sorted((n for n in os.listdir(a.input) if n.endswith(SUFFIXES)
                    and os.path.isfile(os.path.join(a.input, n))), key=natural_key)
    if not names:
        print(f"[ERROR] input dir {a.input} has no .npy/.bin file")
        return 1
    files = [os.path.join(a.input, n) for n in names]
    prefix = os.path.join(a.output, a.output_dirname)
    os.makedirs(prefix, 0o750, exist_ok=True)
    os.chmod(a.output, 0o750)  # fact: A does os.chmod(output, 0o750) (benchmark_process:462)
    print(f"[INFO] output path:{prefix}")
    info = {"filesinfo": {}}
    compute = []
    skip = os.environ.get("FAKE_AIS_BENCH_SKIP")
    for sample_id, path in enumerate(files):
        if not path.endswith((".npy", ".NPY")):
            # fact "--auto_set_dymdims_mode 1": only .npy carries a shape
            if a.auto_set_dymdims_mode:
                print(f"[ERROR] {path}: auto_set_dymdims_mode needs .npy input files")
                return 1
            fail(".bin inputs are not implemented in this double")
        x = np.load(path)
        if a.auto_set_dymdims_mode:
            # fact "--auto_set_dymdims_mode 1": dims from the .npy shape, matched to the gears
            dims = tuple(x.shape[2:])
            print(f"[INFO] set dymdims: input:{','.join(map(str, x.shape))}")
            if dims not in gears:
                print("[ERROR] the dynamic_dims parameter is not correct, "
                      f"input:{','.join(map(str, x.shape))} not in {gears}")
                print("Traceback (most recent call last):\n  File \"ais_bench/infer/"
                      "__main__.py\", in <module>\nRuntimeError: [-1]")
                return 1
        feed = {sess.get_inputs()[0].name: x}
        for _ in range(a.warmup_count if sample_id == 0 else 0):  # fact: warm-up not counted
            sess.run(None, feed)
        for _ in range(a.loop):
            t0 = time.perf_counter()
            outs = sess.run(None, feed)
            compute.append((time.perf_counter() - t0) * 1000)
        # fact "Outputs": basename.split('.')[0] + _<i> + lower-case outfmt, in <output>/<dirname>
        stem = os.path.basename(path).split(".")[0]
        entry = info["filesinfo"][sample_id] = {"infiles": [path], "outfiles": []}
        for i, out in enumerate(outs):
            out_path = os.path.join(prefix, f"{stem}_{i}.{a.outfmt.lower()}")
            if skip == stem and i == 1:
                continue
            np.save(out_path, out)
            entry["outfiles"].append(out_path)
    # fact "Summary": keys, H2D/D2H zeros with count 0, throughput = 1000 * batch / mean ms
    info["args"] = sys.argv
    info["NPU_compute_time"] = stats(compute)
    info["H2D_latency"] = stats([])
    info["D2H_latency"] = stats([])
    mean = info["NPU_compute_time"]["mean"]
    info["throughput"] = 1000 * 1 / mean if mean else 0
    info["npu_compute_time_list"] = compute
    info["pid"] = os.getpid()
    print("[INFO] -----------------Performance Summary------------------")
    print(f"[INFO] NPU_compute_time (ms): mean = {mean}")
    print(f"[INFO] throughput 1000*batchsize.mean(1)/NPU_compute_time.mean({mean}): "
          f"{info['throughput']}")
    with open(prefix + "_summary.json", "w") as fh:  # fact: <output>/<output_dirname>_summary
        json.dump(info, fh)
    if state:  # test contract: the device this run held, and when
        with open(os.path.join(state, "runs.jsonl"), "a") as fh:
            fh.write(json.dumps({"device": int(a.device), "physical": physical,
                                 "output": prefix, "pid": os.getpid(), "start": started,
                                 "end": time.time()}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
