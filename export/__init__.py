"""vocalex.export: torch U-Net -> verified, self-describing ONNX model (needs torch)."""

from .onnx_export import ExportError, export_onnx

__all__ = ["ExportError", "export_onnx"]
