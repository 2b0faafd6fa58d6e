"""The studio's ASGI app (Starlette): the page, its JSON API, its event stream (server-sent events: the
jobs' progress, the live run's meters) and the guard in front of them (token, host, origin).

What the app works on (folders, uploads, jobs, the live run, the pages coming and going) is state.Studio.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import uuid
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from . import library, safety
from .state import Studio, StudioError

STATIC = Path(__file__).parent / "static"
EVENT_PERIOD = 0.2             # seconds between event-stream updates


# -- the guard: token, host, origin ----------------------------------------------------------------


class Guard:
    """ASGI middleware: a token where one is set; on loopback, loopback Host names only; no foreign Origin."""

    def __init__(self, app, studio: Studio):
        self.app, self.studio = app, studio

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        request = Request(scope)
        refusal = self.refusal(request)
        if refusal is not None:
            response = JSONResponse({"error": refusal[1]}, status_code=refusal[0])
            return await response(scope, receive, send)
        given = request.query_params.get("token")
        if self.studio.token and given and request.url.path == "/":
            # the address printed at start carries the token once; a cookie carries it from then on
            response = Response(status_code=303, headers={"location": "/"})
            response.set_cookie("vocalex_token", given, httponly=True, samesite="strict")
            return await response(scope, receive, send)
        return await self.app(scope, receive, send)

    def refusal(self, request: Request):
        host = request.headers.get("host", "")
        origin = request.headers.get("origin")
        if origin is not None and origin.split("://", 1)[-1] != host:
            return 403, "requests from another site are refused"
        token = self.studio.token
        if token is None:
            if not safety.host_is_loopback_name(host):
                return 403, "this studio answers on loopback only (start it with --host to share it)"
            return None
        given = request.headers.get("x-vocalex-token") or request.cookies.get("vocalex_token") \
            or request.query_params.get("token")
        if not safety.token_matches(given, token):
            return 401, "the access token printed at start is needed (open the address vocalex studio printed)"
        return None


# -- routes ----------------------------------------------------------------------------------------


def _studio(request: Request) -> Studio:
    return request.app.state.studio


async def _json(request: Request) -> dict:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise StudioError(400, "the request body is not JSON") from None
    if not isinstance(body, dict):
        raise StudioError(400, "the request body is not a JSON object")
    return body


async def index(request: Request):
    return FileResponse(STATIC / "index.html", headers={"cache-control": "no-store"})


async def config(request: Request):
    studio = _studio(request)
    return JSONResponse({
        "root": studio.root.name if studio.root else None, "out": str(studio.out_root),
        "models": list(library.MODEL_NAMES), "formats": list(library.FORMATS), "max_upload": studio.max_upload,
        "suffixes": sorted(library.AUDIO_SUFFIXES), "demo": library.demo_song().name,
        "desktop": library.desktop_note(), "concurrency": studio.queue.concurrency,
    })


async def upload(request: Request):
    """PUT the file's bytes as the body (?name=...): streamed to disk, at most max_upload bytes, all or nothing."""
    studio = _studio(request)
    name = safety.safe_name(request.query_params.get("name", ""))
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > studio.max_upload:
        raise StudioError(413, f"{name} is larger than the studio's upload limit ({studio.max_upload} bytes)")
    upload_id = uuid.uuid4().hex
    folder = studio.upload_dir / upload_id
    folder.mkdir()
    partial = folder / f".{name}.partial"
    size = 0
    try:
        with open(partial, "wb") as out:
            async for chunk in request.stream():
                size += len(chunk)
                if size > studio.max_upload:
                    raise StudioError(413, f"{name} is larger than the studio's upload limit ({studio.max_upload} bytes)")
                out.write(chunk)
        path = partial.rename(folder / name)
    except BaseException:  # a refusal, a client gone mid-upload (ClientDisconnect), a cancelled task
        shutil.rmtree(folder, ignore_errors=True)
        raise
    studio.uploads[upload_id] = {"path": path, "name": name}
    return JSONResponse({"upload": upload_id, "name": name, "bytes": size})


async def browse(request: Request):
    studio = _studio(request)
    if studio.root is None:
        raise StudioError(403, "the studio was started without --root: no folder to browse")
    relative = request.query_params.get("path", "")
    folder = studio._confined(relative)
    if not folder.is_dir():
        raise StudioError(404, f"{relative}: no such folder")
    dirs, files = [], []
    for entry in sorted(folder.iterdir(), key=lambda p: p.name.lower()):
        if entry.name.startswith("."):
            continue
        try:
            inside = studio._confined(str(entry.relative_to(studio.root.resolve())))
        except StudioError:  # a link out of the root is not shown
            continue
        rel = str(entry.relative_to(studio.root.resolve()))
        if inside.is_dir():
            dirs.append({"name": entry.name, "path": rel})
        elif inside.is_file() and (library.is_audio_file(entry) or entry.suffix == ".onnx"):
            files.append({"name": entry.name, "path": rel, "bytes": inside.stat().st_size})
    here = "" if folder == studio.root else str(folder.relative_to(studio.root))
    return JSONResponse({"path": here, "dirs": dirs, "files": files})


async def submit_jobs(request: Request):
    studio = _studio(request)
    body = await _json(request)
    client = str(body.get("client") or "anonymous")
    model = str(body.get("model") or "default")
    if model not in library.MODEL_NAMES:
        model = str(studio._confined(model)) if studio.root is not None and model.endswith(".onnx") else None
        if model is None:
            raise StudioError(400, f"model must be one of {', '.join(library.MODEL_NAMES)} or an .onnx file under the folder")
    fmt = str(body.get("format") or "wav")
    if fmt not in library.FORMATS:
        raise StudioError(400, f"format must be one of {', '.join(library.FORMATS)}")
    inputs = [studio.resolve_input(spec) for spec in body.get("files") or [] if isinstance(spec, dict)]
    if not inputs:
        raise StudioError(400, "no input files")
    jobs = [studio.queue.submit(client, path, title, model, bool(body.get("wiener")), fmt) for path, title in inputs]
    return JSONResponse({"jobs": [j.public() for j in jobs]})


async def list_jobs(request: Request):
    return JSONResponse({"jobs": [j.public() for j in _studio(request).queue.jobs.values()]})


def _job(request: Request):
    job = _studio(request).queue.jobs.get(request.path_params["job"])
    if job is None:
        raise StudioError(404, "no such job")
    return job


async def cancel_job(request: Request):
    job = _job(request)
    return JSONResponse({"cancelled": _studio(request).queue.cancel(job.id), "job": job.public()})


async def stem(request: Request):
    job = _job(request)
    stem_name = request.path_params["stem"]
    if stem_name == "original":
        path = job.source
        download = f"{job.name}{path.suffix}"
    elif stem_name in job.outputs:
        path = job.outputs[stem_name]
        download = f"{job.name}-{stem_name}{path.suffix}"
    else:
        raise StudioError(404, f"no {stem_name} for this job (yet)")
    if not path.is_file():
        raise StudioError(410, f"{path.name} is gone from the output folder")
    disposition = "attachment" if request.query_params.get("download") else "inline"
    return FileResponse(path, filename=download, content_disposition_type=disposition)


async def events(request: Request):
    """Server-sent events: {"jobs": [...changed...], "live": {...}} every EVENT_PERIOD while anything moves."""
    studio = _studio(request)
    client = request.query_params.get("client") or "anonymous"

    async def stream():
        studio.connected(client)
        sent: dict[str, int] = {}
        quiet = 0
        try:
            yield "retry: 1000\n\n"
            while not await request.is_disconnected():
                changed = []
                for job in list(studio.queue.jobs.values()):
                    version = job.version  # read before the job's fields: a change meanwhile is sent next time
                    if sent.get(job.id) != version:
                        changed.append(job.public())
                        sent[job.id] = version
                live = studio.live.snapshot() if studio.live is not None else None
                if changed or live is not None or quiet >= 50:
                    yield f"data: {json.dumps({'jobs': changed, 'live': live}, allow_nan=False)}\n\n"
                    quiet = 0
                quiet += 1
                await asyncio.sleep(EVENT_PERIOD)
        finally:
            studio.disconnected(client)

    return StreamingResponse(stream(), media_type="text/event-stream", headers={"cache-control": "no-store"})


async def live_devices(request: Request):
    found = await asyncio.to_thread(library.list_devices)
    found["desktop"] = library.desktop_note()
    return JSONResponse(found)


def _db(value, default):
    if value is None:
        return default
    if value == "-inf":
        return float("-inf")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise StudioError(400, f"a gain in dB is a number, got {value!r}") from None
    if not -120 <= number <= 24:
        raise StudioError(400, f"a gain must be within -120..+24 dB, got {number:g}")
    return number


async def live_start(request: Request):
    studio = _studio(request)
    body = await _json(request)
    kind = body.get("input", "device")
    if kind not in ("device", "file", "desktop"):
        raise StudioError(400, "input is device, file or desktop")
    options = {"input": kind, "device": body.get("device"), "output": body.get("output"),
               "server": bool(body.get("server")), "model": body.get("model") or "default",
               "vocals_db": _db(body.get("vocals_db"), float("-inf")),
               "accompaniment_db": _db(body.get("accompaniment_db"), 0.0)}
    if options["model"] not in library.MODEL_NAMES:
        raise StudioError(400, f"live model must be one of {', '.join(library.MODEL_NAMES)}")
    latency = body.get("latency_ms")
    if latency not in (None, ""):
        try:
            options["latency_ms"] = float(latency)
        except (TypeError, ValueError):
            raise StudioError(400, f"latency_ms is a number, got {latency!r}") from None
    if kind == "file":
        options["file"], _ = studio.resolve_input(body.get("file") or {})
    studio.start_live(str(body.get("client") or "anonymous"), options)
    return JSONResponse({"live": studio.live.snapshot()})


async def live_gains(request: Request):
    studio = _studio(request)
    body = await _json(request)
    if studio.live is None or not studio.live.alive:
        raise StudioError(409, "no live run is going")
    studio.live.set_gains(_db(body.get("vocals_db"), 0.0), _db(body.get("accompaniment_db"), 0.0))
    return JSONResponse({"live": studio.live.snapshot()})


async def live_state(request: Request):
    studio = _studio(request)
    return JSONResponse({"live": studio.live.snapshot() if studio.live else None})


async def live_measure(request: Request):
    studio = _studio(request)
    body = await _json(request)
    latency = body.get("latency_ms")
    try:
        latency = None if latency in (None, "") else float(latency)
    except (TypeError, ValueError):
        raise StudioError(400, f"latency_ms is a number, got {latency!r}") from None
    result = await asyncio.to_thread(studio.measure_latency, bool(body.get("server")), latency)
    return JSONResponse(result)


async def live_stop(request: Request):
    studio = _studio(request)
    await asyncio.to_thread(studio.stop_live)
    return JSONResponse({"live": studio.live.snapshot() if studio.live else None})


async def studio_error(request: Request, exc: StudioError):
    return JSONResponse({"error": str(exc)}, status_code=exc.status)


async def client_gone(request: Request, exc: ClientDisconnect):
    return Response(status_code=499)


def create_app(studio: Studio) -> Starlette:
    routes = [
        Route("/", index),
        Route("/api/config", config),
        Route("/api/uploads", upload, methods=["PUT"]),
        Route("/api/browse", browse),
        Route("/api/jobs", list_jobs),
        Route("/api/jobs", submit_jobs, methods=["POST"]),
        Route("/api/jobs/{job}/cancel", cancel_job, methods=["POST"]),
        Route("/api/jobs/{job}/{stem}", stem),
        Route("/api/events", events),
        Route("/api/live", live_state),
        Route("/api/live/devices", live_devices),
        Route("/api/live/start", live_start, methods=["POST"]),
        Route("/api/live/gains", live_gains, methods=["POST"]),
        Route("/api/live/stop", live_stop, methods=["POST"]),
        Route("/api/live/measure", live_measure, methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        await asyncio.to_thread(studio.close)

    app = Starlette(routes=routes, exception_handlers={StudioError: studio_error, ClientDisconnect: client_gone},
                    lifespan=lifespan)
    app.state.studio = studio
    return Guard(app, studio)
