"""The fixed validation split.

These 14 names are the official MUSDB18 validation tracks (the list that the
`musdb` package and open-unmix hold out of MUSDB18's train set): 14 different
artists across rock, pop, electronic, folk and rap. All 14 are among the
MUSDB18 7-second previews in ../shared/data/musdb18-7s, so the held-out clips
are the standard ones and a full-MUSDB18 user gets the standard split too.
The list is committed rather than computed so that every report names the same clips.
"""

from __future__ import annotations

VALID_NAMES: tuple[str, ...] = (
    "ANiMAL - Rockshow",
    "Actions - One Minute Smile",
    "Alexander Ross - Goodbye Bolero",
    "Clara Berry And Wooldog - Waltz For My Victims",
    "Fergessen - Nos Palpitants",
    "James May - On The Line",
    "Johnny Lokke - Promises & Lies",
    "Leaf - Summerghost",
    "Meaxic - Take A Step",
    "Patrick Talbot - A Reason To Leave",
    "Skelpolu - Human Mistakes",
    "Traffic Experiment - Sirens",
    "Triviul - Angelsaint",
    "Young Griffo - Pennies",
)

SPLITS = ("train", "valid")


def in_split(name: str, split: str | None) -> bool:
    """Whether a track called ``name`` belongs to ``split`` (None = every track)."""
    if split is None:
        return True
    if split == "valid":
        return name in VALID_NAMES
    if split == "train":
        return name not in VALID_NAMES
    raise ValueError(f"unknown split {split!r}; choose one of: {', '.join(SPLITS)}")
