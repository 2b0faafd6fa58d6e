"""vocalex studio's HTTP API through Starlette's test client (and a real uvicorn where a disconnect is the test).

Separation is the CLI's own: the stems the studio writes are the bytes `vocalex separate` writes. Each
safety point of the issue has a test here: loopback only / token, hostile upload names, folder browsing
confined to the root, the upload size limit, bounded concurrent jobs, and clients that go away mid-upload
or mid-job leaving no partial output and no job running.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from optional import need

need("starlette", "uvicorn", "httpx2")

from starlette.testclient import TestClient  # noqa: E402

from studio_helpers import cut_demo, files_under, served, wait_for  # noqa: E402
from vocalex.studio.app import create_app  # noqa: E402
from vocalex.studio.state import Studio  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
ENV = dict(os.environ, PYTHONPATH=str(ROOT / "src"))


@pytest.fixture(scope="module")
def songs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("songs")
    cut_demo(folder / "short.wav", 4.0)
    cut_demo(folder / "long.wav", 30.0, start=0.0)
    (folder / "bad.wav").write_text("this is not audio\n")
    (folder / "sub").mkdir()
    cut_demo(folder / "sub" / "inner.wav", 1.0)
    (folder / ".hidden.wav").write_bytes(b"")
    return folder


@pytest.fixture
def studio(tmp_path, songs):
    s = Studio(tmp_path / "out", root=songs, upload_dir=tmp_path / "uploads", grace=0.3)
    (tmp_path / "uploads").mkdir()
    yield s
    s.close()


def client(studio, **kw):
    return TestClient(create_app(studio), base_url="http://127.0.0.1:8765", **kw)


def run_job(c, studio, spec, **options):
    r = c.post("/api/jobs", json={"client": "t", "files": [spec], **options})
    assert r.status_code == 200, r.text
    job_id = r.json()["jobs"][0]["id"]
    assert studio.queue.wait_idle(120)
    return c.get("/api/jobs").json()["jobs"][[j["id"] for j in c.get("/api/jobs").json()["jobs"]].index(job_id)]


# -- separation: the CLI's bytes, the engine's progress, cancel, the CLI's error line ----------------------


@pytest.mark.subprocess
@pytest.mark.parametrize("fmt", ["wav", "flac"])
def test_stems_are_the_clis_bit_for_bit(studio, songs, tmp_path, fmt):
    cli_out = tmp_path / "cli"
    done = subprocess.run([sys.executable, "-m", "vocalex", "separate", str(songs / "short.wav"), "-o", str(cli_out),
                           "--format", fmt, "-q"], env=ENV, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    with client(studio) as c:
        job = run_job(c, studio, {"root": "short.wav"}, format=fmt)
        assert job["state"] == "done", job
        for stem in ("vocals", "accompaniment"):
            served_bytes = c.get(f"/api/jobs/{job['id']}/{stem}").content
            cli_bytes = (cli_out / "short" / f"{stem}.{fmt}").read_bytes()
            assert served_bytes == cli_bytes
            assert (studio.out_root / "short" / f"{stem}.{fmt}").read_bytes() == cli_bytes
        download = c.get(f"/api/jobs/{job['id']}/vocals?download=1")
        assert download.headers["content-disposition"].startswith("attachment")
        assert c.get(f"/api/jobs/{job['id']}/original").content == (songs / "short.wav").read_bytes()


@pytest.mark.subprocess
def test_a_model_file_under_the_root_is_the_clis_model_option(studio, songs, tmp_path):
    model = songs / "models" / "tiny.onnx"
    model.parent.mkdir(exist_ok=True)
    shutil.copy(ROOT / "tests" / "models" / "tiny.onnx", model)
    done = subprocess.run([sys.executable, "-m", "vocalex", "separate", str(songs / "short.wav"), "-o", str(tmp_path / "cli"),
                           "--model", str(model), "-q"], env=ENV, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    with client(studio) as c:
        assert [f["name"] for f in c.get("/api/browse", params={"path": "models"}).json()["files"]] == ["tiny.onnx"]
        job = run_job(c, studio, {"root": "short.wav"}, model="models/tiny.onnx")
        assert job["state"] == "done", job
        assert c.get(f"/api/jobs/{job['id']}/vocals").content == (tmp_path / "cli" / "short" / "vocals.wav").read_bytes()
        assert c.post("/api/jobs", json={"files": [{"root": "short.wav"}], "model": "../../x.onnx"}).status_code == 403
    shutil.rmtree(model.parent)


def test_a_second_job_of_the_same_name_gets_its_own_folder(studio):
    with client(studio) as c:
        first = run_job(c, studio, {"root": "sub/inner.wav"})
        second = run_job(c, studio, {"root": "sub/inner.wav"})
    assert (first["name"], second["name"]) == ("inner", "inner-2")
    assert (studio.out_root / "inner-2" / "vocals.wav").is_file()


def test_progress_comes_from_the_engine_block_by_block(studio):
    seen = []
    with client(studio) as c:
        job_id = c.post("/api/jobs", json={"files": [{"root": "long.wav"}]}).json()["jobs"][0]["id"]
        job = studio.queue.jobs[job_id]
        while job.state in ("queued", "running"):
            seen.append(job.progress)
            time.sleep(0.005)
    assert job.state == "done"
    steps = sorted(set(p for p in seen if 0 < p < 1))
    assert len(steps) >= 3, steps  # 30 s at 44.1 kHz is 21 engine blocks of 64k frames


def test_cancel_leaves_no_output_and_frees_the_queue(studio):
    with client(studio) as c:
        job_id = c.post("/api/jobs", json={"files": [{"root": "long.wav"}]}).json()["jobs"][0]["id"]
        job = studio.queue.jobs[job_id]
        wait_for(lambda: job.progress > 0.05, 60, "the job to start")
        assert c.post(f"/api/jobs/{job_id}/cancel").json()["cancelled"] is True
        assert studio.queue.wait_idle(30)
        assert job.state == "cancelled"
        assert files_under(studio.out_root) == []
        assert c.get(f"/api/jobs/{job_id}/vocals").status_code == 404
        assert run_job(c, studio, {"root": "sub/inner.wav"})["state"] == "done"  # the queue still runs


@pytest.mark.subprocess
def test_a_bad_file_fails_with_the_clis_one_line_error(studio, songs, tmp_path):
    done = subprocess.run([sys.executable, "-m", "vocalex", "separate", str(songs.resolve() / "bad.wav"), "-o",
                           str(tmp_path / "cli")], env=ENV, capture_output=True, text=True, timeout=120)
    assert done.returncode == 3
    with client(studio) as c:
        job = run_job(c, studio, {"root": "bad.wav"})
    assert job["state"] == "error"
    assert job["error"] == done.stderr.strip()
    assert files_under(studio.out_root) == []


def test_jobs_run_at_most_concurrency_at_once(studio):
    with client(studio) as c:
        ids = [j["id"] for j in c.post("/api/jobs", json={"files": [{"root": "long.wav"}, {"root": "short.wav"}]}).json()["jobs"]]
        first, second = (studio.queue.jobs[i] for i in ids)
        wait_for(lambda: first.state == "running", 30, "the first job")
        states = set()
        while first.state == "running":
            states.add(second.state)
            time.sleep(0.01)
        assert states == {"queued"}
        assert studio.queue.wait_idle(60) and second.state == "done"


def test_bad_requests_get_a_reason(studio):
    with client(studio) as c:
        assert c.post("/api/jobs", json={"files": []}).status_code == 400
        assert c.post("/api/jobs", json={"files": [{"root": "short.wav"}], "format": "mp3"}).status_code == 400
        assert c.post("/api/jobs", json={"files": [{"root": "short.wav"}], "model": "nope"}).status_code == 400
        assert c.post("/api/jobs", content=b"{not json").status_code == 400
        assert c.post("/api/jobs", json={"files": [{"upload": "nothing"}]}).status_code == 404
        assert "error" in c.get("/api/jobs/99/vocals").json()


# -- safety ---------------------------------------------------------------------------------------------


HOSTILE = ["../../../../tmp/evil.wav", "..", "/etc/passwd", "..\\..\\win.wav", "a/../../b.wav", ".bashrc",
           "x\x00y.wav", "line\nbreak.wav", "%2e%2e%2fescape.wav", "名前 (1).wav", "a" * 400 + ".wav"]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_upload_names_stay_in_the_upload_folder(studio, name):
    with client(studio) as c:
        r = c.put("/api/uploads", params={"name": name}, content=b"RIFF")
    assert r.status_code == 200, r.text
    stored = studio.uploads[r.json()["upload"]]["path"]
    assert stored.resolve().parent.parent == studio.upload_dir.resolve()  # uploads/<id>/<name>
    assert "/" not in r.json()["name"] and "\\" not in r.json()["name"] and not r.json()["name"].startswith(".")
    assert len(r.json()["name"]) <= 120
    assert stored.read_bytes() == b"RIFF"


@pytest.mark.parametrize("path", ["..", "../..", "/etc", "sub/../..", "%2e%2e", "sub/../../etc", "escape"])
def test_browsing_is_confined_to_the_root(studio, songs, tmp_path, path):
    (tmp_path / "outside").mkdir(exist_ok=True)
    link = songs / "escape"
    if not link.exists():
        link.symlink_to(tmp_path / "outside")
    try:
        with client(studio) as c:
            r = c.get("/api/browse", params={"path": path})
            listing = c.get("/api/browse").json()
            picked = c.post("/api/jobs", json={"files": [{"root": path + "/x.wav"}]})
    finally:
        link.unlink()
    if path in ("/etc", "%2e%2e"):  # read as root/etc and a folder literally named "%2e%2e": inside, and absent
        assert r.status_code == 404
    else:
        assert r.status_code == 403, r.text
    assert picked.status_code in (403, 404)
    assert "escape" not in [d["name"] for d in listing["dirs"]]  # a link out of the root is not offered


def test_browsing_lists_audio_and_folders_but_not_hidden_files(studio):
    with client(studio) as c:
        listing = c.get("/api/browse").json()
        inner = c.get("/api/browse", params={"path": "sub"}).json()
    assert [d["name"] for d in listing["dirs"]] == ["sub"]
    assert [f["name"] for f in listing["files"]] == ["bad.wav", "long.wav", "short.wav"]
    assert inner["files"][0]["path"] == "sub/inner.wav"


def test_no_root_means_no_browsing_and_no_picking(tmp_path):
    s = Studio(tmp_path / "out")
    try:
        with client(s) as c:
            assert c.get("/api/browse").status_code == 403
            assert c.post("/api/jobs", json={"files": [{"root": "x.wav"}]}).status_code == 403
    finally:
        s.close()


def test_loopback_studio_refuses_other_host_names_and_origins(studio):
    with client(studio) as c:
        assert c.get("/api/config").status_code == 200
        assert c.get("/api/config", headers={"host": "localhost:8765"}).status_code == 200
        assert c.get("/api/config", headers={"host": "evil.example:8765"}).status_code == 403  # DNS rebinding
        r = c.post("/api/jobs", json={"files": [{"demo": True}]}, headers={"origin": "http://evil.example"})
        assert r.status_code == 403 and not studio.queue.jobs


def test_a_studio_with_a_token_needs_it(tmp_path):
    s = Studio(tmp_path / "out", token="secret-token")
    try:
        with client(s, follow_redirects=False) as c:
            assert c.get("/api/config", headers={"host": "192.168.1.5:8765"}).status_code == 401
            assert c.get("/").status_code == 401
            assert c.get("/api/config", headers={"x-vocalex-token": "wrong"}).status_code == 401
            assert c.get("/api/config", headers={"x-vocalex-token": "secret-token"}).status_code == 200
            r = c.get("/", params={"token": "secret-token"})  # the printed address: sets a cookie, drops the token
            assert r.status_code == 303 and r.headers["location"] == "/"
            assert c.get("/api/config").status_code == 200  # the cookie from now on
    finally:
        s.close()


@pytest.mark.subprocess
def test_the_command_listens_on_loopback_and_prints_a_token_elsewhere():
    for host, token in (("127.0.0.1", False), ("0.0.0.0", True)):
        proc = subprocess.Popen([sys.executable, "-m", "vocalex", "studio", "--host", host, "--port", "0", "--no-browser"],
                                env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            line = proc.stdout.readline()
            assert line.startswith("vocalex studio: http://"), line + proc.stderr.read()
            port = int(line.split(":")[3].split("/")[0])
            assert ("?token=" in line) is token
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", "/api/config")
            assert conn.getresponse().status == (401 if token else 200)
            outside = _an_outside_address()
            if outside is not None:  # bound to loopback only, unless --host says otherwise
                with socket.socket() as probe:
                    probe.settimeout(5)
                    assert (probe.connect_ex((outside, port)) == 0) is token
        finally:
            proc.terminate()
            proc.wait(10)


def _an_outside_address():
    """This machine's address on its first non-loopback interface, or None."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("10.255.255.255", 1))  # no packet is sent: this only picks the route's source address
        address = probe.getsockname()[0]
    except OSError:
        return None
    finally:
        probe.close()
    return None if address.startswith("127.") else address


def test_uploads_over_the_limit_are_refused_and_leave_nothing(tmp_path):
    s = Studio(tmp_path / "out", upload_dir=tmp_path / "up", max_upload=1000)
    (tmp_path / "up").mkdir()
    try:
        with client(s) as c:
            assert c.put("/api/uploads", params={"name": "a.wav"}, content=b"x" * 1001).status_code == 413
            chunks = (b"x" * 300 for _ in range(5))  # no Content-Length: counted while streaming
            assert c.put("/api/uploads", params={"name": "b.wav"}, content=chunks).status_code == 413
            assert c.put("/api/uploads", params={"name": "c.wav"}, content=b"x" * 1000).status_code == 200
        assert [p.name for p in (tmp_path / "up").rglob("*") if p.is_file()] == ["c.wav"]
    finally:
        s.close()


def test_a_client_gone_mid_upload_leaves_no_file(tmp_path):
    s = Studio(tmp_path / "out", upload_dir=tmp_path / "up")
    (tmp_path / "up").mkdir()
    try:
        with served(s) as url:
            port = int(url.rsplit(":", 1)[1])
            sock = socket.create_connection(("127.0.0.1", port))
            sock.sendall(b"PUT /api/uploads?name=song.wav HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000000\r\n\r\n")
            sock.sendall(b"x" * 200_000)
            wait_for(lambda: files_under(tmp_path / "up"), 10, "the upload to start")
            sock.close()  # gone with 800 kB unsent
            wait_for(lambda: files_under(tmp_path / "up") == [], 10, "the partial upload to be removed")
            assert not s.uploads
    finally:
        s.close()


def _open_events(port: int, client_id: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(f"GET /api/events?client={client_id} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    assert b"200 OK" in sock.recv(4096)
    return sock


def test_a_page_gone_mid_job_leaves_no_output_and_no_job(tmp_path, songs):
    # 4 minutes of audio: on a quiet machine a 30-s file can finish within the grace before the cancel lands
    import numpy as np
    import soundfile as sf

    root = tmp_path / "songs"
    root.mkdir()
    clip, rate = sf.read(songs / "long.wav", dtype="float32", always_2d=True)
    sf.write(root / "long.wav", np.tile(clip, (8, 1)), rate, subtype="FLOAT")
    sf.write(root / "short.wav", clip[: 4 * rate], rate, subtype="FLOAT")
    s = Studio(tmp_path / "out", root=root, grace=0.3)
    try:
        with served(s) as url:
            port = int(url.rsplit(":", 1)[1])
            events = _open_events(port, "tab-1")
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("POST", "/api/jobs", json.dumps({"client": "tab-1", "files": [{"root": "long.wav"}, {"root": "short.wav"}]}),
                         {"content-type": "application/json"})
            running, queued = (s.queue.jobs[j["id"]] for j in json.loads(conn.getresponse().read())["jobs"])
            wait_for(lambda: running.progress > 0.01, 60, "the job to run")
            events.close()  # the tab is closed
            assert s.queue.wait_idle(30)
            assert (running.state, queued.state) == ("cancelled", "cancelled")
            assert files_under(s.out_root) == []
    finally:
        s.close()


def test_a_page_that_comes_back_in_time_keeps_its_jobs(tmp_path, songs):
    s = Studio(tmp_path / "out", root=songs, grace=2.0)
    try:
        with served(s) as url:
            port = int(url.rsplit(":", 1)[1])
            events = _open_events(port, "tab-2")
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("POST", "/api/jobs", json.dumps({"client": "tab-2", "files": [{"root": "long.wav"}]}),
                         {"content-type": "application/json"})
            job = s.queue.jobs[json.loads(conn.getresponse().read())["jobs"][0]["id"]]
            events.close()
            time.sleep(0.3)
            again = _open_events(port, "tab-2")  # a reload
            assert s.queue.wait_idle(60) and job.state == "done"
            again.close()
    finally:
        s.close()
