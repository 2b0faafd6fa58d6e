"""A file cut short (a copy or download interrupted) is separated up to where its audio ends, and named on stderr."""

import numpy as np
import pytest
import soundfile as sf

from vocalex.files.audio_io import AudioReader, header_frames
from vocalex.cli.main import main

RATE = 44100


def cut_file(path, fmt, subtype, keep_frames, frames=2 * RATE):
    """Write `frames` stereo frames, then keep the header and only `keep_frames` frames of audio bytes."""
    x = np.random.default_rng(0).uniform(-0.5, 0.5, (frames, 2)).astype(np.float32)
    sf.write(str(path), x, RATE, subtype=subtype, format=fmt)
    data = path.read_bytes()
    audio_bytes = frames * 2 * {"PCM_16": 2, "FLOAT": 4}[subtype]
    header = len(data) - audio_bytes  # both formats here keep their header before the samples and nothing after
    path.write_bytes(data[:header + keep_frames * 2 * {"PCM_16": 2, "FLOAT": 4}[subtype]])
    return x


@pytest.mark.parametrize("fmt,subtype,name", [("WAV", "PCM_16", "cut.wav"), ("WAV", "FLOAT", "cut.wav"),
                                              ("AIFF", "PCM_16", "cut.aiff")])
def test_truncated_file_is_separated_with_a_warning(tmp_path, tiny_model, capsys, fmt, subtype, name):
    src = tmp_path / name
    x = cut_file(src, fmt, subtype, keep_frames=39)
    assert sf.info(str(src)).frames == 39  # libsndfile itself says nothing: it counts from the file size
    assert header_frames(src) == 2 * RATE
    code = main(["separate", str(src), "-o", str(tmp_path / "out"), "--model", str(tiny_model), "-q"])
    err = capsys.readouterr().err
    assert code == 0
    assert err.count("\n") == 1 and "truncated" in err and "88200 frames (2.00 s)" in err and "holds 39 " in err, err
    v, rate = sf.read(str(tmp_path / "out" / "cut" / "vocals.wav"), dtype="float32", always_2d=True)
    a, _ = sf.read(str(tmp_path / "out" / "cut" / "accompaniment.wav"), dtype="float32", always_2d=True)
    assert rate == RATE and v.shape == (39, 2)
    np.testing.assert_allclose(v + a, x[:39], atol=1e-4)  # 16-bit input: the stems sum to what was read


def test_complete_files_give_no_warning(tmp_path, tiny_model, capsys):
    for name, subtype in (("whole.wav", "PCM_16"), ("whole.flac", "PCM_16"), ("whole.aiff", "PCM_16")):
        sf.write(str(tmp_path / name), np.zeros((1000, 2), np.float32), RATE, subtype=subtype)
        with AudioReader(tmp_path / name) as reader:
            assert sum(len(b) for b in reader.blocks()) == 1000
            assert reader.truncation() is None
    code = main(["separate", str(tmp_path / "whole.wav"), "-o", str(tmp_path / "out"), "--model", str(tiny_model), "-q"])
    assert code == 0 and capsys.readouterr().err == ""


def test_header_frames_of_other_layouts(tmp_path):
    x = np.zeros((4410, 1), np.float32)
    sf.write(str(tmp_path / "a.wav"), x, RATE, subtype="PCM_24", format="RF64")
    assert header_frames(tmp_path / "a.wav") == 4410
    sf.write(str(tmp_path / "b.flac"), x, RATE)
    assert header_frames(tmp_path / "b.flac") is None  # not a RIFF / IFF file: libsndfile's count is used
    (tmp_path / "c.wav").write_bytes(b"RIFF\x00\x00")
    assert header_frames(tmp_path / "c.wav") is None
