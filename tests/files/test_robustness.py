"""Bad input, faults and interruptions: every case is separated correctly or refused
with one clear line and a distinct exit code, and no partial output is ever left
under a final name (issue 6)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import pytest
import soundfile as sf

from vocalex.base.errors import (AudioInputError, InvalidSamplesError, ModelError, OutputError,
                                   UnsupportedAudioError, UsageError)

pytestmark = pytest.mark.subprocess

RATE = 44100


def vocalex(*args, timeout=120, **kw):
    """Run the real CLI in a subprocess; returns CompletedProcess with text output."""
    return subprocess.run([sys.executable, "-m", "vocalex.cli.main", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, **kw)


def music(seconds=0.5, channels=2, rate=RATE, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    tone = 0.3 * np.sin(2 * np.pi * 440 * t)[:, None]
    return (tone + 0.05 * rng.standard_normal((len(t), channels))).astype(np.float32)


def assert_refused(proc, code, *words):
    """One line on stderr, the expected exit code, no traceback, the words in the message."""
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("vocalex: error:"), proc.stderr  # README: one line
    for w in words:
        assert w.lower() in proc.stderr.lower(), (w, proc.stderr)


def no_outputs(out: Path):
    """No stem file under a final name and no temporary leftovers anywhere under out."""
    if not out.exists():
        return True
    files = [p for p in out.rglob("*") if p.is_file()]
    return files == []


# ---------------------------------------------------------------- bad inputs
def _empty(tmp):
    p = tmp / "empty.wav"
    p.write_bytes(b"")
    return p


def _zero_frames(tmp):
    p = tmp / "zero.wav"
    sf.write(p, np.zeros((0, 2), np.float32), RATE)
    return p


def _truncated_flac(tmp):
    p = tmp / "cut.flac"
    sf.write(p, music(2.0), RATE, subtype="PCM_16")
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    return p


def _corrupt(tmp):
    p = tmp / "corrupt.wav"
    p.write_bytes(b"RIFF\x00\x10\x00\x00WAVEfmt " + os.urandom(2000))
    return p


def _not_audio(tmp):
    p = tmp / "notes.txt"
    p.write_text("this is a shopping list, not a song\n" * 50)
    return p


def _unsupported_format(tmp):
    # A MIDI file: a real file format, but not audio libsndfile can decode.
    p = tmp / "song.mid"
    p.write_bytes(b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x00\x60MTrk\x00\x00\x00\x04\x00\xff\x2f\x00")
    return p


def _nan(tmp):
    p = tmp / "nan.wav"
    x = music(0.3)
    x[1000, 1] = np.nan
    sf.write(p, x, RATE, subtype="FLOAT")
    return p


def _inf(tmp):
    p = tmp / "inf.wav"
    x = music(0.3)
    x[2000, 0] = np.inf
    sf.write(p, x, RATE, subtype="FLOAT")
    return p


def _nine_channels(tmp):
    p = tmp / "nine.wav"
    sf.write(p, music(0.2, channels=9), RATE, subtype="PCM_16")
    return p


def _rate_too_low(tmp):
    p = tmp / "slow.wav"
    sf.write(p, music(0.5, rate=4000), 4000, subtype="PCM_16")
    return p


def _rate_too_high(tmp):
    p = tmp / "fast.wav"
    sf.write(p, music(0.1, rate=384000), 384000, subtype="PCM_16")
    return p


def _missing(tmp):
    return tmp / "does-not-exist.wav"


def _folder_without_audio(tmp):
    d = tmp / "nothing-here"
    d.mkdir()
    (d / "readme.txt").write_text("no audio")
    return d


BAD_INPUTS = {
    "empty file": (_empty, AudioInputError, "empty"),
    "zero-length audio": (_zero_frames, AudioInputError, "no audio"),
    "truncated flac": (_truncated_flac, AudioInputError, "cut.flac"),
    "corrupt wav": (_corrupt, AudioInputError, "corrupt.wav"),
    "not audio": (_not_audio, AudioInputError, "notes.txt"),
    "unsupported format": (_unsupported_format, AudioInputError, "song.mid"),
    "NaN samples": (_nan, InvalidSamplesError, "NaN"),
    "Inf samples": (_inf, InvalidSamplesError, "Inf"),
    "9 channels": (_nine_channels, UnsupportedAudioError, "channels"),
    "4 kHz": (_rate_too_low, UnsupportedAudioError, "sample rate"),
    "384 kHz": (_rate_too_high, UnsupportedAudioError, "sample rate"),
    "missing file": (_missing, AudioInputError, "no such file"),
    "folder without audio": (_folder_without_audio, AudioInputError, "no audio files"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_refused_with_one_line_and_no_output(case, tmp_path, tiny_model):
    make, error, word = BAD_INPUTS[case]
    src = tmp_path / "in"
    src.mkdir()
    path = make(src)
    out = tmp_path / "out"
    proc = vocalex("separate", path, "-o", out, "--model", tiny_model, "-q")
    assert_refused(proc, error.exit_code, word)
    assert no_outputs(out)


def test_error_classes_have_distinct_exit_codes():
    from vocalex.base import errors

    classes = [c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, errors.VocalexError)]
    codes = [c.exit_code for c in classes]
    assert len(set(codes)) == len(codes), {c.__name__: c.exit_code for c in classes}
    assert all(code not in (0, 130) for code in codes)


# ---------------------------------------------------------- valid inputs, every shape
@pytest.mark.parametrize("subtype", ["PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE"])
def test_every_sample_format_is_separated(subtype, tmp_path, tiny_model):
    x = music(0.4, channels=2)
    src = tmp_path / f"in_{subtype}.wav"
    sf.write(src, x, RATE, subtype=subtype)
    proc = vocalex("separate", src, "-o", tmp_path / "out", "--model", tiny_model, "-q")
    assert proc.returncode == 0, proc.stderr
    ref, _ = sf.read(src, dtype="float32")
    v, rv = sf.read(tmp_path / "out" / src.stem / "vocals.wav", dtype="float32")
    a, _ = sf.read(tmp_path / "out" / src.stem / "accompaniment.wav", dtype="float32")
    assert rv == RATE and v.shape == ref.shape
    np.testing.assert_allclose(v + a, ref, atol=1e-4)


@pytest.mark.parametrize("channels,rate", [(1, 8000), (3, 16000), (4, 22050), (6, 48000), (8, 96000), (2, 192000)])
def test_channel_counts_and_rates_are_separated(channels, rate, tmp_path, tiny_model):
    x = music(0.3, channels=channels, rate=rate)
    src = tmp_path / "multi.flac"
    sf.write(src, x, rate, subtype="PCM_24")
    proc = vocalex("separate", src, "-o", tmp_path / "out", "--model", tiny_model, "-q", "--format", "flac")
    assert proc.returncode == 0, proc.stderr
    ref, _ = sf.read(src, dtype="float32")
    v, rv = sf.read(tmp_path / "out" / "multi" / "vocals.flac", dtype="float32")
    a, ra = sf.read(tmp_path / "out" / "multi" / "accompaniment.flac", dtype="float32")
    assert rv == ra == rate and v.shape == a.shape == ref.shape
    np.testing.assert_allclose(v + a, ref, atol=2e-4)  # two 24-bit roundings


# ---------------------------------------------------------------- models
def test_corrupt_model_is_refused(tmp_path, tiny_model):
    src = tmp_path / "song.wav"
    sf.write(src, music(0.2), RATE)
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(Path(tiny_model).read_bytes()[:5000])
    proc = vocalex("separate", src, "-o", tmp_path / "out", "--model", bad)
    assert_refused(proc, ModelError.exit_code, "bad.onnx")
    assert no_outputs(tmp_path / "out")


def test_foreign_onnx_model_is_refused(tmp_path):
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "foreign", [x], [y])
    foreign = tmp_path / "foreign.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), foreign)
    src = tmp_path / "song.wav"
    sf.write(src, music(0.2), RATE)
    proc = vocalex("separate", src, "-o", tmp_path / "out", "--model", foreign)
    assert_refused(proc, ModelError.exit_code, "not a vocalex model")
    assert no_outputs(tmp_path / "out")


# ---------------------------------------------------------------- outputs
def test_output_folder_that_is_a_file_is_refused(tmp_path, tiny_model):
    src = tmp_path / "song.wav"
    sf.write(src, music(0.2), RATE)
    blocker = tmp_path / "out"
    blocker.write_text("a file where the output folder should be")
    proc = vocalex("separate", src, "-o", blocker, "--model", tiny_model)
    assert_refused(proc, OutputError.exit_code)
    assert blocker.read_text().startswith("a file")


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores permission bits; the read-only case is covered by the full-disk test")
def test_unwritable_output_folder_is_refused(tmp_path, tiny_model):
    src = tmp_path / "song.wav"
    sf.write(src, music(0.2), RATE)
    out = tmp_path / "locked"
    out.mkdir()
    out.chmod(0o500)
    try:
        proc = vocalex("separate", src, "-o", out, "--model", tiny_model)
        assert_refused(proc, OutputError.exit_code)
    finally:
        out.chmod(0o700)


def _small_filesystem(path: Path, kib: int):
    """Mount a tmpfs of `kib` KiB at path (root only); returns an unmount function or None."""
    path.mkdir()
    if os.geteuid() != 0:
        return None
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={kib}k", "tmpfs", str(path)], capture_output=True)
    if r.returncode != 0:
        return None
    return lambda: subprocess.run(["umount", "-l", str(path)], capture_output=True)


def test_full_disk_leaves_no_partial_output(tmp_path, tiny_model):
    src = tmp_path / "song.wav"
    sf.write(src, music(3.0), RATE)  # 3 s stereo float32 stems are ~1 MB each: far over 256 KiB
    out = tmp_path / "tiny-disk"
    unmount = _small_filesystem(out, 256)
    preexec = None
    if unmount is None:
        # Not root: emulate a full disk with a per-process file size limit (EFBIG instead of ENOSPC).
        import resource

        def preexec():
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (256 * 1024, 256 * 1024))
    try:
        proc = vocalex("separate", src, "-o", out, "--model", tiny_model, "-q", preexec_fn=preexec)
        # a real full disk is named as one (libsndfile itself only says "System error.")
        assert_refused(proc, OutputError.exit_code, *(["disk full"] if unmount else []))
        assert no_outputs(out)
    finally:
        if unmount:
            unmount()


def test_existing_outputs_are_kept_without_force(tmp_path, tiny_model):
    src = tmp_path / "song.wav"
    sf.write(src, music(0.3), RATE)
    out = tmp_path / "out"
    assert vocalex("separate", src, "-o", out, "--model", tiny_model, "-q").returncode == 0
    vocals = out / "song" / "vocals.wav"
    before = vocals.read_bytes()
    sf.write(src, music(0.3, seed=5), RATE)
    proc = vocalex("separate", src, "-o", out, "--model", tiny_model, "-q")
    assert_refused(proc, OutputError.exit_code, "--force")
    assert vocals.read_bytes() == before
    assert vocalex("separate", src, "-o", out, "--model", tiny_model, "-q", "--force").returncode == 0
    assert vocals.read_bytes() != before


# ---------------------------------------------------------------- batches
def test_one_bad_file_does_not_stop_the_others(tmp_path, tiny_model):
    good1, good2 = tmp_path / "a.wav", tmp_path / "c.flac"
    sf.write(good1, music(0.3), RATE)
    sf.write(good2, music(0.3, seed=2), RATE)
    bad = _not_audio(tmp_path)
    out = tmp_path / "out"
    proc = vocalex("separate", good1, bad, good2, "-o", out, "--model", tiny_model, "-q")
    assert proc.returncode == AudioInputError.exit_code
    assert "1 of 3 inputs failed" in proc.stderr and "notes.txt" in proc.stderr
    for name in ("a", "c"):
        assert (out / name / "vocals.wav").exists() and (out / name / "accompaniment.wav").exists()
    assert not (out / "notes").exists()


def test_directory_input_and_parallel_jobs(tmp_path, tiny_model):
    songs = tmp_path / "album"
    (songs / "disc2").mkdir(parents=True)
    for i, rel in enumerate(["one.wav", "two.flac", "disc2/three.ogg"]):
        sf.write(songs / rel, music(0.3, seed=i), RATE)
    (songs / "cover.jpg").write_bytes(b"\xff\xd8\xff not audio, and not picked up")
    out_serial, out_jobs = tmp_path / "serial", tmp_path / "jobs"
    proc = vocalex("separate", songs, "-o", out_serial, "--model", tiny_model, "-q")
    assert proc.returncode == 0, proc.stderr
    proc = vocalex("separate", songs, "-o", out_jobs, "--model", tiny_model, "-q", "--jobs", "2")
    assert proc.returncode == 0, proc.stderr
    for name in ("album/one", "album/two", "album/disc2/three"):  # the folder's layout is kept
        for stem in ("vocals", "accompaniment"):
            a, _ = sf.read(out_serial / name / f"{stem}.wav")
            b, _ = sf.read(out_jobs / name / f"{stem}.wav")
            np.testing.assert_array_equal(a, b)
    assert not (out_serial / "album" / "cover").exists()
    assert "cover.jpg" in proc.stderr  # skipped, and named


def test_bad_jobs_value_is_a_usage_error(tmp_path, tiny_model):
    src = tmp_path / "s.wav"
    sf.write(src, music(0.2), RATE)
    proc = vocalex("separate", src, "-o", tmp_path / "o", "--model", tiny_model, "--jobs", "0")
    assert_refused(proc, UsageError.exit_code, "--jobs")


# ---------------------------------------------------------------- interruptions
@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_run_leaves_no_partial_file(sig, tmp_path, tiny_model):
    src = tmp_path / "long.wav"
    sf.write(src, music(120.0, channels=2), RATE)  # long enough to be mid-file when the signal lands
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "vocalex.cli.main", "separate", str(src), "-o", str(out),
                             "--model", str(tiny_model), "--mode", "stream", "--stride", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    # Wait until the run is writing separated audio (a temporary file holding more than its
    # header), then interrupt it mid-file.
    def writing():
        return any(p.stat().st_size > 64 * 1024 for p in out.rglob(".*.part") if p.exists())

    while time.monotonic() < deadline and not writing():
        time.sleep(0.05)
    assert writing(), "the run never started writing"
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode in (130, 128 + sig, -sig), (proc.returncode, err)
    assert "Traceback" not in err
    assert no_outputs(out), list(out.rglob("*"))
