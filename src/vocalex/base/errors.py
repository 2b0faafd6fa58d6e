"""The error hierarchy of vocalex.

Every failure a user can cause (bad input, bad model, bad arguments, a full
disk) is raised as a subclass of :class:`VocalexError`.  The CLI catches
``VocalexError``, prints its one-line message and exits with the class's
``exit_code``; anything else is a bug and may show a traceback.
"""


class VocalexError(Exception):
    """Base class of all errors vocalex reports to a user."""

    exit_code = 1


class UsageError(VocalexError, ValueError):
    """An argument or option has a value that cannot work."""

    exit_code = 2


class AudioInputError(VocalexError):
    """An input file cannot be read as audio (missing, empty, corrupt, not audio)."""

    exit_code = 3


class UnsupportedAudioError(AudioInputError):
    """An input is audio, but in a shape vocalex does not handle (channels, rate)."""

    exit_code = 4


class InvalidSamplesError(AudioInputError, ValueError):
    """The samples themselves are unusable (NaN or Inf)."""

    exit_code = 5


class ModelError(VocalexError):
    """A model file is missing, corrupt, foreign, or lacks the vocalex metadata."""

    exit_code = 6


class OutputError(VocalexError):
    """An output cannot be written (exists without --force, folder missing, disk full)."""

    exit_code = 7


class DeviceError(VocalexError):
    """A live audio device cannot be opened or failed while running."""

    exit_code = 8


class MissingPackageError(VocalexError):
    """An optional package a command needs is not installed (the message names the pip extra)."""

    exit_code = 10
