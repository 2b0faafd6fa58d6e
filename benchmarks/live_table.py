"""The live table: what each model and stream configuration scores, costs and plans here; the SDR-vs-latency figure.

    python3 benchmarks/live_table.py [--data DIR] [--scores-from FILE.jsonl ...] [--write-choices]
                                     [--only MODEL] [--limit N]

For every candidate configuration below (a named model, stride, lookahead, window, synthesis):

* vocals SDR: stream mode with exactly that configuration on the MUSDB18-7s validation clips (median over
  clips, the eval metric); taken from ``--scores-from`` JSON lines (benchmarks/studies/live_hq.py writes
  them, keyed by model version and configuration: SDR does not depend on the machine) where present, else
  scored now;
* one model call (ONNX Runtime, one thread, as `vocalex live` runs it): p50 and p99.9 over 300 calls;
* the end-to-end latency `vocalex live --latency-ms` would plan for it on this machine: algorithmic (the pure
  engine.config.latency) + headroom from the live calibration of that stream in 256-sample blocks at
  44.1 kHz plus the default margin (live/plan.py) + one 256-sample device block, what a JACK server at -p 256
  reports.

Prints the table (markdown, for README), writes benchmarks/results/live_table.json and the figure
benchmarks/results/live_table.png (vocals SDR against planned end-to-end latency, every candidate), and with ``--write-choices`` the chooser's table
src/vocalex/live/choices.json (SDR and call time per candidate: what `--latency-ms` picks from).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from _common import REPO, RESULTS, add_data_option, model_call_ms, write_json

RATE, BLOCK = 44100, 256
# (model, stride, lookahead, window, synthesis, mirror): the configurations the live chooser may play. The bundled
# default keeps stride >= 4 (live/plan.py MIN_AUTO_STRIDE: smaller strides left late blocks through JACK here);
# hq-vocals runs stride 1, with mirrored window ends where there is lookahead (StreamConfig.mirror: on 20 training
# clips +0.20 dB paired at lookahead 1, nothing at lookahead 0), or stride 2 where a stride-1 call is too slow here.
CANDIDATES = [
    *[("default", 4, la, None, "low-delay", 0) for la in (0, 2)],
    ("hq-vocals", 1, 0, 64, "low-delay", 0),
    *[("hq-vocals", 1, la, 64, "low-delay", 4) for la in (1, 2)],
    ("hq-vocals", 2, 0, 64, "low-delay", 0),
]


def config_key(stride, lookahead, window, synthesis, mirror=0) -> str:
    """The configuration as benchmarks/studies/live_hq.py names it."""
    return f"{stride}:{lookahead}:{window or 0}:{synthesis}" + (f":{mirror}" if mirror else "")


def cached_scores(paths) -> dict:
    """{(model_version, config key): result row} from live_hq.py's JSON lines (the last row of a key wins)."""
    scores = {}
    for path in paths or []:
        for line in Path(path).read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                if row.get("split", "valid") == "valid":
                    scores[(row["model"], row["config"])] = row
    return scores


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_option(p)
    p.add_argument("--scores-from", action="append", default=[], help="live_hq.py JSON lines with earlier scores")
    p.add_argument("--write-choices", action="store_true", help="rewrite src/vocalex/live/choices.json")
    p.add_argument("--only", help="measure one model's candidates only")
    p.add_argument("--limit", type=int, help="score on the first N validation clips only (a quick look; not for README)")
    p.add_argument("--out", default=str(RESULTS / "live_table.json"))
    args = p.parse_args(argv)

    sys.path.insert(0, str(REPO / "benchmarks" / "studies"))
    from live_hq import load_clips, score

    from vocalex.base.machine import describe, machine_info
    from vocalex.engine import Separator
    from vocalex.engine.config import StreamConfig, latency
    from vocalex.live.defaults import DEFAULT_MARGIN_MS
    from vocalex.live.plan import calibrate, headroom_samples

    scores = cached_scores(args.scores_from)
    clips = None
    rows, separators, calibrations = [], {}, {}
    for model, stride, lookahead, window, synthesis, mirror in CANDIDATES:
        if args.only and model != args.only:
            continue
        if model not in separators:
            separators[model] = Separator.load(model=model, threads=1)
        sep = separators[model]
        prof = sep.profile
        key = config_key(stride, lookahead, window, synthesis, mirror)
        row = scores.get((prof.model_version, key))
        if row is None:
            clips = clips if clips is not None else load_clips(args.data, "valid", args.limit)
            row = score(sep, clips, key)
            row["n_clips"] = len(clips)
        call = model_call_ms(sep.model, 2, window=window, calls=300)
        block = BLOCK if prof.sample_rate == RATE else None
        # one calibration per stride / window / synthesis: lookahead does not change the work per block
        cal_key = (model, stride, window, synthesis, mirror)
        if cal_key not in calibrations:
            calibrations[cal_key] = calibrate(sep.stream(RATE, 2, config=StreamConfig(stride, 0, synthesis, block, window,
                                                                                      mirror)), BLOCK)
        cal = calibrations[cal_key]
        algorithmic = latency(prof, StreamConfig(stride, lookahead, synthesis, block, window, mirror), RATE)
        headroom = headroom_samples(cal.need, RATE, BLOCK, DEFAULT_MARGIN_MS)
        total_ms = 1000.0 * (algorithmic + headroom + BLOCK) / RATE
        rows.append({"model": model, "model_version": prof.model_version, "stride": stride, "lookahead": lookahead,
                     "window": window, "synthesis": synthesis, "mirror": mirror, "vocals_sdr": row["median"], "vocals_sdr_mean": row["mean"],
                     "n_clips": row["n_clips"], "call_ms_p50": call["p50"], "call_ms_p999": call["p99.9"],
                     "block_ms_p999": 1000.0 * cal.p999, "algorithmic_ms": 1000.0 * algorithmic / RATE,
                     "headroom_ms": 1000.0 * headroom / RATE, "device_ms": 1000.0 * BLOCK / RATE, "latency_ms": total_ms})
        r = rows[-1]
        print(f"{model} stride {stride} lookahead {lookahead} window {window or prof.n_frames} {synthesis}: "
              f"SDR {r['vocals_sdr']:.2f} dB, call p50 {r['call_ms_p50']:.1f} / p99.9 {r['call_ms_p999']:.1f} ms, "
              f"planned {total_ms:.1f} ms = {r['algorithmic_ms']:.1f} + {r['headroom_ms']:.1f} + {r['device_ms']:.1f}",
              flush=True)

    machine = machine_info()
    print("\n| model | stride | lookahead | window | mirror | vocals SDR | call p50 / p99.9 | planned end to end here |")
    print("|---|---|---|---|---|---|---|---|")
    for r in sorted(rows, key=lambda r: r["latency_ms"]):
        print(f"| {r['model']} | {r['stride']} | {r['lookahead']} | {r['window'] or 'model'} | {r['mirror']} | {r['vocals_sdr']:.2f} dB | "
              f"{r['call_ms_p50']:.1f} / {r['call_ms_p999']:.1f} ms | {r['latency_ms']:.1f} ms = "
              f"{r['algorithmic_ms']:.1f} + {r['headroom_ms']:.1f} + {r['device_ms']:.1f} |")
    write_json({"schema": "vocalex.live_table/1", "machine": machine, "rate": RATE, "blocksize": BLOCK,
                "margin_ms": DEFAULT_MARGIN_MS, "rows": rows}, args.out)
    draw(rows, Path(args.out).with_suffix(".png"), describe(machine), references(scores))
    if args.write_choices:
        choices = REPO / "src" / "vocalex" / "live" / "choices.json"
        table = {"schema": "vocalex.live_choices/1",
                 "measured": {"command": "python3 benchmarks/live_table.py --write-choices", "machine": describe(machine),
                              "sdr": "vocals SDR, median over the 14 MUSDB18-7s validation clips, stream mode"},
                 "candidates": [{k: r[k] for k in ("model", "stride", "lookahead", "window", "synthesis", "mirror",
                                                   "vocals_sdr")}
                                | {"call_ms": round(r["call_ms_p50"], 2)} for r in rows]}
        choices.write_text(json.dumps(table, indent=1) + "\n")
        print(f"wrote {choices}")
    return 0


def references(scores: dict) -> dict:
    """Offline levels drawn as lines: each model's file mode and the Spleeter peer, on the same validation clips
    (benchmarks/results/eval_hq512_valid.json, and live_hq.py's offline rows for models that file does not hold)."""
    refs = {}
    eval_json = RESULTS / "eval_hq512_valid.json"
    if eval_json.exists():
        systems = json.loads(eval_json.read_text())["systems"]
        for name, label in (("vocalex default offline", "default, offline"), ("vocalex hq offline", "hq, offline"),
                            ("Spleeter 2-stem (pretrained)", "Spleeter 2-stem peer, offline")):
            if name in systems:
                refs[label] = systems[name]["summary"]["vocals"]["median"]
    for (version, config), row in scores.items():
        if config == "offline" and "vocals" in version:
            refs["hq-vocals, offline"] = row["median"]
    return refs


def draw(rows, out: Path, machine: str, refs: dict) -> None:
    """Vocals SDR against planned end-to-end latency, a line per model and stride (points: lookahead), offline
    levels as horizontal lines."""
    from vocalex.evaluation.plots import plot_sdr_vs_latency

    series = {}
    for r in rows:
        mirror = f", mirror {r['mirror']}" if r.get("mirror") else ""
        label = f"{r['model']} ({r['model_version']}), stride {r['stride']}{mirror}"
        series.setdefault(label, []).append((r["latency_ms"], r["vocals_sdr"], f"la {r['lookahead']}"))
    plot_sdr_vs_latency(series, out, references=refs,
                        title=f"vocals SDR vs planned end-to-end latency, 14 MUSDB18-7s validation clips\n{machine}")


if __name__ == "__main__":
    sys.exit(main())
