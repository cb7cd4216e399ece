// The dashboard of `daemonctl serve`: plain JavaScript, no library, nothing loaded from elsewhere.
"use strict";

const API = "/api/v1";
const REFRESH_MS = 2000;
const WINDOW_S = 300; // what a chart shows: the last five minutes
const LOG_KEEP = 2000; // lines kept in the log view
const TOKEN_KEY = "daemonctl-token";

const page = {
  token: sessionStorage.getItem(TOKEN_KEY) || "",
  readOnly: false,
  serverNow: Date.now(),
  rows: new Map(),
  follow: null,
  busy: false,
};

const $ = (id) => document.getElementById(id);

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

function headers(extra) {
  const h = Object.assign({}, extra || {});
  if (page.token) h["Authorization"] = "Bearer " + page.token;
  return h;
}

async function api(path, options) {
  const opts = Object.assign({ cache: "no-store", credentials: "omit" }, options || {});
  opts.headers = headers(opts.headers);
  const resp = await fetch(API + path, opts);
  const date = resp.headers.get("Date");
  if (date) page.serverNow = Date.parse(date);
  let body = null;
  try { body = await resp.json(); } catch (e) { body = null; }
  if (resp.status === 401) showAuth(true);
  if (!resp.ok) throw new ApiError(resp.status, (body && body.error) || resp.statusText);
  return body;
}

// ---------------------------------------------------------------- formatting

function fmtDuration(seconds) {
  if (seconds == null || !isFinite(seconds) || seconds < 0) return "—";
  const s = Math.floor(seconds);
  const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
  if (d) return `${d}d${h}h`;
  if (h) return `${h}h${String(m).padStart(2, "0")}m`;
  if (m) return `${m}m${String(s % 60).padStart(2, "0")}s`;
  return `${s}s`;
}

function fmtBytes(n) {
  if (n == null) return "—";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n < 10 && i ? n.toFixed(1) : Math.round(n)} ${units[i]}`;
}

function fmtPercent(p) {
  return p == null ? "—" : `${p < 10 ? p.toFixed(1) : Math.round(p)}%`;
}

function message(text, kind) {
  const box = $("message");
  box.textContent = text;
  box.className = kind || "";
  box.hidden = !text;
}

// ---------------------------------------------------------------- token

function showAuth(needed) {
  $("auth").hidden = !needed;
  if (needed) $("token").focus();
}

function useToken() {
  page.token = $("token").value.trim();
  if (page.token) sessionStorage.setItem(TOKEN_KEY, page.token);
  else sessionStorage.removeItem(TOKEN_KEY);
  $("token").value = "";
  showAuth(false);
  message("");
  start();
}

// ---------------------------------------------------------------- the table

function cell(row, cls) {
  const td = document.createElement("td");
  if (cls) td.className = cls;
  row.appendChild(td);
  return td;
}

function button(label, action, name) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = label;
  b.dataset.action = action;
  b.addEventListener("click", () => action === "logs" ? openLog(name) : confirmAction(action, name));
  return b;
}

function makeRow(name) {
  const tr = document.createElement("tr");
  tr.dataset.name = name;
  const r = { tr };
  r.name = cell(tr, "name");
  r.name.textContent = name;
  r.state = cell(tr);
  r.badge = document.createElement("span");
  r.state.appendChild(r.badge);
  r.pid = cell(tr, "num pid");
  r.uptime = cell(tr, "num uptime");
  r.restarts = cell(tr, "num restarts");
  r.cpu = cell(tr, "num cpu");
  r.memory = cell(tr, "num memory");
  r.chart = cell(tr, "chart");
  r.actions = cell(tr, "actions");
  r.buttons = {};
  for (const [label, action] of [["Log", "logs"], ["Start", "start"], ["Stop", "stop"], ["Restart", "restart"]]) {
    r.buttons[action] = button(label, action, name);
    r.actions.appendChild(r.buttons[action]);
  }
  return r;
}

function uptime(d) {
  if (!d.started_at || !["running", "restarting"].includes(d.state)) return null;
  return (page.serverNow - Date.parse(d.started_at)) / 1000;
}

function render(daemons, samples) {
  const tbody = document.querySelector("#daemons tbody");
  const seen = new Set();
  for (const d of daemons) {
    const name = d.name;
    seen.add(name);
    let r = page.rows.get(name);
    if (!r) { r = makeRow(name); page.rows.set(name, r); }
    tbody.appendChild(r.tr); // in the API's order (sorted by name)
    const hist = samples[name] || { points: [], restarts: [] };
    const last = hist.points.length ? hist.points[hist.points.length - 1] : null;
    const live = d.state === "running";
    r.tr.dataset.state = d.state;
    r.badge.textContent = d.state;
    r.badge.className = `badge state-${d.state}`;
    r.badge.title = d.error || (d.command || []).join(" ");
    r.pid.textContent = d.pid == null ? "—" : String(d.pid);
    r.uptime.textContent = fmtDuration(uptime(d));
    r.restarts.textContent = d.restarts == null ? "—" : String(d.restarts);
    const cpu = last ? last[1] : null;
    const mem = d.memory != null ? d.memory : (last ? last[2] : null);
    r.cpu.textContent = live ? fmtPercent(cpu) : "—";
    r.memory.textContent = live ? fmtBytes(mem) : "—";
    r.chart.replaceChildren(chart(hist, page.serverNow / 1000));
    const active = ["running", "restarting"].includes(d.state);
    for (const action of ["start", "stop", "restart"]) r.buttons[action].hidden = page.readOnly;
    r.buttons.start.disabled = active || page.busy;
    r.buttons.stop.disabled = !(active || d.state === "dead") || page.busy;
    r.buttons.restart.disabled = page.busy;
  }
  for (const [name, r] of page.rows) {
    if (!seen.has(name)) { r.tr.remove(); page.rows.delete(name); }
  }
  $("empty").hidden = daemons.length > 0;
}

// ---------------------------------------------------------------- charts

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
  return el;
}

function chart(hist, now) {
  const W = 180, H = 40, pad = 2;
  const box = svg("svg", { width: W, height: H, viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img" });
  // The last five minutes, or less while the server has not sampled that long.
  const first = hist.points.length ? hist.points[0][0] : now;
  const span = Math.min(WINDOW_S, Math.max(60, now - first));
  const from = now - span;
  const x = (t) => pad + (t - from) / span * (W - 2 * pad);
  const points = hist.points.filter((p) => p[0] >= from);
  const cpuMax = Math.max(100, ...points.map((p) => p[1] || 0));
  const memMax = Math.max(1, ...points.map((p) => p[2] || 0)) * 1.15;
  for (const [index, max, cls] of [[2, memMax, "mem"], [1, cpuMax, "cpu"]]) {
    let run = [];
    const flush = () => {
      if (run.length > 1) box.appendChild(svg("polyline", { class: cls, points: run.join(" ") }));
      run = [];
    };
    for (const p of points) {
      if (p[index] == null) { flush(); continue; }
      run.push(`${x(p[0]).toFixed(1)},${(H - pad - p[index] / max * (H - 2 * pad)).toFixed(1)}`);
    }
    flush();
  }
  for (const t of hist.restarts.filter((t) => t >= from)) {
    const line = svg("line", { class: "restart", x1: x(t), x2: x(t), y1: 0, y2: H });
    line.appendChild(svg("title")).textContent = `restarted at ${new Date(t * 1000).toLocaleTimeString()}`;
    box.appendChild(line);
  }
  const last = points.length ? points[points.length - 1] : null;
  box.appendChild(svg("title")).textContent = last
    ? `CPU ${fmtPercent(last[1])} (blue, scale ${Math.round(cpuMax)}%), memory ${fmtBytes(last[2])} (orange); `
      + `${hist.restarts.length} restart(s) seen`
    : "no samples yet";
  return box;
}

// ---------------------------------------------------------------- actions

function confirmAction(action, name) {
  const dialog = $("confirm");
  $("confirm-text").textContent = `${action[0].toUpperCase()}${action.slice(1)} ${name}?`;
  $("confirm-ok").textContent = action[0].toUpperCase() + action.slice(1);
  $("confirm-ok").onclick = () => { dialog.close(); act(action, name); };
  $("confirm-cancel").onclick = () => dialog.close();
  dialog.showModal();
}

async function act(action, name) {
  page.busy = true;
  message(`${action} ${name}…`);
  try {
    const result = await api(`/daemons/${encodeURIComponent(name)}/${action}`, { method: "POST" });
    const pid = result && result.pid != null ? ` (pid ${result.pid})` : "";
    message(`${action}: ${name}${pid} done`, "ok");
  } catch (err) {
    message(`${action} ${name} failed (${err.status || "network"}): ${err.message}`, "error");
  } finally {
    page.busy = false;
    refresh();
  }
}

// ---------------------------------------------------------------- log view

function stopFollow() {
  if (page.follow) page.follow.abort();
  page.follow = null;
}

function appendLine(pre, line) {
  const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
  pre.appendChild(document.createTextNode(line + "\n"));
  while (pre.childNodes.length > LOG_KEEP) pre.removeChild(pre.firstChild);
  if (atBottom) pre.scrollTop = pre.scrollHeight;
}

function handleEvent(block, pre) {
  let type = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") type = value;
    else if (field === "data") data.push(value);
  }
  if (!data.length) return;
  if (type === "error") $("log-state").textContent = `stopped following: ${data.join(" ")}`;
  else appendLine(pre, data.join("\n"));
}

async function openLog(name) {
  stopFollow();
  const controller = new AbortController();
  page.follow = controller;
  const pre = $("log-lines");
  pre.replaceChildren();
  $("log").hidden = false;
  $("log").dataset.name = name;
  $("log-name").textContent = name;
  $("log-state").textContent = "connecting…";
  try {
    // EventSource cannot send the token: the stream is read with fetch instead.
    const resp = await fetch(`${API}/daemons/${encodeURIComponent(name)}/logs?follow=1&lines=200`,
      { headers: headers(), cache: "no-store", credentials: "omit", signal: controller.signal });
    if (!resp.ok) {
      let body = null;
      try { body = await resp.json(); } catch (e) { body = null; }
      if (resp.status === 401) showAuth(true);
      $("log-state").textContent = `cannot follow: ${(body && body.error) || resp.statusText}`;
      return;
    }
    $("log-state").textContent = "following";
    const reader = resp.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        handleEvent(buffer.slice(0, end), pre);
        buffer = buffer.slice(end + 2);
      }
    }
    if (page.follow === controller) $("log-state").textContent = "the server ended the stream";
  } catch (err) {
    if (err.name !== "AbortError") $("log-state").textContent = `stopped following: ${err.message}`;
  }
}

function closeLog() {
  stopFollow();
  $("log").hidden = true;
  delete $("log").dataset.name;
}

// ---------------------------------------------------------------- refresh loop

let timer = null;

async function refresh() {
  clearTimeout(timer);
  try {
    const [daemons, samples] = await Promise.all([api("/daemons"), api("/samples")]);
    render(daemons, samples.daemons || {});
    $("updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
    if ($("message").className === "error" && /network|401/.test($("message").textContent)) message("");
  } catch (err) {
    if (err.status !== 401) message(`cannot reach the server: ${err.message}`, "error");
  }
  timer = setTimeout(refresh, REFRESH_MS);
}

async function start() {
  try {
    const info = await api("/server");
    page.readOnly = info.read_only;
    $("mode").hidden = !info.read_only;
    $("where").textContent = info.state_dir;
    document.title = `daemonctl — ${info.state_dir}`;
  } catch (err) {
    if (err.status === 401) return; // the token form is shown
  }
  refresh();
}

$("token-use").addEventListener("click", useToken);
$("token").addEventListener("keydown", (e) => { if (e.key === "Enter") useToken(); });
$("token-button").addEventListener("click", () => showAuth($("auth").hidden));
$("log-close").addEventListener("click", closeLog);
start();
