"""The curve that shows what each millisecond buys: vocals SDR against end-to-end latency.

    python3 benchmarks/sdr_vs_latency.py [--model A.onnx --model B.onnx] [--strides 1,2,4]
                                         [--lookaheads 0,1,2,4,8,16] [--synthesis hann,low-delay] [--limit N]

For each model (profile), stride and synthesis window pair, stream mode is scored on the MUSDB18-7s
validation clips at each lookahead (median vocals SDR over tracks, the eval metric), and placed at its
end-to-end latency as `vocalex live` would plan it on this machine: the stream's exact algorithmic
latency for fixed --blocksize device blocks (StreamConfig.block) + the compute headroom planned from a
calibration of that stream in those blocks plus the default margin (live/plan.py) + device
buffers (--device-ms, default one 256-sample block each way as a JACK server at -p 256 reports it: 5.8 ms). Offline mode and the baselines of
benchmarks/results/eval_musdb_valid.json (if present) are drawn as horizontal lines.
Writes benchmarks/results/sdr_vs_latency.{json,png}. ``--scores-from JSON`` takes the SDR of every
configuration that an earlier run's JSON holds (same model version, stride, lookahead, synthesis:
SDR does not depend on the machine) and measures only the latencies again, e.g. on a quiet machine.
"""

from __future__ import annotations

import argparse
import sys

from _common import RESULTS, add_data_option, model_call_ms, read_json, write_json


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", action="append", default=None, help="ONNX model; repeat for several profiles")
    add_data_option(p)
    p.add_argument("--split", default="valid")
    p.add_argument("--strides", default="4")
    p.add_argument("--lookaheads", default="0,1,2,4,8,16")
    p.add_argument("--synthesis", default="hann", help="comma-separated: hann, low-delay")
    p.add_argument("--blocksize", type=int, default=256, help="device block the headroom is planned for")
    p.add_argument("--scores-from", help="reuse the SDR scores of this earlier sdr_vs_latency.json; re-measure latencies only")
    p.add_argument("--cached-only", action="store_true",
                   help="with --scores-from: draw only the configurations it holds scores for (no scoring at all)")
    p.add_argument("--device-ms", type=float, default=None,
                   help="device buffers in ms (default: 256 samples at the clips' rate, what JACK -p 256 reports)")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--eval-json", default=str(RESULTS / "eval_musdb_valid.json"),
                   help="eval results whose offline/baseline numbers are drawn as reference lines")
    p.add_argument("--out", default=str(RESULTS / "sdr_vs_latency.png"))
    args = p.parse_args(argv)

    from pathlib import Path

    from vocalex.engine import Separator
    from vocalex.export.models import ensure
    from vocalex.engine.config import StreamConfig, latency
    from vocalex.live.defaults import DEFAULT_MARGIN_MS
    from vocalex.live.plan import calibrate, headroom_samples
    from vocalex.evaluation.evaluate import open_eval_dataset
    from vocalex.base.machine import describe, machine_info
    from vocalex.evaluation.metrics import aggregate, sdr
    from vocalex.evaluation.plots import plot_sdr_vs_latency

    strides = [int(s) for s in args.strides.split(",")]
    syntheses = args.synthesis.split(",")
    lookaheads = [int(s) for s in args.lookaheads.split(",")]
    ds, split = open_eval_dataset(args.data, args.split)
    tracks = ds.tracks[: args.limit] if args.limit else ds.tracks
    clips = []
    for t in tracks:
        rate = t.rate()
        stems = t.load(sample_rate=rate)
        clips.append((t.name, rate, stems))
    print(f"{len(clips)} clips of {ds.root} (split {split})")

    series, references, points_json = {}, {}, []
    earlier, earlier_refs = {}, {}
    if args.scores_from:
        old = read_json(args.scores_from)
        earlier = {(q["model"], q["stride"], q["lookahead"], q.get("synthesis", "hann")): q["vocals_sdr"] for q in old["points"]}
        earlier_refs = old.get("references", {})
    for model in args.model or [None]:
        sep = Separator.load(model=ensure(model), threads=args.threads)  # a named model (hq) is built on first use
        prof = sep.profile
        tag = f"{prof.model_version} ({prof.n_fft}/{prof.hop_length} @ {prof.sample_rate} Hz)"
        compute = model_call_ms(sep.model, clips[0][2]["mixture"].shape[1])
        key = f"offline, {prof.model_version}"
        if key in earlier_refs:
            references[key] = earlier_refs[key]
        else:
            offline = aggregate(sdr(s["vocals"], sep.separate(s["mixture"], r, mode="offline")["vocals"]) for _, r, s in clips)
            references[key] = offline["median"]
        rate0, channels0 = clips[0][1], clips[0][2]["mixture"].shape[1]
        device_ms = 256 / rate0 * 1000 if args.device_ms is None else args.device_ms
        for synthesis in syntheses:
            for stride in strides:
                known = [la for la in lookaheads if (prof.model_version, stride, la, synthesis) in earlier]
                if args.cached_only and not known:
                    continue
                label = f"{tag}, stride {stride}" + ("" if synthesis == "hann" else f", {synthesis}")
                # as `vocalex live` plans it: fixed device blocks (no hold for other sizes at the model's rate),
                # headroom from the calibration plus the default margin
                block = args.blocksize if rate0 == prof.sample_rate else None
                period_ms = 1000 * stride * prof.hop_length / prof.sample_rate
                if compute["p50"] > period_ms:
                    # A model call takes longer than the audio it covers: no headroom makes this live on this
                    # machine (`vocalex live` refuses it). Drawn at algorithmic + device latency, and labelled so.
                    label += f" (call {compute['p50']:.0f} ms > {period_ms:.0f} ms: not real time here; no headroom)"
                    cal, headroom_ms = None, 0.0
                else:
                    cal = calibrate(sep.stream(rate0, channels0, config=StreamConfig(stride, 0, synthesis, block)),
                                    args.blocksize)
                    headroom_ms = headroom_samples(cal.need, rate0, args.blocksize, DEFAULT_MARGIN_MS) / rate0 * 1000
                    print(f"{label}: {cal.describe()}")
                series[label] = []
                for la in (known if args.cached_only else lookaheads):
                    scores = earlier.get((prof.model_version, stride, la, synthesis)) or aggregate(
                        sdr(s["vocals"], sep.separate(s["mixture"], r, mode="stream", stride=stride, lookahead=la,
                                                      synthesis=synthesis)["vocals"])
                        for _, r, s in clips
                    )
                    algorithmic = latency(prof, StreamConfig(stride, la, synthesis, block), rate0) / rate0 * 1000
                    total = algorithmic + headroom_ms + device_ms
                    series[label].append((total, scores["median"], f"la {la}"))
                    points_json.append({"model": prof.model_version, "stride": stride, "lookahead": la, "synthesis": synthesis,
                                        "algorithmic_ms": algorithmic, "headroom_ms": headroom_ms, "device_ms": device_ms,
                                        "compute_ms_p99": compute["p99"], "block_ms_p999": 1000 * cal.p999 if cal else None,
                                        "real_time": cal is not None,
                                        "latency_ms": total, "vocals_sdr": scores})
                    print(f"{label}, lookahead {la}: {total:.1f} ms = {algorithmic:.1f} algorithmic + {headroom_ms:.1f} headroom"
                          f" + {device_ms:.1f} device -> vocals SDR median {scores['median']:.2f} dB")

    if Path(args.eval_json).exists():
        ev = read_json(args.eval_json)
        for name, entry in ev["systems"].items():
            if entry.get("kind") == "baseline":
                references[name] = entry["summary"]["vocals"]["median"]
    machine = machine_info()
    plot_sdr_vs_latency(series, args.out, references=references,
                        title=f"vocals SDR vs latency, {len(clips)} MUSDB18-7s {split} clips\n{describe(machine)}")
    print(f"wrote {args.out}")
    write_json({"schema": "vocalex.sdr_vs_latency/1", "machine": machine, "split": split, "n_tracks": len(clips),
                "points": points_json, "references": references}, Path(args.out).with_suffix(".json"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
