"""The band above the model's input: how much accompaniment leaks into the vocals there, and SDR there.

    python3 benchmarks/studies/high_band.py [--model M.onnx] [--data DIR] [--limit N]

1. The bundled demo song (30 s) separated, scored on its vocal-free intro (first 1.9 s): sum |V| / sum |X| (STFT magnitudes, 2048-point,
   both channels) per band, for offline, stream and offline + Wiener. Everything in the vocals stem there
   is leaked accompaniment.
2. With --data (MUSDB18 folder): on the validation clips, SDR of vocals and accompaniment above the
   model's top frequency (both reference and estimate high-passed there, 8th-order Butterworth), offline
   mode, median and mean over clips. Full-band SDR comes from benchmarks/eval_musdb.py.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/_common.py
from _common import DEMO_SONG  # noqa: E402

INTRO_SECONDS = 1.9  # the demo's vocals start at about 2.0 s


def band_ratios(vocals, mixture, rate, edges):
    """{(lo, hi): sum |V| / sum |X|} over the STFT bins in [lo, hi) Hz; vocals, mixture: (frames, channels)."""
    from scipy.signal import stft

    f, _, v = stft(vocals.T, rate, nperseg=2048, noverlap=1536)
    _, _, x = stft(mixture.T, rate, nperseg=2048, noverlap=1536)
    out = {}
    for lo, hi in zip(edges[:-1], edges[1:]):
        band = (f >= lo) & (f < hi)
        out[(lo, hi)] = float(np.abs(v[:, band]).sum() / np.abs(x[:, band]).sum())
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=None, help="ONNX model (default: the bundled one)")
    p.add_argument("--data", default=None, help="MUSDB18 folder: also score the validation clips above the model's band")
    p.add_argument("--limit", type=int, default=None)
    args = p.parse_args(argv)

    import soundfile as sf

    from vocalex.engine import Separator

    sep = Separator.load(args.model)
    prof = sep.profile
    top = prof.n_bins * prof.sample_rate / prof.n_fft
    print(f"model {prof.model_version}: input up to {top:.0f} Hz ({prof.n_bins} of {prof.n_freqs} bins)")
    audio, rate = sf.read(DEMO_SONG, dtype="float32")  # the whole 30 s song is separated, its intro scored
    n = int(INTRO_SECONDS * rate)
    edges = [0, 10500, top, 16000, rate / 2] if top < 16000 else [0, 10500, top, rate / 2]
    for name, kwargs in (("offline", {}), ("stream", {"mode": "stream"}), ("offline+wiener", {"wiener": True})):
        ratios = band_ratios(sep.separate(audio, rate, **kwargs)["vocals"][:n], audio[:n], rate, edges)
        print(f"demo intro, {name:15s} |V|/|X|: " + "  ".join(f"{lo / 1000:g}-{hi / 1000:g} kHz {r:.4f}" for (lo, hi), r in ratios.items()))

    if args.data:
        from scipy.signal import butter, sosfiltfilt

        from vocalex.evaluation.evaluate import open_eval_dataset
        from vocalex.evaluation.metrics import sdr

        ds, split = open_eval_dataset(args.data, "auto")
        tracks = ds.tracks[: args.limit] if args.limit else ds.tracks
        scores = {"vocals": [], "accompaniment": []}
        for track in tracks:
            r = track.rate()
            stems = track.load(sample_rate=r)
            sos = butter(8, top, "highpass", fs=r, output="sos")
            est = sep.separate(stems["mixture"], r)
            for stem in scores:
                scores[stem].append(sdr(sosfiltfilt(sos, stems[stem], axis=0), sosfiltfilt(sos, est[stem], axis=0)))
        for stem, values in scores.items():
            print(f"{len(tracks)} {split} clips, offline, SDR above {top:.0f} Hz, {stem}: "
                  f"median {np.median(values):.2f} dB, mean {np.mean(values):.2f} dB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
