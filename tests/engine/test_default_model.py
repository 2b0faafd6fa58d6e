"""The model that ships in the package: loads, reproduces its golden pair, separates the bundled demo song."""

from __future__ import annotations

import numpy as np
import soundfile as sf

from vocalex.engine import Separator
from vocalex.engine.model import OnnxModel
from vocalex.engine.registry import default_model_path
from vocalex.export.onnx_export import golden_path


def test_the_bundled_model_reproduces_its_golden_pair():
    path = default_model_path()
    golden = np.load(golden_path(path))
    model = OnnxModel.load(None, threads=1)
    assert model.path == path and model.profile.model_version and model.profile.licence
    x = golden["input"]  # (examples, channels per example, n_bins, n_frames)
    assert x.shape[1] == model.channels and x.shape[2:] == (model.profile.n_bins, model.profile.n_frames)
    rows = x.reshape(-1, *x.shape[2:])
    np.testing.assert_allclose(model.run(rows), golden["output"].reshape(rows.shape), atol=1e-5)


def test_the_bundled_model_separates_the_bundled_song():
    song = default_model_path().parent / "demo_lets_go_fishin_30s.ogg"
    audio, rate = sf.read(song, dtype="float32", frames=5 * 44100)
    stems = Separator.load(threads=1).separate(audio, rate)
    v, a = stems["vocals"], stems["accompaniment"]
    assert v.shape == audio.shape
    np.testing.assert_allclose(v + a, audio, atol=1e-5)
    # A real separation, neither nothing nor everything: the sung excerpt leaves a sizeable
    # part of the energy in each stem.
    share = float(np.sum(v ** 2) / np.sum(audio ** 2))
    assert 0.02 < share < 0.9, share
