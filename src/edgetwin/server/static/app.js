// edgetwin dashboard: plant tree coloured by health, asset pages with live charts, alarms,
// work orders, timeline and inspection gallery; edge-module evidence pages.
// Plain JS, no build step; charts with the bundled uPlot; live updates over server-sent events.
"use strict";

const S = {
  plant: "", tree: [], assets: {}, alarms: [], route: null, charts: [], live: null,
  token: localStorage.getItem("edgetwin.token") || "", user: null, window: "1h",
};
const DERIVED = ["anomaly_score", "health", "rul", "rul_lo", "rul_hi", "fault_prob"];

// ---- token: taken once from the URL fragment (#token=...), then kept in localStorage ----------
(function takeToken() {
  const m = location.hash.match(/[#&]token=([^&]+)/);
  if (!m) return;
  S.token = decodeURIComponent(m[1]);
  localStorage.setItem("edgetwin.token", S.token);
  const rest = location.hash.replace(/[#&]?token=[^&]+/, "");
  history.replaceState(null, "", location.pathname + (rest && rest !== "#" ? rest : "#/"));
})();

// ---- helpers --------------------------------------------------------------------------------
const $ = (sel, root = document) => root.querySelector(sel);
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
const fmt = (v, d = 2) => (v === null || v === undefined || Number.isNaN(v) ? "—" : typeof v === "number" ? (Math.abs(v) >= 1000 ? v.toFixed(0) : v.toFixed(d)) : esc(v));
const when = (ns) => (ns ? new Date(ns / 1e6).toISOString().replace("T", " ").slice(0, 19) : "—");
const enc = (p) => p.split("/").map(encodeURIComponent).join("/");

function toast(msg, ms = 4000) {
  let t = $("#toast");
  if (!t) { t = document.createElement("div"); t.id = "toast"; document.body.appendChild(t); }
  t.textContent = msg; t.style.display = "block";
  clearTimeout(toast._h); toast._h = setTimeout(() => (t.style.display = "none"), ms);
}

async function api(method, url, body) {
  const headers = { "Content-Type": "application/json" };
  if (S.token) headers.Authorization = "Bearer " + S.token;
  const r = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = r.headers.get("content-type")?.includes("json") ? await r.json() : await r.text();
  if (!r.ok) {
    const err = new Error((data && data.detail) || r.statusText);
    err.status = r.status; throw err;
  }
  return data;
}

async function write(method, url, body) {
  if (!S.token && !(await askToken())) throw new Error("a token is needed for this action");
  try { return await api(method, url, body); }
  catch (e) {
    if (e.status === 401 && (await askToken())) return api(method, url, body);
    throw e;
  }
}

async function askToken() {
  const t = prompt("API token (create one with: edgetwin token create NAME)", S.token || "");
  if (t === null) return false;
  S.token = t.trim(); localStorage.setItem("edgetwin.token", S.token);
  await whoami(); return !!S.token;
}

async function whoami() {
  const b = $("#token-btn");
  if (!S.token) { S.user = null; b.textContent = "Sign in"; return; }
  try { S.user = (await api("GET", "/api/whoami")).user; b.textContent = "Signed in: " + S.user; }
  catch { S.user = null; b.textContent = "Token rejected — sign in"; }
}

// ---- plant tree -----------------------------------------------------------------------------
function renderTree() {
  const ul = $("#tree");
  const item = (n) => `<li><div class="node status-${n.status}" data-path="${esc(n.path)}" data-asset="${n.is_asset}" title="${esc(n.reason)}">
      <span class="dot"></span><span>${esc(n.name)}</span></div>${n.children.length ? `<ul>${n.children.map(item).join("")}</ul>` : ""}</li>`;
  ul.innerHTML = S.tree.map(item).join("");
  markSelected();
}

function updateTree(nodes) {
  for (const [path, n] of Object.entries(nodes)) {
    const el = document.querySelector(`.tree .node[data-path="${CSS.escape(path)}"]`);
    if (!el) continue;
    el.className = `node status-${n.status}`; el.title = n.reason;
  }
  markSelected();
}

function markSelected() {
  document.querySelectorAll(".tree .node.selected").forEach((e) => e.classList.remove("selected"));
  if (S.route?.path) document.querySelector(`.tree .node[data-path="${CSS.escape(S.route.path)}"]`)?.classList.add("selected");
}

$("#tree").addEventListener("click", (ev) => {
  const n = ev.target.closest(".node");
  if (!n) return;
  location.hash = (n.dataset.asset === "true" ? "#/asset/" : "#/node/") + n.dataset.path;
});

// ---- routing --------------------------------------------------------------------------------
function parseRoute() {
  const h = decodeURIComponent(location.hash.replace(/^#\/?/, ""));
  if (h.startsWith("asset/")) return { view: "asset", path: h.slice(6) };
  if (h.startsWith("node/")) return { view: "overview", path: h.slice(5) };
  if (h.startsWith("module/")) return { view: "module", name: h.slice(7) };
  if (h === "modules") return { view: "modules" };
  return { view: "overview", path: "" };
}

function render() {
  S.route = parseRoute();
  S.charts.forEach((c) => c.plot.destroy()); S.charts = [];
  markSelected();
  const v = S.route.view;
  if (v === "asset") return renderAsset(S.route.path);
  if (v === "modules") return renderModules();
  if (v === "module") return renderModule(S.route.name);
  return renderOverview(S.route.path);
}
window.addEventListener("hashchange", render);

// ---- alarms table (shared by overview and asset page) ---------------------------------------
function alarmRows(alarms) {
  if (!alarms.length) return `<p class="muted" id="no-alarms">No alarms.</p>`;
  return `<table class="alarms"><tr><th>priority</th><th>alarm</th><th>value / limit</th><th>state</th><th>since</th><th></th></tr>
    ${alarms.map((a) => `<tr data-alarm="${esc(a.alarm_id)}" class="state-${a.state}">
      <td class="prio-${a.priority}">${esc(a.priority)}</td>
      <td><a href="#/asset/${esc(a.source)}">${esc(a.alarm_id)}</a><br><span class="muted">${esc(a.message)}</span></td>
      <td class="num">${fmt(a.value)} / ${fmt(a.limit)}</td>
      <td class="state">${esc(a.state)}${a.mode !== "enabled" ? " (" + esc(a.mode) + ")" : ""}${a.user ? `<br><span class="muted">${esc(a.user)}</span>` : ""}</td>
      <td>${when(a.ts_ns)}</td>
      <td>${a.acked ? "" : `<button class="ack primary" data-id="${esc(a.alarm_id)}">Acknowledge</button>`}
          <button class="shelve" data-id="${esc(a.alarm_id)}" ${a.mode !== "enabled" ? "disabled" : ""}>Shelve 1 h</button>
          <button class="wo" data-id="${esc(a.alarm_id)}" data-asset="${esc(a.source)}">Work order</button></td></tr>`).join("")}</table>`;
}

document.addEventListener("click", async (ev) => {
  const b = ev.target.closest("button");
  if (!b || !b.dataset.id) return;
  const id = b.dataset.id;
  try {
    if (b.classList.contains("ack")) {
      b.disabled = true;
      const a = await write("POST", `/api/alarms/${enc(id)}/acknowledge`, { comment: "" });
      toast(`acknowledged ${id}`); updateAlarm(a);
    } else if (b.classList.contains("shelve")) {
      const a = await write("POST", `/api/alarms/${enc(id)}/shelve`, { duration_s: 3600 });
      toast(`shelved ${id} for 1 h`); updateAlarm(a);
    } else if (b.classList.contains("wo")) {
      const title = prompt("Work order title (empty: the alarm's message)", "");
      if (title === null) return;
      const w = await write("POST", "/api/work-orders", { asset: b.dataset.asset, alarm_id: id, title });
      toast(`work order #${w.id} opened`); if (S.route.view === "asset") loadWorkOrders(S.route.path);
    } else if (b.classList.contains("close-wo")) {
      const note = prompt("What was done?", "");
      if (!note) return;
      await write("POST", `/api/work-orders/${id}/close`, { note });
      toast(`work order #${id} closed`); loadWorkOrders(S.route.path);
    }
  } catch (e) { toast(e.message); b.disabled = false; }
});

function updateAlarm(a) {
  const i = S.alarms.findIndex((x) => x.alarm_id === a.alarm_id);
  const shown = a.mode === "enabled" && a.state !== "normal";
  if (i >= 0) { if (shown) S.alarms[i] = a; else S.alarms.splice(i, 1); } else if (shown) S.alarms.push(a);
  S.alarms.sort((x, y) => y.severity - x.severity || y.ts_ns - x.ts_ns);
  const box = $("#alarms-box");
  if (!box) return;
  const path = box.dataset.asset;
  box.innerHTML = alarmRows(path ? S.alarms.filter((x) => x.source === path) : S.alarms);
}

// ---- overview -------------------------------------------------------------------------------
function renderOverview(prefix) {
  const paths = Object.keys(S.assets).filter((p) => !prefix || p === prefix || p.startsWith(prefix + "/"));
  $("#main").innerHTML = `<h1>${esc(prefix || S.plant)}</h1>
    <section class="panel"><h2>Alarms</h2><div id="alarms-box" data-asset="">${alarmRows(S.alarms)}</div></section>
    <section class="panel"><h2>Assets</h2><div class="cards">${paths.map(card).join("")}</div></section>`;
  $("#main .cards").addEventListener("click", (ev) => {
    const c = ev.target.closest(".card"); if (c) location.hash = "#/asset/" + c.dataset.path;
  });
}

function card(p) {
  const a = S.assets[p];
  return `<div class="card status-${a.status}" data-path="${esc(p)}"><h3>${esc(a.name)}</h3>
    <div class="muted">${esc(p)}</div><div>health <b>${fmt(a.health)}</b> · RUL ${fmt(a.rul, 0)}</div>
    <div class="muted">${esc(a.health_reason)}</div></div>`;
}

function updateCard(p) {
  const el = document.querySelector(`.card[data-path="${CSS.escape(p)}"]`);
  if (el) el.outerHTML = card(p);
}

// ---- asset page -----------------------------------------------------------------------------
function renderAsset(path) {
  const a = S.assets[path];
  if (!a) { $("#main").innerHTML = `<p>Unknown asset ${esc(path)}.</p>`; return; }
  $("#main").innerHTML = `<h1>${esc(a.name)} <span id="asset-status" class="badge status-${a.status}">${esc(a.status)}</span></h1>
    <p class="muted">${esc(path)} · ${esc(a.type)} ${a.description ? "· " + esc(a.description) : ""}</p>
    <section class="panel"><div class="kpis" id="kpis"></div><p id="reason" class="muted"></p></section>
    <section class="panel"><h2>Alarms</h2><div id="alarms-box" data-asset="${esc(path)}">${alarmRows(S.alarms.filter((x) => x.source === path))}</div></section>
    <section class="panel"><h2>Live signals</h2><div id="signals"></div></section>
    <section class="panel"><h2>Charts <select id="window">${["15m", "1h", "6h", "24h", "7d"].map((w) => `<option ${w === S.window ? "selected" : ""}>${w}</option>`).join("")}</select></h2><div class="charts" id="charts"></div></section>
    <section class="panel"><h2>Work orders</h2><div id="wos"></div>
      <form class="inline" id="wo-form"><input name="title" placeholder="New work order: what needs doing"><button class="primary">Open</button></form></section>
    <section class="panel"><h2>Inspections</h2><div class="gallery" id="gallery"><span class="muted">No inspection images.</span></div></section>
    <section class="panel"><h2>Event timeline</h2><ul class="timeline" id="timeline"></ul></section>
    <section class="panel"><h2>What-if</h2><form class="inline" id="whatif"><input name="profile" placeholder='load profile: [[duration_s, load_fraction], ...], e.g. [[3600, 0.8], [7200, 1.1]]'><button>Simulate</button></form><pre id="whatif-out" hidden></pre></section>`;
  updateAssetView(path);
  $("#window").addEventListener("change", (e) => { S.window = e.target.value; render(); });
  $("#wo-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    try { await write("POST", "/api/work-orders", { asset: path, title: e.target.title.value }); e.target.reset(); loadWorkOrders(path); }
    catch (err) { toast(err.message); }
  });
  $("#whatif").addEventListener("submit", async (e) => {
    e.preventDefault();
    let profile;
    try { profile = JSON.parse(e.target.profile.value || "[]"); } catch { return toast("load profile must be JSON: [[duration_s, load_fraction], ...]"); }
    try { const r = await write("POST", `/api/assets/${enc(path)}/what-if`, { load_profile: profile }); const o = $("#whatif-out"); o.hidden = false; o.textContent = JSON.stringify(r, null, 1); }
    catch (err) { toast(err.message, 8000); }
  });
  loadCharts(path); loadWorkOrders(path); loadTimeline(path);
}

function updateAssetView(path) {
  const a = S.assets[path];
  if (!a || !$("#kpis")) return;
  const badge = $("#asset-status"); badge.className = `badge status-${a.status}`; badge.textContent = a.status;
  $("#kpis").innerHTML = [["health", fmt(a.health)], ["RUL", fmt(a.rul, 0)], ["RUL interval", a.rul_lo == null ? "—" : `${fmt(a.rul_lo, 0)} – ${fmt(a.rul_hi, 0)}`],
    ["anomaly score", fmt(a.anomaly_score)], ["fault probability", fmt(a.fault_prob)], ["open work orders", a.open_work_orders],
    ["sources", Object.entries(a.sources).map(([n, s]) => `${n}: ${s.state}`).join(", ") || "—"]]
    .map(([l, v]) => `<div class="kpi"><div class="v">${v}</div><div class="l">${l}</div></div>`).join("");
  $("#reason").textContent = "health: " + a.health_reason;
  $("#signals").innerHTML = `<table><tr><th>signal</th><th>value</th><th>quality</th><th>time</th></tr>${Object.entries(a.signals)
    .map(([n, s]) => `<tr data-signal="${esc(n)}"><td>${esc(n)}</td><td class="num">${fmt(s.value, 3)}</td><td>${esc(s.quality)}</td><td>${when(s.ts_ns)}</td></tr>`).join("")}</table>`;
  appendLive(a);
}

async function downsample(sid, extra = "") {
  return api("GET", `/api/signals/${enc(sid)}/downsample?window=${S.window}&points=600${extra}`);
}

function chartBox(title) {
  const div = document.createElement("div"); div.className = "chart";
  div.innerHTML = `<h3>${esc(title)}</h3>`; $("#charts").appendChild(div); return div;
}

function addPlot(div, opts, data, live) {
  const plot = new uPlot({ width: Math.max(div.clientWidth, 300), height: 200, ...opts }, data, div);
  S.charts.push({ plot, data, ...live });
}

async function loadCharts(path) {
  const a = S.assets[path];
  const names = Object.keys(a.signals).filter((n) => !DERIVED.includes(n));
  for (const n of names) {
    const div = chartBox(n);
    try {
      const d = await downsample(`${path}/${n}`);
      const data = [d.t, d.avg, d.min, d.max];
      addPlot(div, { series: [{}, { label: "avg", stroke: "#2457c5" }, { label: "min", stroke: "#9db4e8" }, { label: "max", stroke: "#9db4e8" }],
        bands: [{ series: [3, 2], fill: "rgba(36,87,197,0.12)" }] }, data, { path, signals: [n, n, n] });
    } catch (e) { div.insertAdjacentHTML("beforeend", `<p class="muted">${esc(e.message)}</p>`); }
  }
  // anomaly score and health on two axes
  if ("anomaly_score" in a.signals || "health" in a.signals) {
    const div = chartBox("anomaly score and health");
    const [sc, h] = await Promise.all(["anomaly_score", "health"].map((n) => downsample(`${path}/${n}`).catch(() => null)));
    const base = sc || h;
    const t = base.t;
    const align = (d, key) => (d ? alignTo(t, d.t, d[key]) : t.map(() => null));
    addPlot(div, { scales: { h: { range: [0, 1] } }, axes: [{}, { label: "score" }, { scale: "h", side: 1, label: "health", grid: { show: false } }],
      series: [{}, { label: "anomaly score", stroke: "#d33c2c" }, { label: "health", stroke: "#2e9d4f", scale: "h" }] },
      [t, align(sc, "max"), align(h, "last")], { path, signals: ["anomaly_score", "health"] });
  }
  if ("rul" in a.signals) {
    const div = chartBox("RUL with interval");
    const r = await downsample(`${path}/rul`);
    const span = `&start=${r.start_ns}&end=${r.end_ns}`;
    const [lo, hi] = await Promise.all(["rul_lo", "rul_hi"].map((n) => downsample(`${path}/${n}`, span).catch(() => null)));
    addPlot(div, { series: [{}, { label: "RUL", stroke: "#6b3fc4", width: 2 }, { label: "lower", stroke: "#c9b7ef" }, { label: "upper", stroke: "#c9b7ef" }],
      bands: [{ series: [3, 2], fill: "rgba(107,63,196,0.15)" }] },
      [r.t, r.last, lo ? alignTo(r.t, lo.t, lo.last) : r.t.map(() => null), hi ? alignTo(r.t, hi.t, hi.last) : r.t.map(() => null)],
      { path, signals: ["rul", "rul_lo", "rul_hi"] });
  }
}

function alignTo(t, ts, vs) {
  const m = new Map(ts.map((x, i) => [x, vs[i]]));
  return t.map((x) => (m.has(x) ? m.get(x) : null));
}

function appendLive(a) {
  // live charts: append each new value to the charts of this asset (decimated by the SSE interval)
  for (const c of S.charts) {
    if (c.path !== a.path) continue;
    const sv = c.signals.map((n) => a.signals[n]);
    const first = sv.find((s) => s);
    if (!first) continue;
    const t = first.ts_ns / 1e9, ts = c.data[0];
    if (ts.length && t <= ts[ts.length - 1]) continue;
    ts.push(t);
    for (let i = 1; i < c.data.length; i++) c.data[i].push(sv[i - 1] ? sv[i - 1].value : null);
    c.plot.setData(c.data);
  }
}

async function loadWorkOrders(path) {
  const box = $("#wos"); if (!box) return;
  const wos = await api("GET", `/api/work-orders?asset=${encodeURIComponent(path)}`);
  box.innerHTML = wos.length ? `<table><tr><th>#</th><th>title</th><th>status</th><th>opened</th><th>closed / note</th><th></th></tr>${wos.map((w) => `<tr data-wo="${w.id}">
    <td>${w.id}</td><td>${esc(w.title)}${w.alarm_id ? `<br><span class="muted">from ${esc(w.alarm_id)}</span>` : ""}</td><td>${esc(w.status)}</td>
    <td>${when(w.opened_ns)}<br><span class="muted">${esc(w.opened_by)}</span></td><td>${w.closed_ns ? when(w.closed_ns) + " — " + esc(w.note) : ""}</td>
    <td>${w.status === "open" ? `<button class="close-wo" data-id="${w.id}">Close…</button>` : ""}</td></tr>`).join("")}</table>` : `<p class="muted">No work orders.</p>`;
}

async function loadTimeline(path) {
  const evs = await api("GET", `/api/assets/${enc(path)}/timeline?limit=100`);
  $("#timeline").innerHTML = evs.map(eventItem).join("") || `<li class="muted">No events yet.</li>`;
  evs.filter((e) => e.kind === "inspection").reverse().forEach(addInspection);
}

function eventItem(e) {
  const p = e.payload || {};
  const text = e.kind === "alarm" ? `${p.alarm_id}: ${p.transition} (${p.state})${p.user ? " by " + p.user : ""}`
    : e.kind === "maintenance" ? `work order #${p.id} ${p.action}: ${p.title}${p.note ? " — " + p.note : ""}`
    : p.message || p.label || p.fault || JSON.stringify(p).slice(0, 160);
  return `<li data-kind="${esc(e.kind)}"><b>${when(e.ts_ns)}</b> <span class="badge">${esc(e.kind)}</span> ${esc(text)}</li>`;
}

function addInspection(e) {
  const g = $("#gallery"); if (!g) return;
  const p = e.payload || {};
  const img = p.overlay || p.overlay_path || p.image || p.image_path;
  if (!img) return;
  g.querySelector(".muted")?.remove();
  g.insertAdjacentHTML("afterbegin", `<figure><img loading="lazy" src="/api/inspection-image?path=${encodeURIComponent(img)}" alt="inspection">
    <figcaption>${when(e.ts_ns)} · ${esc(p.verdict || p.label || "")} ${p.score != null ? "score " + fmt(p.score) : ""}</figcaption></figure>`);
}

// ---- edge modules ---------------------------------------------------------------------------
async function renderModules() {
  $("#main").innerHTML = `<h1>Edge modules</h1><div id="mods" class="muted">Loading…</div>`;
  const mods = await api("GET", "/api/modules");
  $("#mods").outerHTML = mods.length ? `<table><tr><th>name</th><th>task</th><th>version</th><th>signature</th><th>file</th></tr>${mods.map((m) => `<tr>
    <td><a href="#/module/${esc(m.file)}">${esc(m.name)}</a></td><td>${esc(m.task)}</td><td>${esc(m.version)}</td><td>${esc(m.signature || m.error)}</td><td>${esc(m.file)}</td></tr>`).join("")}</table>`
    : `<p class="muted">No edge modules (start the server with --modules-dir).</p>`;
}

async function renderModule(name) {
  $("#main").innerHTML = `<h1>${esc(name)}</h1><div id="mod">Loading…</div>`;
  try {
    const m = await api("GET", `/api/modules/${encodeURIComponent(name)}`);
    const man = m.manifest;
    $("#mod").innerHTML = `<p>${esc(m.description || "")}</p>
      <section class="panel"><div class="kpis">${[["task", m.task], ["version", m.version], ["signature", m.signature], ["model", man.model?.family], ["size", (m.size_bytes / 1024).toFixed(0) + " KiB"]]
        .map(([l, v]) => `<div class="kpi"><div class="v">${esc(v ?? "—")}</div><div class="l">${l}</div></div>`).join("")}</div></section>
      <section class="panel"><h2>Verification metrics</h2>${tableOf(man.verification)}</section>
      <section class="panel"><h2>Evidence (latency, accuracy under ambient conditions, parity)</h2>${tableOf(m.evidence)}</section>
      <section class="panel"><h2>Data</h2>${tableOf(man.data)}</section>
      <section class="panel"><h2>Deployment</h2>${tableOf(man.deployment)}</section>`;
  } catch (e) { $("#mod").textContent = e.message; }
}

function tableOf(x, depth = 0) {
  if (x === null || x === undefined || (typeof x === "object" && !Object.keys(x).length)) return `<span class="muted">—</span>`;
  if (typeof x !== "object") return esc(typeof x === "number" ? fmt(x, 4) : x);
  if (Array.isArray(x)) {
    if (x.every((r) => r && typeof r === "object" && !Array.isArray(r))) {
      const cols = [...new Set(x.flatMap(Object.keys))];
      return `<table><tr>${cols.map((c) => `<th>${esc(c)}</th>`).join("")}</tr>${x.map((r) => `<tr>${cols.map((c) => `<td>${tableOf(r[c], depth + 1)}</td>`).join("")}</tr>`).join("")}</table>`;
    }
    return x.length > 20 ? `<span class="muted">[${x.length} values]</span>` : x.map((v) => tableOf(v, depth + 1)).join(", ");
  }
  if (depth > 3) return `<pre>${esc(JSON.stringify(x, null, 1))}</pre>`;
  return `<table>${Object.entries(x).map(([k, v]) => `<tr><th>${esc(k)}</th><td>${tableOf(v, depth + 1)}</td></tr>`).join("")}</table>`;
}

// ---- live updates ---------------------------------------------------------------------------
function applySnapshot(s) {
  const first = !S.plant;
  S.plant = s.plant; S.tree = s.tree; S.assets = s.assets; S.alarms = s.alarms;
  $("#plant-name").textContent = s.plant; document.title = "edgetwin — " + s.plant;
  renderTree();
  if (first || S.route?.view !== "asset") return render();
  updateAssetView(S.route.path); // a reconnect: refresh values, keep the charts
  if (S.alarms.length) updateAlarm(S.alarms[0]);
}

function connect() {
  const es = new EventSource("/api/stream");
  S.live = es;
  const live = $("#live");
  es.onopen = () => { live.className = "live on"; };
  es.onerror = () => { live.className = "live off"; };
  es.addEventListener("snapshot", (e) => applySnapshot(JSON.parse(e.data)));
  es.addEventListener("tree", (e) => updateTree(JSON.parse(e.data).nodes));
  es.addEventListener("asset", (e) => {
    const c = JSON.parse(e.data);
    S.assets[c.path] = c.state;
    if (S.route?.view === "asset" && S.route.path === c.path) updateAssetView(c.path);
    else updateCard(c.path);
  });
  es.addEventListener("alarm", (e) => updateAlarm(JSON.parse(e.data)));
  es.addEventListener("event", (e) => {
    const ev = JSON.parse(e.data);
    if (S.route?.view !== "asset" || ev.asset !== S.route.path) return;
    $("#timeline .muted")?.remove();
    $("#timeline")?.insertAdjacentHTML("afterbegin", eventItem(ev));
    if (ev.kind === "inspection") addInspection(ev);
  });
  es.addEventListener("work_order", (e) => {
    const w = JSON.parse(e.data);
    if (S.route?.view === "asset" && w.asset === S.route.path) loadWorkOrders(w.asset);
  });
}

$("#token-btn").addEventListener("click", askToken);
whoami();
// first paint from one GET, then the stream keeps it live (the stream also starts with a snapshot)
api("GET", "/api/snapshot").then((s) => { if (!S.plant) applySnapshot(s); }).catch((e) => toast(e.message));
connect();
