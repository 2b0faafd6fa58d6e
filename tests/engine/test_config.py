"""Run configurations as frozen values, latency as a pure function, process() into the caller's buffers."""

from __future__ import annotations

import dataclasses
import tracemalloc

import numpy as np
import pytest

from vocalex.engine import Separator
from vocalex.engine.config import (OfflineConfig, StreamConfig, latency, parse_lookahead, stream_output_frames)
from vocalex.base.errors import UsageError


@pytest.fixture(scope="module")
def sep(tiny_model):
    return Separator.load(tiny_model, threads=1)


def test_configs_are_frozen_and_check_their_values():
    config = StreamConfig(4, 2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.stride = 8
    assert OfflineConfig() == OfflineConfig(wiener=False, context=None)
    with pytest.raises(UsageError, match="stride must be an integer"):
        StreamConfig(2.5, 0)
    with pytest.raises(UsageError, match="synthesis"):
        StreamConfig(4, 0, "boxcar")


@pytest.mark.parametrize("host_rate", [44100, 48000, 22050, 96000])
@pytest.mark.parametrize("stride, lookahead, synthesis", [(1, 0, "hann"), (4, 0, "hann"), (4, 3, "low-delay"),
                                                          (16, 8, "hann"), (8, 120, "hann")])
def test_latency_is_what_the_built_stream_reports(sep, host_rate, stride, lookahead, synthesis):
    # The planner asks latency() instead of building streams: the two must agree everywhere.
    config = StreamConfig(stride, lookahead, synthesis)
    stream = sep.stream(host_rate, 2, stride=stride, lookahead=lookahead, synthesis=synthesis)
    assert latency(sep.profile, config, host_rate) == stream.latency


def test_latency_refuses_what_the_stream_refuses(sep):
    with pytest.raises(UsageError, match="lookahead must be in 0..124"):
        latency(sep.profile, StreamConfig(4, 125), 44100)
    with pytest.raises(UsageError, match="stride must be in 1..128"):
        latency(sep.profile, StreamConfig(0, 0), 44100)


def test_lookahead_in_milliseconds_rounds_up_to_frames(sep):
    hop_ms = 1000 * sep.profile.hop_length / sep.profile.sample_rate  # 5.8 ms
    assert parse_lookahead("20ms", sep.profile) == 4 == int(np.ceil(20 / hop_ms))
    assert parse_lookahead(3, sep.profile) == parse_lookahead("3", sep.profile) == 3
    with pytest.raises(UsageError, match="frames .* or milliseconds"):
        parse_lookahead("20 s", sep.profile)


def test_stream_output_frames_is_the_window_tail_before_the_lookahead():
    assert stream_output_frames(128, 4, 0) == slice(124, 128)
    assert stream_output_frames(128, 4, 2) == slice(122, 126)
    with pytest.raises(ValueError):
        stream_output_frames(128, 4, 125)


@pytest.mark.parametrize("host_rate, channels", [(44100, 2), (48000, 1)])
def test_process_into_caller_buffers_equals_process(sep, host_rate, channels):
    rng = np.random.default_rng(3)
    audio = rng.uniform(-0.5, 0.5, (6000, channels)).astype(np.float32)
    a = sep.stream(host_rate, channels)
    b = sep.stream(host_rate, channels)
    out = {stem: np.full((500, channels), np.nan, dtype=np.float32) for stem in ("vocals", "accompaniment")}
    for i in range(0, len(audio), 500):
        block = audio[i:i + 500]
        want = a.process(block)
        got = b.process(block, out=out)
        assert got is out
        for stem in out:
            np.testing.assert_array_equal(out[stem], want[stem])


def test_process_into_caller_buffers_allocates_no_output(sep):
    # Silent input: the core skips the model call (nothing to mask), so what is measured is process() itself.
    stream = sep.stream(44100, 2)
    block = np.zeros((1024, 2), dtype=np.float32)
    out = {stem: np.zeros((1024, 2), dtype=np.float32) for stem in ("vocals", "accompaniment")}

    def peak_of(kwargs):
        for _ in range(20):  # past the start-up: every later block takes the same path
            stream.process(block, **kwargs)
        tracemalloc.start()
        try:
            base = tracemalloc.get_traced_memory()[0]
            for _ in range(20):
                stream.process(block, **kwargs)
            return tracemalloc.get_traced_memory()[1] - base
        finally:
            tracemalloc.stop()

    stem_bytes = block.nbytes  # 8 kB
    assert peak_of({}) >= 2 * stem_bytes  # the allocating path is seen (the measure can fail)
    assert peak_of({"out": out}) < stem_bytes


def test_process_refuses_a_wrong_buffer(sep):
    stream = sep.stream(44100, 2)
    block = np.zeros((64, 2), dtype=np.float32)
    good = np.zeros((64, 2), dtype=np.float32)
    for bad in (np.zeros((63, 2), np.float32), np.zeros((64, 2), np.float64), np.zeros((2, 64), np.float32).T):
        with pytest.raises(UsageError, match="out\\['vocals'\\] must be"):
            stream.process(block, out={"vocals": bad, "accompaniment": good})


def test_keyword_api_is_a_config_and_offline_refuses_stream_settings(sep):
    x = np.random.default_rng(5).uniform(-0.5, 0.5, (9000, 2)).astype(np.float32)
    a = sep.separate(x, 44100, mode="stream", stride=2, lookahead=1)
    b = sep.separate(x, 44100, config=StreamConfig(2, 1))
    np.testing.assert_array_equal(a["vocals"], b["vocals"])
    np.testing.assert_array_equal(sep.separate(x, 44100)["vocals"], sep.separate(x, 44100, config=OfflineConfig())["vocals"])
    with pytest.raises(UsageError, match="stream-mode settings"):
        sep.separate(x, 44100, mode="offline", stride=8)
    assert sep.latency(48000, StreamConfig(2, 1)) == sep.stream(48000, 2, config=StreamConfig(2, 1)).latency


# ------------------------------------------------------------------------------ fixed device blocks (StreamConfig.block)
@pytest.mark.parametrize("block", [256, 128, 512, 40, 1024, 3])
@pytest.mark.parametrize("stride, lookahead, synthesis", [(4, 0, "low-delay"), (2, 1, "hann"), (1, 0, "hann")])
def test_a_fixed_block_size_shortens_the_hold_and_keeps_the_output(sep, block, stride, lookahead, synthesis):
    x = np.random.default_rng(11).uniform(-0.5, 0.5, (40 * 1024, 2)).astype(np.float32)
    x = x[: len(x) - len(x) % block]
    free = sep.stream(44100, 2, config=StreamConfig(stride, lookahead, synthesis))
    fixed = sep.stream(44100, 2, config=StreamConfig(stride, lookahead, synthesis, block))
    period = stride * sep.profile.hop_length
    assert free.latency - fixed.latency == np.gcd(block, period) - 1  # 255 samples (5.8 ms) for a hop-long block
    assert latency(sep.profile, StreamConfig(stride, lookahead, synthesis, block), 44100) == fixed.latency
    outs, lowest = [], []
    for i in range(0, len(x), block):
        outs.append(fixed.process(x[i:i + block])["vocals"])  # an underflow would raise: the hold is enough
        lowest.append(len(fixed._vocals))
    assert min(lowest) == 0  # ... and no longer than needed: at some block end the queue is empty
    got = np.concatenate(outs + [fixed.flush()["vocals"]])[fixed.latency:]
    want = np.concatenate([free.process(x)["vocals"], free.flush()["vocals"]])[free.latency:]
    np.testing.assert_array_equal(got[: len(x)], want[: len(x)])  # the same signal, only less delayed


def test_a_fixed_block_stream_refuses_other_sizes_and_other_rates_keep_the_hold(sep):
    stream = sep.stream(44100, 2, config=StreamConfig(4, 0, "hann", 256))
    stream.process(np.zeros((512, 2), np.float32))  # multiples are whole blocks
    with pytest.raises(UsageError, match="multiple of 256 samples"):
        stream.process(np.zeros((300, 2), np.float32))
    # resampled streams' outputs do not fall on block boundaries: the block changes nothing there
    assert latency(sep.profile, StreamConfig(4, 0, "hann", 256), 48000) == latency(sep.profile, StreamConfig(4, 0), 48000)
    with pytest.raises(UsageError, match="block must be a positive"):
        StreamConfig(4, 0, "hann", 0)
