"""Figures (matplotlib, the ``eval`` extra): SDR against latency, compute-time histograms, spectrograms.

Every function writes one PNG atomically (temporary file, then rename) and
returns its path. Figures are sized and saved so a PNG stays well under 300 KB.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

DPI = 90  # with the palette PNG this keeps a 4-panel spectrogram figure near 200-260 KB
PNG_BUDGET = 290_000  # bytes; README figures stay under 300 KB


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    return plt


def _save(fig, out) -> Path:
    """Save ``fig`` to ``out`` through a temporary file in the same folder, then close it."""
    from vocalex.base.errors import OutputError

    from .report import umask_mode

    plt = _pyplot()
    out = Path(out)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".png", dir=str(out.resolve().parent))
        os.close(fd)
        _write_palette_png(fig, tmp)
        os.chmod(tmp, umask_mode())
        os.replace(tmp, out)
    except OSError as exc:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        raise OutputError(f"cannot write {out}: {exc.strerror or exc}") from None
    finally:
        plt.close(fig)
    return out


def _write_palette_png(fig, path) -> None:
    """Render ``fig`` and store it as a 256-colour palette PNG: spectrograms are noise-like and an RGBA
    PNG of one runs to ~1 MB; the palette keeps it a few hundred KB with no visible change."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    fig.savefig(buf, dpi=DPI, format="png")
    buf.seek(0)
    with Image.open(buf) as img:
        rgb = img.convert("RGB")
    # Fewer colours only if a very busy figure would still pass the size budget.
    for colors in (256, 128, 64):
        out = io.BytesIO()
        rgb.quantize(colors=colors, method=Image.Quantize.MEDIANCUT).save(out, format="PNG", optimize=True)
        if out.tell() <= PNG_BUDGET:
            break
    with open(path, "wb") as f:
        f.write(out.getvalue())


def plot_sdr_vs_latency(series: dict, out, references: dict | None = None, title: str | None = None) -> Path:
    """Vocals SDR (dB) against end-to-end latency (ms): what each millisecond buys.

    series: {label: [(latency_ms, vocals_sdr_db, point_label), ...]} one line per
    profile / stride, points sorted by latency (point_label e.g. "la 2").
    references: {label: vocals_sdr_db} drawn as horizontal lines (offline mode,
    baselines, Spleeter), which have no live latency.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8.0, 7.0))
    ys_all = []
    for i, (label, points) in enumerate(series.items()):
        points = sorted(points)
        xs = [p[0] for p in points]
        ys = [p[1] for p in points]
        ys_all += [y for y in ys if y is not None]
        ax.plot(xs, ys, marker="o", label=label)
        for x, y, text in points:
            if text:  # alternate series label below / above their points so they do not collide
                ax.annotate(text, (x, y), textcoords="offset points", xytext=(3, -11 if i % 2 == 0 else 5), fontsize=7)
    refs = {k: v for k, v in (references or {}).items() if v is not None}
    # The y range follows the curves (what each millisecond buys is a fraction of a dB); references far
    # below it (the mixture, centre cancellation) are named in the legend instead of squashing the curves.
    lo = min(ys_all + [v for v in refs.values() if ys_all and v >= min(ys_all) - 3.0] or [0.0]) - 0.5
    hi = max(ys_all + [v for v in refs.values() if v >= lo] or [1.0]) + 0.5
    styles = ["--", ":", "-.", (0, (5, 1)), (0, (1, 3))]
    for i, (label, value) in enumerate(refs.items()):
        style = dict(linestyle=styles[i % len(styles)], color=f"C{(i + len(series)) % 10}", linewidth=1)
        if lo <= value <= hi:
            ax.axhline(value, label=f"{label} ({value:.2f} dB)", **style)
        else:
            ax.plot([], [], label=f"{label} ({value:.2f} dB, off scale)", **style)
    ax.set_ylim(lo, hi)
    xs_all = [p[0] for points in series.values() for p in points]
    if xs_all and max(xs_all) > 4 * min(xs_all):  # live models at tens of ms beside the hq model at hundreds
        from matplotlib.ticker import FuncFormatter

        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}" if str(int(v))[0] in "2345" else ""))
    ax.set_xlabel("end-to-end latency (ms): algorithmic + compute headroom + device buffers")
    ax.set_ylabel("vocals SDR, median over tracks (dB)")
    ax.set_title(title or "vocals SDR against latency", fontsize=10)
    ax.grid(alpha=0.3)
    # below the axes: with a dozen series and references, any place inside covers some of the curves
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, frameon=False)
    fig.tight_layout()
    return _save(fig, out)


def plot_compute_histogram(times_ms: dict, out, budget_ms: float | None = None, title: str | None = None) -> Path:
    """Histogram of per-model-call compute times.

    times_ms: {label: sequence of ms}; budget_ms: the stride period a live
    engine has per call, drawn as a vertical line.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.0, 4.0))
    all_times = np.concatenate([np.asarray(v, dtype=np.float64) for v in times_ms.values()]) if times_ms else np.zeros(1)
    hi = max(float(np.percentile(all_times, 99.5)) * 1.2, budget_ms * 1.1 if budget_ms else 0.0, 1e-3)
    bins = np.linspace(0.0, hi, 60)
    for label, values in times_ms.items():
        values = np.asarray(values, dtype=np.float64)
        p50, p99 = np.percentile(values, [50, 99]) if values.size else (np.nan, np.nan)
        ax.hist(np.clip(values, 0, hi), bins=bins, alpha=0.6, label=f"{label}: p50 {p50:.2f} ms, p99 {p99:.2f} ms, n={values.size}")
    if budget_ms:
        ax.axvline(budget_ms, color="k", linestyle="--", linewidth=1, label=f"budget per call {budget_ms:.1f} ms")
    ax.set_xlabel("compute time per model call (ms)")
    ax.set_ylabel("calls")
    ax.set_title(title or "model call compute time", fontsize=10)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return _save(fig, out)


def spectrogram_db(x: np.ndarray, n_fft: int = 2048, hop: int = 512) -> np.ndarray:
    """x: float (frames,) -> magnitude (n_fft // 2 + 1, n_windows), Hann window, no centring."""
    x = np.asarray(x, dtype=np.float64)
    if len(x) < n_fft:
        x = np.pad(x, (0, n_fft - len(x)))
    n = 1 + (len(x) - n_fft) // hop
    idx = np.arange(n_fft)[None, :] + hop * np.arange(n)[:, None]
    window = np.hanning(n_fft + 1)[:-1]
    return np.abs(np.fft.rfft(x[idx] * window, axis=1)).T


MASK_FLOOR_DB = -60.0  # the mask panel draws bins where the mixture is within this of its peak


def shown_mask(mixture_mag: np.ndarray, vocals_mag: np.ndarray, floor_db: float = MASK_FLOOR_DB) -> np.ndarray:
    """|V| / |M| clipped to [0, 1], NaN where the mixture is more than ``floor_db`` below its peak.

    Where the mixture holds (almost) nothing, the ratio of two tiny numbers is noise, not a decision of the
    separator: drawn, it showed bright speckles above 16 kHz of songs that are silent there (issue 24)."""
    mask = np.clip(vocals_mag / np.maximum(mixture_mag, 1e-9), 0.0, 1.0)
    ref = max(float(mixture_mag.max()), 1e-12)
    quiet = 20 * np.log10(np.maximum(mixture_mag / ref, 1e-12)) < floor_db
    return np.where(quiet, np.nan, mask)


def plot_spectrograms(mixture: np.ndarray, vocals: np.ndarray, accompaniment: np.ndarray, sample_rate: int, out,
                      title: str | None = None, max_hz: float | None = None) -> Path:
    """Four stacked panels: mixture, vocals, accompaniment spectrograms (dB) and the effective vocals mask.

    mixture, vocals, accompaniment: float (frames, channels) or (frames,), the
    same length; channels are averaged. The mask shown is |V| / |M| per bin
    (clipped to [0, 1]): what the separator kept of the mixture as vocals, drawn only where the mixture is
    within 60 dB of its peak (grey elsewhere: :func:`shown_mask`).
    """
    plt = _pyplot()
    mono = [np.asarray(a, dtype=np.float64).reshape(len(a), -1).mean(axis=1) for a in (mixture, vocals, accompaniment)]
    specs = [spectrogram_db(m, n_fft=1024, hop=512) for m in mono]
    mask = shown_mask(specs[0], specs[1])
    ref = max(float(specs[0].max()), 1e-9)
    dbs = [20 * np.log10(np.maximum(s / ref, 1e-5)) for s in specs]
    top = min(max_hz or sample_rate / 2, sample_rate / 2)
    rows = int(np.ceil(top / (sample_rate / 2) * (specs[0].shape[0] - 1))) + 1
    seconds = len(mono[0]) / sample_rate
    extent = (0.0, seconds, 0.0, top / 1000.0)
    fig, axes = plt.subplots(4, 1, figsize=(9.0, 8.0), sharex=True)
    panels = [("mixture", dbs[0], "magma", (-80, 0)), ("vocals", dbs[1], "magma", (-80, 0)),
              ("accompaniment", dbs[2], "magma", (-80, 0)),
              (f"vocals mask |V| / |M| where the mixture is within {-MASK_FLOOR_DB:.0f} dB of its peak (grey: quieter)",
               mask, "viridis", (0, 1))]
    for ax, (name, img, cmap, (lo, hi)) in zip(axes, panels):
        if name == panels[3][0]:
            ax.set_facecolor("0.6")  # the NaN bins of the mask are not drawn: this grey shows through
        im = ax.imshow(img[:rows], origin="lower", aspect="auto", extent=extent, cmap=cmap, vmin=lo, vmax=hi,
                       interpolation="nearest")
        ax.set_ylabel("kHz")
        ax.set_title(name, fontsize=9, loc="left")
        fig.colorbar(im, ax=ax, pad=0.01, label="dB" if name != panels[3][0] else "")
    axes[-1].set_xlabel("time (s)")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return _save(fig, out)
