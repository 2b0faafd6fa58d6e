"""The model contract: metadata is required, read, and printed."""

import json
import subprocess
import sys

import numpy as np
import onnx
import pytest

from vocalex.base.errors import ModelError
from vocalex.engine.contract import METADATA_PREFIX, read_profile
from vocalex.engine.model import OnnxModel


def test_profile_round_trips_through_metadata(tiny_model):
    profile = read_profile(tiny_model)
    assert (profile.sample_rate, profile.n_fft, profile.hop_length) == (44100, 1024, 256)
    assert (profile.n_bins, profile.n_frames, profile.output, profile.target) == (512, 128, "mask", "vocals")


def test_session_runs_batched_and_returns_a_mask(tiny_model):
    model = OnnxModel.load(tiny_model)
    x = np.random.default_rng(0).random((2, 512, 128), dtype=np.float32)
    y = model.run(x)
    assert y.shape == x.shape and y.dtype == np.float32
    assert np.all((y >= 0) & (y <= 1))


@pytest.mark.parametrize("drop", ["vocalex.n_fft", "vocalex.sample_rate", "all"])
def test_model_without_metadata_is_refused(tiny_model, tmp_path, drop):
    proto = onnx.load(str(tiny_model))
    keep = [p for p in proto.metadata_props if drop != "all" and p.key != drop]
    del proto.metadata_props[:]
    proto.metadata_props.extend(keep)
    bad = tmp_path / "bare.onnx"
    onnx.save(proto, str(bad))
    with pytest.raises(ModelError, match="not a vocalex model"):
        OnnxModel.load(bad)
    with pytest.raises(ModelError, match="lacks"):
        read_profile(bad)


@pytest.mark.subprocess
def test_info_cli_prints_metadata_and_refuses_foreign_files(tiny_model, tmp_path):
    out = subprocess.run([sys.executable, "-m", "vocalex.cli.main", "info", str(tiny_model), "--json"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    assert info["n_fft"] == 1024 and info["target"] == "vocals" and info["channels"] == 1
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model at all")
    out = subprocess.run([sys.executable, "-m", "vocalex.cli.main", "info", str(junk)], capture_output=True, text=True)
    assert out.returncode == ModelError.exit_code
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr


def test_metadata_keys_are_prefixed(tiny_model):
    keys = {p.key for p in onnx.load(str(tiny_model)).metadata_props}
    assert all(k.startswith(METADATA_PREFIX) for k in keys)
