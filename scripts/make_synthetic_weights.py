"""Write the deterministic synthetic (UNTRAINED) HigherHRNet weights as a .pth.

    python scripts/make_synthetic_weights.py --output synthetic_untrained_higherhrnet_w32_512.pth \
        [--variant w32_512|w32_640|w48_640]

The rule is ../shared/reference/SYNTHETIC_WEIGHTS.md. The file loads like the official
checkpoint, so the whole workflow runs offline, but its keypoints are noise.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from higherhrnet.errors import cli_main  # noqa: E402
from higherhrnet.model.variants import DEFAULT_VARIANT, VARIANTS  # noqa: E402
from higherhrnet.model.synthetic_weights import DEFAULT_FILE_NAME, write_synthetic_weights  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", "-o", default=DEFAULT_FILE_NAME,
                        help=f"output .pth, or a folder for {DEFAULT_FILE_NAME} "
                        f"(default ./{DEFAULT_FILE_NAME})")
    parser.add_argument("--variant", choices=sorted(VARIANTS), default=DEFAULT_VARIANT,
                        help="the network whose layout the weights fill (default %(default)s)")
    args = parser.parse_args(argv)
    write_synthetic_weights(args.output, args.variant)
    return 0


if __name__ == "__main__":
    cli_main(main)
