"""Write the video's sampled frames with their predicted skeletons as an mp4 (fps / stride).

    python scripts/annotate_video.py --video V --predictions P --output out.mp4 \
        --drawings-dir D [--drawings N --frame-stride S --max-frames M]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from higherhrnet.errors import cli_main  # noqa: E402
from higherhrnet.files import read_json  # noqa: E402
from higherhrnet.data.video import annotate_video  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--video", required=True)
    p.add_argument("--predictions", required=True, help="predictions json (image_id = frame)")
    p.add_argument("--output", required=True, help="annotated .mp4")
    p.add_argument("--drawings-dir", "--drawings_dir", required=True,
                   help="folder for JPEGs of the first frames")
    p.add_argument("--drawings", type=int, default=4, help="how many frames as JPEG (4)")
    p.add_argument("--frame-stride", "--frame_stride", type=int, default=1)
    p.add_argument("--max-frames", "--max_frames", type=int, default=0)
    a = p.parse_args(argv)
    annotate_video(a.video, read_json(a.predictions, "predictions"), stride=a.frame_stride,
                   max_frames=a.max_frames, output=a.output, drawings_dir=a.drawings_dir,
                   drawings=a.drawings)
    return 0


if __name__ == "__main__":
    cli_main(main)
