"""Export a trained U-Net to the ONNX model contract of vocalex.engine.contract.

The export is a gate that can fail: the ONNX checker runs, then ONNX Runtime
and PyTorch are compared on random magnitudes and on the golden input, and a
max abs error above ``tolerance`` raises :class:`ExportError`. The golden
input/output pair is written next to the model (``<model>.golden.npz``) so a
later load can be checked against it.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import tempfile
from pathlib import Path

import numpy as np

from vocalex.base.errors import VocalexError
from vocalex.engine.integrity import golden_path, stamp  # noqa: F401  (golden_path: export's callers name it here)
from vocalex.engine.contract import INPUT_NAME, ModelProfile

OUTPUT_NAME = "mask"
OPSET = 17


class ExportError(VocalexError):
    """The exported graph does not reproduce the PyTorch model."""

    exit_code = 9


def _golden_input(profile: ModelProfile, channels: int = 1, seed: int = 1234) -> np.ndarray:
    """float32 (2, channels, n_bins, n_frames): music-like magnitudes, mostly small and heavy-tailed; fixed seed."""
    rng = np.random.default_rng(seed)
    return (rng.exponential(0.05, size=(2, channels, profile.n_bins, profile.n_frames)) ** 2).astype(np.float32)


def module_channels(module) -> int:
    """Audio channels per example of a network: its config's ``channels`` (vocalex U-Nets), else 1."""
    return int(getattr(getattr(module, "config", None), "channels", 1))


def _weights_to_fp16(model_proto):
    """Store float32 initializers as float16 and upcast them in the graph (halves the file)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    graph = model_proto.graph
    new_inits, casts = [], []
    for init in graph.initializer:
        if init.data_type != TensorProto.FLOAT or np.prod(init.dims) < 16:
            new_inits.append(init)
            continue
        arr = numpy_helper.to_array(init).astype(np.float16)
        half_name = init.name + "__fp16"
        new_inits.append(numpy_helper.from_array(arr, half_name))
        casts.append(helper.make_node("Cast", [half_name], [init.name], to=TensorProto.FLOAT, name=init.name + "__upcast"))
    del graph.initializer[:]
    graph.initializer.extend(new_inits)
    nodes = list(graph.node)
    del graph.node[:]
    graph.node.extend(casts + nodes)
    onnx.checker.check_model(model_proto)
    return model_proto


def export_onnx(
    module,
    profile: ModelProfile,
    path: str | os.PathLike,
    *,
    fp16_weights: bool = False,
    tolerance: float = 1e-4,
    write_golden: bool = True,
    extra_metadata: dict[str, str] | None = None,
    dynamic_frames: bool = False,
    check_frames: tuple[int, ...] = (),
) -> dict:
    """Export ``module`` to ``path`` and verify it; ``module`` itself is left as it was (a copy is put in eval
    mode and, with ``fp16_weights``, rounded), so a training loop can export mid-run.

    ``extra_metadata``: further ``vocalex.*`` entries (e.g. the model's source)
    beside the profile's. ``dynamic_frames``: the graph's frames axis is dynamic (a
    fully convolutional network), and the gate also compares the two runtimes on
    windows of each length in ``check_frames`` (e.g. the offline window). Returns a report dict with the max abs error. Raises
    ExportError on mismatch; the output file is only put in place after
    verification passed.
    """
    module = copy.deepcopy(module).eval()
    path = Path(path)
    channels = module_channels(module)
    golden_in = _golden_input(profile, channels)
    if check_frames and not dynamic_frames:
        raise ValueError("check_frames needs dynamic_frames=True")
    fd, tmp = tempfile.mkstemp(suffix=".onnx", dir=path.parent if path.parent.exists() else None)
    os.close(fd)
    try:
        _write_graph(module, golden_in[:1], tmp, dynamic_frames, fp16_weights, {**(extra_metadata or {}), **profile.to_metadata()})
        rng = np.random.default_rng(0)
        checks = [golden_in, rng.random((3, channels, profile.n_bins, profile.n_frames), dtype=np.float32) * 4]
        checks += [rng.random((1, channels, profile.n_bins, int(f)), dtype=np.float32) * 4 for f in check_frames]
        max_err, golden_out = _compare(module, tmp, checks, fp16_weights)
        if not np.isfinite(max_err) or max_err > tolerance:
            raise ExportError(f"ONNX Runtime disagrees with PyTorch: max abs error {max_err:.3g} > {tolerance:g}")
        _put_in_place(tmp, path, (golden_in, golden_out) if write_golden else None)
        tmp = None
        return {"path": str(path), "max_abs_error": max_err, "bytes": path.stat().st_size}
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)


def _write_graph(module, example: np.ndarray, tmp: str, dynamic_frames: bool, fp16_weights: bool, metadata: dict) -> None:
    """torch.onnx's graph of ``module`` in ``tmp``: weights rounded to fp16 if asked, ``metadata`` added, checked,
    and the sha256 of the graph stamped into it (checked at every load)."""
    import onnx  # here, not at the top: the export room imports without torch and onnx until it exports
    import torch

    with torch.no_grad():
        torch.onnx.export(
            module,
            (torch.from_numpy(example),),
            tmp,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes={name: ({0: "batch", 3: "frames"} if dynamic_frames else {0: "batch"})
                          for name in (INPUT_NAME, OUTPUT_NAME)},
            opset_version=OPSET,
            dynamo=False,
        )
    proto = onnx.load(tmp)
    if fp16_weights:
        proto = _weights_to_fp16(proto)
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(proto)
    onnx.save(proto, tmp)
    Path(tmp).write_bytes(stamp(Path(tmp).read_bytes()))


def _compare(module, tmp: str, checks: list, fp16_weights: bool) -> tuple[float, np.ndarray]:
    """(max abs error of ONNX Runtime against PyTorch over ``checks``, ONNX Runtime's output for the first)."""
    import onnxruntime as ort
    import torch

    session = ort.InferenceSession(tmp, providers=["CPUExecutionProvider"])
    if fp16_weights:
        # Compare against the torch model with the same fp16-rounded weights.
        with torch.no_grad():
            for p in module.parameters():
                p.copy_(p.half().float())
    max_err, golden_out = 0.0, None
    for x in checks:
        with torch.no_grad():
            ref = module(torch.from_numpy(x)).numpy()
        got = session.run([OUTPUT_NAME], {INPUT_NAME: x})[0]
        max_err = max(max_err, float(np.max(np.abs(ref - got))))
        if golden_out is None:
            golden_out = got
    return max_err, golden_out


def _put_in_place(tmp: str, path: Path, golden: tuple | None) -> None:
    """The verified model at ``path``, readable by others; its golden (input, output) pair first, so a model in
    place always has its pair (both atomic)."""
    # mkstemp creates 0600; a model is meant to be read by others (installed package data): use the umask.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    if golden is not None:
        target = golden_path(path)
        golden_tmp = target.with_name(target.name + f".{os.getpid()}.tmp.npz")
        np.savez_compressed(golden_tmp, input=golden[0], output=golden[1])
        os.replace(golden_tmp, target)
    os.replace(tmp, path)


def profile_for(profile: ModelProfile, *, model_version: str, training_data: str, licence: str,
                output: str = "mask") -> ModelProfile:
    """The exported model's profile: a training profile (vocalex.training.profiles) with the model's facts."""
    return dataclasses.replace(profile, output=output, target="vocals", model_version=model_version,
                               training_data=training_data, licence=licence)


def with_dynamic_frames(data: bytes, model_version: str) -> bytes:
    """An exported model's bytes with its frames axis made dynamic (input and output), renamed ``model_version``
    and re-stamped; the nodes and weights are untouched.

    A fully convolutional U-Net runs any window its stride-2 layers divide; a
    dynamic axis lets the stream mode run shorter windows than the model was
    trained on (StreamConfig.window: less context, a cheaper call). The result
    must compute exactly what the original computes on its own n_frames (checked
    here with ONNX Runtime on music-like magnitudes), or ExportError.
    """
    import onnx
    import onnxruntime as ort

    proto = onnx.load_from_string(data)
    for value in (*proto.graph.input, *proto.graph.output):
        dim = value.type.tensor_type.shape.dim[3]
        dim.ClearField("dim_value")
        dim.dim_param = "frames"
    for entry in proto.metadata_props:
        if entry.key == "vocalex.model_version":
            entry.value = model_version
    onnx.checker.check_model(proto)
    out = stamp(proto.SerializeToString())
    options = ort.SessionOptions()
    options.log_severity_level = 3
    before, after = (ort.InferenceSession(d, options, providers=["CPUExecutionProvider"]) for d in (data, out))
    shape = [d if isinstance(d, int) else 1 for d in before.get_inputs()[0].shape]
    x = (np.random.default_rng(1234).exponential(0.05, size=[2] + shape[1:]) ** 2).astype(np.float32)
    difference = float(np.abs(before.run(None, {INPUT_NAME: x})[0] - after.run(None, {INPUT_NAME: x})[0]).max())
    if difference != 0.0:
        raise ExportError(f"the dynamic-frames copy differs from the original by {difference:.3g}")
    return out
