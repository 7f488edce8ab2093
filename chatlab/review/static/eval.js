"use strict";
const esc = (s) => String(s ?? "").replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
const num = (x) => (typeof x === "number" ? x.toFixed(3) : esc(x));
fetch("/api/eval").then((r) => r.json()).then((ev) => {
  const el = document.getElementById("eval");
  if (!ev.available) { el.innerHTML = `<p>No evaluation yet: ${esc(ev.why)}</p>`; document.body.dataset.ready = "1"; return; }
  const keys = Object.keys(ev.adapter || {});
  let html = `<p>Training set <code>${esc(ev.version)}</code>; beats_base <b class="${ev.passed ? "good" : "bad"}">${ev.passed ? "passed" : "failed"}</b> ${esc((ev.reasons || []).join("; "))}</p>`;
  html += `<table><tr><th></th>${keys.map((k) => `<th>${esc(k)}</th>`).join("")}</tr>`;
  for (const who of ["adapter", "base"]) html += `<tr><th>${who}</th>${keys.map((k) => `<td>${num(ev[who][k])}</td>`).join("")}</tr>`;
  html += `</table><h2>Per held-out stream</h2><table>`;
  const pv = ev.per_vod || [];
  if (pv.length) { const ks = Object.keys(pv[0]); html += `<tr>${ks.map((k) => `<th>${esc(k)}</th>`).join("")}</tr>` + pv.map((r) => `<tr>${ks.map((k) => `<td>${num(r[k])}</td>`).join("")}</tr>`).join(""); }
  html += `</table><h2>Samples: real chat and the models' messages for the same moments</h2><div class="side"><b>moment</b><b>real</b><b>adapter</b><b>base</b><b>scores</b>`;
  const samples = [...ev.samples].sort((a, b) => (a.vod_id + (a.t_s ?? 1e12)).localeCompare(b.vod_id + (b.t_s ?? 1e12)) || (a.t_s ?? 0) - (b.t_s ?? 0));
  for (const s of samples) {
    const at = s.t_s == null ? `${esc(s.vod_id)}` : `<a href="/vod/${esc(s.vod_id)}#t=${s.t_s}">${esc(s.vod_id)} ${s.t_s.toFixed(1)} s</a>`;
    const sc = Object.entries(s.scores || {}).map(([k, v]) => `${esc(k)} ${num(v)}`).join("<br>") || "–";
    html += `<div class="sample">${at}</div><div>${esc(s.real)}</div><div>${esc(s.adapter)}</div><div>${esc(s.base)}</div><div>${sc}</div>`;
  }
  el.innerHTML = html + "</div>";
  document.body.dataset.ready = "1";
});
