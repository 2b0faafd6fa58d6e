"""The live meter (issue 24): off a terminal its last line is not printed twice; on one it draws its panel."""

from __future__ import annotations

import io
import math

from vocalex.live.meter import LiveMeter

SNAP = {"elapsed": 1.5, "input_dbfs": -12.04, "output_dbfs": -math.inf, "latency_ms": 75.4, "load": 0.25,
        "compute_ms_per_stride": 5.8, "budget_ms_per_stride": 23.2, "late_blocks": 2, "xruns": 1, "resyncs": 0,
        "callbacks": 300}


def test_the_final_line_is_not_a_repeat_of_the_last():
    out = io.StringIO()
    with LiveMeter(file=out, log_interval=60) as meter:
        meter.update(SNAP)  # printed; nothing changes before the end
    assert len(out.getvalue().splitlines()) == 1, out.getvalue()


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_a_terminal_gets_the_panel():
    out = _Terminal()
    with LiveMeter(file=out, refresh=20) as meter:
        meter.update(SNAP)
    text = out.getvalue()
    assert "model load" in text and "75.4 ms" in text and "late blocks" in text
