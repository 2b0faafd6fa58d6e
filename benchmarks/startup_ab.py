"""Start-up of two versions of vocalex, interleaved: is one slower than the other?

    git worktree add /tmp/vocalex-before <commit>
    python3 benchmarks/startup_ab.py /tmp/vocalex-before [--after .] [--repeat 25] [--only help,offline]

Each round runs every command once per tree, in a fresh process, the two trees in alternating order. A
tree's package is imported from its ``src/`` (``PYTHONPATH``) by this interpreter, so the installed
dependencies are the same for both. Two separate runs of benchmarks/bench_startup.py differ by several ms
on a 2-core VM for no reason in the code. So the comparison here is paired: the difference within each
round, its median, and a bootstrap 95 % interval of that median. An interval that spans zero shows no
difference this machine can see.

Commands: ``--help``, ``info``, ``separate`` of one MUSDB18 7-s clip offline and ``--mode stream``
(decoded to WAV once, not timed). ``--after-args`` adds options to the after tree's ``separate`` runs,
e.g. ``--edges zero`` to take a behaviour the before tree lacks out of the comparison. Both trees are
byte-compiled first, as pip leaves an install.
"""

from __future__ import annotations

import argparse
import compileall
import os
import random
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import add_data_option, machine, process_seconds, run_script

COMMANDS = ("help", "info", "offline", "stream")


def commands(clip: Path, out: Path) -> dict[str, list[str]]:
    separate = ["separate", str(clip), "-o", str(out), "--force", "-q"]
    return {"help": ["--help"], "info": ["info"], "offline": separate, "stream": separate + ["--mode", "stream"]}


def paired_median(diffs: list[float], draws: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """(median, low, high): the median paired difference and its bootstrap 95 % interval."""
    rng = random.Random(seed)
    medians = sorted(statistics.median(rng.choices(diffs, k=len(diffs))) for _ in range(draws))
    return statistics.median(diffs), medians[int(0.025 * draws)], medians[int(0.975 * draws) - 1]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("before", help="the checkout to compare against (its src/ is imported)")
    p.add_argument("--after", default=str(Path(__file__).resolve().parents[1]), help="the other checkout (default: this one)")
    p.add_argument("--repeat", type=int, default=25, help="rounds (default 25)")
    p.add_argument("--only", default=",".join(COMMANDS), help=f"comma-separated subset of {', '.join(COMMANDS)}")
    p.add_argument("--after-args", default="", help="options added to the after tree's separate runs")
    add_data_option(p)
    args = p.parse_args(argv)
    trees = {"before": Path(args.before).resolve() / "src", "after": Path(args.after).resolve() / "src"}
    for label, src in trees.items():
        if not (src / "vocalex").is_dir():
            raise SystemExit(f"startup_ab: {label}: no src/vocalex in {src.parent}")
        compileall.compile_dir(str(src / "vocalex"), quiet=1)
    stems = sorted((Path(args.data) / "train").glob("*.stem.mp4"))
    if not stems:
        raise SystemExit(f"startup_ab: no MUSDB18 clips in {Path(args.data) / 'train'}")
    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.2f} at start")
    with tempfile.TemporaryDirectory(prefix="vocalex-ab-") as tmp:
        clip = Path(tmp) / "clip.wav"
        subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(stems[0]), "-map", "0:a:0", str(clip)],
                       check=True)
        chosen = {name: cmd for name, cmd in commands(clip, Path(tmp) / "out").items() if name in args.only.split(",")}

        def run(label: str, name: str) -> float:
            extra = args.after_args.split() if label == "after" and chosen[name][0] == "separate" else []
            env = {**os.environ, "PYTHONPATH": str(trees[label])}
            return process_seconds([sys.executable, "-m", "vocalex.cli.main", *chosen[name], *extra], env=env)

        for name in chosen:
            for label in trees:
                run(label, name)  # warm: numba's cache, the session cache, the disk
            times = {label: [] for label in trees}
            for i in range(args.repeat):
                for label in (("before", "after") if i % 2 == 0 else ("after", "before")):
                    times[label].append(run(label, name))
            diffs = [a - b for a, b in zip(times["after"], times["before"])]
            mid, low, high = paired_median(diffs)
            before, after = (statistics.median(times[label]) for label in ("before", "after"))
            print(f"{name:8s} before {before:.3f} s  after {after:.3f} s  paired difference {1000 * mid:+.1f} ms "
                  f"(95 % interval {1000 * low:+.1f} .. {1000 * high:+.1f}; {args.repeat} rounds; "
                  f"load {os.getloadavg()[0]:.2f})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(run_script(main, "startup_ab"))
