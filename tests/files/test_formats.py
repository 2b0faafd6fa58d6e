"""Inputs in the formats people own: what libsndfile reads and what goes through FFmpeg (PyAV).

Every file is made here with the ffmpeg command (installed with the test
requirements, see .ci/run) from one short generated signal.
"""

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from vocalex.files.audio_io import AudioReader
from vocalex.cli.main import main
from vocalex.base.errors import AudioInputError

pytest.importorskip("av")

pytestmark = pytest.mark.subprocess

RATE = 44100
# file name -> ffmpeg codec options
ENCODED = {
    "flac.flac": ["-c:a", "flac"],
    "mp3.mp3": ["-c:a", "libmp3lame", "-b:a", "192k"],
    "ogg.ogg": ["-c:a", "libvorbis"],
    "opus.opus": ["-c:a", "libopus", "-b:a", "128k"],
    "aac.m4a": ["-c:a", "aac", "-b:a", "192k"],
    "alac.m4a": ["-c:a", "alac"],
    "mp4.mp4": ["-c:a", "aac", "-b:a", "192k"],
    "webm.webm": ["-c:a", "libopus", "-b:a", "128k"],
}


def signal(seconds=1.5, rate=RATE):
    t = np.arange(int(seconds * rate)) / rate
    left = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.1 * np.sin(2 * np.pi * 1250 * t)
    right = 0.25 * np.sin(2 * np.pi * 660 * t)
    return np.stack([left, right], axis=1).astype(np.float32)


@pytest.fixture(scope="module")
def mixed_folder(tmp_path_factory):
    if shutil.which("ffmpeg") is None:
        pytest.skip("needs the ffmpeg command to make the files (Debian: apt-get install ffmpeg)")
    folder = tmp_path_factory.mktemp("music")
    src = folder / "wav.wav"
    sf.write(src, signal(), RATE, subtype="PCM_16")
    for name, codec in ENCODED.items():
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(src), *codec, str(folder / name)], check=True)
    return folder


def read_all(path, block=65536):
    with AudioReader(path) as r:
        blocks = list(r.blocks(block))
        return np.concatenate(blocks), r.sample_rate, [len(b) for b in blocks]


def test_lossless_alac_in_m4a_decodes_exactly(mixed_folder):
    ref, _ = sf.read(mixed_folder / "wav.wav", dtype="float32")
    x, rate, _ = read_all(mixed_folder / "alac.m4a")
    assert rate == RATE
    np.testing.assert_array_equal(x, ref)


@pytest.mark.parametrize("name", ["aac.m4a", "mp4.mp4", "webm.webm", "opus.opus"])
def test_ffmpeg_formats_decode_aligned_and_in_bounded_blocks(mixed_folder, name):
    ref, _ = sf.read(mixed_folder / "wav.wav", dtype="float32")
    x, rate, sizes = read_all(mixed_folder / name, block=4096)
    assert max(sizes) <= 4096 and len(sizes) > 10  # block by block, never the whole file at once
    if rate != RATE:  # opus decodes at 48 kHz
        idx = np.minimum((np.arange(len(ref)) * rate / RATE).round().astype(int), len(x) - 1)
        x = x[idx]
    # the encoder's priming and padding are trimmed: the same length and the same timing as the source
    assert abs(len(x) - len(ref)) <= 1
    n = min(len(x), len(ref))
    for c in range(2):
        assert np.corrcoef(x[:n, c], ref[:n, c])[0, 1] > 0.99


def test_a_folder_of_mixed_formats_separates_whole(mixed_folder, tiny_model, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["separate", str(mixed_folder), "-o", str(out), "--model", str(tiny_model), "-q"]) == 0
    assert "skipping" not in capsys.readouterr().err
    names = ["wav.wav", *ENCODED]
    for name in names:
        stem = name.split(".")[0]
        x, rate, _ = read_all(mixed_folder / name)
        v, rv = sf.read(out / mixed_folder.name / stem / "vocals.wav", dtype="float32", always_2d=True)
        a, _ = sf.read(out / mixed_folder.name / stem / "accompaniment.wav", dtype="float32", always_2d=True)
        assert rv == rate and v.shape == a.shape == x.shape, name
        np.testing.assert_allclose(v + a, x, atol=1e-4)
        assert np.abs(v).max() > 1e-4


@pytest.mark.parametrize("name,keep,words", [
    ("aac.m4a", 3000, "not a readable audio file"),   # the header is cut
    ("webm.webm", 0.5, "truncated"),                   # half the audio is missing: no half-length output
])
def test_truncated_ffmpeg_inputs_are_refused_with_one_line(mixed_folder, tiny_model, tmp_path, capsys, name, keep, words):
    data = (mixed_folder / name).read_bytes()
    cut = tmp_path / f"cut{Path(name).suffix}"
    cut.write_bytes(data[:keep] if isinstance(keep, int) else data[:int(len(data) * keep)])
    assert main(["separate", str(cut), "-o", str(tmp_path / "o"), "--model", str(tiny_model), "-q"]) == AudioInputError.exit_code
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and cut.name in err[0] and words in err[0], err
    assert not (tmp_path / "o" / "cut").exists()


def test_output_wavs_have_a_clean_float_header(tiny_model, tmp_path):
    # libsndfile's float WAV has a 16-byte fmt chunk, which sox rejects with "wave header missing extended
    # part of fmt chunk"; vocalex writes format 3 with cbSize (18 bytes) and a fact chunk (files/wavfile.py).
    import struct

    src = tmp_path / "song.wav"
    x = signal(0.5)
    sf.write(src, x, RATE, subtype="PCM_16")
    assert main(["separate", str(src), "-o", str(tmp_path / "o"), "--model", str(tiny_model), "-q"]) == 0
    out = tmp_path / "o" / "song" / "vocals.wav"
    head = out.read_bytes()[:64]
    assert head[:4] == b"RIFF" and head[8:16] == b"WAVEfmt "
    fmt_size, tag, channels, rate = struct.unpack("<IHHI", head[16:28])
    assert (fmt_size, tag, channels, rate) == (18, 3, 2, RATE)
    assert struct.unpack("<I", head[4:8])[0] == out.stat().st_size - 8
    info = sf.info(out)
    assert info.subtype == "FLOAT" and info.frames == len(x)
    if shutil.which("sox"):
        proc = subprocess.run(["sox", str(out), "-n", "stat"], capture_output=True, text=True)
        assert proc.returncode == 0 and "WARN" not in proc.stderr, proc.stderr
        samples = float(next(l for l in proc.stderr.splitlines() if l.startswith("Samples read")).split()[-1])
        assert samples == 2 * len(x)
