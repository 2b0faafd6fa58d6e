"""`vocalex separate` end to end on files the tests write themselves."""

import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from vocalex.cli.main import main
from vocalex.engine.model import OnnxModel
from vocalex.engine.config import StreamConfig
from vocalex.engine.stream import StreamSeparator


def write(path, frames, channels, rate, subtype="PCM_16", seed=0, **kw):
    x = np.random.default_rng(seed).uniform(-0.5, 0.5, (frames, channels)).astype(np.float32)
    sf.write(str(path), x, rate, subtype=subtype, **kw)
    return sf.read(str(path), dtype="float32", always_2d=True)[0]


def stems(out, name, fmt="wav"):
    v, rv = sf.read(str(out / name / f"vocals.{fmt}"), dtype="float32", always_2d=True)
    a, ra = sf.read(str(out / name / f"accompaniment.{fmt}"), dtype="float32", always_2d=True)
    assert rv == ra
    return v, a, rv


def cli(*args):
    return main(["separate", *map(str, args)])


@pytest.mark.parametrize("mode", ["offline", "stream"])
def test_44k_stereo_both_modes_keep_rate_channels_length_and_sum(tiny_model, tmp_path, mode):
    x = write(tmp_path / "song.wav", 3 * 44100 + 17, 2, 44100)
    assert cli(tmp_path / "song.wav", "-o", tmp_path / "out", "--model", tiny_model, "--mode", mode, "-q") == 0
    v, a, rate = stems(tmp_path / "out", "song")
    assert rate == 44100 and v.shape == x.shape == a.shape
    assert np.abs(v + a - x).max() < 1e-4
    assert np.abs(v).max() > 1e-3
    assert sf.info(str(tmp_path / "out" / "song" / "vocals.wav")).subtype == "FLOAT"


def test_stream_mode_file_equals_the_live_object(tiny_model, tmp_path):
    x = write(tmp_path / "clip.wav", 30000, 2, 44100, subtype="FLOAT", seed=4)
    assert cli(tmp_path / "clip.wav", "-o", tmp_path, "--model", tiny_model, "--mode", "stream",
               "--stride", 3, "--lookahead", 2, "--edges", "zero", "-q") == 0  # silence around it, as live
    v, _, _ = stems(tmp_path, "clip")
    live = StreamSeparator(OnnxModel.load(tiny_model), 44100, 2, StreamConfig(stride=3, lookahead=2))
    outs = [live.process(x[i:i + 127]) for i in range(0, len(x), 127)] + [live.flush()]
    ref = np.concatenate([o["vocals"] for o in outs])[live.latency:]
    np.testing.assert_allclose(v, ref, atol=1e-6)


def test_wiener_option_writes_what_the_api_computes(tiny_model, tmp_path):
    from vocalex.engine import Separator

    x = write(tmp_path / "song.wav", 2 * 44100 + 3, 2, 44100, subtype="FLOAT", seed=5)
    assert cli(tmp_path / "song.wav", "-o", tmp_path / "out", "--model", tiny_model, "--wiener", "-q") == 0
    v, a, rate = stems(tmp_path / "out", "song")
    assert rate == 44100 and v.shape == x.shape
    np.testing.assert_allclose(v + a, x, atol=1e-5)
    sep = Separator.load(tiny_model)
    np.testing.assert_allclose(v, sep.separate(x, 44100, wiener=True)["vocals"], atol=1e-6)
    assert np.abs(v - sep.separate(x, 44100)["vocals"]).max() > 1e-4  # the flag did something


@pytest.mark.parametrize("rate,channels,fmt", [(48000, 1, "wav"), (22050, 2, "flac")])
def test_resampled_rates_and_flac(tiny_model, tmp_path, rate, channels, fmt):
    x = write(tmp_path / "in.flac", rate + 5, channels, rate, subtype="PCM_24")
    assert cli(tmp_path / "in.flac", "-o", tmp_path / "o", "--model", tiny_model, "--format", fmt, "-q") == 0
    v, a, got_rate = stems(tmp_path / "o", "in", fmt)
    assert got_rate == rate and v.shape == x.shape
    assert np.abs(v + a - x).max() < 1e-4


@pytest.mark.parametrize("name,fmt,subtype", [("t.ogg", "OGG", "VORBIS"), ("t.mp3", "MP3", "MPEG_LAYER_III")])
def test_lossy_inputs_are_read(tiny_model, tmp_path, name, fmt, subtype):
    x = write(tmp_path / name, 20000, 2, 44100, subtype=subtype, format=fmt)
    assert cli(tmp_path / name, "-o", tmp_path, "--model", tiny_model, "--lookahead", "20ms", "--mode", "stream", "-q") == 0
    v, a, _ = stems(tmp_path, "t")
    assert v.shape == x.shape and np.abs(v + a - x).max() < 1e-4


def test_existing_outputs_are_kept_without_force(tiny_model, tmp_path):
    write(tmp_path / "song.wav", 5000, 2, 44100)
    folder = tmp_path / "out" / "song"
    folder.mkdir(parents=True)
    (folder / "vocals.wav").write_bytes(b"precious")
    assert cli(tmp_path / "song.wav", "-o", tmp_path / "out", "--model", tiny_model, "-q") == 7
    assert (folder / "vocals.wav").read_bytes() == b"precious"
    assert sorted(p.name for p in folder.iterdir()) == ["vocals.wav"]  # nothing else written
    assert cli(tmp_path / "song.wav", "-o", tmp_path / "out", "--model", tiny_model, "-q", "--force") == 0
    assert sf.info(str(folder / "vocals.wav")).frames == 5000


def test_one_bad_input_does_not_stop_the_others(tiny_model, tmp_path, capsys):
    write(tmp_path / "good.wav", 8000, 2, 44100)
    (tmp_path / "junk.wav").write_bytes(b"RIFF....not audio at all")
    code = cli(tmp_path / "junk.wav", tmp_path / "good.wav", tmp_path / "gone.mp3", "-o", tmp_path / "o", "--model", tiny_model, "-q")
    assert code == 3  # the first failure's code (unreadable input)
    assert (tmp_path / "o" / "good" / "vocals.wav").exists()
    assert not (tmp_path / "o" / "junk").exists() and not (tmp_path / "o" / "gone").exists()
    err = capsys.readouterr().err
    assert "2 of 3 inputs failed" in err and "junk.wav" in err and "gone.mp3" in err


@pytest.mark.parametrize(
    "make,code,message",
    [
        (lambda p: p.write_bytes(b""), 3, "empty"),
        (lambda p: sf.write(str(p), np.zeros((0, 2), np.float32), 44100), 3, "no audio"),
        (lambda p: sf.write(str(p), np.zeros((100, 9), np.float32), 44100), 4, "channels"),
        (lambda p: sf.write(str(p), np.zeros((100, 1), np.float32), 4000), 4, "sample rate"),
        (lambda p: sf.write(str(p), np.array([[0.0], [np.nan], [0.0]], np.float32), 44100, subtype="FLOAT"), 5, "NaN"),
        (lambda p: p.mkdir(), 3, "folder"),
    ],
)
def test_bad_inputs_give_distinct_codes_and_no_outputs(tiny_model, tmp_path, capsys, make, code, message):
    bad = tmp_path / "bad.wav"
    make(bad)
    assert cli(bad, "-o", tmp_path / "o", "--model", tiny_model, "-q") == code
    assert message in capsys.readouterr().err
    assert not (tmp_path / "o" / "bad").exists()  # no folder, no temporary files left behind


@pytest.mark.subprocess
@pytest.mark.parametrize(
    "args,code,message",
    [
        (["--stride", "0", "--mode", "stream"], 2, "stride"),
        (["--stride", "0"], 2, "--mode stream"),  # offline has no stride: refused, not ignored
        (["--lookahead", "2"], 2, "--mode stream"),
        (["--lookahead", "soon", "--mode", "stream"], 2, "lookahead"),
        (["--lookahead", "200", "--mode", "stream"], 2, "lookahead"),
        (["--threads", "0"], 2, "threads"),
        (["--wiener", "--mode", "stream"], 2, "wiener"),
        (["--model", "/nonexistent/model.onnx"], 6, "not found"),
    ],
)
def test_bad_arguments_exit_with_one_line(tiny_model, tmp_path, args, code, message):
    write(tmp_path / "a.wav", 1000, 1, 44100)
    if "--model" not in args:
        args = args + ["--model", str(tiny_model)]
    proc = subprocess.run([sys.executable, "-m", "vocalex.cli.main", "separate", str(tmp_path / "a.wav"),
                           "-o", str(tmp_path / "o"), *args], capture_output=True, text=True)
    assert proc.returncode == code, proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_inputs_with_the_same_name_are_refused_before_work(tiny_model, tmp_path):
    for d in ("a", "b"):
        (tmp_path / d).mkdir()
        write(tmp_path / d / "x.wav", 1000, 1, 44100)
    assert cli(tmp_path / "a" / "x.wav", tmp_path / "b" / "x.wav", "-o", tmp_path / "o", "--model", tiny_model) == 2
    assert not (tmp_path / "o").exists()


def test_same_stem_different_suffix_keeps_the_suffix(tiny_model, tmp_path):
    # song.wav + song.flac would both write o/song/: each keeps its suffix instead; a lone name stays as it is
    x = write(tmp_path / "song.wav", 3000, 2, 44100, seed=1)
    y = write(tmp_path / "song.flac", 3000, 2, 44100, seed=2)
    write(tmp_path / "other.wav", 3000, 2, 44100, seed=3)
    assert cli(tmp_path / "song.wav", tmp_path / "song.flac", tmp_path / "other.wav", "-o", tmp_path / "o",
               "--model", tiny_model, "-q") == 0
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["other", "song.flac", "song.wav"]
    for name, ref in (("song.wav", x), ("song.flac", y)):
        v, a, _ = stems(tmp_path / "o", name)
        np.testing.assert_allclose(v + a, ref, atol=1e-4)


def test_folder_layout_is_kept_under_the_output(tiny_model, tmp_path, capsys):
    album = tmp_path / "album"
    for d in ("cd1", "cd2"):
        (album / d).mkdir(parents=True)
    a = write(album / "cd1" / "01.wav", 3000, 2, 44100, seed=1)
    b = write(album / "cd2" / "01.wav", 3000, 2, 44100, seed=2)
    (album / "cover.jpg").write_bytes(b"\xff\xd8\xff")
    assert cli(album, "-o", tmp_path / "o", "--model", tiny_model, "-q") == 0
    for rel, ref in (("album/cd1/01", a), ("album/cd2/01", b)):
        v, acc, _ = stems(tmp_path / "o", rel)
        np.testing.assert_allclose(v + acc, ref, atol=1e-4)
    err = capsys.readouterr().err
    assert "skipping 1 file" in err and "cover.jpg" in err  # a skipped file is always named, even with -q


def test_edges_option_writes_what_the_api_computes(tiny_model, tmp_path):
    from vocalex.engine import Separator

    x = write(tmp_path / "clip.wav", 20000, 2, 44100, subtype="FLOAT", seed=6)
    sep = Separator.load(tiny_model, threads=1)
    written = {}
    for edges in ("mirror", "zero"):
        args = ["--edges", edges] if edges == "zero" else []  # mirror: the default
        assert cli(tmp_path / "clip.wav", "-o", tmp_path / edges, "--model", tiny_model, *args, "-q") == 0
        written[edges], _, _ = stems(tmp_path / edges, "clip")
        np.testing.assert_allclose(written[edges], sep.separate(x, 44100, edges=edges)["vocals"], atol=1e-6)
    assert np.abs(written["mirror"][:1024] - written["zero"][:1024]).max() > 1e-3
