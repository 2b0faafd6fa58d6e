"""vocalex.cluster: a catalogue separated on a Ray cluster, resumable, with a manifest (``vocalex batch``).

It sits above the library and calls it through one module (``library``); Ray is imported only by the
runner, when a batch starts (``pip install 'vocalex[ray]'``): nothing else in vocalex imports this room.
"""


def run_batch(spec, on_skip=None, stream=None) -> int:
    from .runner import run_batch as _run

    return _run(spec, on_skip=on_skip, stream=stream)


def __getattr__(name):
    if name == "BatchSpec":
        from .plan import BatchSpec

        return BatchSpec
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["run_batch", "BatchSpec"]
