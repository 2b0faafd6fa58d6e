// vocalex studio: the page. Plain JavaScript, no build step, no third-party code.
// The server does the separating and the live audio; this page uploads, shows the queue (server-sent
// events) and drives the live run; player.js plays the stems in sync with the Web Audio API.
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

window.addEventListener("load", () => {
  window.studio = { player, state, client };  // for the browser tests and the curious (player: player.js)
  start();
});
