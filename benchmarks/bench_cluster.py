"""Catalogue throughput: `vocalex separate --jobs 2` (worker processes) against `vocalex batch` on a local Ray instance.

    python3 benchmarks/bench_cluster.py [--songs 8] [--clips-per-song 4] [--workers 2] [--data DIR]

Songs are made of MUSDB18 7-s preview mixtures (stream 0), --clips-per-song of them end to end, decoded to
WAV first (not timed). Each command runs once as a fresh process, as a user runs it, on the same files, with
the bundled model: its wall time gives files per minute and the real-time factor (seconds of audio per
second of wall time). The Ray run's overhead is stated two ways: its wall time minus the --jobs run's, and
the wall time of starting and stopping a bare local Ray instance of the same CPUs. Both runs must write
identical stems (checked, bit for bit). One run each: on a shared machine say so beside the numbers.

Writes benchmarks/results/bench_cluster.json.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import REPO, RESULTS, add_data_option, machine, process_seconds, write_json


def make_songs(data: Path, folder: Path, songs: int, per_song: int) -> float:
    """Write ``songs`` WAV songs into folder; returns their total seconds of audio."""
    import numpy as np
    import soundfile as sf

    clips = sorted(data.glob("**/*.stem.mp4"))
    if len(clips) < songs * per_song:
        raise SystemExit(f"{data}: {len(clips)} clips, {songs * per_song} needed")
    total = 0.0
    folder.mkdir(parents=True)
    for s in range(songs):
        parts = []
        for clip in clips[s * per_song:(s + 1) * per_song]:
            wav = folder.parent / "clip.wav"
            subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(clip), "-map", "0:a:0", str(wav)],
                           check=True)
            audio, rate = sf.read(wav, dtype="float32")
            parts.append(audio)
        song = np.concatenate(parts)
        sf.write(folder / f"song{s:02d}.wav", song, rate, subtype="FLOAT")
        total += len(song) / rate
    return total


def same_stems(a: Path, b: Path) -> bool:
    left = sorted(p.relative_to(a) for p in a.rglob("*.wav"))
    return left == sorted(p.relative_to(b) for p in b.rglob("*.wav")) and \
        all((a / p).read_bytes() == (b / p).read_bytes() for p in left)


def per_worker_speed(manifest: Path) -> float:
    """Seconds of audio over seconds taken, summed over the done files of a batch's manifest."""
    import json

    done = [json.loads(line) for line in manifest.read_text().splitlines() if '"status": "done"' in line]
    return sum(r["duration"] for r in done) / sum(r["seconds"] for r in done)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--songs", type=int, default=8)
    parser.add_argument("--clips-per-song", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2, help="--jobs of the local run, CPUs of the Ray instance")
    add_data_option(parser, "folder of MUSDB18 7-s previews (.stem.mp4)")
    args = parser.parse_args()

    env = dict(os.environ, PYTHONPATH=str(REPO / "src"), RAY_USAGE_STATS_ENABLED="0")
    vocalex = [sys.executable, "-m", "vocalex"]
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as tmp:
        tmp = Path(tmp)
        audio = make_songs(Path(args.data), tmp / "songs", args.songs, args.clips_per_song)
        print(f"{args.songs} songs, {audio:.0f} s of audio; {machine()}")
        runs = {
            f"separate --jobs {args.workers}": vocalex + ["separate", tmp / "songs", "-o", tmp / "local", "-q",
                                                         "--jobs", args.workers],
            f"batch (local Ray, {args.workers} CPUs, 1 per worker)": vocalex + [
                "batch", tmp / "songs", "-o", tmp / "ray", "-q", "--cpus", args.workers],
        }
        rows = {}
        for name, cmd in runs.items():
            wall = process_seconds([str(c) for c in cmd], env)
            rows[name] = {"wall_s": round(wall, 2), "files_per_min": round(args.songs / wall * 60, 2),
                          "realtime_factor": round(audio / wall, 2)}
            print(f"{name:40s} {wall:7.1f} s  {rows[name]['files_per_min']:6.1f} files/min  "
                  f"{rows[name]['realtime_factor']:5.1f}x real time")
        bare = process_seconds([sys.executable, "-c", "import logging, ray; ray.init(num_cpus=%d, include_dashboard=False, "
                      "logging_level=logging.WARNING); ray.shutdown()" % args.workers], env)
        local, ray_run = rows.values()
        identical = same_stems(tmp / "local" / "songs", tmp / "ray" / "songs")
        per_worker = per_worker_speed(tmp / "ray" / "vocalex-manifest.jsonl")
    overhead = ray_run["wall_s"] - local["wall_s"]
    print(f"Ray overhead: {overhead:+.1f} s over the --jobs run; a bare local Ray instance starts and stops in "
          f"{bare:.1f} s; stems identical: {'yes' if identical else 'NO'}")
    print(f"inside the Ray run, per 1-CPU worker: {per_worker:.1f}x real time (audio seconds over the seconds "
          "each file took, manifest): the throughput per core to expect once the cluster is up")
    write_json({"machine": machine(), "songs": args.songs, "audio_s": round(audio, 1),
                "command": "python3 benchmarks/bench_cluster.py " + " ".join(sys.argv[1:]), "runs": rows,
                "ray_overhead_s": round(overhead, 2), "bare_ray_start_stop_s": round(bare, 2),
                "identical_stems": identical,
                "ray_per_worker_realtime_factor": round(per_worker, 2)}, RESULTS / "bench_cluster.json")


if __name__ == "__main__":
    main()
