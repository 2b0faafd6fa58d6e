"""The README's spectrogram figure: mixture / vocals / accompaniment / mask for the demo song.

    python3 benchmarks/plot_demo.py [--model M.onnx] [--seconds 10] [--max-hz 16000]

Runs ``vocalex plot`` on the bundled demo song; writes benchmarks/results/demo_spectrogram.png.
"""

from __future__ import annotations

import argparse
import sys

from _common import DEMO_SONG, RESULTS


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=None)
    p.add_argument("--seconds", default="10")
    p.add_argument("--start", default="0")
    p.add_argument("--max-hz", default="16000")
    args = p.parse_args(argv)

    from vocalex.cli.main import main as vocalex

    RESULTS.mkdir(parents=True, exist_ok=True)
    cmd = ["plot", str(DEMO_SONG), "-o", str(RESULTS / "demo_spectrogram.png"), "--force",
           "--seconds", args.seconds, "--start", args.start, "--max-hz", args.max_hz]
    if args.model:
        cmd += ["--model", args.model]
    return vocalex(cmd)


if __name__ == "__main__":
    sys.exit(main())
