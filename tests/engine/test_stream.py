"""StreamSeparator: block-size invariance, exact latency, stems that sum to the delayed input."""

import numpy as np
import pytest

from vocalex.base.errors import UsageError
from vocalex.engine.config import StreamConfig
from vocalex.engine.contract import ModelProfile
from vocalex.engine.model import OnnxModel
from vocalex.engine.separator import Separator
from vocalex.engine.stream import StreamSeparator

BLOCK_SIZES = (1, 40, 127, 128, 129, 8193)


class StubModel:
    """A model with a fixed mask, so expected outputs are known exactly.

    mask_fn(n_bins, n_frames) -> float32 (n_bins, n_frames), broadcast over the batch.
    """

    channels = 1  # each audio channel is an example of its own (as OnnxModel.channels)
    offline_frames = 128  # offline mode's window: the contract's n_frames (as OnnxModel.offline_frames)

    def __init__(self, mask_fn, n_bins=512):
        self.profile = ModelProfile(44100, 1024, 256, "hann", n_bins, 128, "mask", "vocals", "stub", "none", "MIT")
        self._mask = mask_fn(n_bins, 128).astype(np.float32)
        self.calls = 0

    def run(self, mag):
        self.calls += 1
        assert mag.dtype == np.float32 and mag.shape[1:] == (self.profile.n_bins, 128)
        return np.broadcast_to(self._mask, mag.shape).copy()


def unit_mask(n_bins, n_frames):
    return np.ones((n_bins, n_frames))


def run_stream(stream, x, block):
    """Feed x (n, channels) in blocks, flush, drop the latency: aligned (vocals, accompaniment)."""
    outs = [stream.process(x[i:i + block]) for i in range(0, len(x), block)]
    outs.append(stream.flush())
    lat = stream.latency
    v = np.concatenate([o["vocals"] for o in outs])
    a = np.concatenate([o["accompaniment"] for o in outs])
    assert len(v) == len(x) + lat
    return v[lat:], a[lat:], v[:lat]


def noise(seconds, rate, channels, seed=0):
    return np.random.default_rng(seed).uniform(-0.5, 0.5, (int(seconds * rate), channels)).astype(np.float32)


@pytest.fixture(scope="module")
def tiny(tiny_model):
    return OnnxModel.load(tiny_model, threads=1)


def test_output_identical_for_every_block_size(tiny):
    x = noise(0.7, 44100, 2)
    ref = run_stream(StreamSeparator(tiny, 44100, 2, StreamConfig(stride=3, lookahead=2)), x, len(x))
    assert np.abs(ref[0]).max() > 1e-3  # the untrained model passes something through
    for block in BLOCK_SIZES:
        v, a, head = run_stream(StreamSeparator(tiny, 44100, 2, StreamConfig(stride=3, lookahead=2)), x, block)
        np.testing.assert_allclose(v, ref[0], atol=1e-6, err_msg=f"block {block}")
        np.testing.assert_allclose(a, ref[1], atol=1e-6, err_msg=f"block {block}")
        assert not head.any()  # start-up output is silence
        np.testing.assert_allclose(v + a, x, atol=1e-6)


@pytest.mark.parametrize("rate,channels", [(48000, 2), (22050, 1)])
def test_resampled_host_rates_are_block_invariant_and_sum_to_input(tiny, rate, channels):
    x = noise(0.6, rate, channels, seed=rate)
    ref = run_stream(StreamSeparator(tiny, rate, channels), x, 8193)
    for block in (1, 127, 129):
        v, a, _ = run_stream(StreamSeparator(tiny, rate, channels), x, block)
        np.testing.assert_allclose(v, ref[0], atol=1e-6, err_msg=f"block {block}")
        np.testing.assert_allclose(v + a, x, atol=1e-6)


@pytest.mark.parametrize("stride,lookahead", [(1, 0), (4, 0), (4, 3), (8, 10)])
def test_latency_formula_at_model_rate(tiny, stride, lookahead):
    s = StreamSeparator(tiny, 44100, 1, StreamConfig(stride, lookahead))
    assert s.latency == (1024 - 256) + (lookahead + stride - 1) * 256 + (256 - 1)
    assert s.model_latency == s.latency


@pytest.mark.parametrize("rate", [44100, 48000, 22050])
def test_impulse_comes_out_at_the_reported_latency(rate):
    s = StreamSeparator(StubModel(unit_mask), rate, 1, StreamConfig(stride=4, lookahead=2))
    x = np.zeros((rate // 2, 1), dtype=np.float32)
    x[3001] = 1.0
    out = s.process(x)
    v, a = out["vocals"][:, 0], out["accompaniment"][:, 0]
    assert np.argmax(np.abs(v)) == 3001 + s.latency
    dry = np.zeros_like(v)
    dry[3001 + s.latency] = 1.0
    np.testing.assert_array_equal(v + a, dry)  # stems sum to the delayed input, whatever the mask
    if rate == 44100:
        assert abs(v[3001 + s.latency] - 1.0) < 1e-5 and np.abs(a).max() < 1e-5


@pytest.mark.parametrize("rate", [48000, 22050])
def test_resampled_vocals_path_is_aligned_with_the_dry_path(rate):
    # A band-limited signal through a unit mask must come back equal to the
    # delayed dry input: any fractional misalignment would show as error.
    s = StreamSeparator(StubModel(unit_mask), rate, 1)
    t = np.arange(rate // 2) / rate
    x = (0.5 * np.sin(2 * np.pi * 997 * t) * np.hanning(len(t))).astype(np.float32)[:, None]
    v, a, _ = run_stream(s, x, 1000)
    assert np.abs(v - x).max() < 1e-4
    assert np.abs(a).max() < 1e-4


@pytest.mark.parametrize("stride,lookahead", [(1, 0), (3, 2), (8, 5)])
def test_each_emitted_frame_uses_its_own_mask_column(stride, lookahead):
    # Ones only in the columns the stream should read: vocals = input exactly.
    # Any off-by-one in the column arithmetic would zero a frame somewhere.
    first = 127 - lookahead - (stride - 1)

    def columns(n_bins, n_frames, inside):
        m = np.full((n_bins, n_frames), 0.0 if inside else 1.0)
        m[:, first:first + stride] = 1.0 if inside else 0.0
        return m

    x = noise(0.3, 44100, 2, seed=5)
    v, _, _ = run_stream(StreamSeparator(StubModel(lambda b, f: columns(b, f, True)), 44100, 2, StreamConfig(stride, lookahead)), x, 500)
    assert np.abs(v - x).max() < 1e-5
    v, _, _ = run_stream(StreamSeparator(StubModel(lambda b, f: columns(b, f, False)), 44100, 2, StreamConfig(stride, lookahead)), x, 500)
    assert np.abs(v).max() < 1e-6


def test_model_called_once_per_stride_with_channels_batched():
    model = StubModel(unit_mask)
    s = StreamSeparator(model, 44100, 2, StreamConfig(stride=5, lookahead=0))
    s.process(np.random.default_rng(0).uniform(-0.1, 0.1, (256 * 50, 2)).astype(np.float32))
    assert model.calls == 10


def test_digital_silence_skips_the_model_and_changes_nothing(tiny_model):
    # Any mask times a zero spectrum is zero: windows whose output frames are silent are not run.
    model = OnnxModel.load(tiny_model, threads=1)
    counted = StubModel(unit_mask)
    s = StreamSeparator(counted, 44100, 2, StreamConfig(stride=5, lookahead=0))
    s.process(np.zeros((256 * 50, 2), dtype=np.float32))
    assert counted.calls == 0
    rng = np.random.default_rng(3)
    x = rng.uniform(-0.3, 0.3, (44100 * 2, 2)).astype(np.float32)
    x[20000:60000] = 0.0                              # a muted stretch in the middle
    almost = x.copy()
    almost[20000:60000] = 1e-30                       # the same, but not digital silence: the model runs there
    outs = []
    for signal in (x, almost):
        for mode in ("offline", "stream"):
            stems = Separator(model).separate(signal, 44100, mode=mode)
            outs.append(stems["vocals"])
    np.testing.assert_allclose(outs[0], outs[2], atol=1e-12)
    np.testing.assert_allclose(outs[1], outs[3], atol=1e-12)
    assert np.abs(outs[0][30000:50000]).max() == 0.0 and np.abs(outs[0]).max() > 1e-3


def test_mask_is_extended_above_the_model_bins():
    # A model with 256 input bins (up to 11 kHz). Above them the mask is the median of
    # the model's top octave (bins 128..255, here 0.5; the odd top bin, 1.0, must not
    # decide it) decaying as n_bins / k: a 15 kHz tone (bin 348.3) keeps 0.5 * 256 / 348.3
    # of itself in the vocals, nothing is cut off, and the stems still sum to the input.
    def mask(n_bins, n_frames):
        m = np.ones((n_bins, n_frames))
        m[n_bins // 2:] = 0.5
        m[-1] = 1.0
        return m

    s = StreamSeparator(StubModel(mask, n_bins=256), 44100, 1)
    t = np.arange(44100) / 44100
    x = (0.5 * np.sin(2 * np.pi * 15000 * t)).astype(np.float32)[:, None]
    v, a, _ = run_stream(s, x, 4096)
    mid = slice(5000, 40000)
    share = 0.5 * 256 / (15000 * 1024 / 44100)
    np.testing.assert_allclose(v[mid], share * x[mid], atol=2e-3)
    np.testing.assert_allclose(a[mid], (1 - share) * x[mid], atol=2e-3)


def test_reset_and_flush_restart_the_stream(tiny):
    x = noise(0.3, 44100, 2, seed=9)
    s = StreamSeparator(tiny, 44100, 2)
    first = run_stream(s, x, 1000)  # flush resets
    again = run_stream(s, x, 1000)
    np.testing.assert_array_equal(first[0], again[0])
    s.process(x[:5000])
    s.reset()
    np.testing.assert_array_equal(run_stream(s, x, 1000)[0], first[0])
    assert len(s.flush()["vocals"]) == s.latency


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(stride=0), "stride"),
        (dict(stride=4, lookahead=125), "lookahead"),
        (dict(lookahead=-1), "lookahead"),
        (dict(channels=9), "channels"),
        (dict(channels=0), "channels"),
        (dict(sample_rate=7999), "sample rate"),
        (dict(sample_rate=192001), "sample rate"),
        (dict(stride=2.5), "stride"),
    ],
)
def test_bad_arguments_are_usage_errors(kwargs, match):
    args = dict(sample_rate=44100, channels=2, stride=4, lookahead=0)
    args.update(kwargs)
    with pytest.raises(UsageError, match=match):
        StreamSeparator(StubModel(unit_mask), args["sample_rate"], args["channels"], StreamConfig(args["stride"], args["lookahead"]))


def test_bad_blocks_are_usage_errors():
    s = StreamSeparator(StubModel(unit_mask), 44100, 2)
    with pytest.raises(UsageError, match="shape"):
        s.process(np.zeros(100, dtype=np.float32))
    with pytest.raises(UsageError, match="shape"):
        s.process(np.zeros((100, 1), dtype=np.float32))
    with pytest.raises(UsageError, match="float"):
        s.process(np.zeros((100, 2), dtype=np.int16))
    with pytest.raises(UsageError, match="numpy"):
        s.process([[0.0, 0.0]])


@pytest.mark.parametrize("in_rate,out_rate", [(48000, 44100), (44100, 48000), (22050, 44100), (44100, 8000)])
def test_resampler_is_chunk_invariant_accurate_and_within_its_holdback(in_rate, out_rate):
    from vocalex.engine.resample import StreamResampler

    n = in_rate // 2
    t = np.arange(n) / in_rate
    x = np.stack([np.sin(2 * np.pi * 1000 * t), np.cos(2 * np.pi * 1500 * t)], axis=1).astype(np.float32)
    ref = StreamResampler(in_rate, out_rate, 2).process(x)
    for chunk in (1, 100, 4097):
        r = StreamResampler(in_rate, out_rate, 2)
        parts, received, emitted = [], 0, 0
        for i in range(0, n, chunk):
            parts.append(r.process(x[i:i + chunk]))
            received += len(x[i:i + chunk])
            emitted += len(parts[-1])
            assert emitted >= received * out_rate / in_rate - r.holdback - 1e-9
        np.testing.assert_array_equal(np.concatenate(parts), ref)
    # Output sample m is the input evaluated at time m / out_rate (time-aligned, no delay).
    m = np.arange(len(ref))
    expect = np.stack([np.sin(2 * np.pi * 1000 * m / out_rate), np.cos(2 * np.pi * 1500 * m / out_rate)], axis=1)
    mid = slice(len(ref) // 4, len(ref) - len(ref) // 4)
    assert np.abs(ref[mid] - expect[mid]).max() < 1e-3


def test_resampler_rejects_aliases():
    from vocalex.engine.resample import StreamResampler

    t = np.arange(48000) / 48000
    x = np.sin(2 * np.pi * 23500 * t).astype(np.float32)[:, None]  # above 22.05 kHz: must not fold back
    y = StreamResampler(48000, 44100, 1).process(x)
    assert np.abs(y[2000:-2000]).max() < 10 ** (-70 / 20)


# -- low-delay synthesis (asymmetric analysis/synthesis windows) ------------------------------------------


@pytest.mark.parametrize("stride,lookahead", [(1, 0), (2, 0), (4, 3)])
def test_low_delay_saves_n_fft_minus_two_hops_of_latency(tiny, stride, lookahead):
    hann = StreamSeparator(tiny, 44100, 1, StreamConfig(stride, lookahead))
    low = StreamSeparator(tiny, 44100, 1, StreamConfig(stride, lookahead, synthesis="low-delay"))
    assert low.latency == 256 + (lookahead + stride - 1) * 256 + (256 - 1)
    assert hann.latency - low.latency == 1024 - 2 * 256


@pytest.mark.parametrize("rate", [44100, 48000])
def test_low_delay_unit_mask_reconstructs_the_input_at_its_latency(rate):
    s = StreamSeparator(StubModel(unit_mask), rate, 1, StreamConfig(stride=2, lookahead=0, synthesis="low-delay"))
    x = np.zeros((rate // 2, 1), dtype=np.float32)
    x[3001] = 1.0
    v = s.process(x)["vocals"][:, 0]
    assert np.argmax(np.abs(v)) == 3001 + s.latency
    if rate == 44100:
        assert abs(v[3001 + s.latency] - 1.0) < 1e-5 and np.abs(np.delete(v, 3001 + s.latency)).max() < 1e-5
    t = np.arange(rate // 2) / rate
    tone = (0.5 * np.sin(2 * np.pi * 997 * t) * np.hanning(len(t))).astype(np.float32)[:, None]
    out, _, _ = run_stream(StreamSeparator(StubModel(unit_mask), rate, 1, StreamConfig(synthesis="low-delay")), tone, 1000)
    assert np.abs(out - tone).max() < 1e-4


def test_low_delay_is_block_invariant_sums_to_input_and_stays_close_to_hann(tiny):
    x = noise(0.7, 44100, 2)
    ref = run_stream(StreamSeparator(tiny, 44100, 2, StreamConfig(stride=2, synthesis="low-delay")), x, len(x))
    for block in (1, 127, 8193):
        v, a, head = run_stream(StreamSeparator(tiny, 44100, 2, StreamConfig(stride=2, synthesis="low-delay")), x, block)
        np.testing.assert_allclose(v, ref[0], atol=1e-6, err_msg=f"block {block}")
        np.testing.assert_allclose(v + a, x, atol=1e-6)
        assert not head.any()
    # The same masks applied through the other window pair: a different estimate, but of the same thing.
    hann, _, _ = run_stream(StreamSeparator(tiny, 44100, 2, StreamConfig(stride=2)), x, len(x))
    assert not np.allclose(ref[0], hann, atol=1e-4)
    assert np.linalg.norm(ref[0] - hann) < 0.5 * np.linalg.norm(hann)


def test_unknown_synthesis_is_a_usage_error(tiny):
    with pytest.raises(UsageError, match="synthesis must be one of"):
        StreamSeparator(tiny, 44100, 1, StreamConfig(synthesis="short"))
