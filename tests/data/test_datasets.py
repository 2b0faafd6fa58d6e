"""Dataset loaders on tiny generated stem folders of every layout, and the decode cache."""

from __future__ import annotations

import os
import shutil
import subprocess

import numpy as np
import pytest
import soundfile as sf

from vocalex.base.errors import AudioInputError, UsageError
from vocalex.training.cache import cached_file, cached_track
from vocalex.data.datasets import Track, open_dataset
from vocalex.data.splits import VALID_NAMES

RATE = 8000
FRAMES = 800


def _stems(seed: int, names=("vocals", "drums", "bass", "other"), channels=2) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    # Values on the 16-bit grid so PCM / ALAC round trips are exact.
    return {n: (np.round(rng.uniform(-0.2, 0.2, (FRAMES, channels)) * 32768) / 32768).astype(np.float32) for n in names}


def _write_folder(folder, stems, suffix=".wav", mixture=True):
    folder.mkdir(parents=True)
    for name, audio in stems.items():
        sf.write(folder / f"{name}{suffix}", audio, RATE, subtype="PCM_16")
    if mixture:  # a stored mixture that is deliberately NOT the sum: loaders must ignore it
        sf.write(folder / f"mixture{suffix}", np.zeros_like(next(iter(stems.values()))), RATE, subtype="PCM_16")


def _check(track_audio, stems):
    expected_acc = sum(a for n, a in stems.items() if n != "vocals")
    np.testing.assert_allclose(track_audio["vocals"], stems["vocals"], atol=1e-6)
    np.testing.assert_allclose(track_audio["accompaniment"], expected_acc, atol=1e-5)
    np.testing.assert_array_equal(track_audio["mixture"], track_audio["vocals"] + track_audio["accompaniment"])
    assert track_audio["vocals"].dtype == np.float32 and track_audio["vocals"].shape == (FRAMES, 2)


def test_musdb18hq_layout(tmp_path):
    stems = {n: _stems(i) for i, n in enumerate(["Song A", VALID_NAMES[0]])}
    for name, s in stems.items():
        _write_folder(tmp_path / "train" / name, s)
    ds = open_dataset(tmp_path)
    assert ds.layout == "musdb18hq" and sorted(t.name for t in ds.tracks) == sorted(stems)
    for t in ds.tracks:
        _check(t.load(), stems[t.name])
    assert [t.name for t in open_dataset(tmp_path, split="valid").tracks] == [VALID_NAMES[0]]
    assert [t.name for t in open_dataset(tmp_path, split="train").tracks] == ["Song A"]


def test_plain_stem_folders_with_accompaniment_or_other_stems(tmp_path):
    two = _stems(1, names=("vocals", "accompaniment"))
    many = _stems(2, names=("vocals", "guitar", "piano"))
    _write_folder(tmp_path / "two", two, suffix=".flac", mixture=False)
    _write_folder(tmp_path / "many", many, mixture=False)
    ds = open_dataset(tmp_path)
    assert ds.layout == "stems" and len(ds) == 2
    loaded = {t.name: t.load() for t in ds.tracks}
    _check(loaded["two"], two)
    _check(loaded["many"], many)


def test_mono_stem_is_broadcast_and_rate_conversion(tmp_path):
    stems = _stems(3, names=("vocals", "accompaniment"))
    stems["vocals"] = stems["vocals"][:, :1]
    _write_folder(tmp_path / "t", stems, mixture=False)
    track = open_dataset(tmp_path).tracks[0]
    audio = track.load()
    assert audio["vocals"].shape == (FRAMES, 2)
    np.testing.assert_array_equal(audio["vocals"][:, 0], audio["vocals"][:, 1])
    up = track.load(sample_rate=2 * RATE)
    assert abs(up["vocals"].shape[0] - 2 * FRAMES) <= 2
    np.testing.assert_array_equal(up["mixture"], up["vocals"] + up["accompaniment"])


def test_dsd100_layout(tmp_path):
    stems = {("Dev", "001 - A"): _stems(4), ("Test", "002 - B"): _stems(5)}
    for (subset, name), s in stems.items():
        _write_folder(tmp_path / "Sources" / subset / name, s, mixture=False)
        (tmp_path / "Mixtures" / subset / name).mkdir(parents=True)
        sf.write(tmp_path / "Mixtures" / subset / name / "mixture.wav", np.zeros((FRAMES, 2)), RATE)
    ds = open_dataset(tmp_path)
    assert ds.layout == "dsd100" and [t.name for t in ds.tracks] == ["001 - A", "002 - B"]
    _check(ds.tracks[1].load(), stems[("Test", "002 - B")])
    assert [t.name for t in open_dataset(tmp_path, split="test").tracks] == ["002 - B"]


@pytest.mark.subprocess
@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")
def test_musdb18_stem_mp4(tmp_path):
    # A real 5-stream MP4 like MUSDB18's, with ALAC (lossless) so decoded values can be compared exactly.
    stems = _stems(6)
    srcs = {}
    for name in ("mixture", "drums", "bass", "other", "vocals"):
        srcs[name] = tmp_path / f"{name}.wav"
        audio = np.zeros((FRAMES, 2), np.float32) if name == "mixture" else stems[name]
        sf.write(srcs[name], audio, RATE, subtype="PCM_16")
    (tmp_path / "musdb" / "train").mkdir(parents=True)
    out = tmp_path / "musdb" / "train" / "Artist - Song.stem.mp4"
    cmd = ["ffmpeg", "-nostdin", "-v", "error"]
    for name in ("mixture", "drums", "bass", "other", "vocals"):
        cmd += ["-i", str(srcs[name])]
    for i in range(5):
        cmd += ["-map", f"{i}:a"]
    cmd += ["-c:a", "alac", str(out)]
    subprocess.run(cmd, check=True)
    ds = open_dataset(tmp_path / "musdb")
    assert ds.layout == "musdb18" and [t.name for t in ds.tracks] == ["Artist - Song"]
    _check(ds.tracks[0].load(), stems)


def test_errors_for_missing_empty_and_unknown(tmp_path):
    with pytest.raises(AudioInputError, match="not found"):
        open_dataset(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(AudioInputError, match="empty"):
        open_dataset(tmp_path / "empty")
    (tmp_path / "junk" / "x").mkdir(parents=True)
    (tmp_path / "junk" / "x" / "notes.txt").write_text("hi")
    with pytest.raises(UsageError, match="unknown dataset layout"):
        open_dataset(tmp_path / "junk")
    _write_folder(tmp_path / "ok" / "t", _stems(7, names=("vocals", "accompaniment")), mixture=False)
    with pytest.raises(UsageError, match="unknown split"):
        open_dataset(tmp_path / "ok", split="nonsense")
    with pytest.raises(AudioInputError, match="no tracks in split 'valid'"):
        open_dataset(tmp_path / "ok", split="valid")


def test_cache_decodes_once_and_notices_changes(tmp_path, monkeypatch):
    stems = _stems(8, names=("vocals", "accompaniment"))
    _write_folder(tmp_path / "data" / "t", stems, mixture=False)
    track = open_dataset(tmp_path / "data").tracks[0]
    first = cached_track(track, RATE, tmp_path / "cache")
    assert first["vocals"].dtype == np.float16
    np.testing.assert_allclose(first["vocals"].astype(np.float32), stems["vocals"], atol=2e-4)

    def no_decode(self, sample_rate=None):
        raise AssertionError("decoded again although cached")

    monkeypatch.setattr(Track, "load", no_decode)
    again = cached_track(track, RATE, tmp_path / "cache")
    np.testing.assert_array_equal(again["accompaniment"], first["accompaniment"])
    monkeypatch.undo()
    # A replaced file (new mtime) is decoded again.
    sf.write(track.sources["vocals"][0], stems["vocals"] * 0.5, RATE, subtype="PCM_16")
    st = os.stat(track.sources["vocals"][0])
    os.utime(track.sources["vocals"][0], ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    changed = cached_track(track, RATE, tmp_path / "cache")
    np.testing.assert_allclose(changed["vocals"].astype(np.float32), stems["vocals"] * 0.5, atol=2e-4)
    single = cached_file(track.sources["accompaniment"][0], RATE, tmp_path / "cache")
    assert single.shape == (FRAMES, 2) and single.dtype == np.float16
