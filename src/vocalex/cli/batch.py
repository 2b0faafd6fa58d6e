"""``vocalex batch INPUT... -o OUT [--ray ADDRESS]``: a catalogue separated on a Ray cluster, with a manifest.

Its own command rather than ``separate --ray``: a catalogue run has a contract of its own (a manifest, files
done before are skipped, retries, resuming after Ctrl-C or a lost node, list files and object-store URIs),
and ``vocalex separate`` stays the lean one-file path that never imports Ray. The outputs are the local
run's: OUT/<track>/{vocals,accompaniment}.<fmt>, bit for bit what ``vocalex separate`` writes.
"""

from __future__ import annotations


def register(sub) -> None:
    from .options import add_model, add_provider, add_stream

    p = sub.add_parser("batch", help="separate a catalogue on a Ray cluster (resumable, with a manifest)")
    p.add_argument("inputs", nargs="*", metavar="INPUT",
                   help="audio files, folders, quoted globs ('songs/**/*.flac') or URIs (s3://bucket/songs/, needs fsspec)")
    p.add_argument("--from", dest="lists", action="append", default=[], metavar="LIST",
                   help="a file listing inputs, one path or URI a line ('#' starts a comment); repeatable")
    p.add_argument("-o", "--out", default="separated", help="output folder or URI prefix (default: ./separated)")
    p.add_argument("--manifest", default=None, metavar="PATH",
                   help="the JSON Lines manifest (default: OUT/vocalex-manifest.jsonl; needed when OUT is a URI)")
    p.add_argument("--ray", dest="address", nargs="?", const="auto", default=None, metavar="ADDRESS",
                   help="run on the Ray cluster at ADDRESS (host:port of its head; alone: the one this machine "
                        "belongs to); without it a local Ray instance is started")
    p.add_argument("--cpus", type=int, default=None, help="CPUs of the local Ray instance (default: all)")
    p.add_argument("--cpus-per-worker", type=int, default=1,
                   help="CPUs (and ONNX Runtime threads) of each worker, one model session each (default 1)")
    p.add_argument("--gpus-per-worker", type=float, default=1.0, help="with --provider cuda: GPUs per worker (default 1)")
    p.add_argument("--workers", type=int, default=None, help="worker count (default: as many as the cluster's CPUs or GPUs allow)")
    p.add_argument("--retries", type=int, default=2, help="further attempts for a file that failed or whose worker was lost (default 2)")
    p.add_argument("--worker-timeout", type=float, default=120.0, metavar="S",
                   help="stop when no worker has run for S seconds, e.g. the cluster lost its nodes (default 120; the first workers get at least 120 s to start)")
    p.add_argument("--mode", choices=("offline", "stream"), default="offline", help="as vocalex separate (default offline)")
    add_stream(p, when="stream mode only: ")
    p.add_argument("--wiener", action="store_true", help="offline mode: Wiener filtering of the vocals (as vocalex separate)")
    add_model(p)
    add_provider(p)  # threads: each worker's come from its CPUs (--cpus-per-worker)
    p.add_argument("--format", choices=("wav", "flac"), default="wav", dest="fmt", help="wav (32-bit float, default) or flac (24-bit)")
    p.add_argument("--force", action="store_true", help="separate again, overwriting outputs, even what the manifest says is done")
    p.add_argument("--progress-every", type=float, default=10.0, metavar="S", help="seconds between progress lines (default 10)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines, only errors")
    p.set_defaults(handler=run)


def run(args) -> int:
    from vocalex.cluster import BatchSpec, run_batch

    from .options import resolve_model
    from .separate import _say_skipped

    spec = BatchSpec(inputs=tuple(args.inputs), lists=tuple(args.lists), out=args.out, manifest=args.manifest,
                     model=resolve_model(args.model), provider=args.provider, fmt=args.fmt, mode=args.mode,
                     stride=args.stride, lookahead=args.lookahead, wiener=args.wiener, force=args.force,
                     retries=args.retries, address=args.address, cpus=args.cpus, cpus_per_worker=args.cpus_per_worker,
                     gpus_per_worker=args.gpus_per_worker, workers=args.workers, worker_timeout=args.worker_timeout,
                     every=args.progress_every, quiet=args.quiet)
    return run_batch(spec, on_skip=_say_skipped)
