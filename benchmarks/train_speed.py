"""Training throughput of the U-Net on this machine: ms per optimiser step.

Prints one line per (widths, threads): median ms per step of batch
--batch-size spectrogram windows (forward, masked L1, backward, Adam), and
windows per second. On a CPU shared with other processes, 1 thread can beat 2
(OpenMP threads wait on each other when one is descheduled): measure both.

    python3 benchmarks/train_speed.py --steps 5 --threads 1 2
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import torch

from vocalex.training.loss import masked_l1
from vocalex.training.profiles import PROFILES
from vocalex.training.unet import UNet, UNetConfig, count_parameters

WIDTHS = {"4..128": (4, 8, 16, 32, 64, 128), "8..256": (8, 16, 32, 64, 128, 256), "paper 16..512": (16, 32, 64, 128, 256, 512)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="live1024")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--widths", nargs="+", default=list(WIDTHS), choices=list(WIDTHS))
    args = ap.parse_args()
    p = PROFILES[args.profile]
    print(f"machine: {platform.processor() or platform.machine()}, torch {torch.__version__}, profile {p.name}, "
          f"batch {args.batch_size} x (1, {p.n_bins}, {p.n_frames})")
    mix = torch.rand(args.batch_size, p.n_bins, p.n_frames) * 4
    target = mix * torch.rand_like(mix)
    for name in args.widths:
        for threads in args.threads:
            torch.set_num_threads(threads)
            torch.manual_seed(0)
            net = UNet(UNetConfig(widths=WIDTHS[name]))
            opt = torch.optim.Adam(net.parameters(), lr=1e-3)
            times = []
            for i in range(args.steps + 1):
                t0 = time.perf_counter()
                loss = masked_l1(net(mix[:, None])[:, 0], mix, target, stream_weight=0.5)
                opt.zero_grad()
                loss.backward()
                opt.step()
                if i:  # the first step allocates and warms up
                    times.append(time.perf_counter() - t0)
            ms = 1000 * float(np.median(times))
            print(f"widths {name:14s} {count_parameters(net):>10,} params  threads {threads}: "
                  f"{ms:8.1f} ms/step  {1000 * args.batch_size / ms:7.1f} windows/s")


if __name__ == "__main__":
    main()
