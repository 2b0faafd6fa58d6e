"""Build a teacher cache for distillation (vocalex.training.teacher): the hq model's vocals on every mixture at hand.

    nice python3 scripts/teacher_cache.py --out /work/distil-data/teacher \\
        --musdb ../shared/data/musdb18-7s --dev-every 8 --remixes 200 \\
        --instrumental DIR_OF_VOCAL_FREE_MUSIC --songs DIR_OF_FRETSONFIRE_SONGS --mir1k ../shared/data/mir1k --mir1k-clips 200

Entries, all at 44.1 kHz stereo, teacher = `vocalex models build hq` (512-frame offline windows):

* ``musdb-*``: the real mixtures (sum of the stems) of the MUSDB18 TRAINING clips, less a dev split
  (every ``--dev-every``-th training clip by name, written to OUT/dev.txt, for choosing settings on
  clips that are neither trained on nor the 14 validation clips); true vocals kept.
* ``remix-*``: vocals of one training clip + accompaniment of another, gains -9..+3 dB each; true vocals kept.
* ``instr-*``: training-clip vocals over a crop of vocal-free instrumental music (``--instrumental``); true vocals kept.
* ``song-*`` / ``songvox-*``: crops of multitrack songs whose stems may hold voices (Fret's on Fire songs:
  ``song.ogg`` + ``guitar.ogg`` summed), alone and with training-clip vocals on top: no true vocals,
  the teacher's are the only label.
* ``mir1k-*``: MIR-1K mixtures (16 kHz mono, resampled, as two equal channels); true vocals kept.

A stopped run resumes (entries already there are kept). The validation clips of data/splits.py are
never read (``open_dataset(split="train")``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

RATE = 44100


def _stereo(x: np.ndarray) -> np.ndarray:
    return np.repeat(x, 2, axis=1) if x.shape[1] == 1 else x[:, :2]


def _db(rng, lo=-9.0, hi=3.0) -> np.float32:
    return np.float32(10 ** (rng.uniform(lo, hi) / 20))


def _fit(x: np.ndarray, n: int) -> np.ndarray:
    return x[:n] if len(x) >= n else np.concatenate([x, np.zeros((n - len(x), x.shape[1]), x.dtype)])


def _limit(mix: np.ndarray, *stems):
    peak = float(np.max(np.abs(mix)))
    s = np.float32(1.0 / peak) if peak > 1.0 else np.float32(1.0)
    return (mix * s, *(v * s if v is not None else None for v in stems))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--musdb", required=True, help="MUSDB18 7-s previews folder (its training split is used)")
    p.add_argument("--dev-every", type=int, default=8, help="hold every k-th training clip out as the dev split")
    p.add_argument("--remixes", type=int, default=200)
    p.add_argument("--instrumental", nargs="*", default=[], help="vocal-free music files or folders")
    p.add_argument("--instrumental-mixes", type=int, default=100)
    p.add_argument("--songs", nargs="*", default=[], help="folders of song.ogg + guitar.ogg (Fret's on Fire songs)")
    p.add_argument("--song-crops", type=int, default=40, help="crops per kind (song alone / song + vocals)")
    p.add_argument("--mir1k", default=None)
    p.add_argument("--mir1k-clips", type=int, default=200)
    p.add_argument("--seconds", type=float, default=8.0, help="crop length for long material")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args(argv)

    from vocalex.data.datasets import decode_audio, open_dataset, resample
    from vocalex.base.suffixes import list_audio_files
    from vocalex.training.cache import cached_file, cached_track
    from vocalex.training.teacher import TeacherCache

    rng = np.random.default_rng(args.seed)
    cache = TeacherCache(args.out, threads=args.threads)
    t0 = time.time()

    def log(msg):
        print(f"[{time.time() - t0:6.0f} s] {msg}", file=sys.stderr, flush=True)

    tracks = sorted(open_dataset(args.musdb, split="train").tracks, key=lambda t: t.name)
    dev = {t.name for t in tracks[:: args.dev_every]}
    (Path(args.out) / "dev.txt").write_text("".join(n + "\n" for n in sorted(dev)))
    train = [t for t in tracks if t.name not in dev]
    stems = {t.name: {k: _stereo(v.astype(np.float32)) for k, v in cached_track(t, RATE).items()} for t in train}
    names = [t.name for t in train]
    musdb_lic = "MUSDB18: academic / non-commercial use only"
    log(f"{len(train)} training clips, {len(dev)} dev clips held out: {sorted(dev)}")

    for i, n in enumerate(names):
        v, a = stems[n]["vocals"], stems[n]["accompaniment"]
        cache.add(f"musdb-{i:03d}", v + a, v, source="musdb real mixture", tracks=[n], licence=musdb_lic)
    log(f"musdb real: {len(names)}")

    for k in range(args.remixes):
        i, j = rng.choice(len(names), 2, replace=False)
        v = stems[names[i]]["vocals"] * _db(rng)
        a = stems[names[j]]["accompaniment"] * _db(rng)
        n = min(len(v), len(a))
        mix, v = _limit(v[:n] + a[:n], v[:n])
        cache.add(f"remix-{k:04d}", mix, v, source="musdb remix", tracks=[names[i], names[j]], licence=musdb_lic)
    log(f"remixes: {args.remixes}")

    def crops(files, count):
        audio = [(f, _stereo(cached_file(f, RATE).astype(np.float32))) for f in files]
        length = int(args.seconds * RATE)
        for k in range(count):
            f, x = audio[rng.integers(len(audio))]
            s = int(rng.integers(0, max(1, len(x) - length)))
            yield k, f, _fit(x[s: s + length], length)

    instr = [f for p in args.instrumental for f in (list_audio_files(p)[0] if Path(p).is_dir() else [Path(p)])]
    if instr:
        for k, f, a in crops(instr, args.instrumental_mixes):
            i = int(rng.integers(len(names)))
            v = _fit(stems[names[i]]["vocals"], len(a)) * _db(rng)
            mix, v = _limit(v + a * _db(rng), v)
            cache.add(f"instr-{k:04d}", mix, v, source=f"instrumental {f.name} + musdb vocals", tracks=[names[i]],
                      licence=f"{musdb_lic}; instrumental: see its package")
        log(f"instrumental mixes: {args.instrumental_mixes} over {len(instr)} files")

    if args.songs:
        folders = sorted({g.parent for s in args.songs for g in Path(s).rglob("guitar.ogg")})
        mixed = []
        for d in folders:  # one file per song: its parts summed at their own rate
            parts = [decode_audio(f) for f in (d / "song.ogg", d / "guitar.ogg")]
            parts = [_stereo(resample(x, r, RATE).astype(np.float32)) for x, r in parts]
            n = min(len(x) for x in parts)
            out = Path(args.out) / "songs" / f"{d.name}.npy"
            out.parent.mkdir(exist_ok=True)
            np.save(out, sum(x[:n] for x in parts).astype(np.float32))
            mixed.append(out)
        length = int(args.seconds * RATE)
        arrays = [(f, np.load(f, mmap_mode="r")) for f in mixed]
        for k in range(args.song_crops):
            for prefix in ("song", "songvox"):
                f, x = arrays[rng.integers(len(arrays))]
                s = int(rng.integers(0, max(1, len(x) - length)))
                a = _fit(np.asarray(x[s: s + length]), length)
                if prefix == "song":
                    cache.add(f"song-{k:04d}", _limit(a * _db(rng, -6, 0))[0], None, source=f"Fret's on Fire song {f.stem}",
                              tracks=[], licence="see the fretsonfire-songs-* Debian package")
                else:
                    i = int(rng.integers(len(names)))
                    v = _fit(stems[names[i]]["vocals"], length) * _db(rng)
                    cache.add(f"songvox-{k:04d}", _limit(v + a * _db(rng))[0], None,
                              source=f"Fret's on Fire song {f.stem} + musdb vocals", tracks=[names[i]],
                              licence=f"{musdb_lic}; song: see the fretsonfire-songs-* Debian package")
        log(f"song crops: {args.song_crops} x 2 over {len(folders)} songs")

    if args.mir1k:
        mir = open_dataset(args.mir1k).tracks
        pick = rng.choice(len(mir), min(args.mir1k_clips, len(mir)), replace=False)
        for k, idx in enumerate(pick):
            t = mir[int(idx)]
            s = cached_track(t, RATE)
            v, a = _stereo(s["vocals"].astype(np.float32)), _stereo(s["accompaniment"].astype(np.float32))
            n = min(len(v), len(a))
            g = _db(rng, -6, 0)
            mix, v = _limit((v[:n] + a[:n]) * g, v[:n] * g)
            cache.add(f"mir1k-{k:04d}", mix, v, source=f"MIR-1K {t.name}", tracks=[], licence="MIR-1K: research use")
            if k % 50 == 49:
                log(f"mir1k: {k + 1}")
        log(f"mir1k: {len(pick)}")
    log(f"done: {len(cache.manifest['entries'])} entries in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
