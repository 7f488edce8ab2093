"use strict";
// The evaluation view: each system's figures, per held-out stream, then the real chat and every
// system's message for the same moments, side by side in time order, with each sample's scores.
const esc = (s) => String(s ?? "").replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
const num = (x) => (typeof x === "number" ? (Number.isInteger(x) ? String(x) : x.toFixed(3)) : esc(x));
fetch("/api/eval").then((r) => r.json()).then((ev) => {
  const el = document.getElementById("eval");
  if (!ev.available) { el.innerHTML = `<p id="none">No evaluation yet: ${esc(ev.why)}</p>`; document.body.dataset.ready = "1"; return; }
  const names = Object.keys(ev.systems || {}), keys = names.length ? Object.keys(ev.systems[names[0]]) : [];
  let html = `<p>Training set <code>${esc(ev.version)}</code>; beats_base <b class="${ev.passed ? "good" : "bad"}">${ev.passed ? "passed" : "failed"}</b> ${esc((ev.reasons || []).join("; "))}</p>`;
  html += `<table id="systems"><tr><th></th>${keys.map((k) => `<th>${esc(k)}</th>`).join("")}</tr>`;
  for (const who of names) html += `<tr><th>${esc(who)}</th>${keys.map((k) => `<td>${num(ev.systems[who][k])}</td>`).join("")}</tr>`;
  html += `</table><h2>Per held-out stream</h2><table>`;
  const pv = ev.per_vod || [];
  if (pv.length) { const ks = Object.keys(pv[0]); html += `<tr>${ks.map((k) => `<th>${esc(k)}</th>`).join("")}</tr>` + pv.map((r) => `<tr>${ks.map((k) => `<td>${num(r[k])}</td>`).join("")}</tr>`).join(""); }
  const gens = [...new Set(ev.samples.flatMap((s) => Object.keys(s.generated || {})))];
  const order = ["adapter", "base", ...gens.filter((g) => g !== "adapter" && g !== "base")].filter((g) => gens.includes(g));
  html += `</table><h2>Real chat and the models' messages for the same moments</h2>`;
  html += `<table id="samples"><tr><th>moment</th><th>real</th>${order.map((g) => `<th>${esc(g)}</th>`).join("")}<th>scores</th></tr>`;
  const samples = [...ev.samples].sort((a, b) => String(a.vod_id).localeCompare(String(b.vod_id)) || (a.t_s ?? 1e12) - (b.t_s ?? 1e12));
  for (const s of samples) {
    const at = s.t_s == null ? esc(s.vod_id) : `<a href="/vod/${esc(s.vod_id)}#t=${s.t_s}">${esc(s.vod_id)} ${s.t_s.toFixed(1)} s</a>`;
    const sc = Object.entries(s.scores || {}).map(([k, v]) => `${esc(k)} ${num(v)}`).join("<br>") || "–";
    html += `<tr class="sample"><td>${at}</td><td>${esc(s.real)}</td>${order.map((g) => `<td>${esc(s.generated[g])}</td>`).join("")}<td class="scores">${sc}</td></tr>`;
  }
  el.innerHTML = html + "</table>";
  document.body.dataset.ready = "1";
});
