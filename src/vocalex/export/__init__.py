"""vocalex.export: torch U-Net -> verified, self-describing ONNX model (needs torch)."""

__all__ = ["ExportError", "export_onnx"]


def __getattr__(name):
    # Imported on first use: `vocalex --help` imports this package (for `export`'s parser) and should not load numpy.
    if name in __all__:
        from . import onnx_export

        return getattr(onnx_export, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
