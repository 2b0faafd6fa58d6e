"""The per-machine cache of ONNX Runtime's optimised graph (engine/session_cache.py): same output, never trusted blindly."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from vocalex.engine import session_cache
from vocalex.base.errors import ModelError
from vocalex.engine.integrity import golden_path
from vocalex.engine.model import OnnxModel
from vocalex.engine.registry import default_model_path
from vocalex.engine.session_cache import CACHE_ENV

from test_model_integrity import corrupt


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "sessions"
    monkeypatch.setenv(CACHE_ENV, str(folder))
    return folder


def entries(folder):
    return sorted(p for p in folder.glob("*.onnx")) if folder.exists() else []


def model_copy(src, dst):
    shutil.copy(src, dst)
    shutil.copy(golden_path(src), golden_path(dst))
    return dst


def masks(model, seed=0):
    x = np.random.default_rng(seed).random((model.channels * 2, model.profile.n_bins, model.profile.n_frames),
                                           dtype=np.float32)
    return model.run(x)


@pytest.mark.parametrize("background", [False, True])
def test_first_load_writes_the_optimised_graph_and_the_next_runs_it_with_the_same_output(cache, tmp_path, background):
    path = model_copy(default_model_path(), tmp_path / "m.onnx")
    first = OnnxModel.load(path, threads=1, background=background)
    want = masks(first)
    [entry] = entries(cache)
    data = entry.read_bytes()
    assert entry.name.endswith(f".{hashlib.sha256(data).hexdigest()}.onnx")  # named by its own checksum
    assert data != path.read_bytes()  # the optimised graph, not a copy of the file

    loaded = []
    real_load = session_cache.CacheEntry.load
    session_cache.CacheEntry.load = lambda self: loaded.append(real_load(self)) or loaded[-1]
    try:
        second = OnnxModel.load(path, threads=1, background=background)
        got = masks(second)
    finally:
        session_cache.CacheEntry.load = real_load
    assert loaded and loaded[0] == data  # built from the entry
    assert second.weights_sha256 == first.weights_sha256
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)


def test_a_damaged_entry_is_removed_and_the_model_file_used(cache, tmp_path):
    path = model_copy(default_model_path(), tmp_path / "m.onnx")
    want = masks(OnnxModel.load(path, threads=1))
    [entry] = entries(cache)
    damaged = bytearray(entry.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF  # one weight byte: ONNX Runtime would still load it
    entry.write_bytes(bytes(damaged))
    got = masks(OnnxModel.load(path, threads=1))
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
    [fresh] = entries(cache)  # the damaged one gone, a sound one written in its place
    assert hashlib.sha256(fresh.read_bytes()).hexdigest() in fresh.name


def test_a_model_file_damaged_after_caching_is_still_refused(cache, tmp_path):
    path = model_copy(default_model_path(), tmp_path / "m.onnx")
    OnnxModel.load(path, threads=1).ready()
    assert len(entries(cache)) == 1
    path.write_bytes(corrupt(path.read_bytes()))  # same path, same size: another version by stat
    with pytest.raises(ModelError, match="corrupted"):
        OnnxModel.load(path, threads=1).ready()
    with pytest.raises(ModelError, match="corrupted"):
        OnnxModel.load(path, threads=1, background=True).ready()


def test_a_changed_model_file_replaces_its_entry(cache, tmp_path):
    path = model_copy(default_model_path(), tmp_path / "m.onnx")
    OnnxModel.load(path, threads=1).ready()
    [old] = entries(cache)
    later = path.stat().st_mtime_ns + 10**9
    os.utime(path, ns=(later, later))
    OnnxModel.load(path, threads=1).ready()
    [new] = entries(cache)
    assert new != old and not old.exists()


def test_the_folder_keeps_the_most_recently_used_entries(cache, tmp_path, monkeypatch):
    monkeypatch.setattr(session_cache, "MAX_ENTRIES", 2)
    paths = [model_copy(default_model_path(), tmp_path / f"m{i}.onnx") for i in range(3)]
    for p in paths[:2]:
        OnnxModel.load(p, threads=1).ready()
    first_two = entries(cache)
    assert len(first_two) == 2
    past = first_two[0].stat().st_mtime - 100
    for e in first_two:
        os.utime(e, (past, past))
    OnnxModel.load(paths[0], threads=1).ready()  # a hit: m0's entry is now the most recently used
    OnnxModel.load(paths[2], threads=1).ready()  # a third entry: the least recently used (m1's) goes
    keys = {session_cache.entry_for(p, _meta(p), "CPUExecutionProvider").model_key: p.name for p in paths}
    kept = sorted(keys[e.name.split("-")[0]] for e in entries(cache))
    assert kept == ["m0.onnx", "m2.onnx"]


def _meta(path):
    from vocalex.engine.contract import header_of

    return header_of(path)[0]


def test_off_unwritable_and_unstamped_load_without_it(cache, tmp_path, monkeypatch, tiny_model):
    path = model_copy(default_model_path(), tmp_path / "m.onnx")
    monkeypatch.setenv(CACHE_ENV, "0")
    OnnxModel.load(path, threads=1).ready()
    assert not cache.exists()

    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    monkeypatch.setenv(CACHE_ENV, str(blocked / "sessions"))
    want = masks(OnnxModel.load(path, threads=1))  # the cache cannot be made: the session is built all the same
    monkeypatch.setenv(CACHE_ENV, str(cache))
    np.testing.assert_allclose(masks(OnnxModel.load(path, threads=1)), want, rtol=0, atol=1e-6)

    from test_model_integrity import copy_model, unstamped

    bare = copy_model(tiny_model, tmp_path / "unstamped.onnx", unstamped)
    before = entries(cache)
    OnnxModel.load(bare, threads=1).ready()
    assert entries(cache) == before  # nothing to verify an entry against: not cached


@pytest.mark.subprocess
def test_a_one_file_run_uses_the_cache_from_the_cli(cache, tmp_path):
    import soundfile as sf

    rng = np.random.default_rng(1)
    sf.write(tmp_path / "mix.wav", (0.1 * rng.standard_normal((44100, 2))).astype(np.float32), 44100)
    outs = []
    for run in range(2):
        out = tmp_path / f"out{run}"
        proc = subprocess.run([sys.executable, "-m", "vocalex", "separate", str(tmp_path / "mix.wav"), "-o", str(out), "-q"],
                              capture_output=True, text=True, timeout=300, env={**os.environ, CACHE_ENV: str(cache)})
        assert proc.returncode == 0, proc.stderr
        assert proc.stderr == ""
        outs.append(sf.read(out / "mix" / "vocals.wav", dtype="float32")[0])
        assert len(entries(cache)) == 1
    np.testing.assert_allclose(outs[1], outs[0], rtol=0, atol=1e-5)


def test_an_entry_onnx_runtime_refuses_is_dropped(cache, tmp_path):
    path = model_copy(default_model_path(), tmp_path / "m.onnx")
    want = masks(OnnxModel.load(path, threads=1))
    [entry] = entries(cache)
    junk = b"not an onnx graph"
    entry.unlink()
    (entry.parent / (entry.name.rsplit(".", 2)[0] + f".{hashlib.sha256(junk).hexdigest()}.onnx")).write_bytes(junk)
    got = masks(OnnxModel.load(path, threads=1))  # its checksum holds, ONNX Runtime refuses it: the file is used
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
    assert entries(cache) == []  # dropped, and none saved in the same breath
