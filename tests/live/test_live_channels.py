"""`vocalex live --input-file` with a file of more channels than the device (issue 24): a 5.1 file is downmixed to
stereo by ITU-R BS.775 (LFE dropped), other counts to their mean, and the run says which."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from vocalex.cli.main import main
from vocalex.live.file_source import FileSource, channel_map

pytest_plugins = ["live_server"]  # the session fixture jack_server: a running JACK server
RATE = 44100


def _surround(path, seconds=0.5):
    rng = np.random.default_rng(5)
    audio = rng.uniform(-0.3, 0.3, (int(seconds * RATE), 6)).astype(np.float32)
    sf.write(path, audio, RATE, subtype="FLOAT")
    return audio


def _itu(audio):
    c = 0.5 ** 0.5
    left = audio[:, 0] + c * audio[:, 2] + c * audio[:, 4]
    right = audio[:, 1] + c * audio[:, 2] + c * audio[:, 5]
    return np.stack([left, right], 1) / (1 + 2 * c)


def test_channel_maps_and_what_they_say():
    assert channel_map(2, 2)[1] is None and channel_map(1, 2)[1] is None and channel_map(2, 1)[1] is None
    assert "ITU-R BS.775" in channel_map(6, 2)[1] and "LFE dropped" in channel_map(6, 2)[1]
    matrix, note = channel_map(4, 2)
    np.testing.assert_allclose(matrix, 0.25)
    assert "mean" in note


def test_a_six_channel_file_feeds_the_itu_downmix(tmp_path, capsys):
    audio = _surround(tmp_path / "surround.wav")
    source = FileSource(tmp_path / "surround.wav", RATE, 2)
    assert "surround.wav: 6 channels (5.1" in capsys.readouterr().err
    source.start()
    out = np.empty((len(audio), 2), np.float32)
    source.read_into(out)
    source.stop()
    np.testing.assert_allclose(out, _itu(audio), atol=1e-6)


@pytest.mark.live
def test_live_plays_a_six_channel_file(jack_server, tiny_model, tmp_path, capsys):
    audio = _surround(tmp_path / "surround.wav")
    rec = tmp_path / "rec"
    code = main(["live", "--input-file", str(tmp_path / "surround.wav"), "--record", str(rec), "--model",
                 str(tiny_model), "--stride", "8", "--margin-ms", "250"])
    assert code == 0, capsys.readouterr().err
    captured, _ = sf.read(rec / "input.wav", dtype="float32")
    np.testing.assert_allclose(captured[:len(audio)], _itu(audio), atol=1e-6)
