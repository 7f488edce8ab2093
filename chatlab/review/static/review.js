"use strict";
// The VOD page: waveform (wavesurfer.js, from stored peaks), lanes on one canvas for the visible
// window only, a virtualized chat list, and the corrections. Everything scales with what is on
// screen, not with the VOD: a 10-hour VOD with a million messages draws the same few thousand marks.

const VOD = document.body.dataset.vod;
const ROW = 20; // px per chat row
const PAGE = 500; // chat rows per request
const LANE = { speech: [0, 26], density: [28, 56], words: [58, 86], chat: [88, 112], anchors: [114, 146], offset: [148, 198] };
const S = { points: [], orig: [], manual: [], status: "", dirty: false, selCut: -1, view: [0, 1], pages: new Map(), sel: -1, marks: {} };
window.__review = S;
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s ?? "").replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
const clock = (s) => { const a = Math.abs(s); const t = `${Math.floor(a / 3600)}:${String(Math.floor(a / 60) % 60).padStart(2, "0")}:${(a % 60).toFixed(1).padStart(4, "0")}`; return s < 0 ? "-" + t : t; };

// ---- the offset curve: the same piecewise-linear reading of anchors as chatlab.align.estimate.override
function buildCurve(pts, span) {
  if (!pts.length) return null;
  const segs = [];
  if (pts.length === 1) segs.push({ start: span[0], end: span[1], o: pts[0][0] - pts[0][1], d: 0 });
  else {
    for (let i = 0; i < pts.length - 1; i++) {
      const [c0, s0] = pts[i], [c1, s1] = pts[i + 1];
      const o0 = c0 - s0, o1 = c1 - s1, d = c1 > c0 ? ((o1 - o0) / (c1 - c0)) * 3600 : 0;
      const start = i === 0 ? Math.min(span[0], c0) : c0;
      segs.push({ start, end: c1, o: o0 + (d * (start - c0)) / 3600, d });
    }
    const [lc, ls] = pts[pts.length - 1];
    segs.push({ start: lc, end: Math.max(span[1], lc), o: lc - ls, d: 0 });
  }
  return { segs, ends: segs.slice(0, -1).map((s) => s.end) };
}
function offsetAt(curve, t) {
  if (!curve) return 0;
  let lo = 0, hi = curve.ends.length;
  while (lo < hi) { const m = (lo + hi) >> 1; if (curve.ends[m] < t) lo = m + 1; else hi = m; }
  const s = curve.segs[lo];
  return s.o + (s.d * (t - s.start)) / 3600;
}
function cuts() { const out = []; for (let i = 0; i + 1 < S.points.length; i++) if (S.points[i][0] === S.points[i + 1][0] && S.points[i][1] !== S.points[i + 1][1]) out.push(i); return out; }
function chatTimeAt(T) { // chat time whose aligned time is T (bisection; the curve is increasing between cuts)
  let lo = S.sum.chat_span[0] - 86400, hi = S.sum.chat_span[1] + 86400;
  for (let k = 0; k < 80; k++) { const m = (lo + hi) / 2; if (m - offsetAt(S.curve, m) < T) lo = m; else hi = m; }
  return (lo + hi) / 2;
}
function lowerBound(arr, x) { let lo = 0, hi = arr.length; while (lo < hi) { const m = (lo + hi) >> 1; if (arr[m] < x) lo = m + 1; else hi = m; } return lo; }

function sortedRuns(a) { // aligned times are sorted between cuts: merge those few runs instead of sorting a million
  const cuts = [0]; for (let i = 1; i < a.length; i++) if (a[i] < a[i - 1]) cuts.push(i);
  if (cuts.length === 1) return a;
  if (cuts.length > 16) return Float32Array.from(a).sort();
  let runs = cuts.map((c, k) => a.subarray(c, k + 1 < cuts.length ? cuts[k + 1] : a.length));
  while (runs.length > 1) {
    const next = [];
    for (let k = 0; k < runs.length; k += 2) {
      if (k + 1 === runs.length) { next.push(runs[k]); break; }
      const x = runs[k], y = runs[k + 1], m = new Float32Array(x.length + y.length); let i = 0, j = 0, o = 0;
      while (i < x.length && j < y.length) m[o++] = x[i] <= y[j] ? x[i++] : y[j++];
      while (i < x.length) m[o++] = x[i++]; while (j < y.length) m[o++] = y[j++];
      next.push(m);
    }
    runs = next;
  }
  return runs[0];
}
function realign() {
  S.curve = buildCurve(S.points, S.sum.chat_span);
  const n = S.tChat.length;
  if (!S.aligned || S.aligned.length !== n) S.aligned = new Float32Array(n);
  for (let i = 0; i < n; i++) S.aligned[i] = S.tChat[i] - offsetAt(S.curve, S.tChat[i]);
  S.sorted = sortedRuns(S.aligned);
  const o = S.curve ? offsetAt(S.curve, S.sum.chat_span[0]) : null;
  $("offset").textContent = o === null ? "none" : o.toFixed(2);
  const sel = $("cuts"), cs = cuts(), prev = sel.value;
  sel.innerHTML = `<option value="">whole VOD</option>` + cs.map((i) => `<option value="${i}">cut at ${clock(S.points[i][1])}</option>`).join("");
  sel.value = cs.includes(Number(prev)) && prev !== "" ? prev : (S.selCut >= 0 && cs.includes(S.selCut) ? String(S.selCut) : "");
  $("dirty").textContent = S.dirty ? `unsaved: ${describeEdit()}` : "";
  renderChat(); drawLanes();
}
function describeEdit() { const c = cuts().length; return `${S.points.length} curve points, ${c} cut(s), ${S.manual.length} new anchor(s)${S.status ? ", " + S.status : ""}`; }
function edit(fn) { fn(); S.dirty = true; realign(); }

// ---- corrections
function nudge(delta) { // offset += delta: every point (or those after the selected cut) moves delta earlier on the audio clock
  edit(() => {
    if (!S.points.length) { const [a, b] = S.sum.chat_span; S.points = [[a, a], [b, b]]; }
    const from = S.selCut >= 0 ? S.selCut + 1 : 0;
    for (let i = from; i < S.points.length; i++) S.points[i][1] = +(S.points[i][1] - delta).toFixed(4);
  });
}
function addCut() {
  const T = S.ws ? S.ws.getCurrentTime() : (S.view[0] + S.view[1]) / 2;
  edit(() => {
    if (!S.points.length) { const [a, b] = S.sum.chat_span; S.points = [[a, a], [b, b]]; S.curve = buildCurve(S.points, S.sum.chat_span); }
    const c = +chatTimeAt(T).toFixed(3), s = +(c - offsetAt(S.curve, c)).toFixed(4);
    let k = 0; while (k < S.points.length && S.points[k][0] <= c) k++;
    S.points.splice(k, 0, [c, s], [c, s]);
    S.selCut = k;
  });
}
function moveCut(delta) {
  if (S.selCut < 0) return;
  const i = S.selCut, lo = i > 0 ? S.points[i - 1][0] : -Infinity, hi = i + 2 < S.points.length ? S.points[i + 2][0] : Infinity;
  const c = S.points[i][0] + delta;
  if (c <= lo || c >= hi) return;
  edit(() => { for (const j of [i, i + 1]) { S.points[j][0] = +(S.points[j][0] + delta).toFixed(4); S.points[j][1] = +(S.points[j][1] + delta).toFixed(4); } });
}
function removeCut() { if (S.selCut < 0) return; edit(() => { S.points.splice(S.selCut, 2); S.selCut = -1; }); }
function addAnchor(i, T) { // message i echoes the word nearest to audio time T
  const W = S.words; if (!W || !W.start.length) return;
  let k = lowerBound(W.start, T); if (k > 0 && (k === W.start.length || T - W.end[k - 1] < W.start[k] - T)) k--;
  const c = S.tChat[i], s = +(W.end[k] + S.sum.reaction_delay_s).toFixed(3);
  edit(() => {
    let j = 0; while (j < S.points.length && S.points[j][0] <= c) j++;
    S.points.splice(j, 0, [+c.toFixed(3), s]);
    S.manual.push({ i, word_start: W.start[k], word: W.word[k] });
  });
}
function alignOverride() {
  const cs = cuts();
  if (S.points.length === 2 && !cs.length && !S.manual.length) {
    const c = buildCurve(S.points, S.sum.chat_span);
    return { offset_s: +offsetAt(c, S.sum.chat_span[0]).toFixed(4), drift_s_per_h: +c.segs[0].d.toFixed(4) };
  }
  return { anchors: S.points.map((p) => [p[0], p[1]]) };
}
async function save() {
  const rejected = S.status === "rejected";
  const body = { align: rejected ? null : alignOverride(), status: S.status, rerun: !rejected };
  $("status").textContent = "saving…";
  const r = await fetch(`/api/vod/${VOD}/save`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const out = await r.json();
  if (!r.ok) { $("status").textContent = `not saved: ${out.error}`; return; }
  S.dirty = false; S.manual = [];
  $("status").textContent = `saved to ${out.file} (${out.saved.review.saved_at}, source ${out.saved.review.source})` + (out.rerun ? "; re-run started" : out.rerun_error ? `; ${out.rerun_error}` : "");
  realign();
  if (out.rerun) pollRerun();
}
async function pollRerun() {
  const r = await (await fetch(`/api/vod/${VOD}/rerun`)).json();
  if (r.state === "starting" || r.state === "running") { $("status").textContent = `re-run ${r.state} (offsets and what follows, in Dagster)…`; setTimeout(pollRerun, 1000); return; }
  const checks = Object.entries(r.checks || {}).map(([k, v]) => `${k} ${v ? "passed" : "failed"}`).join(", ");
  $("status").textContent = `re-run ${r.state}${r.run_id ? ` (Dagster run ${r.run_id.slice(0, 8)})` : ""}: ${checks}${r.failures && r.failures.length ? "; " + r.failures.join("; ") : ""}${r.error ? "; " + r.error : ""}`;
  await loadSummary(); await loadChat(); S.pages.clear(); realign();
  document.body.dataset.rerun = r.state;  // after the tables are reloaded, so what reads it sees the re-run's rows
}

// ---- chat list (virtualized: only the rows on screen exist)
async function page(p) {
  if (S.pages.has(p)) return S.pages.get(p);
  const pr = fetch(`/api/vod/${VOD}/messages?start=${p * PAGE}&count=${PAGE}`).then((r) => r.json()).then((j) => { S.pages.set(p, j.rows); renderChat(); markReady(); return j.rows; });
  S.pages.set(p, pr);
  return pr;
}
function rowOf(i) { const p = S.pages.get(Math.floor(i / PAGE)); return Array.isArray(p) ? p[i % PAGE] : null; }
function renderChat() {
  const box = $("chat"), sp = $("chat-spacer"), n = S.tChat ? S.tChat.length : 0;
  sp.style.height = `${n * ROW}px`;
  const first = Math.max(0, Math.floor(box.scrollTop / ROW) - 5), last = Math.min(n, Math.ceil((box.scrollTop + box.clientHeight) / ROW) + 5);
  const html = [];
  for (let i = first; i < last; i++) {
    const r = rowOf(i);
    if (!r) { page(Math.floor(i / PAGE)); continue; }
    const cls = ["msg", S.flag[i] === 0 ? "dropped" : S.flag[i] === 2 ? "paired" : "kept", i === S.now ? "now" : "", i === S.sel ? "sel" : ""].join(" ");
    html.push(`<div class="${cls}" draggable="true" data-i="${i}" style="top:${i * ROW}px" title="${esc(r[5] || (S.flag[i] === 2 ? "paired" : "kept"))}"><span class="t">${clock(S.aligned[i])}</span>${esc(r[2])}</div>`);
  }
  sp.innerHTML = html.join("");
  S.rendered = last - first;
}
function follow(t) {
  if (!S.aligned || !$("follow").checked) return;
  let lo = 0, hi = S.aligned.length; // chat order is aligned order between cuts
  while (lo < hi) { const m = (lo + hi) >> 1; if (S.aligned[m] <= t) lo = m + 1; else hi = m; }
  S.now = lo - 1;
  const box = $("chat");
  box.scrollTop = Math.max(0, (S.now + 1) * ROW - box.clientHeight);
  renderChat();
}
async function showMessage(i) {
  S.sel = i; renderChat();
  const d = await (await fetch(`/api/vod/${VOD}/message/${i}`)).json();
  const m = d.message;
  let html = `<h3>message ${i}: “${esc(m.text)}”</h3><p>chat clock ${m.t_s.toFixed(2)} s → audio ${d.t_speech_s == null ? "–" : d.t_speech_s.toFixed(2) + " s"} (stored offsets)${m.keep ? "" : `, dropped by <b>${esc(m.drop_rule)}</b>`}</p>`;
  if (d.pair) html += `<p class="good">Training pair — ${esc(d.pair.source)}</p><b>prompt</b><pre id="prompt">${esc(d.pair.prompt)}</pre><b>target</b><pre id="target">${esc(d.pair.completion)}</pre><p>context ${d.pair.context_start_s.toFixed(1)}–${d.pair.context_end_s.toFixed(1)} s, ${d.pair.n_context_words} words; ${esc(d.pair.offsets_version)}; ${esc(d.pair.filter_set)}</p>`;
  else html += `<p class="bad" id="why">No pair: <b>${esc(d.why.reason)}</b> — ${esc(d.why.detail)}</p>`;
  $("detail").innerHTML = html;
}

// ---- lanes: one canvas, the visible window only
function drawLanes() {
  const cv = $("lanes"), dpr = window.devicePixelRatio || 1, W = cv.clientWidth, H = 200;
  if (cv.width !== W * dpr) { cv.width = W * dpr; cv.height = H * dpr; }
  const g = cv.getContext("2d"); g.setTransform(dpr, 0, 0, dpr, 0, 0); g.clearRect(0, 0, W, H);
  const [t0, t1] = S.view, k = W / Math.max(t1 - t0, 1e-6), X = (t) => (t - t0) * k;
  S.marks = { chat: 0, words: 0 };
  // cut ranges (audio clock) shaded across every lane, cuts as red lines
  g.fillStyle = "rgba(220,60,60,0.12)";
  for (const s of S.sum.segments) if (s.cut_lo_s != null) g.fillRect(X(s.cut_lo_s), 0, Math.max(1, X(s.cut_hi_s) - X(s.cut_lo_s)), H);
  g.strokeStyle = "#d33";
  for (const i of cuts()) { const x = X(S.points[i][1]); g.beginPath(); g.moveTo(x, 0); g.lineTo(x, H); g.stroke(); }
  // speech
  g.fillStyle = "#6a9";
  for (const [a, b] of S.speech || []) if (b >= t0 && a <= t1) g.fillRect(X(a), LANE.speech[0] + 4, Math.max(1, X(b) - X(a)), 18);
  // chat density at aligned times, per 2 px column
  if (S.sorted) {
    const cols = Math.ceil(W / 2), counts = new Uint32Array(cols); let max = 1;
    for (let c = 0; c < cols; c++) { counts[c] = lowerBound(S.sorted, t0 + ((c + 1) * 2) / k) - lowerBound(S.sorted, t0 + (c * 2) / k); if (counts[c] > max) max = counts[c]; }
    g.fillStyle = "#58c"; const [y0, y1] = LANE.density;
    for (let c = 0; c < cols; c++) if (counts[c]) { const h = ((y1 - y0) * counts[c]) / max; g.fillRect(c * 2, y1 - h, 2, h); }
  }
  // transcript words
  const Wd = S.words;
  if (Wd && Wd.start.length) {
    const a = lowerBound(Wd.end, t0), b = lowerBound(Wd.start, t1), [y0] = LANE.words;
    if (b - a < 4000) {
      g.font = "11px sans-serif"; g.textBaseline = "top";
      for (let i = a; i < b; i++) {
        const x = X(Wd.start[i]), w = Math.max(1, X(Wd.end[i]) - x);
        g.fillStyle = "#eee0c0"; g.fillRect(x, y0 + 2, w, 24); g.fillStyle = "#553";
        if (w > 14) g.fillText(Wd.word[i], x + 1, y0 + 8, w - 2);
      }
      S.marks.words = b - a;
    } else { g.fillStyle = "#999"; g.fillText(`${b - a} words: zoom in`, 4, y0 + 8); }
  }
  // chat messages at aligned times, coloured: paired green, kept blue, dropped grey
  if (S.aligned) {
    const a = lowerBound(S.sorted, t0), b = lowerBound(S.sorted, t1), [y0, y1] = LANE.chat;
    if (b - a <= 5000) {
      const colours = ["#bbb", "#36c", "#2a2"];
      for (let i = 0; i < S.aligned.length && b - a > 0; i++) { // sparse view: one pass over the visible index range
        const t = S.aligned[i]; if (t < t0 || t > t1) continue;
        g.fillStyle = colours[S.flag[i]]; g.fillRect(X(t), y0 + (S.flag[i] ? 0 : 8), 1.5, S.flag[i] ? y1 - y0 : 8); S.marks.chat++;
      }
    } else { g.fillStyle = "#999"; g.fillText(`${b - a} messages here (density above): zoom in`, 4, y0 + 6); S.marks.chat = b - a; }
  }
  // anchors: the word (top) linked to where its echo sits now (bottom); new ones in orange
  const [ay0, ay1] = LANE.anchors;
  const link = (ws, i, colour) => { const xa = X(ws), xb = X(S.aligned[i]); if (Math.max(xa, xb) < 0 || Math.min(xa, xb) > W) return; g.strokeStyle = colour; g.beginPath(); g.moveTo(xa, ay0); g.lineTo(xb, ay1); g.stroke(); g.fillStyle = colour; g.fillRect(xa - 1.5, ay0, 3, 3); g.fillRect(xb - 1.5, ay1 - 3, 3, 3); };
  if (S.anchors && S.aligned) { let drawn = 0; for (const an of S.anchors) { if (drawn > 3000) break; if (an.word_start_s > t1 + 30 || an.word_start_s < t0 - 30) continue; link(an.word_start_s, an.i, "rgba(120,60,160,0.7)"); drawn++; } }
  for (const m of S.manual) link(m.word_start, m.i, "#e80");
  // offset curve: offset against audio time, jumps at cuts
  if (S.points.length) {
    const [y0, y1] = LANE.offset; let lo = Infinity, hi = -Infinity;
    for (const [c, s] of S.points) { lo = Math.min(lo, c - s); hi = Math.max(hi, c - s); }
    lo -= 1; hi += 1; const Y = (o) => y1 - ((o - lo) / (hi - lo)) * (y1 - y0);
    g.strokeStyle = "#333"; g.lineWidth = 1.5; g.beginPath();
    const first = S.points[0], last = S.points[S.points.length - 1];
    g.moveTo(Math.min(X(first[1]), 0), Y(first[0] - first[1]));
    for (const [c, s] of S.points) g.lineTo(X(s), Y(c - s));
    g.lineTo(Math.max(X(last[1]), W), Y(last[0] - last[1])); g.stroke(); g.lineWidth = 1;
    g.fillStyle = "#333"; g.font = "10px sans-serif"; g.fillText(`${hi.toFixed(1)} s`, 2, y0 + 1); g.fillText(`${lo.toFixed(1)} s`, 2, y1 - 11);
  }
  // lane names, at the right edge
  g.font = "10px sans-serif"; g.textAlign = "right"; g.textBaseline = "top"; g.fillStyle = "rgba(60,60,60,0.75)";
  for (const [name, [y0]] of Object.entries(LANE)) g.fillText(name === "density" ? "chat density" : name, W - 3, y0 + 1);
  g.textAlign = "left";
  // playhead
  if (S.ws) { const x = X(S.ws.getCurrentTime()); g.fillStyle = "#f50"; g.fillRect(x, 0, 1, H); }
  $("view").textContent = `${clock(t0)} – ${clock(t1)}`;
  S.drawn = (S.drawn || 0) + 1;
}
let raf = 0;
function redraw() { if (!raf) raf = requestAnimationFrame(() => { raf = 0; drawLanes(); }); }

// ---- loading
async function loadSummary() {
  S.sum = await (await fetch(`/api/vod/${VOD}`)).json();
  const o = S.sum.offsets;
  $("status").textContent = o ? `${o.method}, confidence ${o.confidence.toFixed(2)}, ${o.passed ? "passed" : "not confident: " + o.problems}; ${S.sum.pairs} pairs` : "no offsets yet";
  if (S.sum.review) $("status").textContent += `; review: ${S.sum.review.status || "saved"} ${S.sum.review.saved_at}`;
  if (!S.dirty) { S.points = S.sum.points.map((p) => [p[0], p[1]]); S.orig = S.points.map((p) => [p[0], p[1]]); }
}
async function loadChat() {
  const r = await fetch(`/api/vod/${VOD}/chat.bin`), buf = await r.arrayBuffer(), n = Number(r.headers.get("x-messages") || 0);
  S.tChat = new Float32Array(buf, 0, n); S.flag = new Uint8Array(buf, n * 4, n);
  $("chat-count").textContent = `${n} messages`;
  $("chat-count").dataset.total = String(n);
}
async function loadWave() {
  const p = S.sum.peaks;
  if (!p) { $("wave").textContent = "no peaks for this VOD: materialize review_peaks"; return; }
  const raw = new Int8Array(await (await fetch(`/api/vod/${VOD}/peaks.bin`)).arrayBuffer()), f = new Float32Array(raw.length);
  for (let i = 0; i < raw.length; i++) f[i] = raw[i] / 127;
  let media;
  if (S.sum.media.video) { media = document.createElement("video"); media.src = S.sum.media.video; }
  else if (S.sum.media.audio) { media = document.createElement("audio"); media.src = S.sum.media.audio; }
  if (media) { media.preload = "metadata"; media.controls = true; $("media").appendChild(media); }
  const opts = { container: "#wave", height: 80, waveColor: "#7a8a99", progressColor: "#345", cursorColor: "#f50", peaks: [f], duration: S.sum.duration_s, normalize: true, autoScroll: true, autoCenter: false, minPxPerSec: 0 };
  if (media) opts.media = media;
  S.ws = WaveSurfer.create(opts);
  S.ws.on("redrawcomplete", () => { S.waveDrawn = true; markReady(); });
  S.ws.on("scroll", (a, b) => { S.view = [a, b]; redraw(); });
  S.ws.on("zoom", () => { const w = $("wave").clientWidth, left = S.ws.getScroll(), px = S.pxPerSec || w / S.sum.duration_s; S.view = [left / px, (left + w) / px]; redraw(); });
  S.ws.on("timeupdate", (t) => { follow(t); redraw(); });
  S.ws.on("interaction", (t) => follow(t));
}
function setZoom(v) {
  const w = $("wave").clientWidth, d = S.sum.duration_s, min = w / d, max = Math.max(min, Math.min(200, 3e7 / d));
  S.pxPerSec = min * Math.pow(max / min, v / 1000);
  if (S.ws) S.ws.zoom(S.pxPerSec);
  if (v == 0) { S.view = [0, d]; redraw(); }
}
function markReady() {
  if (S.ready || !S.waveDrawn || !S.tChat) return;
  if (S.tChat.length && !Array.isArray(S.pages.get(Math.floor($("chat").scrollTop / ROW / PAGE)))) { renderChat(); return; } // the first rows are on screen too
  S.ready = true; drawLanes(); renderChat();
  S.interactiveMs = performance.now();
  document.body.dataset.ready = "1";
}

async function main() {
  await loadSummary();
  S.view = [0, S.sum.duration_s];
  await Promise.all([loadChat(), loadWave()]);
  realign();
  if (!S.sum.peaks) { S.waveDrawn = true; }
  markReady();
  fetch(`/api/vod/${VOD}/lanes`).then((r) => r.json()).then((l) => { S.speech = l.speech; S.words = l.words; redraw(); });
  fetch(`/api/vod/${VOD}/anchors`).then((r) => r.json()).then((a) => { S.anchors = a.anchors; S.anchorsLoaded = true; redraw(); });
  const m = location.hash.match(/t=([\d.]+)/); if (m && S.ws) S.ws.setTime(Number(m[1]));
}

// ---- events
document.querySelectorAll("[data-nudge]").forEach((b) => b.addEventListener("click", () => nudge(Number(b.dataset.nudge))));
$("add-cut").onclick = addCut; $("remove-cut").onclick = removeCut;
$("cut-left").onclick = () => moveCut(-1); $("cut-right").onclick = () => moveCut(1);
$("cuts").onchange = (e) => { S.selCut = e.target.value === "" ? -1 : Number(e.target.value); };
$("accept").onclick = () => edit(() => { S.status = "accepted"; });
$("reject").onclick = () => edit(() => { S.status = "rejected"; });
$("save").onclick = save;
$("revert").onclick = () => { S.points = S.orig.map((p) => [p[0], p[1]]); S.manual = []; S.status = ""; S.selCut = -1; S.dirty = false; realign(); };
$("zoom").oninput = (e) => setZoom(Number(e.target.value));
$("wave").addEventListener("wheel", (e) => { // ctrl + wheel zooms, like the slider
  if (!e.ctrlKey) return; e.preventDefault();
  const z = $("zoom"); z.value = String(Math.max(0, Math.min(1000, Number(z.value) - Math.sign(e.deltaY) * 50))); setZoom(Number(z.value));
}, { passive: false });
$("chat").addEventListener("scroll", () => renderChat(), { passive: true });
$("chat").addEventListener("click", (e) => { const el = e.target.closest(".msg"); if (el) showMessage(Number(el.dataset.i)); });
$("chat").addEventListener("dragstart", (e) => { const el = e.target.closest(".msg"); if (el) e.dataTransfer.setData("text/x-chatlab-msg", el.dataset.i); });
const timeAtX = (e) => { const r = $("lanes").getBoundingClientRect(); return S.view[0] + ((e.clientX - r.left) / r.width) * (S.view[1] - S.view[0]); };
$("lanes").addEventListener("dragover", (e) => e.preventDefault());
$("lanes").addEventListener("drop", (e) => { e.preventDefault(); const i = e.dataTransfer.getData("text/x-chatlab-msg"); if (i !== "") addAnchor(Number(i), timeAtX(e)); });
$("lanes").addEventListener("click", (e) => { if (S.ws) S.ws.setTime(timeAtX(e)); });
window.addEventListener("resize", redraw);
window.reviewActions = { nudge, addCut, moveCut, removeCut, addAnchor, save, setZoom, showMessage };
main().catch((e) => { $("status").textContent = `error: ${e}`; console.error(e); });
