"""Download one file, resumably, verifying size and md5 before it appears under its name.

    python scripts/download.py --url http://images.cocodataset.org/zips/val2017.zip \
        --output resources/val2017.zip --size 815585330 --md5 442b8da7639aecaf257c1dceb8ba8c80
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from higherhrnet.data.download import download, verify_state_dict  # noqa: E402
from higherhrnet.errors import cli_main  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", required=True)
    p.add_argument("--output", required=True, help="final file; bytes go to <output>.part first")
    p.add_argument("--md5", help="expected md5 (hex)")
    p.add_argument("--size", type=int, help="expected size in bytes")
    p.add_argument("--check-state-dict", "--check_state_dict", dest="check_state_dict",
                   action="store_true",
                   help="also require that the file loads as a HigherHRNet-W32 torch state_dict "
                        "(for the weights, which have no published md5)")
    p.add_argument("--update", action="store_true",
                   help="an existing --output that fails the md5 (or has none to pass) is "
                        "replaced, but only once the new download is verified")
    p.add_argument("--timeout", type=float, default=60.0, help="socket timeout in seconds")
    args = p.parse_args(argv)
    verify = (lambda path: verify_state_dict(path)) if args.check_state_dict else None
    out = download(args.url, args.output, size=args.size, md5=args.md5, verify=verify,
                   timeout=args.timeout, update=args.update)
    print(f"download: {out} ok", file=sys.stderr)
    return 0


if __name__ == "__main__":
    cli_main(main)
