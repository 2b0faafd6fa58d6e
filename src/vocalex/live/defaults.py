"""The live path's defaults that command lines show in their help, in a module that imports nothing.

`vocalex --help` builds every command's parser and `vocalex separate` builds its own, whose --latency-ms help names
the live target: reading these from live/plan.py cost each of those runs ~1.7 ms of imports (its dataclasses), the
whole of the start-up difference measured for issue 23 outside the work itself.
"""

# Time added to the calibrated need, before it is rounded up to whole blocks, for what a few seconds of
# calibration cannot see: the machine's own stalls (a VM descheduled, the audio server late). Through JACK on the
# 2-core VMs (bench_live.py, 5 minutes, 256-sample blocks) callback intervals reached 13.7-20 ms against the
# 5.8 ms period, and whenever the headroom came to 11.6 ms the run had late blocks (2 and 5 of 51847 with a
# 3.1 ms p99.9 and one margin block; 66 and 24 with none), while 17.4 ms had none in four runs. A margin in
# blocks, added after rounding, gave 11.6 or 17.4 ms depending on whether the p99.9 fell just under or over 3.2
# ms; 10 ms added before rounding gives 17.4 ms for any p99.9 from 0.4 to 4.3 ms at 256-sample blocks, and is
# the same time whatever the block size. Where stalls are rare (realtime scheduling on bare metal, a GPU)
# --margin-ms 0 is the way to the smallest latencies (README, "20 ms where compute is nearly free").
DEFAULT_MARGIN_MS = 10.0
DEFAULT_BLOCKSIZE = 256  # device frames per callback (5.8 ms at 44.1 kHz)
MAX_MARGIN_MS = 1000.0  # more would only add delay, and the rings grow with it
# What `vocalex live` aims for when no latency, model, stride or lookahead is given (live/choice.py picks the best
# measured quality within it): near enough for karaoke and DJ vocal removal from a playing source, where the
# listener hears only the processed sound; not for a singer monitoring their own voice (10-30 ms, FIELD.md),
# who asks for --latency-ms 50 or --latency-ms lowest.
DEFAULT_TARGET_MS = 120.0
