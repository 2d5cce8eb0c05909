"""Test double of `python3 -m ais_bench` (tests/fakes/README.md).

Checks the exact argument vector, then does what the real tool does with
`--outfmt NPY --auto_set_dymdims_mode 1`: one inference per input file (its shape picks the
compiled dims), outputs `<stem>_<i>.npy` in `<output>/<output_dirname>/` and the summary
`<output>/<output_dirname>_summary.json` with ais_bench's keys. Outputs are real: the .om
written by the fake atc carries the ONNX model, run here with ONNX Runtime.
"""

import argparse
import json
import os
import sys
import time

import numpy as np


def fail(msg: str, code: int = 3) -> None:
    print(f"fake ais_bench: {msg}", file=sys.stderr)
    sys.exit(code)


def stats(values):
    key = "percentile(99%)"
    if not values:
        return {"min": 0.0, "max": 0.0, "mean": 0.0, "median": 0.0, key: 0.0, "count": 0}
    a = np.asarray(values)
    return {"min": float(a.min()), "max": float(a.max()), "mean": float(a.mean()),
            "median": float(np.median(a)), key: float(np.percentile(a, 99)), "count": len(values)}


def main() -> int:
    args = sys.argv[1:]
    if os.environ.get("FAKE_CALLS"):
        with open(os.environ["FAKE_CALLS"], "a") as fh:
            fh.write(json.dumps(["python3 -m ais_bench", *args]) + "\n")
    orig = getattr(sys, "orig_argv", [])
    if "-m" not in orig or orig[orig.index("-m") + 1] != "ais_bench":
        fail(f"not run as `python3 -m ais_bench` (interpreter argv {orig})")
    if os.environ.get("FAKE_CANN_SOURCED") != "1":
        fail("CANN set_env.sh was not sourced", 4)
    expected = os.environ.get("FAKE_AIS_BENCH_EXPECT")
    if expected is None:
        fail("FAKE_AIS_BENCH_EXPECT is not set; the test must say what argv to expect")
    expected = json.loads(expected)
    # one argv, or (several runs, e.g. a workflow's shards) a list of the allowed argvs
    allowed = expected if expected and isinstance(expected[0], list) else [expected]
    if args not in allowed:
        fail(f"unexpected arguments\n  got      {args}\n  expected one of {allowed}")

    p = argparse.ArgumentParser(prog="ais_bench")
    p.add_argument("--model", required=True)
    p.add_argument("--input")
    p.add_argument("--output")
    p.add_argument("--output_dirname")
    p.add_argument("--outfmt", default="BIN", choices=["NPY", "BIN", "TXT"])
    p.add_argument("--auto_set_dymdims_mode", type=int, default=0)
    p.add_argument("--device", type=int, default=0)
    a = p.parse_args(args)
    if os.environ.get("FAKE_AIS_BENCH_FAIL") == "1":
        print("[ERROR] acl init failed, ret[507033] (fake failure)")
        return 1

    with open(a.model, "rb") as fh:
        header = fh.readline().decode()
        onnx_bytes = fh.read()
    if not header.startswith("FAKEOM "):
        fail(f"{a.model} is not an om written by the fake atc", 1)
    dims = {tuple(int(v) for v in pair.split(",")) for pair in header.split()[1].split(";")}
    import onnxruntime as ort

    sess = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    print(f"[INFO] load model {a.model} success")
    prefix = os.path.join(a.output, a.output_dirname)
    os.makedirs(prefix, 0o755, exist_ok=True)
    print(f"[INFO] output path:{prefix}")
    files = sorted(os.path.join(a.input, f) for f in os.listdir(a.input))
    info = {"filesinfo": {}}
    compute = []
    skip = os.environ.get("FAKE_AIS_BENCH_SKIP")
    for sample_id, path in enumerate(files):
        x = np.load(path)
        if tuple(x.shape[2:]) not in dims:
            print(f"[ERROR] dymdims {list(x.shape)} not in the model's dynamic dims")
            return 1
        t0 = time.perf_counter()
        outs = sess.run(None, {sess.get_inputs()[0].name: x})
        compute.append((time.perf_counter() - t0) * 1000)
        stem = os.path.basename(path).split(".")[0]
        entry = info["filesinfo"][sample_id] = {"infiles": [path], "outfiles": []}
        for i, out in enumerate(outs):
            out_path = os.path.join(prefix, f"{stem}_{i}.{a.outfmt.lower()}")
            if skip == stem and i == 1:
                continue
            np.save(out_path, out)
            entry["outfiles"].append(out_path)
    info["args"] = sys.argv
    info["NPU_compute_time"] = stats(compute)
    info["H2D_latency"] = stats([0.5] * len(compute))
    info["D2H_latency"] = stats([0.7] * len(compute))
    mean = info["NPU_compute_time"]["mean"]
    info["throughput"] = 1000 * 1 / mean if mean else 0
    info["npu_compute_time_list"] = compute
    info["pid"] = os.getpid()
    print("[INFO] -----------------Performance Summary------------------")
    print(f"[INFO] NPU_compute_time (ms): mean = {mean}")
    print(f"[INFO] throughput 1000*batchsize.mean(1)/NPU_compute_time.mean({mean}): "
          f"{info['throughput']}")
    with open(prefix + "_summary.json", "w") as fh:
        json.dump(info, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
