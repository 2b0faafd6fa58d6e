"""Offline mode's masking core: MaskingCore with its model calls pipelined and, on request, Wiener filtering.

Offline mode (engine/offline.py) counts throughput, not latency: each model call runs in a thread of its own
while the next input is analysed and the previous output masked and synthesised (one call more of holdback,
removed afterwards), and ``wiener_iterations`` > 0 refines each call's vocals by multichannel Wiener filtering
over that call's output frames (:mod:`vocalex.engine.wiener`: a call spans seconds of frames to estimate the
spatial covariance from).
"""

from __future__ import annotations

import numpy as np

from .background import InThread
from .config import CoreConfig
from .core import MaskingCore
from .wiener import wiener_vocals


class OfflineCore(MaskingCore):
    """MaskingCore for ``config.pipelined`` and / or ``config.wiener_iterations`` (engine.config.CoreConfig)."""

    def __init__(self, model, channels: int, config: CoreConfig, delay_fraction: float = 0.0):
        self._running = None
        self._pipelined = config.pipelined
        super().__init__(model, channels, config, delay_fraction)
        self.wiener_iterations = config.wiener_iterations
        if self.wiener_iterations:
            # The filter needs the plain estimate without the delay phasor and the mixture frames it came from.
            self._mask_phasor = np.ones(self.n_freqs, dtype=np.complex64)
            self._mix_spec = np.zeros((self.frames_per_call, channels, self.n_freqs), dtype=np.complex64)

    def reset(self) -> None:
        if self._running is not None:  # a call still in flight belongs to the old stream: let it finish, drop it
            if self._running[0] is not None:
                self._running[0].exception()
            self._running = None
        super().reset()

    def _model_step(self) -> int:
        """Run the model on the newest windows (pipelined: one call behind); synthesise their output frames."""
        if self._pipelined:
            return self._pipelined_step()
        batch, needed = self._append_and_batch()
        mask = self.model.run(batch) if needed else None
        emitted = self._mask_frames(mask, needed)
        self._refine(emitted)
        if emitted:
            self._synth.push(self._vocal_spec[:emitted], self._vocal_out[: emitted * self.hop])
        return emitted

    def _pipelined_step(self) -> int:
        """One step behind: collect the previous call's mask, start this call, then mask and synthesise the
        previous call's frames.

        The model runs in a thread of its own (ONNX Runtime releases the GIL) while
        this thread masks and overlap-adds the previous output and analyses the next
        input, so a file keeps two cores busy. The next call starts before the previous
        mask is applied (a one-file run's model thread otherwise idled ~5 ms per call):
        the complex history holds one call's frames more, so the previous frames are
        still there, s frames further back, after _append_frames has moved it on.
        """
        previous = None
        if self._running is not None:
            running, needed = self._running
            self._running = None
            previous = (running.result() if needed else None, needed)
        batch, needed = self._append_and_batch()
        self._running = (InThread(lambda: self.model.run(batch), "vocalex-model") if needed else None, needed)
        emitted = self._mask_frames(*previous, shift=self.frames_per_call) if previous is not None else 0
        self._refine(emitted)  # while the model runs
        if emitted:
            self._synth.push(self._vocal_spec[:emitted], self._vocal_out[: emitted * self.hop])
        return emitted

    def _keep_mixture(self, at: int, hist_first: int, count: int) -> None:
        if self.wiener_iterations:
            self._mix_spec[at:at + count] = self._cplx[hist_first:hist_first + count]

    def _refine(self, emitted: int) -> None:
        """With Wiener filtering on: replace the plain masked frames in _vocal_spec by the filtered ones, phasor applied."""
        if not self.wiener_iterations or not emitted:
            return
        vocals = wiener_vocals(self._mix_spec[:emitted], self._vocal_spec[:emitted], self.wiener_iterations)
        np.multiply(vocals, self._phasor, out=self._vocal_spec[:emitted])
