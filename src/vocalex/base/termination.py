"""SIGTERM, handled in one place for every command and worker process.

Python's default for SIGTERM is to die without running ``finally`` blocks: temporary outputs would be left
behind, a live run's devices and recording not closed. Installed here, SIGTERM raises :class:`Terminated`
(a KeyboardInterrupt, so every clean-up path that handles Ctrl-C handles it too) and the CLI turns it into
exit status 143 (128 + SIGTERM), Ctrl-C into 130.
"""

from __future__ import annotations

import signal

TERMINATED_EXIT = 128 + int(signal.SIGTERM)  # 143
INTERRUPTED_EXIT = 128 + int(signal.SIGINT)  # 130


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that every ``finally`` and context manager cleans up."""

    signum = signal.SIGTERM


def _raise_terminated(signum, frame):
    raise Terminated()


def install_termination_handler() -> None:
    """Turn SIGTERM into :class:`Terminated` in the main thread (the CLI's main and each batch worker call this)."""
    signal.signal(signal.SIGTERM, _raise_terminated)


def allow_interrupt() -> None:
    """Make SIGINT raise KeyboardInterrupt even when the process started with it ignored (a background job of a
    non-interactive shell): a live run is stopped by it, a file command keeps the shell's choice."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
