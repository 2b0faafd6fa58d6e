"""Every call the studio makes into the rest of vocalex, in this one module.

The studio sits above the library: it separates files with the same function as ``vocalex separate``
(so its stems are the CLI's, bit for bit) and runs the same live engine as ``vocalex live``. Where the
library's rooms move (the engine/files split, the live session API), only this module changes.
"""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path

from vocalex.base.errors import AudioInputError, UsageError, VocalexError
from vocalex.base.suffixes import AUDIO_SUFFIXES, is_audio_file
from vocalex.files.separate import STEMS

__all__ = ["AUDIO_SUFFIXES", "STEMS", "VocalexError", "is_audio_file", "error_line", "demo_song", "Separators",
           "separate", "list_devices", "LiveRun", "UsageError", "AudioInputError"]

MODEL_NAMES = ("default", "hq")
FORMATS = ("wav", "flac")


def error_line(exc: BaseException) -> str:
    """The line the CLI prints for a VocalexError (cli/main.py)."""
    return f"vocalex: error: {exc}"


def demo_song() -> Path:
    """The bundled 30-s demo song (the one `vocalex bench` uses)."""
    import vocalex.engine

    return Path(vocalex.engine.__file__).parent / "assets" / "demo_lets_go_fishin_30s.ogg"


class Separators:
    """Loaded models, one per model name or file, built as `vocalex separate` builds its own (cli/separate.py)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._loaded: dict[str, object] = {}

    def get(self, model: str):
        from vocalex.engine.separator import Separator
        from vocalex.export.models import ensure

        with self._lock:  # one load per model, even when two jobs ask at once
            if model not in self._loaded:
                self._loaded[model] = Separator.load(ensure(model), provider="cpu", threads=None, spinning=False,
                                                     background=True)
            return self._loaded[model]

    def forget(self, model: str) -> None:
        """Drop a model whose load failed, so that the next job tries again (and says why again)."""
        with self._lock:
            self._loaded.pop(model, None)


def separate(separators: Separators, model: str, path: Path, out_root: Path, name: str, *, wiener: bool, fmt: str,
             on_progress) -> dict:
    """One file -> {stem: Path}, exactly as `vocalex separate --model M [--wiener] --format F` writes it.

    on_progress(done_frames, total_frames) after every block; an exception it raises (a cancel) stops the
    file with no output left behind (engine.files writes hidden partial files and renames only when done).
    """
    from vocalex.engine.config import OfflineConfig
    from vocalex.base.errors import ModelError
    from vocalex.files.separate import separate_file

    separator = separators.get(model)
    try:
        result = separate_file(separator, path, out_root, name=name, config=OfflineConfig(wiener=wiener), fmt=fmt,
                               force=False, on_progress=on_progress)
    except ModelError:
        separators.forget(model)
        raise
    return {"outputs": result.outputs, "seconds": result.seconds, "elapsed": result.elapsed,
            "warnings": list(result.warnings)}


def check_model(model: str, root: Path | None) -> str:
    """A model the page may ask for: a name, or an .onnx file under the studio's root (already confined)."""
    if model in MODEL_NAMES:
        return model
    if root is not None and model.endswith(".onnx"):
        return model
    raise UsageError(f"model must be one of {', '.join(MODEL_NAMES)} or an .onnx file under the studio's folder")


# -- live ---------------------------------------------------------------------------------------------------


def list_devices() -> dict:
    """The audio devices PortAudio sees: {"inputs": [...], "outputs": [...]} or {"error": line}."""
    try:
        from vocalex.live.devices import portaudio

        sd = portaudio()
        hostapis = sd.query_hostapis()
        found = {"inputs": [], "outputs": []}
        for d in sd.query_devices():
            entry = {"index": d["index"], "name": d["name"], "hostapi": hostapis[d["hostapi"]]["name"],
                     "samplerate": int(d["default_samplerate"])}
            if d["max_input_channels"] > 0:
                found["inputs"].append(entry)
            if d["max_output_channels"] > 0:
                found["outputs"].append(entry)
        return found
    except (VocalexError, OSError) as exc:
        return {"inputs": [], "outputs": [], "error": str(exc)}


def desktop_note() -> str | None:
    """None where `--input desktop` can work here, else the line that says what to route instead."""
    from vocalex.live.desktop import desktop_unavailable

    return desktop_unavailable()


def measure_latency(server: bool, latency_ms: float | None = None) -> dict:
    """The live engine's true input-to-output delay, measured by loopback through JACK (as `vocalex live
    --measure-latency`): a private dummy server when ``server``, else the JACK server that runs."""
    from vocalex.live.jack_dummy import dummy_jack_server
    from vocalex.live.loopback import format_latency, measure_latency as measure

    with dummy_jack_server() if server else contextlib.nullcontext():
        result = measure(model="default", latency_ms=latency_ms, synthesis="low-delay")
    return {"measured_ms": result["measured_ms"], "reported_ms": result["reported_ms"],
            "late_blocks": result["late_blocks"], "line": format_latency(result)}


class LiveRun:
    """One live run, assembled as `vocalex live` assembles it (cli/live.py), in a thread of its own.

    options: input ("device" / "file" / "desktop"), device / output (index or name, None = default),
    file (a Path), server (start a private JACK dummy server), latency_ms, vocals_db, accompaniment_db,
    model. state: starting -> running -> stopped | error (message holds the CLI's one-line error).
    """

    def __init__(self, options: dict):
        self.options = options
        self.state = "starting"
        self.message = ""
        self.engine = None
        self.planned_ms = None
        self.describe: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="vocalex-studio-live", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, wait: float = 15.0) -> None:
        self._stop.set()
        engine = self.engine
        if engine is not None:
            engine.request_stop()
        self._thread.join(wait)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def set_gains(self, vocals_db: float, accompaniment_db: float) -> None:
        from vocalex.live.gains import db_to_linear

        self.options["vocals_db"], self.options["accompaniment_db"] = vocals_db, accompaniment_db
        engine = self.engine
        if engine is not None:
            engine.set_gains(db_to_linear(vocals_db), db_to_linear(accompaniment_db))

    def snapshot(self) -> dict:
        out = {"state": self.state, "message": self.message, "planned_ms": self.planned_ms, "describe": self.describe,
               "vocals_db": _finite(self.options.get("vocals_db")),
               "accompaniment_db": _finite(self.options.get("accompaniment_db"))}
        engine = self.engine
        if engine is not None and self.state in ("running", "stopped"):
            snap = engine.snapshot()
            report = engine.latency_report()
            out.update({k: _finite(v) for k, v in snap.items()})
            out["running_ms"] = report["total_ms"]
            out["device_ms"] = report["device_ms"]
            out["devices"] = f"{engine.devices.input_name} -> {engine.devices.output_name}, {engine.samplerate} Hz"
        return out

    def _run(self) -> None:
        from vocalex.live.jack_dummy import dummy_jack_server

        try:
            with dummy_jack_server() if self.options.get("server") else contextlib.nullcontext():
                if self._stop.is_set():
                    raise _Stopped
                self._assemble_and_run()
            self.state = "stopped"
        except _Stopped:
            self.state = "stopped"
        except VocalexError as exc:
            self.state, self.message = "error", error_line(exc)
        except Exception as exc:  # a bug: still one line on the page, never a stuck "running"
            self.state, self.message = "error", f"vocalex: internal error: {type(exc).__name__}: {exc}"

    def _assemble_and_run(self) -> None:
        from vocalex.export.models import ensure
        from vocalex.live.devices import resolve_devices
        from vocalex.live.realtime import LiveEngine
        from vocalex.live.gains import db_to_linear
        from vocalex.live.setup import build_live_stream

        o = self.options
        model = ensure(o.get("model") or "default")
        source = None
        if o["input"] == "file":
            from vocalex.live.file_source import FileSource, resolve_output_device

            devices = resolve_output_device(o["file"], o.get("output"))
            source = FileSource(o["file"], devices.samplerate, devices.channels)
        elif o["input"] == "desktop":
            from vocalex.live.desktop import DesktopSource, resolve_desktop_devices

            devices = resolve_desktop_devices(o.get("output"))
            source = DesktopSource(devices.samplerate, devices.channels)
        else:
            devices = resolve_devices(o.get("device"), o.get("output"))
        try:
            setup = build_live_stream(devices, model=model, provider="cpu", threads=None, latency_ms=o.get("latency_ms"),
                                      blocksize=256, synthesis="low-delay")
            gains = (db_to_linear(o.get("vocals_db", float("-inf"))), db_to_linear(o.get("accompaniment_db", 0.0)))
            engine = LiveEngine(setup.stream, devices, blocksize=256, gains=gains, headroom=setup.plan.headroom,
                                stride_period=setup.stride_period, source=source)
        except BaseException:
            if source is not None:
                source.stop()
            raise
        self.planned_ms = setup.plan.ms(setup.plan.total)
        self.describe = [setup.calibration.describe(), setup.describe()]
        if self._stop.is_set():
            raise _Stopped
        self.engine = engine
        self.state = "running"
        if self._stop.is_set():  # a stop that came while the engine was being assigned
            engine.request_stop()
        engine.run(None)


class _Stopped(Exception):
    """Stop was asked for before the engine ran."""


def _finite(value):
    """JSON has no infinity: -inf dB (silence, a muted stem) travels as None."""
    if isinstance(value, float) and value != value or value in (float("inf"), float("-inf")):
        return None
    return value
