"""Offline (file) mode: best quality, not bound to a live latency.

Offline separation is the streaming core with centred context: model windows
of n_frames (128) frames overlap by 2 x OFFLINE_CONTEXT frames, and each frame
takes its mask from the window in which it has at least OFFLINE_CONTEXT frames
of context on both sides (columns 8..119), never at an edge where the U-Net
sees zero padding or a cut.

Why 8 frames (46 ms) and not half the window: on the 14 validation clips the
median vocals SDR was the same within noise for 32, 16, 8 and 4 frames of
context (4.69 / 4.63 / 4.72 / 4.62 dB, training snapshot at step 1250), while
half-overlapping windows run the model on every frame twice. With 8 frames each
frame is inferred 128/112 = 1.14 times.
A model with a dynamic frames axis may name a longer offline window
(``vocalex.offline_frames``, engine/contract.py): the hq model (Spleeter's U-Nets,
trained on 512-frame patches) masks files in 512-frame windows (11.9 s) with
LONG_WINDOW_CONTEXT = 4 frames of context on each side, while its stream mode
keeps 128. Chosen on the 80 MUSDB18 *training* clips (never on the validation
clips the README reports; torch emulation of the engine's windows, vocals SDR
median): 128-frame windows 6.52 dB, 512-frame windows 6.95 dB. Within a 512
window what counts most is how many zero frames precede the music at the start
of a file (the first window holds 2 x context of them): 0 / 8 / 16 / 24 / 40 /
72 zero frames gave 7.03 / 6.95 / 6.90 / 6.86 / 6.48 / 6.82 dB, and the window length
beyond the clip did not matter (512 and 1024 the same). Context 4 keeps
seams between windows of long files 4 frames from an edge (the 128-frame study
above found 4 frames as good as 32) at 0.08 dB below no context at all
(Spleeter's own non-overlapping patches); averaging masks over shifted windows
added nothing (7.05 dB for four shifts).
Several windows go to the model in one batched call, run in a worker thread
while the STFT work of the neighbouring calls goes on (``pipelined``, see
:class:`vocalex.engine.core.MaskingCore`). Because it *is* a stream
(STFT and overlap-add block by block, fixed-size histories), memory stays
bounded whatever the file length; the latency it has internally is removed by
:func:`vocalex.engine.separator.separate_blocks`, so the output is aligned with
the input and has its exact length.
"""

from __future__ import annotations

from .config import CoreConfig, OfflineConfig
from .stream import StreamSeparator
from .wiener import WIENER_ITERATIONS

WINDOWS_PER_CALL = 4   # batch = 4 windows x channels; larger batches gained little on 2 cores
OFFLINE_CONTEXT = 8    # frames of context kept on each side of the frames a window emits
LONG_WINDOW_CONTEXT = 4   # the same for windows longer than 128 frames (see the module docstring)


def offline_context(n_frames: int) -> int:
    """Frames of context kept on each side in a window of ``n_frames``: OFFLINE_CONTEXT for the contract's
    128-frame windows, LONG_WINDOW_CONTEXT for the longer offline windows of a dynamic-frames model."""
    return OFFLINE_CONTEXT if n_frames <= 128 else LONG_WINDOW_CONTEXT


def offline_geometry(profile, context: int = None, n_frames: int = None) -> tuple[int, int]:
    """(stride, lookahead) in frames that leave ``context`` frames on both sides of the frames a window emits.

    n_frames: the window (default the profile's; a dynamic-frames model's offline_frames in offline mode).
    """
    n_frames = profile.n_frames if n_frames is None else n_frames
    context = offline_context(n_frames) if context is None else context
    stride = n_frames - 2 * context
    return stride, context


def offline_core(model, config: OfflineConfig = OfflineConfig()) -> CoreConfig:
    """What offline mode runs for ``model``: centred windows, batched and pipelined calls, the numpy kernels.

    Windows are the model's ``offline_frames`` long (n_frames unless a dynamic-frames model names a
    longer window, see engine/contract.py). ``config.wiener``: refine the vocals by multichannel Wiener filtering
    (:mod:`vocalex.engine.wiener`), the spatial covariance estimated over the frames of each model call
    (about WINDOWS_PER_CALL x 112 frames: 2.6 s at hop 256, 10.4 s at hop 1024).
    """
    n_frames = model.offline_frames
    stride, lookahead = offline_geometry(model.profile, config.context, n_frames)
    # Longer windows: fewer of them per call, so that a call covers about as many frames as 4 short ones.
    windows = max(1, round(WINDOWS_PER_CALL * (128 - 2 * OFFLINE_CONTEXT) / stride))
    # numpy kernels: each call moves hundreds of frames, and a one-file process skips numba's start-up.
    return CoreConfig(stride, lookahead, n_frames, windows_per_call=windows, pipelined=True,
                      wiener_iterations=WIENER_ITERATIONS if config.wiener else 0, kernels="numpy")


def offline_stream(model, sample_rate: int, channels: int, config: OfflineConfig = OfflineConfig()) -> StreamSeparator:
    """A StreamSeparator configured for offline quality (:func:`offline_core`)."""
    return StreamSeparator(model, sample_rate, channels, offline_core(model, config))
