// vocalex studio: the Listen screen. The stems (and the original, for A/B) play in sync through the Web Audio
// API: every source starts at one time on the context's clock; faders, mute, solo, karaoke and A/B are gains.
// Uses $, el, fmtTime, toDb and state from studio.js (loaded first).
"use strict";

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

