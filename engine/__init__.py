"""vocalex.engine: the runtime. numpy, numba, onnxruntime, soundfile; never torch.

Public API::

    from vocalex.engine import Separator
    sep = Separator.load()                      # the bundled default model
    stems = sep.separate(audio, sample_rate)    # {"vocals": ..., "accompaniment": ...}
    stream = sep.stream(sample_rate, channels)  # a streaming object: process/flush/reset/latency
"""

from .errors import VocalexError
from .model import ModelProfile, OnnxModel, default_model_path


def __getattr__(name):
    # Separator pulls in numba; import it on first use so `vocalex info` stays fast.
    if name == "Separator":
        from .separator import Separator

        return Separator
    raise AttributeError(name)


__all__ = ["Separator", "ModelProfile", "OnnxModel", "default_model_path", "VocalexError"]
