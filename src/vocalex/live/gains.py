"""Stem gains of a live run: --keep and the dB options -> (vocals, accompaniment) linear gains."""

from __future__ import annotations

import math

from vocalex.base.errors import UsageError

KEEP_CHOICES = ("accompaniment", "vocals", "all")


def parse_gain_db(text: str) -> float:
    """A gain in dB from the command line: a finite number or ``-inf`` (mute)."""
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"gain {text!r} is not a number of dB (use e.g. 0, -6 or -inf)") from None
    if math.isnan(value) or value == math.inf:
        raise UsageError(f"gain {text!r} is not usable; give a finite number of dB or -inf")
    if value > 40:
        raise UsageError(f"gain {value:g} dB is too loud (at most +40 dB)")
    return value


def db_to_linear(db: float) -> float:
    return 0.0 if db == -math.inf else float(10.0 ** (db / 20.0))


def stem_gains(keep: str = "accompaniment", vocals_db: float | None = None, accompaniment_db: float | None = None) -> tuple[float, float]:
    """Linear (vocals, accompaniment) gains: ``keep`` sets 0 dB / mute, explicit dB values override it."""
    if keep not in KEEP_CHOICES:
        raise UsageError(f"`keep` must be one of {', '.join(KEEP_CHOICES)}, got {keep!r}")
    v_db = 0.0 if keep in ("vocals", "all") else -math.inf
    a_db = 0.0 if keep in ("accompaniment", "all") else -math.inf
    if vocals_db is not None:
        v_db = vocals_db
    if accompaniment_db is not None:
        a_db = accompaniment_db
    return db_to_linear(v_db), db_to_linear(a_db)
