"""The live engine: a duplex audio stream, lock-free rings and one worker thread.

Threads and what each may do
----------------------------
* The **audio callback** (PortAudio's thread) only copies: the input block into
  the input ring, the output block out of the output ring (``outdata[:] = ...``
  via ``np.copyto``), the delivered block into the played ring, and counts
  status flags and late blocks. It never allocates an audio buffer, takes no
  lock, touches no file and runs no inference.
* The **worker thread** pulls input from the input ring, runs
  ``StreamSeparator.process``, applies the stem gains, pushes the result into
  the output ring, measures levels and compute times, and writes the recording.
* The **main thread** opens/closes the stream, runs the meter and handles Ctrl-C.

The fixed delay (exact, in device samples)
------------------------------------------
Every frame has an absolute position: the callback's n-th input frame is input
position n, and the n-th frame it plays is output position n. The worker keeps
the invariant ``output_ring.write_count == input_position + H``: the output
ring starts with H frames of silence and every processed input frame appends
exactly one output frame. The separator's own output is delayed by
``L = stream.latency`` (algorithmic: STFT overlap-add, stride, lookahead,
resampling), so

    played[n] = gains . stems(input)[n - H - L]

for every n, whatever the worker's timing. ``H`` is the **compute headroom**:
block k arrives in callback k and its output is due in callback k + H/blocksize,
so the worker has H samples of time per block. H is planned from a calibration
of the very stream on this machine (:mod:`vocalex.live.plan`: 1.5 x the
p99.9 block time + 1 ms + a margin for the machine's stalls, rounded up to whole
blocks), not from the stride: a 3-5 ms model call needs 3 blocks of 5.8 ms on a
2-core VM, not the whole stride it was once given. The device and audio server add their own buffering
on top (PortAudio's reported input and output latency), so what a listener
hears is delayed by ``H + L + device``.

Late results
------------
If, at callback time, the worker has not produced a frame that is due, the
callback plays the **delayed dry input** (``input[n - H - L]``, the same signal
with both stem gains at 0 dB) for the missing frames and counts one late block
(``--on-late silence`` plays silence instead). The dry input is time-aligned
with the processed output, so a late block is heard as the vocals briefly
returning, not as a click or a jump. The output position still advances: frames
the worker finishes after their due time are overwritten later and never
played, so the delay stays fixed. If the worker falls more than ``resync_lag``
frames behind (sustained overload), it skips all pending input, writes silence
for the skipped output positions, resets the separator and carries on; the
invariant above holds across a resync, so the delay is still the same
afterwards (the separator's warm-up after a reset is heard as L samples of
silence). ``resync_lag`` is max(H, 0.2 s).

Scheduling
----------
A pure-Python engine shares the GIL and, on small machines, the cores. These
measures keep the audio thread and the worker on time: the interpreter's switch
interval is lowered to 0.5 ms while live (a thread holding the GIL hands it over
within that time, not 5 ms, about one 256-frame block); the objects alive at
start are frozen out of the garbage collector (a full collection took 25-55 ms
with the GIL held); the audio and worker threads get nice -10 where permitted
(:func:`raise_thread_priority`); where the audio server runs its callbacks
realtime (JACK --realtime, PipeWire), the worker runs SCHED_FIFO one step
below the callback (:func:`follow_realtime_callback`), so other processes'
load cannot delay it, and the start-up timing is measured at that priority;
ONNX Runtime runs one thread by default (its default pool spin-waits on every core).

Recording
---------
``--record DIR``: the worker writes ``input.wav`` (what the device delivered)
and ``output.wav`` (what the callback played, late blocks included) as
float32, sample-aligned, to hidden partial files renamed into place at stop.

Device faults
-------------
The main thread is the watchdog (never the callback): every tick it checks
that the stream is still active and that a callback arrived within
``stall_timeout`` (default max(2 s, 8 blocks)). When the input device vanishes
(its JACK server is killed or stopped, a USB device is unplugged) PortAudio
marks the stream inactive and the callbacks stop; a server that hangs only
stops the callbacks. Either way :meth:`LiveEngine.run` stops the worker, keeps
the recording (complete, valid files up to the moment the audio stopped: what
was captured is worth keeping; an empty recording is discarded) and raises
:class:`DeviceLostError`. The PortAudio stream is then *abandoned*, never
stopped or closed: after its JACK server is gone, PortAudio's stop and close
wait up to 10 minutes for a process cycle that never comes and its terminate
aborts the process (pa_jack.c). The process must end without PortAudio's
teardown (:func:`abandon_portaudio`; ``vocalex live`` exits with ``os._exit``).
"""

from __future__ import annotations

import gc
import sys
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from vocalex.base.errors import DeviceError, OutputError, UsageError, VocalexError

from .callback import STATUS_FLAGS, AudioCallback
from .devices import (JACK_HOSTAPI_NAME, DeviceChoice, DeviceLostError, abandon_portaudio, jack_server_running, load_sounddevice,
                      open_stream, portaudio_lost_its_jack_server, quiet_stderr, stream_error, stream_latency_frames)
from .recorder import LiveRecorder
from .report import latency_report, snapshot
from .ringbuffer import SpscRing
from .scheduling import (describe_threads, enter_lowest_realtime, follow_realtime_callback, freeze_heap, leave_realtime,
                         raise_thread_priority)
from .worker import SeparationWorker

LATE_FILLS = ("dry", "silence")


@dataclass
class LiveStats:
    """Counters the callback and the worker update; read (never written) by the meter."""

    callbacks: int = 0
    late_blocks: int = 0
    xruns: int = 0                       # callbacks with any of STATUS_FLAGS set
    flags: dict = field(default_factory=lambda: dict.fromkeys(STATUS_FLAGS + ("priming_output",), 0))
    resyncs: int = 0
    process_calls: int = 0
    processed_frames: int = 0
    compute_seconds: float = 0.0         # total time inside process() + gains
    input_peak: float = 0.0              # decaying peak, linear
    output_peak: float = 0.0
    worker_error: str | None = None


class LiveEngine:
    """Runs a StreamSeparator on a duplex sounddevice stream in real time.

    stream: an object with ``process(block) -> {"vocals", "accompaniment"}``
    ((frames, channels) float32 in and out, same length), ``reset()`` and
    ``latency`` (samples at the device rate), made for ``samplerate`` and
    ``channels``. gains: linear (vocals, accompaniment). The output is
    ``gains . stems`` delayed by exactly ``headroom + stream.latency`` frames
    (module docstring). source: a file_source.FileSource to play as the input
    on an output-only stream (``devices.input_index`` None); the run then
    ends by itself once the file has been played out.
    """

    def __init__(
        self,
        stream,
        devices: DeviceChoice,
        blocksize: int = 256,
        gains: tuple[float, float] = (0.0, 1.0),
        headroom: int | None = None,
        late_fill: str = "dry",
        recorder: LiveRecorder | None = None,
        stride_period: int | None = None,
        stream_latency: str | float = "low",
        stall_timeout: float | None = None,
        source=None,
    ):
        if blocksize < 16:
            raise UsageError(f"`blocksize` must be at least 16 frames, got {blocksize}")
        if late_fill not in LATE_FILLS:
            raise UsageError(f"late fill must be one of {', '.join(LATE_FILLS)}, got {late_fill!r}")
        self.stream = stream
        self.devices = devices
        self.samplerate = devices.samplerate
        self.channels = devices.channels
        self.blocksize = int(blocksize)
        self.gains = (float(gains[0]), float(gains[1]))
        self.algorithmic = int(stream.latency)
        self.headroom = int(headroom) if headroom is not None else 2 * self.blocksize
        if self.headroom < self.blocksize:
            raise UsageError(f"compute headroom ({self.headroom}) must be at least one block ({self.blocksize})")
        self.late_fill = late_fill
        self.recorder = recorder
        self.stride_period = stride_period or self.blocksize  # device samples per model call (for the load)
        self._stream_latency = stream_latency
        # No callback for this long means the device stopped delivering audio (a hung or stopped
        # server); at least 2 s so that a loaded machine's scheduling hiccups never count as one.
        self.stall_timeout = max(2.0, 8 * self.blocksize / self.samplerate) if stall_timeout is None else float(stall_timeout)
        self.device_lost: str | None = None  # why the device stopped delivering audio (then the stream is abandoned)
        self.stats = LiveStats()
        self.source = source  # a file played as the input (file_source.FileSource) instead of the device's

        # Positions: input n is played at output n + headroom + algorithmic (the dry fallback reads there).
        self._dry_offset = self.headroom + self.algorithmic
        self.resync_lag = max(self.headroom, self.samplerate // 5)
        # Capacities: the dry fallback reads headroom + algorithmic + a block behind the input writer,
        # and the worker may fall resync_lag behind before it skips; 2 s more absorbs one stalled call.
        span = self._dry_offset + self.resync_lag + 4 * self.blocksize + 2 * self.samplerate
        self._in_ring = SpscRing(span, self.channels)
        self._out_ring = SpscRing(self.headroom + self.resync_lag + 2 * self.samplerate, self.channels)
        self._played_ring = SpscRing(4 * self.samplerate, self.channels)
        self._separation = SeparationWorker(stream, self._in_ring, self._out_ring, self._played_ring, self.stats,
                                            self.gains, recorder, self.blocksize, self.samplerate, self.resync_lag)
        self._separation.write_silence(self.headroom)  # the first H output frames are silence
        self._callback = AudioCallback(self._in_ring, self._out_ring, self._played_ring, self.stats, self._dry_offset,
                                       late_fill == "dry", source, self.blocksize, self.channels)
        self.late_at = self._callback.late_at  # callback index of the first 256 late blocks

        self._sd_stream = None
        self._worker_exception = None
        self._worker_tid = None
        self.worker_realtime_priority = None  # set at start where the callback runs realtime
        self.scheduling_at_start = "not started"
        self._caller_scheduling = None  # (thread id, policy, priority) to restore at stop
        self._worker = None
        self._stop = False
        self._stop_requested = False  # set by request_stop() from another thread: run() then returns
        self._device_latency = (0, 0)
        self._switch_interval = None
        self.started_at = None

    # -- the worker thread --------------------------------------------------------------------------

    def _work(self) -> None:
        """The worker thread: the separation side (live/worker.py) until stop, errors kept for stop()."""
        poll = min(0.001, self.blocksize / self.samplerate / 4)
        separation = self._separation
        self._worker_tid = threading.get_native_id()
        raise_thread_priority(self._worker_tid)
        try:
            while not self._stop:
                busy = separation.process_pending()
                separation.drain_played()
                if not busy:
                    time.sleep(poll)
        except Exception as exc:  # keep the stream alive (it plays dry), report at stop
            self._worker_exception = exc
            self.stats.worker_error = f"{type(exc).__name__}: {exc}"

    # -- lifecycle (main thread) ----------------------------------------------------------------

    def start(self) -> None:
        sd = load_sounddevice()
        # before the stream opens: the first calls compile kernels and size ONNX Runtime's arenas
        self._separation.warm_up(self.algorithmic + 2 * self.stride_period + self.blocksize)
        what = (
            f"open {self.devices.input_name!r} -> {self.devices.output_name!r} at {self.samplerate} Hz, "
            f"{self.channels} channels, block {self.blocksize}"
        )
        # PortAudio's JACK host API aborts the process (an assertion in pa_jack's CleanUpStream) when the
        # server goes away while a stream is being opened; a server already stopping is caught here instead,
        # which leaves only the milliseconds between this check and the open.
        if self.devices.hostapi == JACK_HOSTAPI_NAME and not jack_server_running():
            raise DeviceError(f"cannot {what}: the JACK server stopped (start it again and retry)")
        try:
            with quiet_stderr():  # PortAudio prints its failed internal expressions on fd 2
                self._sd_stream = open_stream(
                    sd, self.devices, blocksize=self.blocksize, latency=self._stream_latency,
                    callback=self._callback if self.source is None else self._callback.file_callback,
                )
        except sd.PortAudioError as exc:
            raise stream_error(self.devices, what, exc) from None
        self._device_latency = stream_latency_frames(sd, self._sd_stream, self.devices, self._stream_latency)
        if self.source is not None:
            self.source.start()  # the feeder decodes ahead before the first callback
        # The callback thread needs the GIL every block; a Python thread holding it (meter rendering,
        # worker bookkeeping) hands it over only every switch interval (5 ms by default, about one
        # 256-frame block), so shorten it while live.
        self._switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(min(self._switch_interval, 0.0005))
        # A full collection of the ~125,000 objects the engine, numba and ONNX Runtime leave behind takes
        # 25-55 ms here, holding the GIL: the callback and the worker would both stall behind it (it showed
        # as p99.9 block times of 25-31 ms beside a p99 of 5.5 ms). Frozen, they are never scanned again;
        # what the live loop allocates stays young and cheap to collect.
        freeze_heap()
        self._stop = False
        self._worker = threading.Thread(target=self._work, name="vocalex-live-worker", daemon=True)
        self._worker.start()
        self.started_at = time.perf_counter()
        try:
            self._sd_stream.start()
        except sd.PortAudioError as exc:
            raise stream_error(self.devices, what.replace("open", "start", 1), exc) from None
        # The audio thread is PortAudio's; its id is known once it has called back.
        deadline = time.perf_counter() + 1.0
        while self._callback.tid is None and time.perf_counter() < deadline:
            time.sleep(0.001)
        if self._callback.tid is not None:
            raise_thread_priority(self._callback.tid)
            if self._worker_tid is not None:
                self.worker_realtime_priority = follow_realtime_callback(self._worker_tid, self._callback.tid)
        if self.worker_realtime_priority is not None:
            # The GIL makes every Python thread part of the realtime path: an ordinary thread preempted by another
            # process while it holds the GIL stalls the realtime callback and worker behind it (measured: callback
            # intervals of 47 ms and 271 late blocks in 5 minutes with two other jobs on the cores). So the thread
            # that started the engine (the meter's, the harness's) runs realtime too, at the lowest priority.
            self._caller_scheduling = enter_lowest_realtime()
        self.scheduling_at_start = self.scheduling()

    def scheduling(self) -> str:
        """How the audio callback and the worker thread are scheduled, e.g. ``callback FIFO 9, worker FIFO 8``."""
        return describe_threads(callback=self._callback.tid, worker=self._worker_tid)

    def stop(self) -> dict | None:
        """Stop the stream, join the worker, finish the recording; returns the recorded paths.

        After a device loss the PortAudio stream is left as it is (module
        docstring: stopping it would wait for minutes); the worker and the
        recording are finished all the same.
        """
        stop_failure = None
        if self._sd_stream is not None:
            if self.device_lost is None:  # also a loss in the last moments of a --duration run
                self.device_lost = self._device_failure()
            if self.device_lost is None:
                stop_failure = self._stop_stream_bounded()
            if self.device_lost is not None:
                abandon_portaudio()
        self._finish_worker()
        paths = None
        if self.recorder is not None:
            # Input the worker had not processed yet is still recorded, so input.wav and output.wav
            # both cover every frame the device delivered.
            recorder = self.recorder
            try:
                self._separation.record_input_until(self._in_ring.write_count)
                self._separation.drain_played()
            except OutputError:
                pass  # recorder.failed says why; close() removes the files and raises it
            self.recorder = None
            # A device that vanished before delivering anything leaves nothing worth keeping.
            paths = recorder.close(keep=self.device_lost is None or recorder.frames > 0)
        if stop_failure is not None:
            raise stop_failure
        return paths

    def _stop_stream_bounded(self) -> DeviceError | None:
        """Stop and close the PortAudio stream, waiting at most ``stall_timeout``; the error to report, if any.

        A server that froze in the last moments (no stall seen yet) would keep
        PortAudio's stop waiting for minutes, so the stop runs in a helper
        thread; if it does not return in time the device counts as lost and
        the stream is abandoned with that thread still waiting in it.
        """
        sd = load_sounddevice()
        failure = []
        done = threading.Event()

        def stop_and_close():
            try:
                try:
                    self._sd_stream.stop()
                finally:
                    self._sd_stream.close()
            except sd.PortAudioError as exc:
                failure.append(exc)
            finally:
                done.set()

        threading.Thread(target=stop_and_close, name="vocalex-live-stream-stop", daemon=True).start()
        if not done.wait(self.stall_timeout):
            self.device_lost = (
                f"audio device did not stop within {self.stall_timeout:.1f} s "
                f"(input {self.devices.input_name!r} stalled or disappeared?)"
            )
            return None
        if failure:  # the worker is still joined and the recording finished before this is raised
            return DeviceError(f"the audio stream did not stop cleanly: {failure[0]}")
        return None

    def _finish_worker(self) -> None:
        """Tell the worker (and a file source's feeder) to stop, join them, restore the thread switch interval."""
        if self.source is not None:
            self.source.stop()
        self._stop = True
        if self._worker is not None:
            self._worker.join()
            self._worker = None
        if self._switch_interval is not None:
            sys.setswitchinterval(self._switch_interval)
            self._switch_interval = None
            gc.unfreeze()
        if self._caller_scheduling is not None:
            leave_realtime(*self._caller_scheduling)
            self._caller_scheduling = None

    def _abandon(self) -> None:
        """Undo a failed start: no stream, no worker, no half-written recording."""
        if self._sd_stream is not None and not portaudio_lost_its_jack_server():  # opened, then failed to start
            try:
                self._sd_stream.close()
            except Exception:  # the stream is given up either way; the start failure is what gets reported
                pass
        self._finish_worker()
        if self.recorder is not None:
            self.recorder.close(keep=False)
            self.recorder = None

    def run(self, duration: float | None = None, on_tick=None, tick: float = 0.25) -> dict | None:
        """Start, run for ``duration`` seconds (None: until Ctrl-C), stop; on_tick(snapshot) every tick."""
        try:
            self.start()
        except BaseException:
            self._abandon()
            raise
        interrupted = None
        try:
            end = None if duration is None else time.perf_counter() + duration
            while not self._stop_requested and (end is None or time.perf_counter() < end):
                time.sleep(tick if end is None else max(0.0, min(tick, end - time.perf_counter())))
                if on_tick is not None:
                    on_tick(self.snapshot())
                if self.stats.worker_error:
                    break
                if self.source is not None and (self.source.error is not None
                                                or self.source.played_out(self._out_ring.read_count, self._dry_offset)):
                    break  # a file input ends the run once its last frame has been played (or it failed)
                self.device_lost = self._device_failure()
                if self.device_lost:
                    break
        except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (base.termination.Terminated): re-raised as is
            interrupted = exc
        finally:
            paths = self.stop()
        if self.device_lost:
            raise DeviceLostError(self.device_lost, self, paths)
        if self.source is not None and self.source.error is not None:
            raise self.source.error
        if isinstance(self._worker_exception, VocalexError):  # e.g. the recording could not be written (disk full)
            raise self._worker_exception
        if self.stats.worker_error:
            raise DeviceError(f"the live worker failed: {self.stats.worker_error}")
        if interrupted is not None:
            raise interrupted
        return paths

    def request_stop(self) -> None:
        """Ask a run() in another thread to stop at its next tick (a controller's Stop button, a closed page)."""
        self._stop_requested = True

    def set_gains(self, vocals: float, accompaniment: float) -> None:
        """Change the linear stem gains while running; the worker reads the pair once per block (one assignment)."""
        self.gains = (float(vocals), float(accompaniment))
        self._separation.gains = self.gains

    def _device_failure(self) -> str | None:
        """The watchdog (main thread): why the device stopped delivering audio, or None while it delivers."""
        sd = load_sounddevice()
        now = time.perf_counter()
        last = self._callback.last_time() or self.started_at
        ran = f"after {now - self.started_at:.1f} s"
        where = f"input {self.devices.input_name!r}"
        try:
            active = self._sd_stream.active
        except sd.PortAudioError:
            active = False
        if not active:  # PortAudio's JACK host marks the stream inactive when the server shuts down
            return f"audio device stopped delivering audio {ran} ({where} disappeared? JACK server stopped or device unplugged)"
        if now - last > self.stall_timeout:
            return f"audio device stopped delivering audio {ran}: no block for {now - last:.1f} s ({where} stalled or disappeared?)"
        return None

    # -- reporting ------------------------------------------------------------------------------

    @property
    def device_latency(self) -> tuple[int, int]:
        """(input, output) latency PortAudio reports for the open stream, in frames."""
        return self._device_latency

    def latency_report(self) -> dict:
        """The delay from input to output, by part, in frames and ms (live/report.py)."""
        return latency_report(self)

    def callback_intervals(self) -> np.ndarray:
        """Seconds between consecutive callbacks, float64 (n - 1,), over the last 8192 callbacks."""
        return self._callback.intervals()

    def compute_times(self) -> tuple[np.ndarray, np.ndarray]:
        """(seconds, frames) of the recent process() calls, float64 and int64 (n,)."""
        return self._separation.compute_times()

    def snapshot(self) -> dict:
        """What the meter shows, read without locks (values may be one block apart; live/report.py)."""
        return snapshot(self)
