"""How the hq model's offline settings were chosen: window length, zero frames before a file's start, Wiener PSDs.

    nice python3 benchmarks/studies/hq_offline_window.py --split train            # the study (80 clips, ~25 min on 2 cores)
    nice python3 benchmarks/studies/hq_offline_window.py --split train --limit 40 --wiener
    nice python3 benchmarks/studies/hq_offline_window.py --split train --files-of 3   # seams: 21-s files, ~2 min
    nice python3 benchmarks/studies/hq_offline_window.py --split train --limit 40 --stream 0,4,8   # stream lookahead

Runs Spleeter's two U-Nets in torch (export/spleeter_hq.py, needs the [hq] extra) on the MUSDB18 7-s
previews (mixture = sum of the stems, as `vocalex eval` does) and prints the median / mean plain SDR of
each variant, vocals and accompaniment (= mixture - vocals, the engine's rule), full band with the
engine's high-band rule (engine/core.py). Use the TRAINING split to choose settings; the validation
clips are for reporting. Variants:

* ``w128c8``: the engine's old offline windows (128 frames, 8 frames of context each side);
* ``s<k>``: one 512-frame window with the clip starting at column k (k zero frames before it): the
  engine's 512-frame offline windows with context c put 2c zero frames before a file's start;
* with ``--wiener``: norbert's multichannel Wiener filter (1 or 2 EM iterations) with PSDs
  r^p |X|^2 and (1 - r)^p |X|^2 from the model's ratio mask r (the engine uses p = 1), on the ``s8`` mask;
* with ``--files-of N``: N consecutive clips joined into one file (21 s for 3), so that windows meet
  inside it, masked exactly as the engine's offline geometry does with context ``c<k>`` (windows of 512
  frames every 512 - 2k, each emitting frames k frames from its edges; 2k zero frames before the start);
* with ``--stream L1,L2``: stream mode's geometry at stride 4 (128-frame windows ending every 4 frames,
  each giving the mask of its 4 frames ``L`` frames before its newest), for each lookahead L.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
import time

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/_common.py
from _common import add_data_option  # noqa: E402

N_FFT, HOP, BINS = 4096, 1024, 1024


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_option(p)
    p.add_argument("--split", default="train", choices=("train", "valid"))
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--wiener", action="store_true", help="the Wiener PSD study instead of the window study")
    p.add_argument("--files-of", type=int, default=None, metavar="N", help="the seam study on files of N joined clips")
    p.add_argument("--stream", default=None, metavar="L,..", help="stream-mode lookaheads to score (stride 4)")
    args = p.parse_args(argv)

    import torch

    from vocalex.engine.core import high_band_gain
    from vocalex.evaluation.metrics import sdr
    from vocalex.export.spleeter_hq import build_module
    from vocalex.data.datasets import open_dataset

    torch.set_num_threads(2)
    net = build_module().eval()
    window = torch.hann_window(N_FFT)
    gain = torch.from_numpy(high_band_gain(N_FFT // 2 + 1, BINS)[BINS:])

    def masks_in(mag, width, context):
        """mag (2, BINS, T) -> mask, same shape, from windows of ``width`` frames, ``context`` frames each side."""
        t, stride = mag.shape[-1], width - 2 * context
        out = torch.zeros_like(mag)
        for start in range(0, t, stride):
            lo = start - context
            win = torch.zeros(1, 2, BINS, width)
            a, b = max(lo, 0), min(lo + width, t)
            win[0, :, :, a - lo:b - lo] = mag[:, :, a:b]
            with torch.no_grad():
                m = net(win)[0]
            end = min(start + stride, t)
            out[:, :, start:end] = m[:, :, context:context + end - start]
        return out

    def full_band(mask):
        """(2, BINS, T) -> (2, N_FFT/2+1, T): the engine's rule above the model's band (median of the top octave x 1/f)."""
        high = mask[:, BINS // 2:].median(dim=1, keepdim=True).values * gain[None, :, None]
        return torch.cat([mask, high], dim=1)

    def wiener(spec, r, power, iterations):
        import norbert

        x = np.ascontiguousarray(spec.numpy().transpose(2, 1, 0), dtype=np.complex128)  # (T, F, channels)
        rr = np.clip(r.numpy().transpose(2, 1, 0), 0, 1).astype(np.float64)
        v = np.stack([rr ** (power / 2) * np.abs(x), (1 - rr) ** (power / 2) * np.abs(x)], -1)
        y = norbert.wiener(v, x, iterations=iterations, use_softmask=False)
        return torch.from_numpy(np.ascontiguousarray(y[..., 0].transpose(2, 1, 0)))

    def engine_geometry(mag, context, width=512):
        """The engine's offline windows (engine/offline.py, MaskingCore): window k covers frames
        [kS - 2c, (k+1)S - 1] (S = width - 2c) and gives the mask of frames [kS - c, (k+1)S - c - 1]."""
        t, stride = mag.shape[-1], width - 2 * context
        out = torch.zeros_like(mag)
        for k in range(t // stride + 2):
            lo, e0, e1 = k * stride - 2 * context, max(0, k * stride - context), min((k + 1) * stride - context, t)
            if e0 >= e1:
                continue
            win = torch.zeros(1, 2, BINS, width)
            a, b = max(lo, 0), min(lo + width, t)
            win[0, :, :, a - lo:b - lo] = mag[:, :, a:b]
            with torch.no_grad():
                out[:, :, e0:e1] = net(win)[0][:, :, e0 - lo:e1 - lo]
        return out

    def stream_geometry(mag, lookahead, stride=4, width=128):
        """Stream mode (MaskingCore): windows of ``width`` frames end at frames k*stride - 1 and give the mask
        of frames [end - lookahead - stride + 1, end - lookahead]; zeros before the start."""
        t = mag.shape[-1]
        out = torch.zeros_like(mag)
        ends = list(range(stride - 1, t + lookahead + stride, stride))
        for i in range(0, len(ends), 32):  # batches of 32 windows
            batch = torch.zeros(len(ends[i:i + 32]), 2, BINS, width)
            for j, end in enumerate(ends[i:i + 32]):
                lo = end - width + 1
                a, b = max(lo, 0), min(end + 1, t)
                if a < b:
                    batch[j, :, :, a - lo:b - lo] = mag[:, :, a:b]
            with torch.no_grad():
                masks = net(batch)
            for j, end in enumerate(ends[i:i + 32]):
                e0, e1 = max(0, end - lookahead - stride + 1), min(end - lookahead + 1, t)
                if e0 < e1:
                    lo = end - width + 1
                    out[:, :, e0:e1] = masks[j][:, :, e0 - lo:e1 - lo]
        return out

    ds = open_dataset(args.data, split=args.split)
    tracks = ds.tracks[: args.limit] if args.limit else ds.tracks
    items = [[t] for t in tracks]
    if args.files_of:
        items = [tracks[i:i + args.files_of] for i in range(0, len(tracks) - args.files_of + 1, args.files_of)]
    scores: dict[str, list] = {}
    t0 = time.perf_counter()
    for group in items:
        loaded = [t.load(sample_rate=44100) for t in group]
        vocals = np.concatenate([x["vocals"] for x in loaded])
        mixture = np.concatenate([x["mixture"] for x in loaded])
        spec = torch.stft(torch.from_numpy(mixture.T.copy()), N_FFT, HOP, window=window, center=True,
                          return_complex=True, pad_mode="constant")
        mag = spec[:, :BINS].abs()
        if args.stream:
            variants = {f"stream L{k}": spec * full_band(stream_geometry(mag, int(k))) for k in args.stream.split(",")}
        elif args.files_of:
            variants = {f"c{k}": spec * full_band(engine_geometry(mag, k)) for k in (0, 4, 8, 32)}
        elif mag.shape[-1] + 72 > 512:
            raise SystemExit(f"{group[0].name}: longer than the 7-s previews this study is written for")
        elif args.wiener:
            r = full_band(_shifted(net, mag, 8))
            variants = {"plain mask": spec * r}
            for power, iterations in ((1, 1), (0.75, 1), (0.5, 1), (0.5, 2), (0.25, 1)):
                variants[f"wiener p{power} it{iterations}"] = wiener(spec, r, power, iterations)
        else:
            variants = {"w128c8": spec * full_band(masks_in(mag, 128, 8))}
            for k in (0, 8, 16, 24, 40, 72):
                variants[f"s{k}"] = spec * full_band(_shifted(net, mag, k))
        for name, est in variants.items():
            v = torch.istft(est, N_FFT, HOP, window=window, center=True, length=len(mixture)).numpy().T
            scores.setdefault(name, []).append((sdr(vocals, v), sdr(mixture - vocals, mixture - v)))
    print(f"{len(items)} files of {len(items[0])} clip(s) ({args.split}), {time.perf_counter() - t0:.0f} s; "
          f"plain SDR in dB, median (mean)")
    for name, vals in scores.items():
        arr = np.array(vals)
        print(f"{name:20s} vocals {np.median(arr[:, 0]):6.2f} ({arr[:, 0].mean():5.2f})   "
              f"accompaniment {np.median(arr[:, 1]):6.2f} ({arr[:, 1].mean():5.2f})")
    return 0


def _shifted(net, mag, start, width=512):
    """The mask of a clip placed at column ``start`` of one ``width``-frame window (zeros around it)."""
    import torch

    t = mag.shape[-1]
    win = torch.zeros(1, 2, mag.shape[1], width)
    win[0, :, :, start:start + t] = mag
    with torch.no_grad():
        return net(win)[0][:, :, start:start + t]


if __name__ == "__main__":
    sys.exit(main())
