"""Offline (file) mode: best quality, not bound to a live latency.

Offline separation is the streaming core with centred context: model windows
of n_frames (128) frames overlap by half (window hop n_frames // 2 = 64), and
each frame takes its mask from the window in which it sits in the central half
(columns 32..95), never at an edge where the U-Net sees zero padding or a cut.
Several windows go to the model in one batched call. Because it *is* a stream
(STFT and overlap-add block by block, fixed-size histories), memory stays
bounded whatever the file length; the latency it has internally is removed by
:func:`vocalex.engine.separator.separate_blocks`, so the output is aligned with
the input and has its exact length.
"""

from __future__ import annotations

from .stream import StreamSeparator

WINDOWS_PER_CALL = 4   # batch = 4 windows x channels; larger batches gained little on 2 cores


def offline_geometry(profile) -> tuple[int, int]:
    """(stride, lookahead) in frames that put every frame in the central half of its window."""
    stride = profile.n_frames // 2
    lookahead = (profile.n_frames - stride) // 2
    return stride, lookahead


def offline_stream(model, sample_rate: int, channels: int) -> StreamSeparator:
    """A StreamSeparator configured for offline quality (centred windows, batched calls)."""
    stride, lookahead = offline_geometry(model.profile)
    return StreamSeparator(model, sample_rate, channels, stride, lookahead, windows_per_call=WINDOWS_PER_CALL)
