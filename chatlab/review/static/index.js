"use strict";
const fmt = (x, d = 2) => (x === null || x === undefined ? "–" : Number(x).toFixed(d));
const dur = (s) => (s == null ? "–" : `${Math.floor(s / 3600)}:${String(Math.floor(s / 60) % 60).padStart(2, "0")}:${String(Math.floor(s % 60)).padStart(2, "0")}`);
fetch("/api/vods").then((r) => r.json()).then(({ vods }) => {
  const body = document.querySelector("#vods tbody");
  document.getElementById("empty").hidden = vods.length > 0;
  for (const v of vods) {
    const tr = document.createElement("tr");
    tr.dataset.vod = v.vod_id;
    const checks = Object.entries(v.checks).map(([k, x]) => `<span class="${String(x).startsWith("failed") ? "bad" : ""}">${k}: ${x}</span>`).join("<br>");
    const ov = v.override ? (v.override.anchors ? `${v.override.anchors.length} anchors` : `offset ${v.override.offset_s}`) : "–";
    const rv = v.review ? `${v.review.status || "saved"} ${v.review.saved_at} (${v.review.source})` : "–";
    tr.innerHTML = `<td><a href="/vod/${v.vod_id}">${v.vod_id}</a></td><td>${dur(v.duration_s)}</td><td>${v.messages}</td>
      <td>${v.method || "–"}</td><td class="${v.passed ? "good" : "bad"}">${fmt(v.confidence)}</td><td>${fmt(v.offset_s)}</td>
      <td>${checks}</td><td>${v.pairs}</td><td>${v.split || "–"}</td><td>${ov}</td><td>${rv}</td>`;
    body.appendChild(tr);
  }
  document.body.dataset.ready = "1";
});
