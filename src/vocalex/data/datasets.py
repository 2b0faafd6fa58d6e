"""Multitrack datasets in the layouts users have, read without torch.

``open_dataset(path, split=None)`` detects the layout:

* MUSDB18: ``*.stem.mp4`` files (anywhere below ``path``); audio streams
  0 mixture, 1 drums, 2 bass, 3 other, 4 vocals, decoded with ffmpeg.
* MUSDB18-HQ: one folder per track holding mixture/drums/bass/other/vocals.wav.
* DSD100: ``Mixtures/{Dev,Test}/<track>/mixture.wav`` and
  ``Sources/{Dev,Test}/<track>/{vocals,bass,drums,other}.wav``.
* A plain folder of stems: one folder per track with ``vocals.*`` and either
  ``accompaniment.*`` or any other stems (summed into the accompaniment).

Every layout yields the same :class:`Track`: ``load()`` returns vocals,
accompaniment and the mixture as their SUM (never a stored mixture, which for
MUSDB18 is an AAC re-encode 22-30 dB away from the stem sum), so remixing
stems across tracks stays exact. Used by training (through the cache) and by
``vocalex eval``.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vocalex.base.errors import AudioInputError, UsageError
from vocalex.base.suffixes import list_audio_files

from .splits import SPLITS, in_split

MUSDB_STREAMS = {"drums": 1, "bass": 2, "other": 3, "vocals": 4}
MUSDB_STEMS = ("drums", "bass", "other", "vocals")
DSD_SUBSETS = ("Dev", "Test")


def decode_audio(path: str | Path, stream: int | None = None) -> tuple[np.ndarray, int]:
    """Decode a file to float32 (frames, channels) at its own rate.

    ``stream`` picks an audio stream of a multi-stream file (MUSDB18 .stem.mp4)
    and always goes through ffmpeg; plain files try soundfile first.
    """
    path = Path(path)
    if not path.is_file():
        raise AudioInputError(f"audio file not found: {path}")
    if stream is None:
        import soundfile as sf

        try:
            data, rate = sf.read(str(path), dtype="float32", always_2d=True)
            return data, int(rate)
        except Exception:
            pass  # a format libsndfile lacks (mp3 on old builds, m4a, ...): ffmpeg below
    return _ffmpeg_decode(path, stream or 0)


def _ffmpeg_probe(path: Path, stream: int) -> tuple[int, int]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", f"a:{stream}", "-show_entries", "stream=sample_rate,channels",
         "-of", "csv=p=0", str(path)],
        capture_output=True, text=True,
    )
    fields_ = out.stdout.strip().split(",")
    if out.returncode != 0 or len(fields_) < 2:
        raise AudioInputError(f"{path}: no audio stream {stream} (ffprobe: {out.stderr.strip()[:200] or 'none found'})")
    rate, channels = int(fields_[0]), int(fields_[1])
    return rate, channels


def _ffmpeg_decode(path: Path, stream: int) -> tuple[np.ndarray, int]:
    if shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None:
        raise AudioInputError(f"decoding {path.name} needs ffmpeg, which is not installed (apt-get install ffmpeg)")
    rate, channels = _ffmpeg_probe(path, stream)
    out = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-map", f"0:a:{stream}", "-f", "f32le",
         "-acodec", "pcm_f32le", "-"],
        capture_output=True,
    )
    if out.returncode != 0:
        raise AudioInputError(f"ffmpeg cannot decode stream {stream} of {path}: {out.stderr.decode(errors='replace').strip()[:200]}")
    data = np.frombuffer(out.stdout, dtype=np.float32)
    if data.size == 0:
        raise AudioInputError(f"{path}: stream {stream} holds no samples")
    return data.reshape(-1, channels).copy(), rate


def resample(audio: np.ndarray, rate: int, target: int | None) -> np.ndarray:
    """audio (frames, channels) float32 at ``rate`` -> (frames', channels) at ``target`` (None = unchanged)."""
    if target is None or target == rate:
        return audio
    import soxr

    return soxr.resample(audio, rate, target, quality="HQ").astype(np.float32, copy=False)


def _match(stems: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Trim stems to the shortest and broadcast mono to the widest channel count."""
    n = min(a.shape[0] for a in stems.values())
    ch = max(a.shape[1] for a in stems.values())
    out = {}
    for name, a in stems.items():
        a = a[:n]
        if a.shape[1] != ch:
            if a.shape[1] != 1:
                raise AudioInputError(f"stem {name!r} has {a.shape[1]} channels, others {ch}: cannot combine")
            a = np.repeat(a, ch, axis=1)
        out[name] = a
    return out


@dataclass
class Track:
    """One multitrack song. ``sources`` maps a stem name to (file, stream or None)."""

    name: str
    sources: dict[str, tuple[Path, int | None]]
    layout: str

    @property
    def files(self) -> list[Path]:
        return sorted({f for f, _ in self.sources.values()})

    def load(self, sample_rate: int | None = None) -> dict[str, np.ndarray]:
        """Decode the stems -> {"vocals", "accompaniment", "mixture"}: float32 (frames, channels).

        The accompaniment is the sum of every non-vocal stem; the mixture is
        vocals + accompaniment. ``sample_rate`` resamples (None = the files' rate,
        which must then agree between stems).
        """
        decoded, rates = {}, set()
        for stem, (f, stream) in self.sources.items():
            audio, rate = decode_audio(f, stream)
            rates.add(rate)
            decoded[stem] = resample(audio, rate, sample_rate)
        if sample_rate is None and len(rates) > 1:
            raise AudioInputError(f"track {self.name!r}: stems have different rates {sorted(rates)}; pass sample_rate")
        decoded = _match(decoded)
        vocals = decoded.pop("vocals")
        accompaniment = np.sum(list(decoded.values()), axis=0, dtype=np.float32) if decoded else np.zeros_like(vocals)
        return {"vocals": vocals, "accompaniment": accompaniment, "mixture": vocals + accompaniment}

    def rate(self) -> int:
        """The native rate of the vocal stem (ffprobe or soundfile header; no decode)."""
        f, stream = self.sources["vocals"]
        if stream is not None:
            return _ffmpeg_probe(f, stream)[0]
        import soundfile as sf

        try:
            return int(sf.info(str(f)).samplerate)
        except Exception:
            return _ffmpeg_probe(f, 0)[0]


@dataclass
class Dataset:
    root: Path
    layout: str
    tracks: list[Track] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.tracks)

    def __repr__(self) -> str:
        return f"Dataset({str(self.root)!r}, layout={self.layout!r}, tracks={len(self.tracks)})"


def _audio_files(folder: Path) -> list[Path]:
    return list_audio_files(folder, recursive=False)[0]


def _musdb_tracks(root: Path, split: str | None) -> list[Track]:
    files = sorted(root.rglob("*.stem.mp4"))
    if split == "test":
        files = [f for f in files if "test" in (p.lower() for p in f.relative_to(root).parts[:-1])]
    elif split in ("train", "valid") and any(f.parent.name.lower() == "train" for f in files):
        files = [f for f in files if f.parent.name.lower() != "test"]
    tracks = []
    for f in files:
        name = f.name[: -len(".stem.mp4")]
        tracks.append(Track(name, {s: (f, MUSDB_STREAMS[s]) for s in MUSDB_STEMS}, "musdb18"))
    return tracks


def _stem_folder_track(folder: Path, layout: str) -> Track | None:
    """A folder with vocals.* plus accompaniment.* or other stems; None if it is not one."""
    files = {p.stem.lower(): p for p in _audio_files(folder)}
    if "vocals" not in files:
        return None
    files.pop("mixture", None)  # stems are summed; a stored mixture is never used
    if "accompaniment" in files:
        sources = {"vocals": files["vocals"], "accompaniment": files["accompaniment"]}
    else:
        sources = files
    if len(sources) < 2:
        return None
    return Track(folder.name, {k: (v, None) for k, v in sources.items()}, layout)


def _dsd_tracks(root: Path, split: str | None) -> list[Track]:
    subsets = DSD_SUBSETS
    if split in ("dev", "test"):
        subsets = (split.capitalize(),)
    tracks = []
    for subset in subsets:
        base = root / "Sources" / subset
        if not base.is_dir():
            continue
        for folder in sorted(p for p in base.iterdir() if p.is_dir()):
            t = _stem_folder_track(folder, "dsd100")
            if t is not None:
                tracks.append(t)
    return tracks


def _folder_tracks(root: Path, layout: str) -> list[Track]:
    tracks = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        t = _stem_folder_track(folder, layout)
        if t is not None:
            tracks.append(t)
    return tracks


def detect_layout(root: Path) -> str:
    """'musdb18', 'dsd100', 'musdb18hq' or 'stems'; UsageError/AudioInputError if none fits."""
    if not root.exists():
        raise AudioInputError(f"dataset folder not found: {root}")
    if not root.is_dir():
        raise UsageError(f"dataset path is not a folder: {root}")
    if (root / "Sources").is_dir() and (root / "Mixtures").is_dir():
        return "dsd100"
    if next(root.rglob("*.stem.mp4"), None) is not None:
        return "musdb18"
    subdirs = [p for p in root.iterdir() if p.is_dir()]
    # MUSDB18-HQ may come with train/ and test/ folders above the track folders.
    for d in [root] + [s for s in subdirs if s.name.lower() in ("train", "test")]:
        for folder in (p for p in d.iterdir() if p.is_dir()):
            names = {p.stem.lower() for p in _audio_files(folder)}
            if {"vocals", "drums", "bass", "other"} <= names:
                return "musdb18hq"
            if "vocals" in names and len(names - {"mixture"}) >= 2:
                return "stems"
    if not any(root.iterdir()):
        raise AudioInputError(f"dataset folder is empty: {root}")
    raise UsageError(
        f"{root}: unknown dataset layout; expected MUSDB18 (*.stem.mp4), MUSDB18-HQ or a folder of stems "
        "(one folder per track with vocals.* and accompaniment.* or other stems), or DSD100 (Mixtures/, Sources/)"
    )


def open_dataset(path: str | Path, split: str | None = None) -> Dataset:
    """Open a dataset folder, detecting its layout.

    split: None (every track), "train"/"valid" (the fixed held-out list of
    training/splits.py), or for layouts that have them "test" (MUSDB18 test/
    folder) and "dev"/"test" (DSD100 subsets).
    """
    root = Path(path).expanduser()
    allowed = SPLITS + ("test", "dev")
    if split is not None and split not in allowed:
        raise UsageError(f"unknown split {split!r}; choose one of: {', '.join(allowed)}")
    layout = detect_layout(root)
    if layout == "musdb18":
        tracks = _musdb_tracks(root, split)
    elif layout == "dsd100":
        tracks = _dsd_tracks(root, split)
    else:
        tops = [root]
        subs = {p.name.lower(): p for p in root.iterdir() if p.is_dir()}
        if "train" in subs or "test" in subs:
            if split == "test":
                tops = [subs["test"]] if "test" in subs else []
            elif split in ("train", "valid"):
                tops = [subs["train"]] if "train" in subs else []
            else:
                tops = [subs[k] for k in ("train", "test") if k in subs]
        tracks = [t for top in tops for t in _folder_tracks(top, layout)]
    if split in SPLITS:
        tracks = [t for t in tracks if in_split(t.name, split)]
    if not tracks:
        what = f" in split {split!r}" if split else ""
        raise AudioInputError(f"{root}: no tracks{what} found (layout {layout})")
    return Dataset(root, layout, tracks)
