// vocalex studio: the page. Plain JavaScript, no build step, no third-party code.
// The server does the separating and the live audio; this page uploads, shows the queue (server-sent
// events), plays the stems in sync with the Web Audio API, and drives the live run.
"use strict";

const $ = (id) => document.getElementById(id);
const client = (crypto.randomUUID ? crypto.randomUUID() : String(Math.random()).slice(2));
const state = { config: null, jobs: new Map(), files: [], live: null };

// ---- helpers ------------------------------------------------------------------------------------

async function api(path, options = {}) {
  const init = { method: options.method || "GET", headers: {} };
  if (options.json !== undefined) {
    init.body = JSON.stringify(options.json);
    init.headers["content-type"] = "application/json";
  }
  const response = await fetch(path, init);
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error || `${response.status} ${response.statusText}`);
  return body;
}

function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  for (const child of children) node.append(child);
  return node;
}

const fmtTime = (s) => `${Math.floor(s / 60)}:${String(Math.floor(s % 60)).padStart(2, "0")}`;
const toDb = (linear) => (linear <= 0 ? "muted" : `${(20 * Math.log10(linear)).toFixed(1)} dB`);

// ---- tabs ---------------------------------------------------------------------------------------

function showTab(name) {
  document.querySelectorAll(".tab").forEach((t) => t.classList.toggle("active", t.dataset.tab === name));
  document.querySelectorAll(".panel").forEach((p) => p.classList.toggle("active", p.id === name));
  if (name === "live") loadDevices();
}
document.querySelectorAll(".tab").forEach((t) => t.addEventListener("click", () => showTab(t.dataset.tab)));

// ---- separate: inputs -----------------------------------------------------------------------------

function addFile(label, spec) {
  state.files.push({ label, spec });
  renderLiveFiles();
}

function options() {
  return { model: $("model").value, wiener: $("wiener").checked, format: $("format").value };
}

async function submit(spec, label) {
  addFile(label, spec);
  try {
    const { jobs } = await api("/api/jobs", { method: "POST", json: { client, files: [spec], ...options() } });
    jobs.forEach(updateJob);
  } catch (err) {
    pendingRow(label).fail(err.message);
  }
}

function upload(file) {
  // The raw bytes as the body of a PUT: the server streams them to disk (XMLHttpRequest for upload progress).
  const row = pendingRow(file.name);
  const xhr = new XMLHttpRequest();
  xhr.open("PUT", `/api/uploads?name=${encodeURIComponent(file.name)}&client=${client}`);
  xhr.upload.onprogress = (e) => e.lengthComputable && row.progress(e.loaded / e.total, "uploading");
  xhr.onload = () => {
    let body = {};
    try { body = JSON.parse(xhr.responseText); } catch (_) { /* shown below */ }
    if (xhr.status !== 200) return row.fail(body.error || `upload failed (${xhr.status})`);
    row.remove();
    submit({ upload: body.upload }, body.name);
  };
  xhr.onerror = () => row.fail("upload failed: the studio did not answer");
  xhr.send(file);
}

function pendingRow(name) {
  // A queue row for a file that is still uploading (it has no job yet).
  const bar = el("div");
  const stateCell = el("td", { textContent: "uploading" });
  const row = el("tr", {}, el("td", { textContent: name }), el("td", {}, el("div", { className: "bar" }, bar)), stateCell, el("td"));
  $("queue").tBodies[0].prepend(row);
  $("queue-empty").hidden = true;
  return {
    progress(f, what) { bar.style.width = `${(100 * f).toFixed(1)}%`; stateCell.textContent = `${what} ${(100 * f).toFixed(0)}%`; },
    fail(message) { stateCell.textContent = "error"; row.cells[3].textContent = message; row.cells[3].className = "err"; },
    remove() { row.remove(); },
  };
}

const drop = $("drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  [...e.dataTransfer.files].forEach(upload);
});
$("file-input").addEventListener("change", (e) => { [...e.target.files].forEach(upload); e.target.value = ""; });
$("add-demo").addEventListener("click", () => submit({ demo: true }, state.config.demo));

async function browse(path) {
  try {
    const listing = await api(`/api/browse?path=${encodeURIComponent(path)}`);
    $("browse-path").textContent = `${state.config.root}/${listing.path}`;
    const list = $("browse-list");
    list.replaceChildren();
    if (listing.path) {
      const up = listing.path.split("/").slice(0, -1).join("/");
      list.append(el("li", {}, el("a", { textContent: "↑ ..", onclick: () => browse(up) })));
    }
    for (const d of listing.dirs) list.append(el("li", {}, el("a", { textContent: `📁 ${d.name}`, onclick: () => browse(d.path) })));
    for (const f of listing.files) {
      const isModel = f.name.endsWith(".onnx");
      const action = isModel
        ? el("a", { textContent: "use as model", onclick: () => useModel(f.path, f.name) })
        : el("a", { textContent: "separate", onclick: () => submit({ root: f.path }, f.name) });
      list.append(el("li", {}, el("span", { textContent: f.name }), action));
    }
  } catch (err) {
    $("browse-list").replaceChildren(el("li", { className: "err", textContent: err.message }));
  }
}

function useModel(path, name) {
  const select = $("model");
  if (![...select.options].some((o) => o.value === path)) select.append(el("option", { value: path, textContent: `file: ${name}` }));
  select.value = path;
}

// ---- separate: the queue ----------------------------------------------------------------------------

function updateJob(job) {
  const known = state.jobs.get(job.id);
  state.jobs.set(job.id, job);
  let row = $(`job-${job.id}`);
  if (!row) {
    row = el("tr", { id: `job-${job.id}` }, el("td"), el("td", {}, el("div", { className: "bar" }, el("div"))), el("td"), el("td"));
    $("queue").tBodies[0].prepend(row);
    $("queue-empty").hidden = true;
  }
  row.dataset.state = job.state;
  row.cells[0].textContent = job.title + (job.name !== job.title.replace(/\.[^.]*$/, "") ? `  → ${job.name}/` : "");
  row.cells[1].firstChild.firstChild.style.width = `${(100 * job.progress).toFixed(1)}%`;
  const words = { queued: "queued", running: `${(100 * job.progress).toFixed(0)}%`, done: `done (${job.elapsed} s)`,
                  error: "error", cancelled: "cancelled" };
  row.cells[2].textContent = words[job.state] || job.state;
  const actions = row.cells[3];
  actions.className = "";
  actions.replaceChildren();
  if (job.state === "queued" || job.state === "running") {
    actions.append(el("button", { className: "button ghost small", textContent: "Cancel",
                                  onclick: () => api(`/api/jobs/${job.id}/cancel`, { method: "POST" }) }));
  } else if (job.state === "done") {
    actions.append(el("button", { className: "button small", textContent: "Listen", onclick: () => { selectSong(job.id); showTab("listen"); } }));
    if (job.warnings.length) actions.append(el("div", { className: "muted small", textContent: job.warnings.join(" ") }));
  } else if (job.state === "error") {
    actions.className = "err";
    actions.textContent = job.error;
  }
  if (job.state === "done" && (!known || known.state !== "done")) renderSongs(job.id);
}

// ---- listen: synced stems with the Web Audio API ---------------------------------------------------

const player = {
  ctx: null, buffers: null, sources: [], nodes: null, job: null,
  startedAt: 0, offset: 0, playing: false, ab: "stems", karaoke: false,
  mute: { vocals: false, accompaniment: false }, solo: { vocals: false, accompaniment: false },

  ensureContext() {
    if (this.ctx) return;
    const ctx = new AudioContext();
    const make = () => ctx.createGain();
    const nodes = { vocals: make(), accompaniment: make(), original: make(), stems: make(), master: make(),
                    analyser: ctx.createAnalyser() };
    nodes.analyser.fftSize = 2048;
    nodes.vocals.connect(nodes.stems);
    nodes.accompaniment.connect(nodes.stems);
    nodes.stems.connect(nodes.master);
    nodes.original.connect(nodes.master);
    nodes.master.connect(nodes.analyser);
    nodes.analyser.connect(ctx.destination);
    this.ctx = ctx;
    this.nodes = nodes;
    this.applyGains();
  },

  async load(job) {
    this.stop();
    this.ensureContext();
    this.job = job;
    this.buffers = null;
    $("play").disabled = true;
    $("listen-status").textContent = "loading the stems…";
    const decode = async (stem) => {
      const response = await fetch(`/api/jobs/${job.id}/${stem}`);
      if (!response.ok) throw new Error(`${stem}: ${response.status}`);
      return this.ctx.decodeAudioData(await response.arrayBuffer());
    };
    const [vocals, accompaniment] = await Promise.all([decode("vocals"), decode("accompaniment")]);
    let original = null;
    try { original = await decode("original"); } catch (_) { /* a format this browser cannot decode: no A/B */ }
    if (this.job !== job) return;  // another song was chosen meanwhile
    this.buffers = { vocals, accompaniment, original };
    this.offset = 0;
    $("ab-original").disabled = !original;
    $("listen-status").textContent = original ? "" : "(this browser cannot decode the original's format: no A/B)";
    $("play").disabled = false;
    for (const stem of ["vocals", "accompaniment", "original"]) {
      $(`dl-${stem}`).href = `/api/jobs/${job.id}/${stem}?download=1`;
    }
    drawWave();
    updateClock();
  },

  get duration() { return this.buffers ? this.buffers.vocals.duration : 0; },
  get position() {
    if (!this.playing) return this.offset;
    return Math.min(this.duration, this.offset + this.ctx.currentTime - this.startedAt);
  },

  play() {
    if (!this.buffers || this.playing) return;
    this.ctx.resume();
    if (this.offset >= this.duration) this.offset = 0;
    // One start time on the context's clock for every source: the stems stay sample-aligned.
    const when = this.ctx.currentTime + 0.05;
    this.sources = [];
    for (const stem of ["vocals", "accompaniment", "original"]) {
      const buffer = this.buffers[stem];
      if (!buffer) continue;
      const source = this.ctx.createBufferSource();
      source.buffer = buffer;
      source.connect(this.nodes[stem]);
      source.start(when, this.offset);
      this.sources.push(source);
    }
    this.sources[0].onended = () => { if (this.playing && this.position >= this.duration - 0.05) this.pause(); };
    this.startedAt = when;
    this.playing = true;
    $("play").textContent = "❚❚";
  },

  pause() {
    if (!this.playing) return;
    this.offset = this.position;
    this.stopSources();
    this.playing = false;
    $("play").textContent = "▶";
  },

  stop() { this.pause(); this.offset = 0; },
  stopSources() { for (const s of this.sources) { s.onended = null; try { s.stop(); } catch (_) { /* not started */ } } this.sources = []; },

  seek(seconds) {
    const was = this.playing;
    this.pause();
    this.offset = Math.max(0, Math.min(this.duration, seconds));
    if (was) this.play();
    updateClock();
  },

  // What each stem's gain is, from its fader, mute, solo, karaoke and the A/B switch.
  gains() {
    const fader = (stem) => Number($(`fader-${stem}`).value) / 100;
    const anySolo = this.solo.vocals || this.solo.accompaniment;
    const g = {};
    for (const stem of ["vocals", "accompaniment"]) {
      let v = fader(stem);
      if (this.mute[stem] || (anySolo && !this.solo[stem])) v = 0;
      if (stem === "vocals" && this.karaoke) v = 0;
      g[stem] = v;
    }
    g.stems = this.ab === "stems" ? 1 : 0;
    g.original = this.ab === "original" ? 1 : 0;
    return g;
  },

  applyGains() {
    const g = this.gains();
    for (const stem of ["vocals", "accompaniment"]) $(`db-${stem}`).textContent = toDb(g[stem]);
    if (!this.nodes) return;
    const t = this.ctx.currentTime;
    for (const [name, value] of Object.entries(g)) this.nodes[name].gain.setTargetAtTime(value, t, 0.01);
  },

  // RMS of the last 2048 samples of what plays (the analyser sits after the master gain).
  level() {
    if (!this.nodes) return 0;
    const data = new Float32Array(this.nodes.analyser.fftSize);
    this.nodes.analyser.getFloatTimeDomainData(data);
    let sum = 0;
    for (const x of data) sum += x * x;
    return Math.sqrt(sum / data.length);
  },
};

function peaks(buffer, width) {
  const data = buffer.getChannelData(0);
  const step = Math.max(1, Math.floor(data.length / width));
  const out = new Float32Array(width);
  for (let i = 0; i < width; i++) {
    let m = 0;
    for (let j = i * step, end = Math.min(data.length, j + step); j < end; j += 4) m = Math.max(m, Math.abs(data[j]));
    out[i] = m;
  }
  return out;
}

let wavePeaks = null;
function drawWave() {
  const canvas = $("wave");
  const ctx = canvas.getContext("2d");
  const { width, height } = canvas;
  if (player.buffers && (!wavePeaks || wavePeaks.job !== player.job)) {
    wavePeaks = { job: player.job, vocals: peaks(player.buffers.vocals, width), accompaniment: peaks(player.buffers.accompaniment, width) };
  }
  ctx.clearRect(0, 0, width, height);
  if (!wavePeaks) return;
  const mid = height / 2;
  const style = getComputedStyle(document.documentElement);
  const draw = (p, color, sign) => {
    ctx.fillStyle = color;
    for (let x = 0; x < width; x++) {
      const h = Math.min(1, p[x]) * (mid - 4);
      ctx.fillRect(x, sign > 0 ? mid - h : mid, 1, h);
    }
  };
  draw(wavePeaks.accompaniment, style.getPropertyValue("--acc"), 1);
  draw(wavePeaks.vocals, style.getPropertyValue("--vocals"), -1);
  const x = player.duration ? (player.position / player.duration) * width : 0;
  ctx.fillStyle = "#ffffff";
  ctx.fillRect(x - 1, 0, 2, height);
}

function updateClock() {
  $("clock").textContent = `${fmtTime(player.position)} / ${fmtTime(player.duration)}`;
}

function animate() {
  if (player.buffers) {
    drawWave();
    updateClock();
    $("play-level").style.width = `${Math.min(100, 300 * player.level())}%`;
  }
  requestAnimationFrame(animate);
}
requestAnimationFrame(animate);

$("play").addEventListener("click", () => (player.playing ? player.pause() : player.play()));
$("wave").addEventListener("click", (e) => {
  const rect = e.target.getBoundingClientRect();
  player.seek(((e.clientX - rect.left) / rect.width) * player.duration);
});
for (const stem of ["vocals", "accompaniment"]) {
  $(`fader-${stem}`).addEventListener("input", () => player.applyGains());
  $(`mute-${stem}`).classList.add("mute");
  $(`mute-${stem}`).addEventListener("click", (e) => { player.mute[stem] = !player.mute[stem]; e.target.classList.toggle("on", player.mute[stem]); player.applyGains(); });
  $(`solo-${stem}`).addEventListener("click", (e) => { player.solo[stem] = !player.solo[stem]; e.target.classList.toggle("on", player.solo[stem]); player.applyGains(); });
}
$("karaoke").addEventListener("click", (e) => { player.karaoke = !player.karaoke; e.target.classList.toggle("on", player.karaoke); player.applyGains(); });
for (const which of ["stems", "original"]) {
  $(`ab-${which}`).addEventListener("click", () => {
    player.ab = which;
    $("ab-stems").classList.toggle("active", which === "stems");
    $("ab-original").classList.toggle("active", which === "original");
    player.applyGains();
  });
}

function renderSongs(selectId) {
  const select = $("song");
  const current = select.value;
  select.replaceChildren(...[...state.jobs.values()].filter((j) => j.state === "done")
    .map((j) => el("option", { value: j.id, textContent: `${j.name} (${j.model}${j.wiener ? ", Wiener" : ""})` })));
  select.value = current || selectId || "";
  if (!current && select.value) player.load(state.jobs.get(select.value));
}
function selectSong(id) {
  $("song").value = id;
  if (!player.job || player.job.id !== id) player.load(state.jobs.get(id));
}
$("song").addEventListener("change", (e) => player.load(state.jobs.get(e.target.value)));

// ---- live -----------------------------------------------------------------------------------------

function renderLiveFiles() {
  const select = $("live-file");
  const current = select.value;
  const entries = [{ label: `demo: ${state.config ? state.config.demo : "demo song"}`, spec: { demo: true } }, ...state.files];
  const seen = new Set();
  select.replaceChildren();
  for (const f of entries) {
    const value = JSON.stringify(f.spec);
    if (seen.has(value)) continue;
    seen.add(value);
    select.append(el("option", { value, textContent: f.label }));
  }
  if (current) select.value = current;
}

async function loadDevices() {
  const found = await api("/api/live/devices").catch((err) => ({ inputs: [], outputs: [], error: err.message }));
  const fill = (select, list, defaultLabel) => {
    const current = select.value;
    select.replaceChildren(el("option", { value: "", textContent: defaultLabel }),
      ...list.map((d) => el("option", { value: String(d.index), textContent: `${d.name} (${d.hostapi})` })));
    select.value = current;
  };
  fill($("live-device"), found.inputs, "default input");
  fill($("live-output"), found.outputs, "default output (JACK preferred)");
  if (!found.outputs.length && !$("live-server").dataset.touched) $("live-server").checked = true;
  $("live-desktop-note").textContent = found.desktop || "The monitor of the default output (PulseAudio / PipeWire).";
  state.devices = found;
}

function liveKind() {
  const kind = $("live-kind").value;
  $("live-file-row").hidden = kind !== "file";
  $("live-device-row").hidden = kind !== "device";
  $("live-desktop-note").hidden = kind !== "desktop";
}
$("live-kind").addEventListener("change", liveKind);
$("live-server").addEventListener("change", (e) => { e.target.dataset.touched = "1"; });

function liveGainsDb() {
  const db = (id) => { const v = Number($(id).value); return v <= -60 ? "-inf" : v; };
  return { vocals_db: db("live-vocals"), accompaniment_db: db("live-accompaniment") };
}

$("live-start").addEventListener("click", async () => {
  const kind = $("live-kind").value;
  const body = { client, input: kind, server: $("live-server").checked, latency_ms: $("live-latency").value || null,
                 output: $("live-output").value || null, ...liveGainsDb() };
  if (kind === "file") body.file = JSON.parse($("live-file").value);
  if (kind === "device") body.device = $("live-device").value || null;
  $("live-message").textContent = "";
  try {
    const { live } = await api("/api/live/start", { method: "POST", json: body });
    showLive(live);
  } catch (err) {
    $("live-message").textContent = err.message;
  }
});
$("live-stop").addEventListener("click", async () => {
  $("live-stop").disabled = true;
  const { live } = await api("/api/live/stop", { method: "POST" }).catch((err) => ({ live: { state: "error", message: err.message } }));
  showLive(live);
});

$("live-measure").addEventListener("click", async () => {
  const button = $("live-measure");
  button.disabled = true;
  $("live-measured").textContent = "measuring…";
  try {
    const result = await api("/api/live/measure", { method: "POST",
      json: { server: $("live-server").checked, latency_ms: $("live-latency").value || null } });
    $("live-measured").textContent = `${result.measured_ms.toFixed(1)} ms (the engine reports ${result.reported_ms.toFixed(1)} ms)`;
    $("live-measured").title = result.line;
  } catch (err) {
    $("live-measured").textContent = "–";
    $("live-message").textContent = err.message;
  } finally {
    button.disabled = false;
  }
});

let gainTimer = null;
for (const stem of ["vocals", "accompaniment"]) {
  $(`live-${stem}`).addEventListener("input", () => {
    const v = Number($(`live-${stem}`).value);
    $(`live-${stem}-db`).textContent = v <= -60 ? "muted" : `${v} dB`;
    clearTimeout(gainTimer);  // one request per pause in the movement, not one per pixel
    gainTimer = setTimeout(() => {
      if (state.live && (state.live.state === "running" || state.live.state === "starting")) {
        api("/api/live/gains", { method: "POST", json: liveGainsDb() }).catch((err) => { $("live-message").textContent = err.message; });
      }
    }, 60);
  });
}

function meter(id, dbfs) {
  const width = dbfs === null || dbfs === undefined ? 0 : Math.max(0, Math.min(100, (dbfs + 60) * 100 / 60));
  $(id).style.width = `${width}%`;
  $(`${id}-db`).textContent = dbfs === null || dbfs === undefined ? "–" : `${dbfs.toFixed(1)} dBFS`;
}

function showLive(live) {
  state.live = live;
  if (!live) return;
  const running = live.state === "running" || live.state === "starting";
  $("live-state").textContent = live.state;
  $("live-state").className = `pill ${live.state}`;
  $("live-start").disabled = running;
  $("live-stop").disabled = !running;
  if (live.message) $("live-message").textContent = live.message;
  const ms = (v) => (v === null || v === undefined ? "–" : `${v.toFixed(1)} ms`);
  $("live-planned").textContent = ms(live.planned_ms);
  $("live-running").textContent = live.running_ms === undefined ? "–" : `${ms(live.running_ms)} (device buffers ${ms(live.device_ms)})`;
  $("live-late").textContent = live.late_blocks ?? "–";
  $("live-xruns").textContent = live.xruns ?? "–";
  $("live-load").textContent = live.load === undefined ? "–" : `${(100 * live.load).toFixed(0)} % of real time`;
  $("live-devices").textContent = live.devices || "–";
  meter("live-in", live.input_dbfs);
  meter("live-out", live.output_dbfs);
}

// ---- the event stream -------------------------------------------------------------------------------

function connect() {
  const events = new EventSource(`/api/events?client=${client}`);
  events.onopen = () => { $("connection").textContent = "connected"; $("connection").className = "pill ok"; };
  events.onerror = () => { $("connection").textContent = "reconnecting…"; $("connection").className = "pill error"; };
  events.onmessage = (e) => {
    const data = JSON.parse(e.data);
    data.jobs.forEach(updateJob);
    if (data.live) showLive(data.live);
  };
}

async function start() {
  state.config = await api("/api/config");
  $("out-folder").textContent = state.config.out;
  if (state.config.root !== null) {
    $("browser").hidden = false;
    browse("");
  }
  renderLiveFiles();
  liveKind();
  connect();
}

window.studio = { player, state, client };  // for the browser tests and the curious
start();
