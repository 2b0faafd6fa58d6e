"""The Python API: Separator.load / separate / stream, argument checks, defaults shared with the CLI."""

import argparse
import inspect

import numpy as np
import onnx
import pytest

from vocalex.engine import Separator
from vocalex.base.errors import InvalidSamplesError, ModelError, UsageError
from vocalex.engine.config import lookahead_frames, parse_lookahead
from vocalex.engine.stream import StreamSeparator


@pytest.fixture(scope="module")
def sep(tiny_model):
    return Separator.load(tiny_model, threads=1)


def audio(frames, channels, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).uniform(-0.5, 0.5, (frames, channels)).astype(dtype)


@pytest.mark.parametrize("mode", ["offline", "stream"])
def test_separate_keeps_shape_and_sums_to_input(sep, mode):
    x = audio(30000, 2)
    stems = sep.separate(x, 44100, mode=mode)
    assert set(stems) == {"vocals", "accompaniment"}
    for y in stems.values():
        assert y.shape == x.shape and y.dtype == np.float32
    np.testing.assert_allclose(stems["vocals"] + stems["accompaniment"], x, atol=1e-6)
    assert np.abs(stems["vocals"]).max() > 1e-3


def test_mono_1d_float64_input(sep):
    x = audio(20000, 1, dtype=np.float64)[:, 0]
    stems = sep.separate(x, 48000)
    assert stems["vocals"].shape == x.shape
    np.testing.assert_allclose(stems["vocals"] + stems["accompaniment"], x, atol=1e-6)


def test_empty_audio_gives_empty_stems(sep):
    stems = sep.separate(np.zeros((0, 2), dtype=np.float32), 44100)
    assert stems["vocals"].shape == (0, 2)


def test_stream_mode_equals_the_live_object(sep):
    # with silence around the file, as the live stream has (the default mirrors the file's ends: tests/test_edges.py)
    x = audio(25000, 2, seed=3)
    stems = sep.separate(x, 44100, mode="stream", stride=2, lookahead=3, edges="zero")
    live = sep.stream(44100, 2, stride=2, lookahead=3)
    assert isinstance(live, StreamSeparator) and (live.stride, live.lookahead) == (2, 3)
    outs = [live.process(x[i:i + 333]) for i in range(0, len(x), 333)] + [live.flush()]
    vocals = np.concatenate([o["vocals"] for o in outs])[live.latency:]
    np.testing.assert_allclose(stems["vocals"], vocals, atol=1e-6)


def test_lookahead_in_milliseconds(sep):
    # 20 ms at 44.1 kHz / hop 256 is 3.45 frames: rounded up to 4.
    assert sep.lookahead_frames(20) == 4
    assert lookahead_frames(0, sep.profile) == 0
    assert parse_lookahead("20ms", sep.profile) == 4
    assert parse_lookahead("3", sep.profile) == 3
    with pytest.raises(UsageError, match="milliseconds"):
        parse_lookahead("soon", sep.profile)
    with pytest.raises(UsageError):
        lookahead_frames(-5, sep.profile)


@pytest.mark.parametrize(
    "bad,kwargs,error",
    [
        ([[0.0, 0.0]], {}, UsageError),
        (np.zeros((100, 2), dtype=np.uint8), {}, UsageError),  # int16 and int32 PCM are scaled (test_newuser_inputs.py)
        (np.zeros((10, 2, 2), dtype=np.float32), {}, UsageError),
        (np.zeros((100, 9), dtype=np.float32), {}, UsageError),
        (np.zeros((100, 2), dtype=np.float32), {"mode": "fast"}, UsageError),
        (np.zeros((100, 2), dtype=np.float32), {"sample_rate": 4000}, UsageError),
        (np.zeros((100, 2), dtype=np.float32), {"mode": "stream", "stride": 0}, UsageError),
        (np.array([[0.0], [np.nan]], dtype=np.float32), {}, InvalidSamplesError),
        (np.array([0.0, np.inf]), {}, InvalidSamplesError),
    ],
)
def test_bad_arguments_raise_clear_errors(sep, bad, kwargs, error):
    args = {"sample_rate": 44100, **kwargs}
    with pytest.raises(error):
        sep.separate(bad, **args)


def test_models_without_metadata_or_missing_are_refused(tiny_model, tmp_path):
    with pytest.raises(ModelError, match="not found"):
        Separator.load(tmp_path / "nope.onnx")
    proto = onnx.load(str(tiny_model))
    del proto.metadata_props[:]
    bare = tmp_path / "bare.onnx"
    onnx.save(proto, str(bare))
    with pytest.raises(ModelError, match="not a vocalex model"):
        Separator.load(bare)


def test_api_and_cli_defaults_have_not_drifted_apart():
    from vocalex.cli import separate as separate_cli

    parser = argparse.ArgumentParser()
    separate_cli.register(parser.add_subparsers())
    cli = parser.parse_args(["separate", "x.wav"])
    api = inspect.signature(Separator.separate).parameters
    live = inspect.signature(Separator.stream).parameters
    from vocalex.engine.separator import DEFAULT_LOOKAHEAD, DEFAULT_STRIDE

    assert cli.mode == api["mode"].default
    # the CLI leaves --stride/--lookahead None when not given (offline refuses them) and then uses these
    assert cli.stride is None and cli.lookahead is None
    assert DEFAULT_STRIDE == api["stride"].default == live["stride"].default
    assert DEFAULT_LOOKAHEAD == api["lookahead"].default == live["lookahead"].default
    assert cli.wiener is api["wiener"].default is False
    from vocalex.engine.config import DEFAULT_EDGES, OfflineConfig, StreamConfig

    assert cli.edges == api["edges"].default == DEFAULT_EDGES == OfflineConfig().edges == StreamConfig().edges
    assert inspect.signature(Separator.separate_blocks).parameters["edges"].default == DEFAULT_EDGES
    assert cli.provider == inspect.signature(Separator.load).parameters["provider"].default
    assert cli.model is None and inspect.signature(Separator.load).parameters["model"].default is None


# ---------------------------------------------------------------- the README's streaming snippet, as written
def test_stream_defaults_to_stereo_and_returns_dicts(sep):
    x = audio(9000, 2, seed=4)
    stream = sep.stream(44100)  # the README: channels default to 2
    assert stream.channels == 2
    out = stream.process(x)
    tail = stream.flush()
    assert set(out) == set(tail) == {"vocals", "accompaniment"}
    assert out["vocals"].shape == x.shape and tail["vocals"].shape == (stream.latency, 2)


def test_stream_takes_1d_mono_blocks_like_soundfile(sep):
    x = audio(12000, 1, seed=5)
    mono_2d = sep.stream(44100, channels=1, stride=2)
    ref = [mono_2d.process(x[i:i + 500]) for i in range(0, len(x), 500)] + [mono_2d.flush()]
    stream = sep.stream(44100, channels=1, stride=2)
    outs = [stream.process(x[i:i + 500, 0]) for i in range(0, len(x), 500)] + [stream.flush()]
    for o, r in zip(outs, ref):
        assert o["vocals"].ndim == 1 and o["accompaniment"].ndim == 1
        np.testing.assert_array_equal(o["vocals"], r["vocals"][:, 0])
        np.testing.assert_array_equal(o["accompaniment"], r["accompaniment"][:, 0])
    assert np.abs(np.concatenate([o["vocals"] for o in outs])).max() > 1e-4


def test_1d_block_on_a_stereo_stream_says_what_to_do(sep):
    with pytest.raises(UsageError, match="channels=1"):
        sep.stream(44100).process(np.zeros(1000, dtype=np.float32))


def test_transposed_arrays_get_a_hint(sep):
    x = audio(44100, 2).T  # (channels, frames): the layout of librosa / torchaudio
    with pytest.raises(UsageError, match=r"transposed.*\.T"):
        sep.separate(x, 44100)
    with pytest.raises(UsageError, match=r"transposed.*block\.T"):
        sep.stream(44100, 2).process(x[:, :1000])
