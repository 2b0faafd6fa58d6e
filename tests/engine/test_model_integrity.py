"""A corrupted model is refused (exit 6): the weights' sha256 at every load, the golden pair with info --verify."""

from __future__ import annotations

import shutil
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from vocalex.engine import Separator
from vocalex.base.errors import ModelError
from vocalex.engine.integrity import WEIGHTS_KEY, check_weights, golden_path, stamp, weights_sha256
from vocalex.engine.contract import read_extra_metadata
from vocalex.engine.registry import default_model_path
from vocalex.engine.onnx_meta import graph_bytes, read_header, records


def vocalex(*argv):
    return subprocess.run([sys.executable, "-m", "vocalex", *map(str, argv)], capture_output=True, text=True, timeout=300)


def unstamped(data: bytes) -> bytes:
    """The file as a model exported before the checksum existed: the stamp's metadata record left out."""
    out = bytearray()
    for number, _, value, start, end in records(data):
        if number == 14 and WEIGHTS_KEY.encode() in bytes(value):
            continue
        out += data[start:end]
    return bytes(out)


def corrupt(data: bytes) -> bytes:
    """64 weights of the largest weight tensor set to 100 (a damaged stretch of the file), the metadata untouched.

    ONNX: GraphProto.initializer = 5, TensorProto.raw_data = 9 (little-endian float32).
    """
    graph = graph_bytes(data)
    base = bytes(data).index(bytes(graph))
    tensor = max((value for number, _, value, _, _ in records(graph) if number == 5), key=len)
    raw = next(value for number, _, value, _, _ in records(tensor) if number == 9)
    at = bytes(data).index(bytes(raw), base) + (len(raw) // 8) * 4  # float-aligned, mid-tensor
    out = bytearray(data)
    out[at:at + 256] = np.full(64, 100.0, dtype="<f4").tobytes()
    return bytes(out)


def copy_model(src, dst, transform=lambda b: b, with_golden=True):
    dst.write_bytes(transform(src.read_bytes()))
    if with_golden:
        shutil.copy(golden_path(src), golden_path(dst))
    return dst


@pytest.mark.parametrize("name", ["tiny", "tiny-stereo", None])
def test_shipped_models_carry_a_matching_stamp(tiny_model, name):
    path = default_model_path() if name is None else tiny_model.with_name(f"{name}.onnx")
    data = path.read_bytes()
    meta, _ = read_header(data)
    assert meta[WEIGHTS_KEY] == weights_sha256(data) == check_weights(path)
    assert read_extra_metadata(path)["weights_sha256"] == meta[WEIGHTS_KEY]


def test_stamping_is_idempotent_and_keeps_the_model_loadable(tiny_model, tmp_path):
    data = tiny_model.read_bytes()
    assert stamp(data) == data  # the export stamped it already: a second stamp changes nothing
    again = stamp(unstamped(data))
    assert read_header(again)[0] == read_header(data)[0]
    model = Separator.load(copy_model(tiny_model, tmp_path / "m.onnx", lambda b: again), threads=1).model
    assert model.weights_sha256 == read_header(data)[0][WEIGHTS_KEY]


def test_a_corrupted_model_is_refused_at_load(tiny_model, tmp_path):
    bad = copy_model(tiny_model, tmp_path / "bad.onnx", corrupt)
    with pytest.raises(ModelError, match="corrupted: its weights' sha256"):
        Separator.load(bad)


@pytest.mark.subprocess
def test_cli_refuses_a_corrupted_model_with_exit_6_and_writes_nothing(tiny_model, tmp_path):
    bad = copy_model(tiny_model, tmp_path / "bad.onnx", corrupt)
    song = tmp_path / "a.wav"
    sf.write(song, np.zeros((4410, 2), np.float32), 44100)
    proc = vocalex("separate", song, "-o", tmp_path / "out", "--model", bad, "-q")
    assert proc.returncode == 6, proc.stderr
    assert proc.stderr.strip().splitlines() == [f"vocalex: error: {bad} is corrupted: " + proc.stderr.split("corrupted: ", 1)[1].strip()]
    assert not (tmp_path / "out").exists()
    proc = vocalex("info", bad, "--verify")
    assert proc.returncode == 6 and "corrupted" in proc.stderr


@pytest.mark.subprocess
def test_a_model_without_a_stamp_still_loads(tiny_model, tmp_path):
    old = copy_model(tiny_model, tmp_path / "old.onnx", unstamped)
    assert WEIGHTS_KEY not in read_header(old.read_bytes())[0]
    assert Separator.load(old, threads=1).model.weights_sha256 is None
    proc = vocalex("info", old, "--verify")
    assert proc.returncode == 0, proc.stderr
    assert "no checksum" in proc.stdout and "verified_golden  ok" in proc.stdout


@pytest.mark.subprocess
def test_verify_runs_the_golden_pair(tiny_model, tmp_path):
    # Without a stamp only the golden pair can tell: a changed weight changes the output.
    changed = copy_model(tiny_model, tmp_path / "changed.onnx", lambda b: corrupt(unstamped(b)))
    assert vocalex("info", changed).returncode == 0  # the header alone is fine
    proc = vocalex("info", changed, "--verify")
    assert proc.returncode == 6, proc.stdout + proc.stderr
    assert "does not reproduce its golden pair" in proc.stderr
    lonely = copy_model(tiny_model, tmp_path / "lonely.onnx", with_golden=False)
    proc = vocalex("info", lonely, "--verify", "--json")
    assert proc.returncode == 0 and "no golden pair" in proc.stdout


# ----------------------------------------------------------------------------- background load (vocalex separate)
def test_background_load_is_the_same_model_and_the_same_output(tiny_model):
    audio = np.random.default_rng(3).standard_normal((30000, 2)).astype(np.float32) * 0.1
    now = Separator.load(tiny_model, threads=1)
    later = Separator.load(tiny_model, threads=1, background=True)
    assert later.profile == now.profile and later.model.channels == now.model.channels
    assert later.model.offline_frames == now.model.offline_frames
    out_now, out_later = now.separate(audio, 44100), later.separate(audio, 44100)
    for stem in ("vocals", "accompaniment"):
        np.testing.assert_array_equal(out_later[stem], out_now[stem])
    assert later.model.weights_sha256 == now.model.weights_sha256 is not None


def test_a_corrupted_model_loaded_in_the_background_fails_at_first_use(tiny_model, tmp_path):
    bad = copy_model(tiny_model, tmp_path / "bad.onnx", corrupt)
    sep = Separator.load(bad, background=True)  # only the header is read before this returns
    with pytest.raises(ModelError, match="corrupted: its weights' sha256"):
        sep.separate(np.full((20000, 2), 0.1, np.float32), 44100)
    with pytest.raises(ModelError, match="corrupted"):
        sep.model.ready()


@pytest.mark.subprocess
def test_cli_stops_at_a_corrupted_model_before_the_second_file(tiny_model, tmp_path):
    bad = copy_model(tiny_model, tmp_path / "bad.onnx", corrupt)
    songs = []
    for name in ("a.wav", "b.wav"):
        songs.append(tmp_path / name)
        sf.write(songs[-1], np.random.default_rng(1).standard_normal((20000, 2)).astype(np.float32) * 0.1, 44100)
    proc = vocalex("separate", *songs, "-o", tmp_path / "out", "--model", bad, "-q")
    assert proc.returncode == 6, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "corrupted" in proc.stderr  # one line, not one per file
    assert not (tmp_path / "out").exists()


@pytest.mark.subprocess
def test_a_corrupted_model_is_named_even_when_the_inputs_fail_first(tiny_model, tmp_path):
    bad = copy_model(tiny_model, tmp_path / "bad.onnx", corrupt)
    proc = vocalex("separate", tmp_path / "missing.wav", "-o", tmp_path / "out", "--model", bad, "-q")
    assert proc.returncode == 6, proc.stderr  # the model's problem, as when it was loaded before any file
    assert "corrupted" in proc.stderr and "missing.wav" in proc.stderr
