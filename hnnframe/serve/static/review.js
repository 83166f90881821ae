// The review page: sends the upload to /v1/check (explain=true) and shows the verdict.
// Every text from the server is set with textContent: names come from strangers.
"use strict";

const $ = (id) => document.getElementById(id);

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function row(cells, head) {
  const tr = el("tr");
  for (const c of cells) {
    const td = el(head ? "th" : "td");
    if (c instanceof Node) td.appendChild(c); else td.textContent = c === null ? "" : String(c);
    if (typeof c === "number") td.className = "num";
    tr.appendChild(td);
  }
  return tr;
}

function weightsText(w) {
  if (!w || !w.compared) return w && w.reason ? "not compared: " + w.reason : "";
  const fpr = w.fpr === null ? "" : ", FPR " + (100 * w.fpr).toFixed(2) + "%";
  return "code distance " + w.distance + " of " + w.bits + " bits (threshold " + w.threshold +
    fpr + "); " + (100 * w.shared).toFixed(1) + "% of tensors identical";
}

function diffNode(c) {
  if (!c) return el("span", "");
  if (c.diff === null) return el("span", "graph not available on this server", "detail");
  const keys = Object.keys(c.diff);
  if (!keys.length) return el("span", "same operator counts", "detail");
  const s = el("span", null, "detail");
  keys.forEach((op, i) => {
    const n = c.diff[op];
    s.appendChild(el("span", (n > 0 ? "+" : "") + n + " " + op, n > 0 ? "plus" : "minus"));
    if (i < keys.length - 1) s.appendChild(document.createTextNode(", "));
  });
  return s;
}

function show(v) {
  const out = $("verdict");
  out.replaceChildren();
  const word = v.suspect ? "SUSPECT" : "clean";
  const top = v.candidates.length ? v.candidates[0] : null;
  const what = top ? v.tier + " (#" + top.record.id + " " + top.record.name + ")"
    : "no indexed model within radius " + v.radius;
  out.appendChild(el("div", word + ": " + v.upload + " — " + what, "banner " + (v.suspect ? "suspect" : "clean")));
  const ex = v.explain || { candidates: [] };
  const byId = {};
  for (const c of ex.candidates) byId[c.id] = c;
  const t = el("table");
  t.id = "candidates";
  t.appendChild(row(["id", "name", "family", "distance", "tier", "weights", "graph difference (upload − indexed)"], true));
  const rows = v.candidates.length ? v.candidates.map((c) => ({
    id: c.record.id, name: c.record.name, family: c.record.label || "-", dist: c.structure.distance,
    tier: c.tier, weights: weightsText(c.weights),
  })) : (v.nearest ? [{ id: v.nearest.id, name: v.nearest.name, family: v.nearest.label || "-",
    dist: v.nearest.distance, tier: "nearest (outside radius)", weights: "" }] : []);
  for (const r of rows) {
    t.appendChild(row(["#" + r.id, r.name, r.family, r.dist, r.tier, r.weights, diffNode(byId[r.id])]));
  }
  out.appendChild(t);
  out.appendChild(el("p", "Radius " + v.radius + "; suspect under fail_on=" + v.fail_on +
    (v.threshold ? "; weight threshold " + v.threshold.threshold + " of " + v.threshold.bits + " bits" : ""), "detail"));
  out.dataset.state = "done";
}

async function submit(ev) {
  ev.preventDefault();
  const out = $("verdict");
  out.dataset.state = "busy";
  $("status").textContent = "checking…";
  const headers = {};
  const token = $("token").value.trim();
  if (token) headers["Authorization"] = "Bearer " + token;
  let body;
  const file = $("file").files[0];
  const fields = { explain: "true", fail_on: $("fail_on").value };
  if ($("radius").value !== "") fields.radius = $("radius").value;
  if (file) {
    body = new FormData();
    body.append("file", file, file.name);
    for (const [k, v] of Object.entries(fields)) body.append(k, v);
  } else {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(Object.assign({ path: $("path").value }, fields));
  }
  try {
    const r = await fetch("/v1/check", { method: "POST", headers, body });
    const data = await r.json();
    $("status").textContent = "";
    if (!r.ok) {
      out.replaceChildren(el("div", "Error " + r.status + ": " + data.detail, "banner error"));
      out.dataset.state = "error";
      return;
    }
    show(data);
  } catch (e) {
    $("status").textContent = "";
    out.replaceChildren(el("div", "The server did not answer: " + e, "banner error"));
    out.dataset.state = "error";
  }
}

$("check-form").addEventListener("submit", submit);
