"""A training run's log: JSON lines in OUT/log.jsonl and a PNG of the curves."""

from __future__ import annotations

import json
from pathlib import Path


class RunLog:
    """JSON lines in OUT/log.jsonl and a PNG of the curves (if matplotlib is installed)."""

    def __init__(self, out: Path):
        self.path = out / "log.jsonl"
        self.png = out / "curves.png"

    def write(self, record: dict) -> None:
        with open(self.path, "a") as fh:
            fh.write(json.dumps(record) + "\n")

    def records(self) -> list[dict]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]

    def plot(self) -> bool:
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            return False
        recs = self.records()
        train = [r for r in recs if "loss" in r]
        valid = [r for r in recs if "valid" in r]
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
        if train:
            ax1.plot([r["step"] for r in train], [r["loss"] for r in train], lw=0.8)
        ax1.set(xlabel="step", ylabel="training loss (L1, normalised)", title="loss")
        for mode in ("offline", "stream"):
            for stem, style in (("vocals", "-"), ("accompaniment", "--")):
                pts = [(r["step"], r["valid"][mode][stem]) for r in valid if mode in r["valid"]]
                if pts:
                    ax2.plot(*zip(*pts), style, marker="o", ms=3, label=f"{stem} {mode}")
        ax2.set(xlabel="step", ylabel="median SDR (dB)", title="validation (held-out clips, engine)")
        if valid:
            ax2.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(self.png, dpi=100)
        plt.close(fig)
        return True
