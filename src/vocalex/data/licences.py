"""The terms a collection's audio comes with, by its detected layout.

A model trained on MUSDB18 (or MUSDB18-HQ, or DSD100, whose tracks MUSDB18 contains) inherits their
academic / non-commercial terms, so `vocalex train` writes them into the model's licence metadata unless
``--licence`` says otherwise. A plain folder of stems has no known terms: the caller keeps "unspecified".
"""

from __future__ import annotations

from collections.abc import Iterable

NON_COMMERCIAL = {"musdb18": "MUSDB18", "musdb18hq": "MUSDB18-HQ", "dsd100": "DSD100"}


def licence_from_data(layouts: Iterable[str]) -> str | None:
    """The licence that follows from training on collections of these layouts; None when none is known."""
    names = sorted({NON_COMMERCIAL[layout] for layout in layouts if layout in NON_COMMERCIAL})
    if not names:
        return None
    return (f"non-commercial research use only: the {' / '.join(names)} terms of the training data apply "
            "(academic / non-commercial use)")
