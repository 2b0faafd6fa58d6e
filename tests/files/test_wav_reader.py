"""The plain-WAV reader (files/wavfile.py) returns libsndfile's samples to the bit, and leaves it the rest.

`vocalex separate` reads WAVs without importing soundfile (start-up); these
files are written by soundfile in every subtype the reader takes and compared
with what soundfile itself reads from them.
"""

import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from vocalex.files.audio_io import AudioReader
from vocalex.files.wavfile import WavReader

RATE = 44100


def noise(frames, channels, seed=0):
    x = np.random.default_rng(seed).uniform(-1.0, 1.0, (frames, channels))
    x[:5] = [[1.0] * channels, [-1.0] * channels, [0.0] * channels, [0.5] * channels, [-0.999] * channels]
    return x


def read_all(path, block):
    with AudioReader(path) as reader:
        x = np.concatenate(list(reader.blocks(block)))
        return reader, x


@pytest.mark.parametrize("fmt", ["WAV", "WAVEX"])
@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE"])
@pytest.mark.parametrize("channels", [1, 2, 6])
def test_plain_wavs_read_as_libsndfile_reads_them(tmp_path, fmt, subtype, channels):
    path = tmp_path / "x.wav"
    sf.write(path, noise(3001, channels), RATE, subtype=subtype, format=fmt)
    reader, x = read_all(path, block=1000)  # several blocks, the last one short
    assert isinstance(reader._file, WavReader)  # the fast path, not libsndfile
    ref, rate = sf.read(path, dtype="float32", always_2d=True)
    assert rate == reader.sample_rate == RATE and reader.channels == channels and reader.frames == 3001
    assert x.dtype == np.float32
    np.testing.assert_array_equal(x, ref)


@pytest.mark.parametrize("fmt,subtype", [("WAV", "PCM_U8"), ("WAV", "ULAW"), ("WAV", "IMA_ADPCM"), ("RF64", "FLOAT"),
                                         ("AIFF", "PCM_16")])
def test_other_files_are_left_to_libsndfile(tmp_path, fmt, subtype):
    path = tmp_path / "x.wav"
    sf.write(path, noise(2000, 2), RATE, subtype=subtype, format=fmt)
    reader, x = read_all(path, block=512)
    assert not isinstance(reader._file, WavReader)
    ref, _ = sf.read(path, dtype="float32", always_2d=True)
    np.testing.assert_array_equal(x, ref)


def test_a_cut_wav_reads_what_is_there_as_libsndfile_does(tmp_path):
    path = tmp_path / "x.wav"
    sf.write(path, noise(4410, 2), RATE, subtype="PCM_24")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 1000])  # 1000 bytes short: 166 frames and 4 bytes of one more
    reader, x = read_all(path, block=1000)
    assert isinstance(reader._file, WavReader)
    ref, _ = sf.read(path, dtype="float32", always_2d=True)
    assert len(x) == len(ref) == 4410 - 167
    np.testing.assert_array_equal(x, ref)
    assert reader.promised_frames == 4410 and "truncated" in reader.truncation()


@pytest.mark.subprocess
def test_separating_a_wav_imports_no_soundfile(tmp_path, tiny_model):
    src = tmp_path / "song.wav"
    sf.write(src, noise(RATE, 2) * 0.3, RATE, subtype="PCM_16")
    code = ("import sys\nfrom vocalex.cli.main import main\n"
            f"rc = main(['separate', {str(src)!r}, '-o', {str(tmp_path / 'o')!r}, '--model', {str(tiny_model)!r}, '-q'])\n"
            "print(rc, 'soundfile' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["0", "False"]
    v, rate = sf.read(tmp_path / "o" / "song" / "vocals.wav")
    assert rate == RATE and v.shape == (RATE, 2)
