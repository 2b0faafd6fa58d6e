"""vocalex.engine: the runtime. numpy, numba, onnxruntime, soundfile; never torch.

Public API::

    from vocalex.engine import Separator
    sep = Separator.load()                      # the bundled default model
    stems = sep.separate(audio, sample_rate)    # {"vocals": ..., "accompaniment": ...}
    stream = sep.stream(sample_rate, channels)  # a streaming object: process/flush/reset/latency
"""

from vocalex.base.errors import VocalexError

# Imported on first use: `import vocalex.engine` (every `vocalex` command does it) then costs no numpy,
# no ONNX Runtime; the one-file-per-process user pays only for what the command runs.
_LAZY = {"Separator": "separator", "ModelProfile": "contract", "OnnxModel": "model", "default_model_path": "registry",
         "StreamConfig": "config", "OfflineConfig": "config", "latency": "config"}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Separator", "ModelProfile", "OnnxModel", "default_model_path", "StreamConfig", "OfflineConfig", "latency",
           "VocalexError"]
