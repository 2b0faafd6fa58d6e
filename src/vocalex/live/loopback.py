"""End-to-end latency of the live engine, measured through the JACK server by loopback.

A harness (two JACK clients, the JACK-Client package) plays a known broadband
signal into the live engine's input ports and records the engine's output
ports, frame-synchronously with the server. The engine runs with both stem
gains at 0 dB, so its output is its input delayed (vocals + accompaniment =
input), and the delay is the lag of the cross-correlation peak between what was
played and what came back. Player and recorder count from the same server
cycle, so the lag is the true input-to-output delay through the audio server,
PortAudio, the engine's rings and the separator.

What the engine reports is algorithmic + compute headroom + the device latency
PortAudio states for the stream (input + output). The loopback path runs
player -> engine -> recorder inside one server cycle, so it includes
PortAudio's own buffering but not the driver's. Measured here (dummy driver,
-p 256): with a synchronous server (``jackd --sync``, what the tests and
benchmarks start) PortAudio states 256 frames of output latency and the
loopback measures exactly algorithmic + headroom + 256; with an asynchronous
server PortAudio states 512 (the driver's extra period on the way to the
hardware) while the loopback measured algorithmic + headroom + 0, two blocks
under the report. So the one-block agreement holds on a synchronous server;
on an asynchronous one the report is the hardware path's, which the loopback
does not traverse. Under load an asynchronous server also loses the audio of
cycles a client misses, which spoils the correlation.

The harness is also what the live tests use to feed a known mix through the
engine (:class:`JackHarness`).
"""

from __future__ import annotations

import ctypes
import time

import numpy as np

from vocalex.base.errors import DeviceError
from vocalex.base.machine import machine_name

from .devices import JACK_HOSTAPI_NAME, jack_server_running, resolve_devices
from .defaults import DEFAULT_MARGIN_MS
from .realtime import LiveEngine
from .setup import build_live_stream

HARNESS_NAME = "vocalex-loopback"


def portaudio_jack_client_name(sd) -> str:
    """The JACK client name PortAudio registered for this process (``PaJack_GetClientName``).

    PortAudio names its client "PortAudio", or "PortAudio-NN" when another
    process holds that name, so the name is asked, not assumed.
    """
    lib = ctypes.CDLL(sd._libname)
    fn = lib.PaJack_GetClientName
    fn.argtypes = [ctypes.POINTER(ctypes.c_char_p)]
    fn.restype = ctypes.c_int
    name = ctypes.c_char_p()
    if fn(ctypes.byref(name)) != 0 or not name.value:
        raise DeviceError("PortAudio has no JACK client in this process (is the JACK server running?)")
    return name.value.decode()


def _jack():
    try:
        import jack
    except ImportError:
        raise DeviceError("the loopback harness needs the JACK-Client package (pip install JACK-Client)") from None
    except OSError as exc:  # libjack missing
        raise DeviceError(f"the loopback harness needs libjack: {exc}") from None
    return jack


class _Armed:
    """Cycle counting shared by the harness's player and recorder clients.

    Both clients start counting at the first server cycle whose frame time is
    at or past ``start``; from then on each advances by the cycle's frames, so
    position p of the player and of the recorder belong to the same cycle.
    """

    def __init__(self):
        self.start = -1        # frame time to start at; -1 = not armed
        self.last_cycle = -1   # frame time of the newest cycle seen (for arming from another thread)


class JackHarness:
    """Two JACK clients: a player feeding ``signal`` into another client's inputs, a recorder of its outputs.

    signal: float32 (frames, channels). Two clients, not one: a single client
    both feeding and reading the engine would close a cycle in the JACK graph,
    and the server breaks a cycle with one period of delay, which is not the
    engine's. Player -> engine -> recorder run in that order within one cycle.
    After :meth:`play`, player frame ``i`` and recorder frame ``i`` belong to
    the same cycle, for ``len(signal) + tail`` frames; ``recorded`` is float32
    (len(signal) + tail, channels). Buffers are allocated here, the process
    callbacks only copy.
    """

    def __init__(self, signal: np.ndarray, tail: int, name: str = HARNESS_NAME):
        jack = _jack()
        signal = np.asarray(signal, dtype=np.float32)
        if signal.ndim != 2:
            raise ValueError(f"signal must be (frames, channels), got shape {signal.shape}")
        self.channels = signal.shape[1]
        self.total = signal.shape[0] + int(tail)
        # channel-major copies: each port buffer is one contiguous channel
        self._play = np.zeros((self.channels, self.total), dtype=np.float32)
        self._play[:, : signal.shape[0]] = signal.T
        self._record = np.zeros((self.channels, self.total), dtype=np.float32)
        self._armed = _Armed()
        self._play_pos = -1
        self._rec_pos = -1
        self.server_xruns = 0  # xruns the server reported while armed
        self._clients = []
        try:
            self.player = jack.Client(name + "-play", no_start_server=True)
            self._clients.append(self.player)
            self.recorder = jack.Client(name + "-rec", no_start_server=True)
            self._clients.append(self.recorder)
        except jack.JackError as exc:
            self.close()
            raise DeviceError(f"cannot open a JACK client ({exc}); is a JACK server running?") from None
        self.samplerate = self.player.samplerate
        self.blocksize = self.player.blocksize
        self._outs = [self.player.outports.register(f"out_{c}") for c in range(self.channels)]
        self._ins = [self.recorder.inports.register(f"in_{c}") for c in range(self.channels)]
        self.player.set_process_callback(self._process_player)
        self.recorder.set_process_callback(self._process_recorder)
        self.recorder.set_xrun_callback(self._xrun)
        self.player.activate()
        self.recorder.activate()

    def _position(self, client, position: int, frames: int) -> int:
        """This cycle's position for one client (-1 before the start)."""
        if position >= 0:
            return position + frames
        armed = self._armed
        now = client.last_frame_time
        armed.last_cycle = now
        if armed.start < 0 or now < armed.start:
            return -1
        return now - armed.start  # 0 unless the server skipped frames right at the start

    def _process_player(self, frames):
        self._play_pos = position = self._position(self.player, self._play_pos, frames)
        for c in range(self.channels):
            out = self._outs[c].get_array()
            if 0 <= position < self.total:
                n = min(frames, self.total - position)
                out[:n] = self._play[c, position:position + n]
                out[n:] = 0.0
            else:
                out.fill(0.0)

    def _process_recorder(self, frames):
        self._rec_pos = position = self._position(self.recorder, self._rec_pos, frames)
        if 0 <= position < self.total:
            n = min(frames, self.total - position)
            for c in range(self.channels):
                self._record[c, position:position + n] = self._ins[c].get_array()[:n]

    def _xrun(self, delayed_usecs):
        if 0 <= self._rec_pos < self.total:
            self.server_xruns += 1

    def connect(self, client_name: str) -> None:
        """Wire player out_c -> client's c-th input and client's c-th output -> recorder in_c, alone."""
        jack_client = self.player
        ins = jack_client.get_ports(f"^{client_name}:", is_audio=True, is_input=True)
        outs = jack_client.get_ports(f"^{client_name}:", is_audio=True, is_output=True)
        if len(ins) < self.channels or len(outs) < self.channels:
            raise DeviceError(f"JACK client {client_name!r} has {len(ins)} inputs and {len(outs)} outputs; need {self.channels}")
        for port in ins:  # the engine's default connections (system capture) would add to our signal
            for other in jack_client.get_all_connections(port):
                jack_client.disconnect(other, port)
        for port in outs:
            for other in jack_client.get_all_connections(port):
                jack_client.disconnect(port, other)
        for c in range(self.channels):
            jack_client.connect(self._outs[c], ins[c])
            jack_client.connect(outs[c], self._ins[c])

    def play(self, timeout: float = 5.0) -> None:
        """Arm both clients to start a few cycles from now, at the same cycle."""
        end = time.perf_counter() + timeout
        while self._armed.last_cycle < 0:
            if time.perf_counter() > end:
                raise DeviceError("the JACK server runs no cycles (is it stuck?)")
            time.sleep(0.005)
        self._armed.start = self._armed.last_cycle + 8 * self.blocksize

    def wait(self, timeout: float) -> None:
        end = time.perf_counter() + timeout
        while self._rec_pos < self.total:
            if time.perf_counter() > end:
                raise DeviceError(f"the JACK harness did not finish in {timeout:.0f} s (is the server running?)")
            time.sleep(0.01)

    @property
    def recorded(self) -> np.ndarray:
        """What came back, float32 (len(signal) + tail, channels)."""
        return self._record.T.copy()

    def close(self) -> None:
        for client in self._clients:
            try:
                client.deactivate()
            finally:
                client.close()
        self._clients = []


def noise_bursts(
    samplerate: int, channels: int, seconds: float = 2.0, burst_ms: float = 40.0, seed: int = 0, bed: float = 0.01,
) -> np.ndarray:
    """The measurement signal, float32 (frames, channels): white-noise bursts at irregular spacing over a noise bed.

    Broadband for a sharp correlation peak; irregular spacing so no lag but the
    true one lines up more than one burst. The quiet continuous bed (``bed``
    RMS, -40 dBFS by default) keeps the model running on every stride: the
    engine skips the model for digital silence, so a signal of bursts in
    silence would measure an idle worker, not the live load.
    """
    rng = np.random.default_rng(seed)
    n = int(seconds * samplerate)
    x = (bed * rng.standard_normal((n, channels))).astype(np.float32)
    burst = int(burst_ms * samplerate / 1000)
    starts = (np.array([0.10, 0.37, 0.71, 1.13, 1.52]) * n / 2.0).astype(int)
    for s in starts:
        if s + burst <= n:
            x[s:s + burst] = 0.3 * rng.standard_normal((burst, channels)).astype(np.float32)
    return x


def find_delay(played: np.ndarray, recorded: np.ndarray) -> tuple[int, float]:
    """Lag (frames >= 0) at which recorded best matches played, and the normalised correlation there.

    played: float (n,), recorded: float (m,), m >= n. Correlation by FFT.
    """
    played = np.asarray(played, dtype=np.float64)
    recorded = np.asarray(recorded, dtype=np.float64)
    size = 1 << int(np.ceil(np.log2(len(played) + len(recorded))))
    corr = np.fft.irfft(np.fft.rfft(recorded, size) * np.conj(np.fft.rfft(played, size)), size)
    lags = corr[: len(recorded) - len(played) + 1]
    lag = int(np.argmax(lags))
    segment = recorded[lag:lag + len(played)]
    denom = np.sqrt(np.sum(played**2) * np.sum(segment**2))
    return lag, float(lags[lag] / denom) if denom > 0 else 0.0


def run_through_engine(engine, signal: np.ndarray, tail: int, settle: float = 0.3, timeout: float | None = None) -> tuple[np.ndarray, int]:
    """Play signal (frames, channels) into a started-here live engine's JACK input; return what it output.

    Starts ``engine`` (a LiveEngine on the JACK host API), wires a harness to
    its ports, lets it run ``settle`` seconds, plays the signal and records
    ``len(signal) + tail`` frames; the engine is stopped (recording finalised)
    before returning. Returns (recorded float32 (len(signal) + tail, channels),
    the number of xruns the server reported meanwhile). An xrun means some
    client (engine or harness) missed a server cycle; the audio of that cycle
    is then not what was played or processed, which is the machine's doing,
    not the engine's (a non-realtime server on a loaded machine).
    """
    from .devices import portaudio

    sd = portaudio()
    harness = JackHarness(signal, tail)
    try:
        if harness.samplerate != engine.samplerate:
            raise DeviceError(f"the JACK server runs at {harness.samplerate} Hz but the engine at {engine.samplerate} Hz")
        engine.start()
        try:
            harness.connect(portaudio_jack_client_name(sd))
            time.sleep(settle)
            harness.play()
            harness.wait(timeout if timeout is not None else 10.0 + 3.0 * harness.total / harness.samplerate)
        finally:
            engine.stop()
    finally:
        harness.close()
    return harness.recorded, harness.server_xruns


def measure_latency(
    model=None,
    provider: str = "cpu",
    threads: int | None = None,
    stride: int | None = None,
    lookahead: int | str | None = None,
    latency_ms: float | None = None,
    blocksize: int = 256,
    margin_ms: float = DEFAULT_MARGIN_MS,
    seconds: float = 2.0,
    separator=None,
    synthesis: str = "low-delay",
    window: int | None = None,
    lowest: bool = False,
) -> dict:
    """Measure the live engine's input-to-output latency through the running JACK server.

    Runs the real engine (model, provider, stride/lookahead or a latency
    target) in passthrough (both stems at 0 dB) on JACK's ``system`` device,
    plays noise bursts into its inputs, records its outputs, and returns a dict:
    measured and reported latency (frames and ms) with the reported parts,
    callback interval and compute time statistics, late blocks, xruns and the
    machine. Raises DeviceError when no JACK server runs.
    """
    devices = _jack_system_device()
    setup = build_live_stream(devices, model=model, provider=provider, threads=threads, stride=stride, lookahead=lookahead,
                              latency_ms=latency_ms, blocksize=blocksize, margin_ms=margin_ms, separator=separator,
                              synthesis=synthesis, window=window, lowest=lowest)
    engine = LiveEngine(setup.stream, devices, blocksize=blocksize, gains=(1.0, 1.0), headroom=setup.plan.headroom,
                        stride_period=setup.stride_period)
    sr = devices.samplerate
    signal = noise_bursts(sr, devices.channels, seconds)
    tail = setup.plan.total + 8 * blocksize + sr // 2
    recorded, server_xruns = run_through_engine(engine, signal, tail)
    lag, peak = find_delay(signal[:, 0], recorded[:, 0])
    # A clean run correlates at 1.0 (passthrough is exact); cycles lost to server xruns lower it.
    if peak < 0.5:
        raise DeviceError(
            f"loopback measurement failed: the played signal did not come back (correlation {peak:.2f}, "
            f"{server_xruns} server xruns; an overloaded asynchronous server loses audio: try jackd --sync)"
        )
    chosen = setup.choice.candidate if setup.choice is not None else None
    return {"machine": machine_name(), "provider": provider, "samplerate": sr, "blocksize": blocksize,
            "model": setup.separator.profile.model_version,
            "choice": setup.choice.describe() if setup.choice is not None else None,
            "stride": setup.plan.stride, "lookahead": setup.plan.lookahead,
            "synthesis": chosen.synthesis if chosen is not None else synthesis,
            "window": (chosen.window if chosen is not None else window) or setup.stream.profile.n_frames,
            "mirror": chosen.mirror if chosen is not None else 0,
            "configuration": setup.stream.describe(),
            **_delays(engine, setup, lag, peak), **_timings(engine, setup), "server_xruns": server_xruns}


def _jack_system_device():
    """The JACK server's ``system`` device through PortAudio; DeviceError when no server runs or PortAudio misses it."""
    if not jack_server_running():
        raise DeviceError("no JACK server is running; start one (jackd --sync --no-realtime -d dummy -r 44100 -p 256 &) "
                          "or let vocalex start one (`start_server`)")
    devices = resolve_devices(None, None)
    if devices.hostapi != JACK_HOSTAPI_NAME:
        raise DeviceError(f"PortAudio does not see the JACK server (default host API is {devices.hostapi})")
    return devices


def _delays(engine, setup, lag: int, peak: float) -> dict:
    """The measured delay beside the reported one and its parts."""
    report = engine.latency_report()
    ms = 1000.0 / engine.samplerate
    return {
        "measured_samples": lag,
        "measured_ms": lag * ms,
        "correlation": peak,
        "reported_samples": report["total_samples"],
        "reported_ms": report["total_ms"],
        "algorithmic_ms": report["algorithmic_ms"],
        "headroom_ms": report["headroom_ms"],
        "device_ms": report["device_ms"],
        "difference_ms": (lag - report["total_samples"]) * ms,
        "block_ms": engine.blocksize * ms,
        "within_one_block": abs(lag - report["total_samples"]) <= engine.blocksize,
    }


def _timings(engine, setup) -> dict:
    """How the run went: the model call, scheduling, calibration, callback intervals, compute per block, counters."""
    intervals = engine.callback_intervals()
    # compute_ms_*: one worker process() call (normally one device block; the model call lands in one
    # block of every stride, so p99 is about the model call plus the STFT work)
    block_compute, _ = engine.compute_times()
    return {
        "model_call_ms": 1000 * setup.call_seconds,
        "scheduling": engine.scheduling_at_start,
        "calibration": setup.calibration.describe(),
        "calibration_block_ms_p999": 1000 * setup.calibration.p999,
        "callback_interval_ms_p50": _ms(intervals, 50),
        "callback_interval_ms_p99": _ms(intervals, 99),
        "callback_interval_ms_max": _ms(intervals, 100),
        "compute_ms_p50": _ms(block_compute, 50),
        "compute_ms_p99": _ms(block_compute, 99),
        "late_blocks": engine.stats.late_blocks,
        "xruns": engine.stats.xruns,
        "resyncs": engine.stats.resyncs,
        "callbacks": engine.stats.callbacks,
    }


def _ms(seconds: np.ndarray, q: float) -> float:
    """The q-th percentile of ``seconds`` in ms (q 100: the maximum); NaN for none."""
    return float(np.percentile(seconds, q) * 1000) if len(seconds) else float("nan")


def format_latency(result: dict) -> str:
    """The one-line summary ``vocalex bench --live`` prints."""
    return (
        f"end-to-end latency {result['measured_ms']:.1f} ms = algorithmic {result['algorithmic_ms']:.1f} ms"
        f" + compute headroom {result['headroom_ms']:.1f} ms + device buffers {result['device_ms']:.1f} ms"
        f" {'+' if result['difference_ms'] >= 0 else '-'} {abs(result['difference_ms']):.1f} ms unexplained"
        f" (reported {result['reported_ms']:.1f} ms; one block = {result['block_ms']:.1f} ms)"
        f" [{result['configuration']}]"
    )
