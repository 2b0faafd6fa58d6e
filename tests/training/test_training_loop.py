"""Training: STFT framing = engine framing, the loss, loss goes down, checkpoint/resume,
`vocalex train` -> `vocalex export` -> engine, and the DistributedDataParallel path (2 gloo processes)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

torch = pytest.importorskip("torch")

from vocalex.engine.config import stream_output_frames as stream_frames  # noqa: E402
from vocalex.training.loss import crop_samples, magnitude, masked_l1  # noqa: E402
from vocalex.training.profiles import PROFILES  # noqa: E402
from vocalex.data.splits import VALID_NAMES  # noqa: E402
from vocalex.training.unet import UNet, UNetConfig  # noqa: E402

pytestmark = pytest.mark.torch

TINY = (4, 8, 16, 32, 64, 128)
PROFILE = PROFILES["live1024"]


def _dataset(root, seconds=1.5, rate=44100):
    """Two generated songs (a 'singer' of harmonic tones over a noise 'band'); one is a validation name."""
    rng = np.random.default_rng(0)
    n = int(seconds * rate)
    t = np.arange(n) / rate
    for i, name in enumerate(["Generated - Train Song", VALID_NAMES[0]]):
        folder = root / name
        folder.mkdir(parents=True)
        f0 = 220 * (1 + i / 4)
        voice = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 6)) * 0.1 * (np.sin(2 * np.pi * 1.3 * t) > -0.5)
        sf.write(folder / "vocals.wav", np.stack([voice, 0.8 * voice], 1).astype(np.float32), rate)
        sf.write(folder / "accompaniment.wav", rng.normal(0, 0.05, (n, 2)).astype(np.float32), rate)
    return root


def test_training_stft_frames_like_the_engine():
    from vocalex.engine.stft import StftAnalyzer

    n = crop_samples(PROFILE)
    x = np.random.default_rng(1).normal(0, 0.1, n)
    ours = magnitude(torch.from_numpy(x)[None], PROFILE)[0].numpy()  # (n_bins, n_frames)
    assert ours.shape == (PROFILE.n_bins, PROFILE.n_frames)
    delay = PROFILE.n_fft // PROFILE.hop_length - 1  # engine frames before the first complete one
    analyzer = StftAnalyzer(PROFILE.n_fft, PROFILE.hop_length, 1, PROFILE.n_frames + delay)
    out = np.zeros((PROFILE.n_frames + delay, 1, PROFILE.n_fft // 2 + 1), np.complex64)
    _, frames = analyzer.push(x[:, None], out)
    assert frames == PROFILE.n_frames + delay
    engine = np.abs(out[delay:, 0, : PROFILE.n_bins]).T
    np.testing.assert_allclose(ours, engine, rtol=1e-4, atol=1e-4)


def test_stream_frames_are_the_engines_output_columns():
    assert stream_frames(128, 4, 0) == slice(124, 128)
    assert stream_frames(128, 4, 2) == slice(122, 126)
    assert stream_frames(128, 1, 0) == slice(127, 128)
    with pytest.raises(ValueError):
        stream_frames(128, 4, 125)


def test_stream_weight_puts_the_weight_on_the_output_frames():
    mix = torch.ones(1, 8, 128)
    target = torch.zeros(1, 8, 128)
    mask = torch.zeros(1, 8, 128)
    mask[..., 126] = 1.0  # an error only in a frame the live engine outputs (stride 4, lookahead 0)
    plain = masked_l1(mask, mix, target, stream_weight=0.0)
    focused = masked_l1(mask, mix, target, stream_weight=0.5)
    assert focused > 10 * plain
    mask2 = torch.zeros(1, 8, 128)
    mask2[..., 10] = 1.0  # the same error far from the output frames counts less with the stream weight
    assert masked_l1(mask2, mix, target, stream_weight=0.5) < plain


@pytest.mark.slow
@pytest.mark.parametrize("channels", [1, 2])
def test_a_few_steps_reduce_the_loss(channels):
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    n = crop_samples(PROFILE)
    t = np.arange(n) / PROFILE.sample_rate
    voice = np.stack([np.sin(2 * np.pi * f * t) * 0.2 for f in (330.0, 440.0)])
    band = rng.normal(0, 0.05, (2, n))
    mix = magnitude(torch.tensor(voice + band, dtype=torch.float32), PROFILE)
    target = magnitude(torch.tensor(voice, dtype=torch.float32), PROFILE)
    net = UNet(UNetConfig(widths=TINY, channels=channels))
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    losses = []
    for _ in range(20):
        loss = masked_l1(net.masks(mix), mix, target, stream_weight=0.3)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.mean(losses[-3:]) < 0.8 * np.mean(losses[:3]), losses


def test_train_checkpoints_validates_and_resumes(tmp_path):
    from vocalex.training.checkpoints import load_checkpoint
    from vocalex.training.config import TrainConfig
    from vocalex.training.train import train

    data = _dataset(tmp_path / "data")
    cfg = dict(data=[str(data)], out=str(tmp_path / "run"), widths=TINY, batch_size=2, valid_every=2,
               valid_modes=("offline",), cache=str(tmp_path / "cache"), threads=1, checkpoint_every=1)
    first = train(TrainConfig(steps=2, **cfg), quiet=True)
    assert first["step"] == 2 and first["best"] is not None
    assert (tmp_path / "run" / "step-000002.pt").exists() and (tmp_path / "run" / "best.pt").exists()
    ckpt = load_checkpoint(tmp_path / "run" / "last.pt")
    second = train(TrainConfig(steps=3, **cfg), resume="auto", quiet=True)
    assert second["step"] == 3
    resumed = load_checkpoint(tmp_path / "run" / "last.pt")
    assert resumed["step"] == 3
    changed = [k for k in ckpt["model"] if not torch.equal(ckpt["model"][k], resumed["model"][k])]
    assert changed, "the resumed step did not update the weights"
    records = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    valid = [r for r in records if "valid" in r]
    assert [r["step"] for r in valid] == [2, 3] and valid[0]["clips"] == 1
    assert np.isfinite(valid[0]["valid"]["offline"]["vocals"])


def _vocalex(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "vocalex.cli.main", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd)


@pytest.mark.slow
@pytest.mark.subprocess
def test_vocalex_train_then_export_then_engine(tmp_path):
    from vocalex.engine import Separator
    from vocalex.engine.contract import read_profile

    data = _dataset(tmp_path / "data")
    run = tmp_path / "run"
    r = _vocalex("train", "--data", data, "--out", run, "--steps", 3, "--widths", ",".join(map(str, TINY)),
                 "--batch-size", 2, "--valid-every", 3, "--valid-modes", "offline,stream", "--cache",
                 tmp_path / "cache", "--threads", 1, "--quiet", "--model-version", "test-1",
                 "--training-data", "generated tones (test)", "--licence", "MIT")
    assert r.returncode == 0, r.stderr
    assert "trained to step 3" in r.stdout
    model = tmp_path / "model.onnx"
    r = _vocalex("export", run / "last.pt", "-o", model)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "model.golden.npz").exists()
    profile = read_profile(model)
    assert (profile.model_version, profile.training_data, profile.licence) == ("test-1", "generated tones (test)", "MIT")
    audio, rate = sf.read(data / VALID_NAMES[0] / "vocals.wav", dtype="float32")
    stems = Separator.load(str(model)).separate(audio, rate, mode="offline")
    assert stems["vocals"].shape == audio.shape
    np.testing.assert_allclose(stems["vocals"] + stems["accompaniment"], audio, atol=1e-4)
    # Refusals: existing output, foreign checkpoint, missing checkpoint; no traceback, distinct codes.
    r = _vocalex("export", run / "last.pt", "-o", model)
    assert r.returncode == 7 and "exists" in r.stderr and "Traceback" not in r.stderr
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    r = _vocalex("export", tmp_path / "junk.pt", "-o", tmp_path / "j.onnx")
    assert r.returncode == 6 and "Traceback" not in r.stderr and not (tmp_path / "j.onnx").exists()
    r = _vocalex("export", tmp_path / "missing.pt", "-o", tmp_path / "m2.onnx")
    assert r.returncode == 2 and "not found" in r.stderr


@pytest.mark.slow
@pytest.mark.subprocess
def test_vocalex_train_refuses_bad_input(tmp_path):
    (tmp_path / "empty").mkdir()
    r = _vocalex("train", "--data", tmp_path / "empty", "--out", tmp_path / "run", "--steps", 1)
    assert r.returncode == 3 and "empty" in r.stderr and "Traceback" not in r.stderr
    r = _vocalex("train", "--data", tmp_path / "empty", "--out", tmp_path / "run", "--profile", "nope")
    assert r.returncode == 2 and "unknown profile" in r.stderr


@pytest.mark.slow
@pytest.mark.subprocess
def test_distributed_data_parallel_two_gloo_processes(tmp_path):
    data = _dataset(tmp_path / "data")
    run = tmp_path / "run"
    r = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         "-m", "vocalex.cli.main", "train", "--data", str(data), "--out", str(run), "--steps", "2",
         "--widths", ",".join(map(str, TINY)), "--batch-size", "2", "--valid-modes", "none", "--cache",
         str(tmp_path / "cache"), "--threads", "1", "--quiet", "--device", "cpu"],
        capture_output=True, text=True,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert records[0]["world"] == 2 and records[-1]["step"] == 2
    assert (run / "last.pt").exists()
    # Every rank reports the parameter checksum after its last step: DDP keeps them identical.
    sums = sorted(run.glob("rank-*.checksum"))
    assert len(sums) == 2
    assert sums[0].read_text() == sums[1].read_text()
