"""Which files are audio: one suffix list and one way to list a folder.

Every place that looks for audio asks here: ``vocalex separate`` (files/batch.py), the dataset readers
(vocalex.data) and training's extra material.
"""

from __future__ import annotations

from pathlib import Path

# Suffixes of the formats libsndfile decodes (soundfile.available_formats()) as people name them, and of
# those read through FFmpeg (audio_io: m4a/AAC/ALAC, mp4, webm, wma, ...); a folder is searched for
# these, recursively.
AUDIO_SUFFIXES = frozenset(
    ".wav .wave .flac .ogg .oga .opus .mp3 .aif .aiff .aifc .au .snd .caf .w64 .rf64 .wv .sd2 .voc .htk .mat "
    ".m4a .m4b .mp4 .aac .adts .webm .weba .mka .mkv .mov .wma .asf .ac3 .eac3 .amr .3gp .3g2 .ape .tta .mpc "
    ".mp2 .spx".split()
)


def is_audio_file(path: Path) -> bool:
    """True when the name's suffix is one of AUDIO_SUFFIXES (the content is not opened)."""
    return Path(path).suffix.lower() in AUDIO_SUFFIXES


def list_audio_files(folder, recursive: bool = True) -> tuple[list[Path], list[Path]]:
    """(audio files, other files) under ``folder``, each sorted; names starting with "." (at any depth) are left out."""
    folder = Path(folder)
    files = sorted(f for f in (folder.rglob("*") if recursive else folder.iterdir())
                   if f.is_file() and not any(part.startswith(".") for part in f.relative_to(folder).parts))
    return [f for f in files if is_audio_file(f)], [f for f in files if not is_audio_file(f)]
