"""`vocalex eval` end to end on a tiny generated plain-stem dataset with an untrained tiny model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from optional import need
import soundfile as sf

from vocalex.cli.main import main

SR = 22050  # not the model's rate: the engine resamples, the metric runs at the dataset's rate


@pytest.fixture(scope="module")
def stem_dataset(tmp_path_factory):
    """Three tracks of one folder each: vocals.wav + accompaniment.wav, 1.5 s stereo."""
    root = tmp_path_factory.mktemp("stems")
    rng = np.random.default_rng(0)
    t = np.arange(int(1.5 * SR)) / SR
    for i in range(3):
        folder = root / f"track{i}"
        folder.mkdir()
        voice = 0.2 * np.sin(2 * np.pi * (220 + 40 * i) * t)
        sf.write(folder / "vocals.wav", np.stack([voice, voice], axis=1), SR)
        sf.write(folder / "accompaniment.wav", 0.05 * rng.standard_normal((len(t), 2)), SR)
    return root


def _run_eval(dataset, model, tmp_path, *extra):
    out = tmp_path / "eval.json"
    code = main(["eval", str(dataset), "--model", str(model), "--json", str(out), *extra])
    assert code == 0
    return json.loads(out.read_text())


def _check_summary(summary):
    for stem in ("vocals", "accompaniment"):
        agg = summary[stem]
        assert set(agg) == {"median", "mean", "n"}
        assert isinstance(agg["median"], float) and isinstance(agg["mean"], float)


def test_eval_json_schema_both_modes_and_cheap_baselines(stem_dataset, tiny_model, tmp_path, monkeypatch):
    # The Spleeter and REPET-SIM baselines are covered in test_baselines.py; here the schema
    # is checked with the two cheap ones so the test stays fast.
    monkeypatch.setattr("vocalex.evaluation.baselines.BASELINES", ("mixture", "centre"))
    result = _run_eval(stem_dataset, tiny_model, tmp_path, "--mode", "both", "--baselines", "--lookahead", "2")
    assert result["schema"] == "vocalex.eval/1"
    assert result["n_tracks"] == 3
    assert result["split"] == "all" and result["layout"] == "stems"
    assert result["metric"] == "sdr"
    assert result["audio_seconds"] == pytest.approx(4.5, abs=1e-3)
    assert {"cpu", "cores", "onnxruntime"} <= set(result["machine"])
    assert result["model"]["sample_rate"] == 44100
    systems = result["systems"]
    assert set(systems) == {"vocalex offline", "vocalex stream", "mixture (no separation)", "centre cancellation (L-R)"}
    for name, entry in systems.items():
        assert len(entry["tracks"]) == 3
        assert [t["name"] for t in entry["tracks"]] == ["track0", "track1", "track2"]
        for row in entry["tracks"]:
            assert isinstance(row["vocals"], float) and isinstance(row["accompaniment"], float)
            assert row["seconds"] == pytest.approx(1.5, abs=1e-3)
        _check_summary(entry["summary"])
        assert entry["x_realtime"] > 0
    stream = systems["vocalex stream"]
    assert stream["lookahead"] == 2 and stream["latency"]["lookahead"] == 2
    assert stream["latency"]["ms"] > 0
    assert "latency" not in systems["vocalex offline"]
    # Hand check of one number: the mixture baseline's vocals SDR is the track's vocals-to-accompaniment
    # ratio, recomputed here from the files.
    v, _ = sf.read(stem_dataset / "track0" / "vocals.wav", dtype="float32")
    a, _ = sf.read(stem_dataset / "track0" / "accompaniment.wav", dtype="float32")
    expected = 10 * np.log10(np.sum(v.astype(np.float64) ** 2) / np.sum(a.astype(np.float64) ** 2))
    assert systems["mixture (no separation)"]["tracks"][0]["vocals"] == pytest.approx(expected, abs=1e-3)


def test_eval_limit_and_museval(stem_dataset, tiny_model, tmp_path):
    need("museval")
    result = _run_eval(stem_dataset, tiny_model, tmp_path, "--limit", "1", "--museval")
    assert result["n_tracks"] == 1 and result["metric"] == "sdr+museval"
    entry = result["systems"]["vocalex offline"]
    assert set(entry["tracks"][0]["museval"]["vocals"]) == {"SDR", "SIR", "ISR", "SAR"}
    assert set(entry["summary_museval"]["accompaniment"]["SDR"]) == {"median", "mean", "n"}


def test_eval_wiener_adds_its_own_row(stem_dataset, tiny_model, tmp_path):
    result = _run_eval(stem_dataset, tiny_model, tmp_path, "--limit", "1", "--wiener")
    systems = result["systems"]
    assert set(systems) == {"vocalex offline", "vocalex offline+wiener"}
    assert systems["vocalex offline+wiener"]["wiener"] is True
    plain, wiener = (systems[n]["tracks"][0]["vocals"] for n in ("vocalex offline", "vocalex offline+wiener"))
    assert plain != wiener  # a different estimate, scored on the same clip


def test_eval_bad_inputs_are_one_line_errors(tmp_path, tiny_model, capsys):
    assert main(["eval", str(tmp_path / "missing"), "--model", str(tiny_model)]) == 3
    assert main(["eval", str(tmp_path), "--model", str(tiny_model), "--limit", "0"]) == 2
    assert main(["eval", str(tmp_path), "--model", str(tiny_model), "--mode", "stream", "--wiener"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("vocalex: error:") for line in err)
    assert main(["eval", str(tmp_path), "--model", str(tiny_model), "--json", str(tmp_path / "no" / "x.json")]) == 7


def test_plot_cli_writes_a_small_png_and_refuses_to_overwrite(tmp_path, tiny_model, capsys):
    need("matplotlib")
    sr = 44100
    song = tmp_path / "song.wav"
    t = np.arange(2 * sr) / sr
    sf.write(song, np.stack([np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 660 * t)], axis=1) * 0.2, sr)
    fig = tmp_path / "fig.png"
    assert main(["plot", str(song), "-o", str(fig), "--model", str(tiny_model), "--seconds", "1.5"]) == 0
    data = fig.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) < 300_000
    assert main(["plot", str(song), "-o", str(fig), "--model", str(tiny_model)]) == 7  # exists, no --force
    assert main(["plot", str(song), "-o", str(tmp_path / "fig.jpg"), "--model", str(tiny_model)]) == 2
    assert main(["plot", str(song), "-o", str(tmp_path / "late.png"), "--model", str(tiny_model), "--start", "5"]) == 3
    assert not (tmp_path / "late.png").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary leftovers
    # a missing folder is created, as `separate -o` does
    nested = tmp_path / "figs" / "new" / "fig.png"
    assert main(["plot", str(song), "-o", str(nested), "--model", str(tiny_model), "--seconds", "1"]) == 0
    assert nested.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.subprocess
def test_eval_script_without_its_data_is_one_line(tmp_path):
    import subprocess
    import sys

    script = Path(__file__).resolve().parents[2] / "benchmarks" / "eval_musdb.py"
    proc = subprocess.run([sys.executable, str(script), "--data", str(tmp_path / "no-musdb"),
                           "--out", str(tmp_path / "r.json")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 3, proc.stderr
    assert proc.stderr.strip().splitlines() == [f"eval_musdb: error: dataset folder not found: {tmp_path / 'no-musdb'}"]


def test_sdr_vs_latency_and_histogram_figures(tmp_path):
    need("matplotlib")
    from vocalex.evaluation.plots import plot_compute_histogram, plot_sdr_vs_latency

    out = plot_sdr_vs_latency(
        {"live1024 stride 4": [(40.6, 3.0, "la 0"), (52.2, 3.5, "la 2"), (75.4, 3.8, "la 6")]},
        tmp_path / "curve.png",
        references={"offline": 4.1, "Spleeter 2-stem": 5.0},
    )
    hist = plot_compute_histogram({"cpu": np.random.default_rng(0).gamma(4, 2, 500)}, tmp_path / "hist.png", budget_ms=23.2)
    for p in (out, hist):
        data = p.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and 5_000 < len(data) < 300_000


def test_cli_defaults_match_the_python_functions():
    # The CLI and the functions it calls must not drift apart (soundfile's test_argspec habit).
    import argparse
    import inspect

    from vocalex.cli import bench as bench_cli, eval as eval_cli
    from vocalex.evaluation.evaluate import evaluate
    from vocalex.evaluation.speed import bench

    for module, fn in ((eval_cli, evaluate), (bench_cli, bench)):
        sub = argparse.ArgumentParser().add_subparsers()
        module.register(sub)
        parser = next(iter(sub.choices.values()))
        defaults = vars(parser.parse_args(["x"]))
        for name, param in inspect.signature(fn).parameters.items():
            cli_name = {"host_rate": "rate"}.get(name, name)
            if cli_name in defaults and cli_name not in ("dataset", "song"):
                assert defaults[cli_name] == param.default, (module.__name__, name)


def test_lookahead_in_milliseconds_works_in_eval_and_bench(stem_dataset, tiny_model, tmp_path):
    # The option is declared once (cli/options.py): 20 ms is 4 frames of 5.8 ms wherever --lookahead is taken.
    result = _run_eval(stem_dataset, tiny_model, tmp_path, "--mode", "stream", "--lookahead", "20ms", "--limit", "1")
    entry = result["systems"]["vocalex stream"]
    assert entry["lookahead"] == 4 and entry["latency"]["lookahead"] == 4
    out = tmp_path / "bench.json"
    song = next(stem_dataset.glob("*/vocals.wav"))
    assert main(["bench", str(song), "--model", str(tiny_model), "--lookahead", "20ms", "--seconds", "0.5",
                 "--json", str(out)]) == 0
    assert json.loads(out.read_text())["latency"]["lookahead_frames"] == 4
    assert main(["eval", str(stem_dataset), "--model", str(tiny_model), "--lookahead", "soon"]) == 2
