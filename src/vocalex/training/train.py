"""The training loop: data from the decode-once cache, augmentation, the
masked L1 loss, Adam, checkpoints that allow stopping at any step, validation
through the real engine, a JSON-lines log and a PNG of the curves.

Runs on one device, or on several through ``torchrun`` (DistributedDataParallel:
NCCL on CUDA, gloo on CPU). Every rank draws its own examples (seed + rank);
rank 0 alone logs, validates and writes checkpoints.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from vocalex.base.errors import UsageError
from vocalex.export.onnx_export import profile_for

from .augment import AugmentConfig, MixSampler
from .checkpoints import WeightAverage, build_network, load_checkpoint, save_checkpoint
from .config import TrainConfig, lr_at
from .loss import crop_samples, magnitude, masked_l1
from .material import build_pool, teacher_sampler
from .profiles import PROFILES
from .runlog import RunLog
from .unet import count_parameters
from .validate import load_clips, validate_module


def spectrogram_batch(batch: dict[str, np.ndarray], profile, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Stereo crops {"mixture","vocals"} (n, 2, samples) -> mixture, vocals magnitudes (2n, n_bins, n_frames)."""
    mix = torch.from_numpy(batch["mixture"]).to(device).reshape(-1, batch["mixture"].shape[-1])
    voc = torch.from_numpy(batch["vocals"]).to(device).reshape(-1, batch["vocals"].shape[-1])
    return magnitude(mix, profile), magnitude(voc, profile)


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
    """The engine's profile of the network ``cfg`` trains, with its model card entries."""
    return profile_for(PROFILES[cfg.profile], model_version=cfg.model_version,
                       training_data=cfg.training_data or ", ".join(cfg.data), licence=cfg.licence or "unspecified")


@dataclass
class _Run:
    """One run's moving parts: the network (and its DDP wrapper), optimizer, sampler, weight average, mixed
    precision, where it stands (step, best validation score) and where it writes (out, log)."""

    cfg: TrainConfig
    rank: int
    world: int
    device: torch.device
    out: Path
    log: object
    model: object = None
    net: object = None
    optimizer: object = None
    sampler: object = None
    average: WeightAverage | None = None
    step: int = 0
    best: float | None = None
    use_amp: bool = False
    amp_dtype: object = None
    scaler: object = None
    clips: list | None = None

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def train(cfg: TrainConfig, resume: str | None = None, quiet: bool = False) -> dict:
    """Train per ``cfg``; returns {"step", "loss", "best", "checkpoint", "model"}. Stoppable at any time: OUT/last.pt."""
    rank, world = _distributed()
    device = _device(cfg)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    console = _console() if rank == 0 and not quiet else None
    from .console import TrainConsole

    say = TrainConsole(enabled=console is not None)  # plain one-line messages, a progress line while clips decode
    run = _Run(cfg, rank, world, device, out, say.log)
    run.preparing = say.preparing
    ckpt = _resume_config(cfg, out, resume)
    _prepare(run, ckpt)
    runlog = RunLog(out)
    if run.is_main:
        runlog.write({"start": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "step": run.step, "world": world,
                      "device": str(device), "parameters": count_parameters(run.model), "config": asdict(cfg)})
    progress = _progress_bar(console, cfg.steps, run.step) if console is not None else None
    try:
        last_loss = _loop(run, runlog, progress)
        if world > 1:  # a per-rank fingerprint of the weights: DDP must keep them identical
            (out / f"rank-{rank}.checksum").write_text(_parameter_digest(run.model))
    finally:
        if progress is not None:
            progress.stop()
        if world > 1 and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
    if run.is_main:
        runlog.plot()
    return {"step": run.step, "loss": last_loss, "best": run.best, "checkpoint": str(out / "last.pt"), "model": run.model}


def _console():
    from rich.console import Console  # here: a quiet run (the tests, torchrun's other ranks) needs no rich

    return Console(stderr=True)


def _progress_bar(console, steps: int, done: int):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    progress = Progress(TextColumn("training"), BarColumn(), MofNCompleteColumn(), TextColumn("loss {task.fields[loss]}"),
                        TimeElapsedColumn(), TimeRemainingColumn(), console=console, transient=False)
    progress.add_task("train", total=steps, completed=done, loss="-")
    progress.start()
    return progress


def _resume_config(cfg: TrainConfig, out: Path, resume: str | None) -> dict | None:
    """The checkpoint to resume from (None: a fresh run); the network's shape and STFT come from it, whatever the
    command line says."""
    if not resume:
        return None
    ckpt = load_checkpoint(out / "last.pt" if resume == "auto" else resume)
    saved = ckpt["config"]
    cfg.profile, cfg.widths = saved["profile"], tuple(saved["widths"])
    cfg.channels = int(ckpt["unet"].get("channels", 1))
    cfg.init = saved.get("init")
    return ckpt


def _prepare(run: _Run, ckpt: dict | None) -> None:
    """The network, optimizer, material and sampler, the weight average and mixed precision; the state of ``ckpt``."""
    cfg, rank = run.cfg, run.rank
    torch.manual_seed(cfg.seed + rank)
    run.model = build_network(cfg).to(run.device)
    run.optimizer = torch.optim.Adam(run.model.parameters(), lr=cfg.lr)
    layouts = []
    pool = build_pool(cfg, run.log, getattr(run, "preparing", None), layouts)
    if not cfg.licence:  # the data's terms travel with the weights (MUSDB18: non-commercial), as --init hq does
        from vocalex.data.licences import licence_from_data

        cfg.licence = licence_from_data(layouts) or ""
    augment = AugmentConfig(remix_prob=cfg.remix_prob, extra_prob=cfg.extra_prob, instrumental_prob=cfg.instrumental_prob)
    run.sampler = MixSampler(pool, crop_samples(PROFILES[cfg.profile]), augment, seed=cfg.seed + 1000 * rank)
    if cfg.teacher_cache:
        run.sampler = teacher_sampler(cfg, run.sampler, run.log)
    if ckpt is not None:
        _restore(run, ckpt)
    what = "Spleeter 2stems pretrained U-Nets (--init hq)" if cfg.init == "hq" else f"U-Net widths {cfg.widths}"
    run.log(f"model: {what}, {cfg.channels} channel(s), {count_parameters(run.model):,} parameters, profile {cfg.profile}, "
            f"device {run.device}, world {run.world}")
    if cfg.ema > 0 and run.average is None:
        run.average = WeightAverage(run.model, cfg.ema)
    run.net = run.model
    if run.world > 1:
        from torch.nn.parallel import DistributedDataParallel  # here: a one-device run needs no torch.distributed

        run.net = DistributedDataParallel(run.model, device_ids=[run.device.index] if run.device.type == "cuda" else None)
    run.use_amp = cfg.amp and run.device.type == "cuda"
    run.amp_dtype = torch.bfloat16 if run.use_amp and torch.cuda.is_bf16_supported() else torch.float16
    run.scaler = torch.amp.GradScaler("cuda", enabled=run.use_amp and run.amp_dtype == torch.float16)


def _restore(run: _Run, ckpt: dict) -> None:
    """Weights, optimizer, step, best score, random states and the weight average of a checkpoint."""
    cfg = run.cfg
    run.model.load_state_dict(ckpt["model"])
    run.optimizer.load_state_dict(ckpt["optimizer"])
    run.step, run.best = int(ckpt["step"]), ckpt.get("best")
    if run.rank == 0:
        run.sampler.rng.bit_generator.state = ckpt["sampler_rng"]
    else:
        run.sampler.rng = np.random.default_rng(cfg.seed + 1000 * run.rank + run.step)
    torch.set_rng_state(ckpt["torch_rng"])
    if cfg.ema > 0 and ckpt.get("ema") is not None:
        run.average = WeightAverage(run.model, cfg.ema, ckpt["ema"], int(ckpt.get("ema_updates", 0)))
    run.log(f"resumed from step {run.step}")


def _loop(run: _Run, runlog: RunLog, progress) -> float:
    """Steps until cfg.steps, logging, checkpointing and validating on the way; returns the last logged loss."""
    cfg = run.cfg
    crops = max(1, cfg.batch_size // 2)
    t_start, losses, last_loss = time.time(), [], float("nan")
    run.net.train()
    while run.step < cfg.steps:
        losses.append(_step(run, crops))
        if progress is not None:
            progress.update(progress.task_ids[0], completed=run.step, loss=f"{losses[-1]:.4f}")
        if run.is_main and (run.step % cfg.log_every == 0 or run.step == cfg.steps):
            last_loss = float(np.mean(losses))
            runlog.write({"step": run.step, "loss": last_loss, "lr": lr_at(run.step - 1, cfg),
                          "elapsed_s": round(time.time() - t_start, 1)})
            losses = []
        if run.is_main and (run.step % cfg.checkpoint_every == 0 or run.step == cfg.steps):
            _save(run, "last.pt")
        if run.step % cfg.valid_every == 0 or run.step == cfg.steps:
            _validation_point(run, runlog)
    return last_loss


def _step(run: _Run, crops: int) -> float:
    """One optimisation step on a fresh batch; returns its loss."""
    cfg = run.cfg
    for group in run.optimizer.param_groups:
        group["lr"] = lr_at(run.step, cfg)
    mix, target = spectrogram_batch(run.sampler.batch(crops), PROFILES[cfg.profile], run.device)
    with torch.autocast(device_type=run.device.type, dtype=run.amp_dtype, enabled=run.use_amp):
        # Rows of mix are channels, left and right of each crop adjacent: a stereo network takes them in
        # pairs. UNet.masks() does this reshape, but DDP only wraps forward(), so it is spelled out here.
        mask = run.net(mix.reshape(-1, cfg.channels, *mix.shape[1:])).reshape(mix.shape)
    loss = masked_l1(mask.float(), mix, target, stream_weight=cfg.stream_weight,
                     stride=cfg.stream_stride, lookahead=cfg.stream_lookahead)
    if not torch.isfinite(loss):
        raise RuntimeError(f"loss is {loss.item()} at step {run.step}: lower the learning rate (lr)")
    run.optimizer.zero_grad(set_to_none=True)
    run.scaler.scale(loss).backward()
    run.scaler.step(run.optimizer)
    run.scaler.update()
    run.step += 1
    if run.average is not None:
        run.average.update(run.model)
    return loss.item()


def _save(run: _Run, name: str) -> None:
    save_checkpoint(run.out / name, run.model, run.optimizer, run.step, run.cfg, run.sampler, run.best, run.average)


def _validation_point(run: _Run, runlog: RunLog) -> None:
    """A snapshot per validation point (any of them can be exported later), then the validation itself."""
    cfg = run.cfg
    if run.is_main:
        _save(run, f"step-{run.step:06d}.pt")
    if run.is_main and cfg.valid_modes:
        if run.clips is None:
            rate = PROFILES[cfg.profile].sample_rate
            run.clips = (load_clips(cfg.valid_data, rate, cfg.cache, split=None) if cfg.valid_data
                         else load_clips(cfg.data, rate, cfg.cache))
        run.best = _validate(run, runlog)
    if run.world > 1:
        torch.distributed.barrier()


def _parameter_digest(model) -> str:
    h = hashlib.sha1()
    for p in model.parameters():
        h.update(p.detach().cpu().numpy().tobytes())
    return h.hexdigest()


def _validate(run: _Run, runlog: RunLog) -> float | None:
    """Score the model on the held-out clips through the engine; keep OUT/best.pt by offline vocals SDR."""
    model, average, cfg, clips, step, best, log = run.model, run.average, run.cfg, run.clips, run.step, run.best, run.log
    if not clips:
        log("validation: no held-out clips in the training data; skipped")
        return best
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
        run.best = best = key
        _save(run, "best.pt")
    return best
