"""vocalex batch (src/vocalex/cluster): a catalogue on Ray, its manifest, resuming, and the same stems as `vocalex separate`.

The tests marked ``ray`` (also ``slow``, ``subprocess``) start real Ray: a local instance of 2 CPUs, and a
cluster of separate `ray start` processes on loopback addresses (a head and worker nodes) whose worker node is
SIGKILLed mid-run, every process of it, as a machine that dies. The others need no Ray. Every stem is compared
bit for bit with the local CLI's, run once for the module.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from vocalex.cluster import inputs, manifest
from vocalex.base.errors import UsageError

MODEL = Path(__file__).resolve().parents[1] / "models" / "tiny-stereo.onnx"
SRC = Path(__file__).resolve().parents[2] / "src"
RATE = 44100


def _env(**extra):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")])),
               RAY_AUTH_MODE="disabled", RAY_USAGE_STATS_ENABLED="0")
    env.update(extra)
    return env


def _vocalex(*args, timeout=120, **kw):
    return subprocess.run([sys.executable, "-m", "vocalex", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=_env(), **kw)


def _write_catalogue(root: Path, n: int, seconds: float) -> list[Path]:
    """n stereo songs of distinct noise in album/ (one in a sub-folder), seeded: the same bytes every time."""
    files = []
    for i in range(n):
        path = root / "album" / ("cd2" if i == n - 1 else "") / f"song{i}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        audio = np.random.default_rng(i).standard_normal((int(seconds * RATE), 2)).astype(np.float32) * 0.1
        sf.write(path, audio, RATE, subtype="FLOAT")
        files.append(path)
    return files


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory):
    """Six 6-second songs and the stems `vocalex separate` makes of them (the reference, bit for bit)."""
    root = tmp_path_factory.mktemp("catalogue")
    files = _write_catalogue(root, 6, 6.0)
    reference = root / "reference"
    proc = _vocalex("separate", root / "album", "-o", reference, "--model", MODEL, "-q")
    assert proc.returncode == 0, proc.stderr
    return root, files, reference


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _done_once(manifest_path: Path, files) -> None:
    done = [r["input"] for r in _records(manifest_path) if r["status"] == "done"]
    assert sorted(done) == sorted(str(f) for f in files), done


def _same_stems(out: Path, reference: Path) -> None:
    stems = sorted(p.relative_to(reference) for p in reference.rglob("*.wav"))
    assert stems and stems == sorted(p.relative_to(out) for p in out.rglob("*.wav"))
    for rel in stems:
        assert (out / rel).read_bytes() == (reference / rel).read_bytes(), rel
    assert not [p for p in out.rglob("*") if p.name.endswith(".part")]


# ---------------------------------------------------------------- without Ray

def test_inputs_from_folder_glob_list_and_uri(tmp_path):
    files = _write_catalogue(tmp_path, 3, 0.1)
    (tmp_path / "album" / "notes.txt").write_text("not audio")
    listing = tmp_path / "list.txt"
    listing.write_text(f"# a catalogue\n{files[0]}\n\n")
    skipped = []
    assert [t for _, t in inputs.expand([str(tmp_path / "album")], on_skip=lambda f, n: skipped.append(n))] == \
        ["album/cd2/song2", "album/song0", "album/song1"]
    assert skipped == [["notes.txt"]]
    assert inputs.expand([str(tmp_path / "album" / "song*.wav")]) == \
        [(str(files[0]), "song0"), (str(files[1]), "song1")]
    assert inputs.expand([], [listing]) == [(str(files[0]), "song0")]
    pytest.importorskip("fsspec", reason="the URI part needs fsspec, not a vocalex dependency (the light test route)")
    assert inputs.expand([f"file://{tmp_path / 'album'}"]) == \
        [(f"file://{files[2]}", "album/cd2/song2"), (f"file://{files[0]}", "album/song0"),
         (f"file://{files[1]}", "album/song1")]
    with pytest.raises(UsageError, match="matches no file"):
        inputs.expand([str(tmp_path / "*.flac")])
    with pytest.raises(UsageError, match="would both write"):
        inputs.expand([str(files[0]), f"file://{files[0]}"])


def test_manifest_is_exclusive_and_survives_a_torn_line(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text('{"input": "a", "status": "done"}\n{"input": "b", "sta')  # a driver killed mid-line
    with manifest.Manifest(path) as m:
        with pytest.raises(UsageError, match="another vocalex batch"):
            manifest.Manifest(path)
        m.append({"input": "c", "status": "started"})
    assert [r["input"] for r in manifest.read(path)] == ["a", "c"]
    assert manifest.job_key("x", "m", {"a": 1}) != manifest.job_key("x", "m", {"a": 2})


@pytest.mark.subprocess
def test_separate_does_not_import_ray(tmp_path):
    song = _write_catalogue(tmp_path, 1, 0.5)[0]
    code = ("import sys\nfrom vocalex.cli.main import main\n"
            f"rc = main(['separate', {str(song)!r}, '-o', {str(tmp_path / 'out')!r}, '--model', {str(MODEL)!r}, '-q'])\n"
            "print(rc, sorted(m for m in ('ray', 'vocalex.cluster') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=_env())
    assert proc.stdout.strip() == "0 []", proc.stdout + proc.stderr


@pytest.mark.subprocess
def test_a_uri_without_fsspec_is_one_clear_line(tmp_path):
    code = ("import sys; sys.modules['fsspec'] = None\nfrom vocalex.cli.main import main\n"
            f"sys.exit(main(['batch', 's3://bucket/songs/', '-o', {str(tmp_path)!r}]))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=_env())
    assert proc.returncode == 10 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("vocalex: error: s3://bucket/songs/: object-store URIs need fsspec")


@pytest.mark.subprocess
def test_the_worker_separates_skips_unchanged_content_and_stops_cleanly(catalogue, tmp_path):
    # The actor's body as a plain object: what each Ray worker runs, without Ray.
    import hashlib

    from vocalex.cluster import library
    from vocalex.cluster.worker import Worker

    root, files, reference = catalogue
    data = MODEL.read_bytes()
    options = {"mode": "offline"}
    worker = Worker(data, hashlib.sha256(data).hexdigest(), "cpu", 1, str(tmp_path / "out"), "wav",
                    library.run_config(MODEL, "offline"), options)
    assert worker.ready()["node"]
    job = {"input": str(files[0]), "track": "album/song0", "force": False, "done_keys": []}
    result = worker.separate(job)
    assert result["status"] == "done" and result["duration"] == 6.0, result
    for stem in ("vocals", "accompaniment"):
        assert Path(result["outputs"][stem]).read_bytes() == (reference / "album" / "song0" / f"{stem}.wav").read_bytes()
    again = worker.separate({**job, "done_keys": [result["key"]]})
    assert again["status"] == "done" and again["unchanged"] and again["key"] == result["key"]
    refused = worker.separate(job)  # outputs exist, not done with this key: refused as by `vocalex separate`
    assert refused["status"] == "failed" and refused["exit_code"] == 7 and "use --force" in refused["error"]

    worker.stop()  # the driver's stop: the file in progress ends at its next block, leaving nothing behind
    stopped = worker.separate({**job, "input": str(files[1]), "track": "album/song1"})
    assert stopped["status"] == "stopped"
    assert not (tmp_path / "out" / "album" / "song1").exists()
    assert not [p for p in (tmp_path / "out").rglob("*") if p.name.endswith(".part")]

    # an object-store URI in, a URI prefix out (fsspec's file://: the code path of s3:// or gs://), FLAC this time
    pytest.importorskip("fsspec", reason="the URI part needs fsspec, not a vocalex dependency (the light test route)")
    flac = library.run_config(MODEL, "offline")
    remote = Worker(data, hashlib.sha256(data).hexdigest(), "cpu", 1, f"file://{tmp_path / 'remote'}", "flac", flac,
                    options)
    local = Worker(data, hashlib.sha256(data).hexdigest(), "cpu", 1, str(tmp_path / "local"), "flac", flac, options)
    job = {"input": f"file://{files[0]}", "track": "song0", "force": False, "done_keys": []}
    assert remote.separate(job)["status"] == "done"
    assert local.separate({**job, "input": str(files[0])})["status"] == "done"
    assert sorted(p.name for p in (tmp_path / "remote" / "song0").iterdir()) == ["accompaniment.flac", "vocals.flac"]
    for stem in ("vocals", "accompaniment"):
        assert (tmp_path / "remote" / "song0" / f"{stem}.flac").read_bytes() == \
            (tmp_path / "local" / "song0" / f"{stem}.flac").read_bytes()
    assert remote.separate(job)["exit_code"] == 7  # an existing object is not overwritten without --force

    broken = Worker(b"not a model", hashlib.sha256(b"not a model").hexdigest(), "cpu", 1, str(tmp_path), "wav",
                    library.run_config(MODEL, "offline"), options)
    code, line = broken.ready()["error"]
    assert code == 6 and "\n" not in line


@pytest.mark.subprocess
def test_batch_without_ray_names_the_extra(tmp_path):
    song = _write_catalogue(tmp_path, 1, 0.2)[0]
    code = ("import sys; sys.modules['ray'] = None\nfrom vocalex.cli.main import main\n"
            f"sys.exit(main(['batch', {str(song)!r}, '-o', {str(tmp_path / 'out')!r}, '--model', {str(MODEL)!r}]))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=_env())
    assert proc.returncode == 10 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == "vocalex: error: vocalex batch runs on Ray: pip install 'vocalex[ray]'"
    assert not list((tmp_path / "out").rglob("*.wav"))


@pytest.mark.subprocess
def test_an_unreachable_cluster_is_one_line_at_once(tmp_path):
    song = _write_catalogue(tmp_path, 1, 0.2)[0]
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = _vocalex("batch", song, "-o", tmp_path / "out", "--ray", f"127.0.0.1:{port}", timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == f"vocalex: error: cannot reach the Ray cluster at 127.0.0.1:{port}: Connection refused"
    assert not (tmp_path / "out").exists()  # nothing written, not even a manifest


# ---------------------------------------------------------------- a local Ray instance

def _needs_ray():  # per test: the tests above need no Ray
    pytest.importorskip("ray")


@pytest.mark.ray
@pytest.mark.subprocess
@pytest.mark.slow
def test_local_ray_separates_like_the_cli_then_skips_what_is_done(catalogue, tmp_path):
    _needs_ray()
    root, files, reference = catalogue
    out = tmp_path / "out"
    bad = root / "bad" / "broken.wav"
    bad.parent.mkdir(exist_ok=True)
    bad.write_bytes(b"RIFF....WAVEnot really")
    listing = tmp_path / "list.txt"
    listing.write_text(f"{bad}\n")
    # a folder, plus a list file naming a broken file: it is tried 1 + --retries 1 times, then reported
    proc = _vocalex("batch", root / "album", "--from", listing, "-o", out, "--cpus", 2, "--model", MODEL,
                    "--retries", 1, "--progress-every", 0)
    assert proc.returncode == 3, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "6 done, 1 failed, 0 left of 7" in proc.stderr
    assert "h of audio per hour; ETA" in proc.stderr
    shutil.rmtree(out / "broken", ignore_errors=True)
    records = _records(out / "vocalex-manifest.jsonl")
    failed = [r for r in records if r["status"] == "failed"]
    assert len(failed) == 1 and failed[0]["input"] == str(bad) and failed[0]["attempts"] == 2
    assert failed[0]["exit_code"] == 3 and "\n" not in failed[0]["error"]
    done = [r for r in records if r["status"] == "done"]
    assert {r["model"]["version"] for r in done} == {"untrained-tiny-stereo"}
    assert all(r["duration"] == 6.0 and r["seconds"] > 0 and r["options"]["mode"] == "offline"
               and len(r["model"]["sha256"]) == 64 and set(r["outputs"]) == {"vocals", "accompaniment"} for r in done)
    _done_once(out / "vocalex-manifest.jsonl", files)
    _same_stems(out, reference)

    # again: what is done is skipped (no Ray is started for nothing); the broken file is tried again
    proc = _vocalex("batch", root / "album", "-o", out, "--cpus", 2, "--model", MODEL)
    assert proc.returncode == 0 and "6 files done already" in proc.stderr and "nothing left" in proc.stderr
    _done_once(out / "vocalex-manifest.jsonl", files)
    # the key is content + model + options: other options are other work; a touched file is looked at again
    from vocalex.cluster.plan import BatchSpec, prepare

    def todo(**kw):
        plan = prepare(BatchSpec(inputs=(str(root / "album"),), out=str(out), model=str(MODEL), **kw))
        plan.manifest.close()
        return sorted(Path(job.input).name for job in plan.jobs), plan.skipped

    assert todo() == ([], 6)
    assert todo(fmt="flac") == (sorted(f.name for f in files), 0)
    assert todo(mode="stream", stride=2) == (sorted(f.name for f in files), 0)
    os.utime(files[1])
    jobs, skipped = todo()
    assert (jobs, skipped) == ([files[1].name], 5)



@pytest.mark.ray
@pytest.mark.subprocess
@pytest.mark.slow
def test_sigterm_stops_cleanly_and_the_next_run_resumes(catalogue, tmp_path):
    _needs_ray()
    root, files, reference = catalogue
    out = tmp_path / "out"
    log = tmp_path / "stderr"
    args = [sys.executable, "-m", "vocalex", "batch", str(root / "album"), "-o", str(out), "--cpus", "2",
            "--model", str(MODEL), "--workers", "1"]
    with open(log, "w") as err:
        proc = subprocess.Popen(args, stderr=err, env=_env())
        try:
            _wait_for(lambda: _count(out, "done") >= 1, proc, 60)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=60) == 143, log.read_text()
        finally:
            proc.kill()
    assert "stopping" in log.read_text() and "Traceback" not in log.read_text()
    assert _count(out, "done") < len(files)
    assert not [p for p in out.rglob("*") if p.name.endswith(".part")]
    for record in _records(out / "vocalex-manifest.jsonl"):
        if record["status"] == "done":
            assert all(Path(p).exists() for p in record["outputs"].values())
    # a track folder holds both stems or does not exist: the file in progress left nothing behind
    assert all(len(list(d.glob("*.wav"))) == 2 for d in out.rglob("song*") if d.is_dir())
    proc = _vocalex("batch", root / "album", "-o", out, "--cpus", 2, "--model", MODEL)
    assert proc.returncode == 0, proc.stderr
    _done_once(out / "vocalex-manifest.jsonl", files)
    _same_stems(out, reference)


def _count(out: Path, status: str) -> int:
    path = out / "vocalex-manifest.jsonl"
    if not path.exists():
        return 0
    return sum(1 for line in path.read_text().splitlines() if f'"status": "{status}"' in line)


def _wait_for(condition, proc, timeout):
    deadline = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, f"exited early with {proc.returncode}"
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


# ---------------------------------------------------------------- a two-node cluster on this machine

LOOPBACK = "127.0.0.2"  # Ray turns 127.0.0.1 into the machine's outward address; another loopback one stays put


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def _ray_node(temp: str, head_port: int, cpus: int) -> subprocess.Popen:
    """`ray start --block` in a session of its own (every process of the node shares it: one kill takes the node);
    a head when ``head_port`` is negative (listening on its absolute value), else a node joining that head."""
    ports = {f"--{name}": str(_free_port()) for name in ("node-manager-port", "object-manager-port",
                                                         "dashboard-agent-listen-port", "dashboard-agent-grpc-port",
                                                         "runtime-env-agent-port", "metrics-export-port")}
    args = [sys.executable, "-m", "ray.scripts.scripts", "start", "--block", "--node-ip-address", LOOPBACK, "--num-cpus", str(cpus), "--disable-usage-stats",
            *(x for kv in ports.items() for x in kv)]
    if head_port < 0:
        args += ["--head", "--port", str(-head_port), "--include-dashboard=false", "--temp-dir", temp]
    else:
        args += ["--address", f"{LOOPBACK}:{head_port}"]
    return subprocess.Popen(args, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=_env())


def _kill_session(sid: int, sig=signal.SIGKILL) -> None:
    """Signal every process of one session (a node's processes, which we started), by their ids."""
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.getsid(int(entry)) == sid:
                    os.kill(int(entry), sig)
            except (ProcessLookupError, PermissionError):
                pass


def _wait_port(port: int, timeout: float = 40) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection((LOOPBACK, port), timeout=1).close()
            return
        except OSError:
            assert time.monotonic() < deadline, "the Ray head did not come up"
            time.sleep(0.2)


@pytest.mark.ray
@pytest.mark.subprocess
@pytest.mark.slow
def test_two_node_cluster_loses_its_worker_node_and_the_rerun_finishes(catalogue, tmp_path):
    _needs_ray()
    root, files, reference = catalogue
    out, log = tmp_path / "out", tmp_path / "stderr"
    temp = tempfile.mkdtemp(prefix="vxr", dir="/tmp")  # Ray's socket paths must stay short
    port = _free_port()
    nodes = [_ray_node(temp, -port, 0)]  # the head schedules nothing: the work is the worker nodes'
    try:
        _wait_port(port)
        nodes.append(_ray_node(temp, port, 2))
        args = [sys.executable, "-m", "vocalex", "batch", str(root / "album"), "-o", str(out), "--ray",
                f"{LOOPBACK}:{port}", "--model", str(MODEL), "--workers", "2", "--worker-timeout", "5"]
        with open(log, "w") as err:
            proc = subprocess.Popen(args, stderr=err, env=_env())
            try:
                _wait_for(lambda: _count(out, "done") >= 1 and _count(out, "started") > _count(out, "done"), proc, 60)
                _kill_session(nodes[1].pid)  # the worker node dies, mid-file
                assert proc.wait(timeout=60) == 1, log.read_text()
            finally:
                proc.kill()
        text = log.read_text()
        assert "left for the next run" in text and "Traceback" not in text, text
        assert _count(out, "done") < len(files)
        assert not [p for p in out.rglob("*") if p.name.endswith(".part")]  # nothing half-written, nothing left over
        assert all(len(list(d.glob("*.wav"))) == 2 for d in out.rglob("song*") if d.is_dir())

        nodes.append(_ray_node(temp, port, 2))  # a new machine joins; the same command finishes the catalogue
        proc = subprocess.run(args[:-2] + ["--worker-timeout", "60"], capture_output=True, text=True, timeout=120,
                              env=_env())
        assert proc.returncode == 0, proc.stderr
        _done_once(out / "vocalex-manifest.jsonl", files)
        _same_stems(out, reference)
    finally:
        for node in nodes[1:]:
            _kill_session(node.pid)
        _kill_session(nodes[0].pid, signal.SIGTERM)
        time.sleep(2)
        _kill_session(nodes[0].pid)
        shutil.rmtree(temp, ignore_errors=True)
