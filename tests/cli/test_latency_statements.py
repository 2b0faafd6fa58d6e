"""One latency vocabulary (issue 24): every place that states a latency names the configuration it belongs to, in
the words of engine.config.describe_stream, and its algorithmic part is engine.config.latency of that configuration.

Each command runs as a user runs it (a fresh process; the live ones on a private JACK dummy server they start
themselves): `vocalex bench`, `vocalex bench --live`, `vocalex live --input-file` (the plan line, the choice line
and the meter), `benchmarks/bench_live.py`; and README's live table against the record it was copied from.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from vocalex.engine.config import StreamConfig, latency
from vocalex.engine.contract import read_profile

pytestmark = [pytest.mark.subprocess, pytest.mark.live, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "src/vocalex/engine/assets/demo_lets_go_fishin_30s.ogg"
CONFIGURATION = re.compile(
    r"model (?P<model>\S+), stride (?P<stride>\d+), lookahead (?P<lookahead>\d+), (?P<synthesis>hann|low-delay) synthesis, "
    r"(?:(?P<window>\d+)-frame windows|model's windows)(?:, (?P<mirror>\d+) mirrored)?, (?P<rate>\d+) Hz"
    r"(?: in blocks of (?P<block>\d+))?")
STATEMENT = re.compile(r"algorithmic (?P<ms>\d+\.\d+) ms.*?\[(?P<configuration>[^\]]*)\]")


@pytest.fixture(scope="module")
def profiles():
    """The bundled models' profiles by the version a configuration names them with."""
    found = {}
    for name in ("default", "hq-vocals"):
        profile = read_profile(name)
        found[profile.model_version] = profile
    return found


def _vocalex(*args, script=None):
    # a JACK server name where none runs: every command starts its own private server (as a user without one)
    env = dict(os.environ, JACK_DEFAULT_SERVER=f"vocalex-statements-{os.getpid()}", COLUMNS="200")
    cmd = [sys.executable, *([str(REPO / script)] if script else ["-m", "vocalex"]), *map(str, args)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600, cwd=REPO)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def _statements(text: str, profiles) -> list[tuple[float, float, str]]:
    """(stated ms, engine.config.latency of the named configuration in ms, the configuration) for every statement."""
    out = []
    for line in text.splitlines():
        for found in STATEMENT.finditer(line):
            named = CONFIGURATION.fullmatch(found["configuration"])
            assert named, f"a latency statement that does not name its configuration in the common words: {line}"
            profile = profiles[named["model"]]
            config = StreamConfig(int(named["stride"]), int(named["lookahead"]), named["synthesis"],
                                  int(named["block"]) if named["block"] else None,
                                  int(named["window"]) if named["window"] else None, int(named["mirror"] or 0))
            rate = int(named["rate"])
            out.append((float(found["ms"]), 1000.0 * latency(profile, config, rate) / rate, found["configuration"]))
    return out


def _agree(statements):
    assert statements
    for stated, computed, configuration in statements:
        assert stated == pytest.approx(computed, abs=0.051), configuration  # printed to 0.1 ms


def test_bench_states_the_latency_of_the_configuration_it_names(profiles):
    text = _vocalex("bench", "--seconds", 2, "--rate", 48000, "--stride", 2, "--lookahead", 3)
    statements = _statements(text, profiles)
    _agree(statements)
    assert len(statements) == 1 and "stride 2, lookahead 3" in statements[0][2] and "48000 Hz" in statements[0][2]
    assert "low-delay synthesis" in statements[0][2]  # what `vocalex live` runs, not Hann


def test_bench_live_states_the_loopback_latency_of_what_live_runs(profiles):
    text = _vocalex("bench", "--seconds", 2, "--live", "--start-server", "--model", "default", "--stride", 4)
    statements = _statements(text, profiles)
    _agree(statements)
    # the budget and the loopback measurement describe the same stream: default model, stride 4, 256-sample blocks
    assert len(statements) == 2 and statements[0][2] == statements[1][2], statements
    measured = re.search(r"end-to-end latency (\d+\.\d) ms = algorithmic (\d+\.\d) ms \+ compute headroom (\d+\.\d) ms "
                         r"\+ device buffers (\d+\.\d) ms", text)
    assert float(measured[4]) > 0


def test_live_from_a_file_states_one_latency_everywhere(profiles, tmp_path):
    clip, rate = sf.read(DEMO, dtype="float32", start=3 * 44100, frames=2 * 44100)
    song = tmp_path / "song.wav"
    sf.write(song, clip, rate, subtype="FLOAT")
    text = _vocalex("live", "--input-file", song, "--record", tmp_path / "rec", "--latency-ms", "lowest")
    statements = _statements(text, profiles)
    _agree(statements)
    plan = re.search(r"^latency (\d+\.\d) ms = algorithmic (\d+\.\d) ms \+ compute headroom (\d+\.\d) ms "
                     r"\+ device buffers (\d+\.\d) ms \[", text, re.M)
    assert plan, text
    total, parts = float(plan[1]), [float(plan[i]) for i in (2, 3, 4)]
    assert total == pytest.approx(sum(parts), abs=0.16)
    # the file is played through the server's output ports: their buffering counts (it was stated as 0.0 ms)
    assert parts[2] > 0
    chose = re.search(r"^chose .*: planned (\d+\.\d) ms here$", text, re.M)
    assert chose and float(chose[1]) == total
    meter = [float(x) for x in re.findall(r"latency (\d+\.\d) ms  load", text)]
    assert meter and set(meter) == {total}


def test_bench_live_script_states_what_it_measured(profiles, tmp_path):
    text = _vocalex("--start-server", "--seconds", 2, "--repeats", 1, "--model", "default", "--stride", 4,
                    "--json", tmp_path / "bench_live.json", script="benchmarks/bench_live.py")
    _agree(_statements(text, profiles))


def test_readme_live_table_is_the_measured_record(profiles):
    """README's live table is live_table.json's record, and each row's algorithmic part is engine.config.latency."""
    record = json.loads((REPO / "benchmarks/results/live_table.json").read_text())
    readme = (REPO / "README.md").read_text()
    by_version = {read_profile(name).model_version: name for name in ("default", "hq-vocals")}
    for row in record["rows"]:
        profile = profiles[row["model_version"]] if row["model_version"] in profiles else None
        assert profile is not None, f"{row['model_version']}: not a bundled model"
        config = StreamConfig(row["stride"], row["lookahead"], row["synthesis"], record["blocksize"], row["window"],
                              row.get("mirror", 0))
        assert row["algorithmic_ms"] == pytest.approx(1000 * latency(profile, config, record["rate"]) / record["rate"], abs=1e-6)
        assert row["latency_ms"] == pytest.approx(row["algorithmic_ms"] + row["headroom_ms"] + row["device_ms"], abs=1e-6)
    rows = re.findall(r"^\| (bundled default|hq-vocals), stride (\d+)(?:, lookahead (\d+))?(, mirrored window ends)? \| "
                      r"(\d+\.\d+) dB \| (\d+\.\d) ms \|$", readme, re.M)
    assert len(rows) >= 3
    for model, stride, lookahead, mirrored, sdr, ms in rows:
        name = "default" if model == "bundled default" else "hq-vocals"
        match = [r for r in record["rows"] if by_version[r["model_version"]] == name and r["stride"] == int(stride)
                 and r["lookahead"] == int(lookahead or 0) and bool(r.get("mirror")) == bool(mirrored)]
        assert len(match) == 1, (model, stride, lookahead, mirrored)
        assert f"{match[0]['latency_ms']:.1f}" == ms and f"{match[0]['vocals_sdr']:.2f}" == sdr


def test_readme_low_delay_difference_is_the_engines(profiles):
    """README: `vocalex live --no-low-delay` is Hann synthesis, "+11.6 ms" for the bundled model."""
    stated = re.search(r"vocalex live --no-low-delay +# Hann synthesis: \+(\d+\.\d) ms", (REPO / "README.md").read_text())
    assert stated
    profile = read_profile("default")
    hann, low = (latency(profile, StreamConfig(synthesis=s, block=256), 44100) for s in ("hann", "low-delay"))
    assert float(stated[1]) == pytest.approx(1000 * (hann - low) / 44100, abs=0.051)


def test_results_record_states_latencies_of_the_configurations_it_names():
    """docs/RESULTS.md's "X ms algorithmic [stride .., lookahead .., .. synthesis, .. Hz]" statements (the bundled model's
    rows; hq's where the hq model is built here) are engine.config.latency of what they name."""
    pattern = re.compile(r"(?P<ms>\d+\.\d) ms algorithmic \[stride (?P<stride>\d+), lookahead (?P<lookahead>\d+), "
                         r"(?P<synthesis>hann|low-delay) synthesis, (?P<rate>\d+) Hz(?: in blocks of (?P<block>\d+))?\]|"
                         r"algorithmic (?P<ms2>\d+\.\d) ms \[stride (?P<stride2>\d+), lookahead (?P<lookahead2>\d+), "
                         r"(?P<synthesis2>hann|low-delay) synthesis, (?P<rate2>\d+) Hz(?: in blocks of (?P<block2>\d+))?\]")
    checked = {"default": 0, "hq": 0}
    for line in (REPO / "docs/RESULTS.md").read_text().splitlines():
        for found in pattern.finditer(line):
            g = {k.rstrip("2"): v for k, v in found.groupdict().items() if v is not None}
            model = "hq" if "--model hq" in line else "default" if "bundled default" in line else None
            assert model, f"a latency statement that names no model: {line}"
            try:
                profile = read_profile(model)
            except Exception:  # hq is built on first use (the hq extra); its rows are checked where it is
                continue
            config = StreamConfig(int(g["stride"]), int(g["lookahead"]), g["synthesis"], int(g["block"]) if "block" in g else None)
            rate = int(g["rate"])
            assert float(g["ms"]) == pytest.approx(1000 * latency(profile, config, rate) / rate, abs=0.051), line
            checked[model] += 1
    assert checked["default"] >= 1
