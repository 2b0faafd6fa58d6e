"""`vocalex separate --mode stream --latency-ms N` runs what `vocalex live --latency-ms N` plays: the same model and
configuration from the measured table (live/choice.py), chosen on this machine, said on stderr."""

import numpy as np
import pytest
import soundfile as sf

from vocalex.base.errors import UsageError
from vocalex.cli.main import main
from vocalex.engine import Separator
from vocalex.live.choice import table_for

pytestmark = pytest.mark.slow  # two model loads and a live calibration


def test_stream_mode_with_a_latency_budget_writes_the_chosen_configuration(tmp_path, capsys, monkeypatch):
    x = np.random.default_rng(0).uniform(-0.3, 0.3, (2 * 44100, 2)).astype(np.float32)
    sf.write(tmp_path / "song.wav", x, 44100, subtype="FLOAT")
    # Which configuration a budget buys depends on this machine's timing; the test is about what is played, so
    # a loaded CI machine must not turn the bundled model away as "not real time": any load passes here, and
    # the budget is far above any calibration.
    monkeypatch.setattr("vocalex.live.choice.TABLE_MAX_LOAD", float("inf"))
    assert main(["separate", str(tmp_path / "song.wav"), "-o", str(tmp_path / "out"), "--mode", "stream",
                 "--model", "default", "--latency-ms", "10000"]) == 0
    err = capsys.readouterr().err
    best = table_for("default")[0]
    assert f"chose {best.describe()} for 10000 ms" in err
    v, _ = sf.read(tmp_path / "out" / "song" / "vocals.wav", dtype="float32", always_2d=True)
    expected = Separator.load("default").separate(x, 44100, config=best.config())["vocals"]
    np.testing.assert_allclose(v, expected, atol=1e-6)


@pytest.mark.parametrize("extra, message", [
    (["--mode", "offline"], "add --mode stream"),
    (["--mode", "stream", "--stride", "2"], "not both"),
    (["--mode", "stream", "--model", "hq"], "no configuration of model 'hq'"),
])
def test_latency_budget_refusals_are_one_line(tmp_path, capsys, extra, message):
    sf.write(tmp_path / "song.wav", np.zeros((4410, 2), np.float32), 44100)
    code = main(["separate", str(tmp_path / "song.wav"), "-o", str(tmp_path / "out"), "--latency-ms", "100", *extra])
    assert code == UsageError.exit_code
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
