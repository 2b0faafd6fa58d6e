"""The measured table and the latency budget that chooses from it (live/choice.py): which model plays, and why."""

import json
import math

import pytest

from vocalex.base.errors import UsageError
from vocalex.engine.config import StreamConfig, latency
from vocalex.engine.contract import read_profile
from vocalex.engine.registry import NAMED_MODELS, resolve_named
from vocalex.live.choice import Candidate, TablePlanner, choose, choose_lowest, load_table, table_for
from vocalex.live.defaults import DEFAULT_MARGIN_MS


def _row(model, stride, lookahead, sdr, window=None, mirror=0):
    return {"model": model, "stride": stride, "lookahead": lookahead, "window": window, "synthesis": "low-delay",
            "vocals_sdr": sdr, "call_ms": 1.0, "mirror": mirror}


TABLE = json.dumps({"candidates": [_row("default", 4, 0, 4.4), _row("hq-vocals", 1, 0, 5.0, 64),
                                   _row("hq-vocals", 1, 1, 5.5, 64, mirror=4), _row("default", 4, 2, 4.5)]})


class FakeMachine:
    """Planned latency = floor + a fixed headroom, and a record of which candidates were planned (loaded)."""

    def __init__(self, extra_ms=10.0, too_slow=()):
        self.extra_ms, self.too_slow, self.planned = extra_ms, too_slow, []

    def floor(self, c):
        return {"default": 40.0, "hq-vocals": 60.0}[c.model] + 20.0 * c.lookahead

    def plan(self, c):
        self.planned.append(c)
        return math.inf if c.model in self.too_slow else self.floor(c) + self.extra_ms


def test_the_table_ships_with_the_package_and_names_only_bundled_models_with_real_configurations():
    table = load_table()
    assert table and [c.vocals_sdr for c in table] == sorted((c.vocals_sdr for c in table), reverse=True)
    for c in table:
        assert c.model in NAMED_MODELS and NAMED_MODELS[c.model].filename is None  # bundled: no build, no torch
        c.config().check(read_profile(resolve_named(c.model)))  # a configuration the engine accepts
    assert {c.model for c in table} >= {"default", "hq-vocals"}


def test_the_best_quality_that_fits_is_chosen_across_models():
    table = load_table(TABLE)
    machine = FakeMachine()
    chosen, verdicts = choose(table, 100.0, machine.floor, machine.plan)
    assert (chosen.model, chosen.lookahead, chosen.mirror) == ("hq-vocals", 1, 4)  # 5.5 dB planned at 90 ms
    chosen, verdicts = choose(table, 75.0, machine.floor, machine.plan)
    assert (chosen.model, chosen.lookahead) == ("hq-vocals", 0)
    assert [v.fits for v in verdicts] == [False, True]
    machine = FakeMachine()
    chosen, _ = choose(table, 55.0, machine.floor, machine.plan)
    assert chosen.model == "default" and chosen.lookahead == 0
    assert machine.planned == [chosen]  # every floor above 55 ms (hq-vocals' 60 and 80, default's 80): nothing loaded


def test_a_model_too_slow_here_is_passed_over_and_none_fitting_is_one_clear_error():
    table = load_table(TABLE)
    machine = FakeMachine(too_slow=("hq-vocals",))
    chosen, verdicts = choose(table, 100.0, machine.floor, machine.plan)
    assert chosen.model == "default" and chosen.lookahead == 2
    assert any(v.candidate.model == "hq-vocals" and v.planned and not v.fits for v in verdicts)
    with pytest.raises(UsageError, match="below what any model reaches here: the lowest is 50.0 ms"):
        choose(table, 45.0, machine.floor, machine.plan)
    with pytest.raises(UsageError, match="runs in real time"):
        choose(table_for("hq-vocals", text=TABLE), 100.0, machine.floor, machine.plan)
    with pytest.raises(UsageError, match="positive"):
        choose(table, -1.0, machine.floor, machine.plan)


def test_lowest_takes_the_lowest_planned_latency():
    machine = FakeMachine()
    chosen, _ = choose_lowest(load_table(TABLE), machine.plan)
    assert (chosen.model, chosen.lookahead) == ("default", 0)


def test_table_for_keeps_one_model_or_one_synthesis():
    assert {c.model for c in table_for("hq-vocals", text=TABLE)} == {"hq-vocals"}
    assert table_for("hq", text=TABLE) == []  # a model never measured: the caller plans it the old way
    assert table_for(None, "hann", text=TABLE) == []


def test_the_floor_is_the_engine_latency_plus_the_device_and_the_margin_blocks():
    planner = TablePlanner(44100, 2, 256, 256, DEFAULT_MARGIN_MS)
    c = Candidate("hq-vocals", 1, 1, 64, "low-delay", 5.0, 17.0, 4)
    algorithmic = latency(read_profile(resolve_named("hq-vocals")), StreamConfig(1, 1, "low-delay", 256, 64, 4), 44100)
    # the margin (10 ms) and the worker's wake-up (1 ms) round up to 2 blocks of 256 samples
    assert planner.floor_ms(c) == pytest.approx(1000.0 * (algorithmic + 2 * 256 + 256) / 44100)
