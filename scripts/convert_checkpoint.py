"""Re-save a trusted checkpoint that pickles Python objects as a plain state dict (tensors only).

    python scripts/convert_checkpoint.py --trust-checkpoint checkpoint.pth.tar weights.pth

A file that ``torch.load(weights_only=True)`` refuses (a training checkpoint holding its
arguments, a file written by pickle.dump) needs code execution to load: this loads it once,
with ``weights_only=False``, only when you say you trust its source, and writes its model
weights (the ``state_dict``, ``module.`` prefixes removed) to a new file that every stage
loads safely (weights.source: local, weights.path: the new file). The input is never changed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from higherhrnet.errors import WorkflowError, cli_main  # noqa: E402
from higherhrnet.model.checkpoint import convert_checkpoint  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", help="the pickled checkpoint (.pth / .pth.tar)")
    parser.add_argument("output", help="the plain state-dict .pth to write (a new file)")
    parser.add_argument("--trust-checkpoint", action="store_true",
                        help="required: you trust the file's source (loading it can run code)")
    args = parser.parse_args(argv)
    if not args.trust_checkpoint:
        raise WorkflowError(f"{args.checkpoint}: loading a pickled checkpoint can run any code "
                            "in it; pass --trust-checkpoint if you trust its source")
    count = convert_checkpoint(args.checkpoint, args.output)
    print(f"wrote {count} tensors of {args.checkpoint} to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    cli_main(main)
