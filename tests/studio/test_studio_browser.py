"""vocalex studio end to end in a real headless Chromium (Debian's chromium + chromium-driver, driven by Selenium).

One walk through the page as a new user makes it, against `vocalex studio` started as a command: upload the
demo song, wait for its stems, play them, move the faders and hear (through an AnalyserNode on what plays)
that the mix changed, seek, download a stem, then run live from a file through a private JACK dummy server,
change its gains while it runs, stop it, start it again and close the tab: the run stops by itself.
A screenshot of each screen is saved under test-output/studio/.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from optional import need
from studio_helpers import DEMO, wait_for

need("selenium", "starlette", "uvicorn")

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-output" / "studio"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")

pytestmark = [
    pytest.mark.browser, pytest.mark.subprocess, pytest.mark.live, pytest.mark.slow,
    pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER) and not os.environ.get("CI"),
                       reason="needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)"),
]


@pytest.fixture(scope="module")
def studio_url(tmp_path_factory):
    """`vocalex studio` as a user starts it, on a free loopback port; yields (url, output folder)."""
    out = tmp_path_factory.mktemp("studio-out")
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    proc = subprocess.Popen([sys.executable, "-m", "vocalex", "studio", "--port", "0", "--no-browser", "-o", str(out),
                             "--keep-alive", "1"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        match = re.search(r"http://\S+", line)
        assert match, line + proc.stderr.read()
        yield match.group(0), out
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    options = webdriver.ChromeOptions()
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1400,900",
                "--autoplay-policy=no-user-gesture-required"):
        options.add_argument(arg)
    options.add_argument(f"--user-data-dir={tempfile.mkdtemp(prefix='vocalex-chromium-')}")
    options.binary_location = CHROMIUM
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(30)
    downloads = tmp_path_factory.mktemp("downloads")
    driver.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    driver.downloads = downloads
    SHOTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()


def js(driver, code: str):
    return driver.execute_script(f"return ({code});")


def until(driver, code: str, timeout: float, what: str):
    try:
        return wait_for(lambda: js(driver, code), timeout, what)
    except AssertionError as exc:  # say what the page knew: the live run's state and its one-line message
        live = js(driver, "window.studio && window.studio.state.live")
        message = js(driver, "document.getElementById('live-message').textContent")
        raise AssertionError(f"{exc}; live: {live}; message: {message}") from None


def level(driver, samples: int = 8) -> float:
    """Mean RMS of what plays, over `samples` reads of the AnalyserNode 50 ms apart."""
    values = []
    for _ in range(samples):
        values.append(js(driver, "window.studio.player.level()"))
        time.sleep(0.05)
    return sum(values) / len(values)


def api(url: str, path: str) -> dict:
    host, port = url.split("//")[1].rstrip("/").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.request("GET", path)
    return json.loads(conn.getresponse().read())


def test_separate_listen_download(studio_url, browser):
    url, out = studio_url
    d = browser
    d.get(url)
    until(d, "document.getElementById('connection').textContent === 'connected'", 20, "the event stream")
    d.find_element(By.ID, "file-input").send_keys(str(DEMO))  # the same input a drop feeds
    until(d, "document.querySelector('#queue tr[data-state=running]') || document.querySelector('#queue tr[data-state=done]')",
          60, "the job to start")
    until(d, "document.querySelector('#queue tr[data-state=done]')", 120, "the stems")
    d.save_screenshot(str(SHOTS / "1-separate.png"))
    job = js(d, "[...window.studio.state.jobs.values()][0]")
    assert job["state"] == "done" and job["stems"] == ["accompaniment", "vocals"]
    assert (out / job["name"] / "vocals.wav").is_file()

    d.find_element(By.CSS_SELECTOR, "#queue tr[data-state=done] button").click()  # Listen
    until(d, "window.studio.player.buffers !== null", 60, "the stems to decode")
    d.find_element(By.ID, "play").click()
    until(d, "window.studio.player.position > 0.5", 20, "the playhead to move")
    both = level(d)
    assert both > 0.01, both  # the song plays (RMS of the mix)

    fader = d.find_element(By.ID, "fader-accompaniment")
    fader.send_keys(Keys.HOME)  # accompaniment fader to 0: vocals alone
    gains = js(d, "({v: window.studio.player.nodes.vocals.gain.value, a: window.studio.player.nodes.accompaniment.gain.value})")
    time.sleep(0.2)
    assert js(d, "window.studio.player.nodes.accompaniment.gain.value") < 1e-3, gains
    d.find_element(By.ID, "karaoke").click()  # and karaoke takes the vocals out too: nothing should play
    time.sleep(0.2)
    assert level(d) < 1e-3
    d.find_element(By.ID, "ab-original").click()  # A/B: the original file comes back at full level
    time.sleep(0.2)
    assert level(d) > 0.01
    d.find_element(By.ID, "ab-stems").click()
    d.find_element(By.ID, "karaoke").click()  # vocals back: vocals alone play
    time.sleep(0.2)
    vocals_only = level(d)
    assert 1e-3 < vocals_only, vocals_only
    fader.send_keys(Keys.END)  # accompaniment to its top (+3.5 dB)
    assert js(d, "Number(document.getElementById('fader-accompaniment').value)") == 150

    wave = d.find_element(By.ID, "wave")  # seek: a click at three quarters of the waveform
    d.execute_script("const r = arguments[0].getBoundingClientRect(); arguments[0].dispatchEvent(new MouseEvent('click', "
                     "{clientX: r.left + 0.75 * r.width, clientY: r.top + 10, bubbles: true}));", wave)
    position = js(d, "window.studio.player.position")
    assert 21 < position < 24, position
    d.save_screenshot(str(SHOTS / "2-listen.png"))
    d.find_element(By.ID, "play").click()  # pause

    d.find_element(By.ID, "dl-vocals").click()
    name = f"{job['name']}-vocals.wav"
    wait_for(lambda: (d.downloads / name).is_file(), 30, "the download")
    wait_for(lambda: (d.downloads / name).stat().st_size == (out / job["name"] / "vocals.wav").stat().st_size, 30,
             "the download to finish")
    assert (d.downloads / name).read_bytes() == (out / job["name"] / "vocals.wav").read_bytes()


def test_live_from_a_file_through_a_dummy_server(studio_url, browser):
    url, _ = studio_url
    d = browser
    if not d.current_url.startswith(url):
        d.get(url)
    until(d, "document.getElementById('connection').textContent === 'connected'", 20, "the event stream")
    d.find_element(By.ID, "tab-live").click()
    assert js(d, "document.getElementById('live-kind').value") == "file"
    until(d, "window.studio.state.devices", 30, "the device list")
    server = d.find_element(By.ID, "live-server")
    if not server.is_selected():
        server.click()
    d.find_element(By.ID, "live-start").click()
    until(d, "window.studio.state.live && window.studio.state.live.state !== 'starting'", 120, "the live run to start")
    assert js(d, "window.studio.state.live.state") == "running", js(d, "window.studio.state.live")
    until(d, "window.studio.state.live.output_dbfs > -40", 20, "the output meter")
    live = js(d, "window.studio.state.live")
    assert live["planned_ms"] > 0 and live["late_blocks"] is not None
    assert "system" in live["devices"]  # the dummy server's JACK port

    d.find_element(By.ID, "live-vocals").send_keys(Keys.END)  # vocals to +6 dB while it runs
    until(d, "window.studio.state.live.vocals_db === 6", 10, "the new gain to reach the engine")
    d.save_screenshot(str(SHOTS / "3-live.png"))
    for stem in ("vocals", "accompaniment"):  # both stems muted while it runs: what plays falls silent
        d.find_element(By.ID, f"live-{stem}").send_keys(Keys.HOME)
    until(d, "window.studio.state.live.accompaniment_db === null", 10, "the mute to reach the engine")
    until(d, "window.studio.state.live.output_dbfs === null || window.studio.state.live.output_dbfs < -60", 15,
          "the output to fall silent")
    assert js(d, "window.studio.state.live.input_dbfs") > -40  # while the file still plays in
    d.find_element(By.ID, "live-stop").click()
    until(d, "window.studio.state.live.state === 'stopped'", 30, "the stop")
    assert api(url, "/api/live")["live"]["state"] == "stopped"

    d.find_element(By.ID, "live-measure").click()  # loopback through the (private) JACK server
    until(d, "/^[0-9.]+ ms/.test(document.getElementById('live-measured').textContent) "
             "|| document.getElementById('live-message').textContent", 90, "the measurement")
    measured = js(d, "document.getElementById('live-measured').textContent")
    assert float(measured.split()[0]) > 10, (measured, js(d, "document.getElementById('live-message').textContent"))
    d.save_screenshot(str(SHOTS / "4-live-measured.png"))

    d.find_element(By.ID, "live-start").click()  # again, then the tab goes away
    until(d, "window.studio.state.live && window.studio.state.live.state === 'running'", 60, "the second run")
    d.get("about:blank")
    wait_for(lambda: api(url, "/api/live")["live"]["state"] == "stopped", 20, "a closed tab to stop the stream")
