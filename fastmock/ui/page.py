"""The dashboard's page: HTML, CSS and plain JS with inline SVG, no external resource.

A Python module rather than a data file, so the page ships wherever the package does;
fastmock.ui encodes it once, on the first request to the dashboard's routes."""
HTML = r'''<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>fastmock dashboard</title>
<link rel="icon" href="data:,">
<style>
:root { --fg: #1d2330; --muted: #6b7385; --line: #e3e6ec; --card: #fff; --bg: #f4f6f9;
        --blue: #2f6fde; --green: #1f9d55; --amber: #d98b00; --red: #d64040; --violet: #7a4fd6; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color: var(--fg); background: var(--bg); }
header { display: flex; align-items: center; gap: 12px; padding: 10px 20px;
         background: var(--card); border-bottom: 1px solid var(--line); }
header h1 { font-size: 17px; margin: 0; }
header .sub { color: var(--muted); font-size: 13px; }
#state { margin-left: auto; font-size: 13px; color: var(--muted); }
#state::before { content: ""; display: inline-block; width: 8px; height: 8px; margin-right: 6px;
                 border-radius: 50%; background: var(--amber); }
#state.live::before { background: var(--green); }
#state.down::before { background: var(--red); }
main { padding: 16px 20px; display: grid; gap: 16px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(140px, 1fr)); gap: 12px; }
.card, section { background: var(--card); border: 1px solid var(--line); border-radius: 8px; }
.card { padding: 10px 14px; }
.card .label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.card .value { font-size: 24px; font-weight: 600; font-variant-numeric: tabular-nums; }
.card .note { color: var(--muted); font-size: 12px; font-variant-numeric: tabular-nums; }
section { padding: 12px 14px; min-width: 0; }
section h2 { font-size: 14px; margin: 0 0 8px; display: flex; gap: 10px; align-items: baseline; }
section h2 .note { font-weight: 400; color: var(--muted); font-size: 12px; }
.row { display: grid; grid-template-columns: repeat(auto-fit, minmax(380px, 1fr)); gap: 16px; }
svg { display: block; width: 100%; }
svg text { font-size: 10px; fill: var(--muted); }
.legend { font-size: 12px; color: var(--muted); }
.legend i { display: inline-block; width: 10px; height: 3px; margin: 0 4px 3px 10px; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { text-align: right; padding: 4px 8px; border-bottom: 1px solid var(--line); }
th:first-child, td:first-child { text-align: left; }
th { color: var(--muted); font-weight: 500; font-size: 12px; }
td.route { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 13px; }
.s2 { color: var(--green); } .s3 { color: var(--blue); } .s4 { color: var(--amber); }
.s5 { color: var(--red); } .s1 { color: var(--muted); }
.hist .stats { font-size: 12px; color: var(--muted); font-variant-numeric: tabular-nums; }
.hist .stats b { color: var(--fg); font-weight: 600; }
.empty { color: var(--muted); font-size: 13px; padding: 12px 0; }
select { font: inherit; font-size: 12px; }
</style>
</head>
<body>
<header>
  <h1>fastmock</h1><span class="sub">live counters of <span id="where"></span></span>
  <label class="sub">histograms of <select id="route"><option value="">every route</option></select></label>
  <label class="sub">over <select id="window"><option value="0">since start</option>
    <option value="10">the last 10 s</option><option value="60">the last 60 s</option></select></label>
  <span id="state">connecting</span>
</header>
<main>
  <div class="cards">
    <div class="card"><div class="label">Requests / s</div><div class="value" id="v-rps">–</div>
      <div class="note"><span id="v-errors">–</span> errors / s</div></div>
    <div class="card"><div class="label">Tokens / s</div><div class="value" id="v-tps">–</div>
      <div class="note"><span id="v-tokens_sent">–</span> sent</div></div>
    <div class="card"><div class="label">Active streams</div><div class="value" id="v-active_streams">–</div>
      <div class="note"><span id="v-generating">–</span> generating</div></div>
    <div class="card"><div class="label">Waiting streams</div><div class="value" id="v-waiting_streams">–</div>
      <div class="note">for a slot (--max-num-seqs)</div></div>
    <div class="card"><div class="label">Open connections</div><div class="value" id="v-open_connections">–</div>
      <div class="note"><span id="v-connections">–</span> accepted</div></div>
    <div class="card"><div class="label">Sent / s</div><div class="value" id="v-bps">–</div>
      <div class="note"><span id="v-bytes_sent">–</span> in all</div></div>
  </div>
  <div class="row">
    <section><h2>Requests and tokens per second <span class="note">last 2 minutes</span></h2>
      <svg id="c-rates" viewBox="0 0 600 150" preserveAspectRatio="none"></svg>
      <div class="legend"><i style="background:var(--blue)"></i>requests/s<i style="background:var(--red)"></i>errors/s<i style="background:var(--violet)"></i>tokens/s (right scale)</div>
    </section>
    <section><h2>Streams <span class="note">last 2 minutes</span></h2>
      <svg id="c-streams" viewBox="0 0 600 150" preserveAspectRatio="none"></svg>
      <div class="legend"><i style="background:var(--green)"></i>active<i style="background:var(--amber)"></i>waiting<i style="background:var(--muted)"></i>open connections</div>
    </section>
  </div>
  <section><h2>Requests by route and status <span class="note">totals since start; rates over the last second</span></h2>
    <table><thead><tr><th>route</th><th>status</th><th>total</th><th>per second</th></tr></thead>
      <tbody id="requests"></tbody></table>
    <div class="empty" id="no-requests">no request answered yet</div>
  </section>
  <div class="row" id="histograms"></div>
</main>
<script>
"use strict";
const FEED = "stats";
const params = new URLSearchParams(location.search);
const EVERY = Math.max(100, Number(params.get("interval")) || 1000);   // ms between snapshots
const KEEP = 121;                     // snapshots kept for the charts (2 minutes at 1 s)
const TITLES = {ttft: "Time to first token", itl: "Inter-token latency",
                duration: "Request duration"};
const ORDER = ["ttft", "itl", "duration"];
const SVGNS = "http://www.w3.org/2000/svg";
let history = [];                     // [{time, doc}], oldest first
let series = [];                      // [{rps, errors, tps, active, waiting, open}]

const $ = id => document.getElementById(id);
const int = n => Math.round(n).toLocaleString("en-US");
function rate(n) { return n >= 100 ? int(n) : n >= 10 ? n.toFixed(1) : n.toFixed(2); }
function bytes(n) {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
  return (i ? n.toFixed(1) : Math.round(n)) + " " + units[i];
}
function seconds(s) {
  if (s >= 1) return (s >= 10 ? s.toFixed(0) : s.toFixed(2).replace(/\.?0+$/, "")) + " s";
  const ms = s * 1000;
  return (ms >= 10 ? ms.toFixed(0) : ms.toFixed(2).replace(/\.?0+$/, "")) + " ms";
}
function put(id, text, value) {
  const node = $(id);
  node.textContent = text;
  if (value !== undefined) node.dataset.value = value;
}
function el(tag, attrs, text) {
  const node = tag.startsWith("svg:") ? document.createElementNS(SVGNS, tag.slice(4))
                                      : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

// -- rates from two snapshots ---------------------------------------------------------
function total(requests, pick) {
  let n = 0;
  for (const [route, byStatus] of Object.entries(requests))
    for (const [status, count] of Object.entries(byStatus)) if (pick(route, +status)) n += count;
  return n;
}
function rates(doc, prev) {
  const dt = prev ? doc.time - prev.time : 0;
  const per = (a, b) => dt > 0 ? Math.max(0, a - b) / dt : 0;
  const all = () => true, bad = (r, s) => s >= 400;
  return {
    rps: prev ? per(total(doc.requests, all), total(prev.requests, all)) : 0,
    errors: prev ? per(total(doc.requests, bad), total(prev.requests, bad)) : 0,
    tps: prev ? per(doc.counters.tokens_sent, prev.counters.tokens_sent) : 0,
    bps: prev ? per(doc.counters.bytes_sent, prev.counters.bytes_sent) : 0,
    route: (route, status) => prev ? per(((doc.requests[route] || {})[status]) || 0,
                                         ((prev.requests[route] || {})[status]) || 0) : 0,
  };
}

// -- the cards and the table ----------------------------------------------------------
function cards(doc, r) {
  const c = doc.counters;
  put("v-rps", rate(r.rps), r.rps); put("v-errors", rate(r.errors), r.errors);
  put("v-tps", rate(r.tps), r.tps); put("v-tokens_sent", int(c.tokens_sent), c.tokens_sent);
  put("v-bps", bytes(r.bps) , r.bps); put("v-bytes_sent", bytes(c.bytes_sent), c.bytes_sent);
  for (const name of ["active_streams", "waiting_streams", "open_connections", "connections"])
    put("v-" + name, int(c[name] || 0), c[name] || 0);
  const generating = (c.active_streams || 0) - (c.waiting_streams || 0);
  put("v-generating", int(generating), generating);
}
function table(doc, r) {
  const body = $("requests");
  const rows = [];
  for (const [route, byStatus] of Object.entries(doc.requests))
    for (const [status, count] of Object.entries(byStatus)) rows.push([route, status, count]);
  rows.sort((a, b) => a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] - b[1]);
  body.replaceChildren(...rows.map(([route, status, count]) => {
    const per = r.route(route, status);
    const tr = el("tr", {"data-route": route, "data-status": status});
    tr.append(el("td", {class: "route"}, route),
              el("td", {class: "status s" + status[0]}, status),
              el("td", {class: "total", "data-value": count}, int(count)),
              el("td", {class: "rate", "data-value": per}, rate(per)));
    return tr;
  }));
  $("no-requests").hidden = rows.length > 0;
}

// -- line charts ----------------------------------------------------------------------
function chart(svg, lines) {
  const W = 600, H = 150, top = 8, bottom = 18, left = 4;
  svg.replaceChildren();
  for (let i = 0; i <= 4; i++) {
    const y = top + (H - top - bottom) * i / 4;
    svg.append(el("svg:line", {x1: 0, x2: W, y1: y, y2: y, stroke: "#eef0f4"}));
  }
  const scales = {};
  for (const line of lines) {
    const max = Math.max(1e-9, ...line.values);
    scales[line.scale] = Math.max(scales[line.scale] || 0, max);
  }
  for (const line of lines) {
    const max = scales[line.scale], n = line.values.length;
    if (n < 2) continue;
    const points = line.values.map((v, i) => {
      const x = left + (W - left) * (KEEP - n + i) / (KEEP - 1);
      const y = top + (H - top - bottom) * (1 - v / max);
      return x.toFixed(1) + "," + y.toFixed(1);
    }).join(" ");
    svg.append(el("svg:polyline", {points, fill: "none", stroke: line.color,
                                   "stroke-width": 1.6, "vector-effect": "non-scaling-stroke"}));
  }
  let x = 6;
  for (const [name, max] of Object.entries(scales)) {
    const text = el("svg:text", {x: name === "right" ? W - 4 : x, y: top + 9,
                                 "text-anchor": name === "right" ? "end" : "start"},
                    "max " + rate(max));
    svg.append(text);
  }
  svg.append(el("svg:text", {x: 4, y: H - 4}, "-2 min"), el("svg:text", {x: W - 4, y: H - 4, "text-anchor": "end"}, "now"));
}
function charts() {
  const pick = key => series.map(s => s[key]);
  chart($("c-rates"), [
    {values: pick("rps"), color: "var(--blue)", scale: "left"},
    {values: pick("errors"), color: "var(--red)", scale: "left"},
    {values: pick("tps"), color: "var(--violet)", scale: "right"}]);
  chart($("c-streams"), [
    {values: pick("active"), color: "var(--green)", scale: "left"},
    {values: pick("waiting"), color: "var(--amber)", scale: "left"},
    {values: pick("open"), color: "var(--muted)", scale: "left"}]);
}

// -- histograms -----------------------------------------------------------------------
function summed(histogram, route) {
  const n = histogram.bounds.length + 1;
  const out = {buckets: new Array(n).fill(0), sum: 0, count: 0};
  for (const [name, h] of Object.entries(histogram.routes)) {
    if (route && name !== route) continue;
    h.buckets.forEach((v, i) => { out.buckets[i] += v; });
    out.sum += h.sum; out.count += h.count;
  }
  return out;
}
function minus(a, b) {
  return {buckets: a.buckets.map((v, i) => v - (b.buckets[i] || 0)), sum: a.sum - b.sum,
          count: a.count - b.count};
}
function quantile(q, h, bounds) {       // as Prometheus' histogram_quantile
  if (!h.count) return null;
  const rank = q * h.count;
  let seen = 0;
  for (let i = 0; i < h.buckets.length; i++) {
    if (seen + h.buckets[i] >= rank && h.buckets[i] > 0) {
      if (i === bounds.length) return bounds[bounds.length - 1];
      const lo = i ? bounds[i - 1] : 0;
      return lo + (bounds[i] - lo) * (rank - seen) / h.buckets[i];
    }
    seen += h.buckets[i];
  }
  return bounds[bounds.length - 1];
}
function histogramView(name, histogram, route, windowSeconds, doc) {
  let h = summed(histogram, route);
  if (windowSeconds > 0) {
    const old = history.find(s => s.doc.time >= doc.time - windowSeconds - 0.001);
    const before = old && old.doc.histograms[name];
    if (before && old.doc !== doc) h = minus(h, summed(before, route));
  }
  const bounds = histogram.bounds;
  const box = el("section", {class: "hist", "data-histogram": name, "data-count": h.count,
                             "data-sum": h.sum.toFixed(6)});
  const title = el("h2", {}, TITLES[name] || name);
  title.append(el("span", {class: "note"}, name + " · " + (route || "every route")));
  box.append(title);
  const W = 420, H = 160, top = 14, bottom = 30;
  const svg = el("svg:svg", {viewBox: `0 0 ${W} ${H}`});
  const max = Math.max(1, ...h.buckets);
  const bar = W / h.buckets.length;
  h.buckets.forEach((count, i) => {
    const height = (H - top - bottom) * count / max;
    const le = i < bounds.length ? String(bounds[i]) : "+Inf";
    const rect = el("svg:rect", {x: (i * bar + 2).toFixed(1), width: (bar - 4).toFixed(1),
                                 y: (H - bottom - height).toFixed(1), height: height.toFixed(1),
                                 rx: 2, fill: count ? "var(--blue)" : "#e3e6ec",
                                 "data-le": le, "data-count": count});
    rect.append(el("svg:title", {}, `≤ ${le === "+Inf" ? "+Inf" : seconds(bounds[i])}: ${count}`));
    svg.append(rect);
    if (count) svg.append(el("svg:text", {x: (i * bar + bar / 2).toFixed(1),
                                          y: (H - bottom - height - 3).toFixed(1),
                                          "text-anchor": "middle"}, int(count)));
    const label = i < bounds.length ? seconds(bounds[i]).replace(" ", "") : "+Inf";
    svg.append(el("svg:text", {x: (i * bar + bar / 2).toFixed(1), y: H - bottom + 12 + (i % 2) * 11,
                               "text-anchor": "middle"}, "≤" + label));
  });
  box.append(svg);
  const stats = el("div", {class: "stats"});
  const fact = (label, value) => {
    const span = el("span", {"data-stat": label});
    span.append(label + " ", el("b", {}, value), "   ");
    stats.append(span);
  };
  fact("count", int(h.count));
  if (h.count) {
    fact("mean", seconds(h.sum / h.count));
    for (const q of [0.5, 0.9, 0.99]) fact("p" + Math.round(q * 100), seconds(quantile(q, h, bounds)));
  }
  box.append(stats);
  return box;
}
function histograms(doc) {
  const route = $("route").value, windowSeconds = +$("window").value;
  const names = Object.keys(doc.histograms).sort((a, b) => {
    const ia = ORDER.indexOf(a), ib = ORDER.indexOf(b);
    return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib) || (a < b ? -1 : 1);
  });
  const boxes = names.map(name => histogramView(name, doc.histograms[name], route, windowSeconds, doc));
  if (!doc.histograms.itl) {
    const box = el("section", {class: "hist", "data-histogram": "itl", "data-missing": ""});
    box.append(el("h2", {}, TITLES.itl),
               el("div", {class: "empty"}, "this server's counters have no inter-token latency histogram"));
    boxes.splice(Math.min(1, boxes.length), 0, box);
  }
  $("histograms").replaceChildren(...boxes);
  const select = $("route"), have = new Set([...select.options].map(o => o.value));
  for (const h of Object.values(doc.histograms))
    for (const name of Object.keys(h.routes))
      if (!have.has(name)) { select.append(el("option", {value: name}, name)); have.add(name); }
}

// -- the loop -------------------------------------------------------------------------
function show(doc) {
  doc.time = doc.time_ms / 1000;
  // rates over the last second at least: from the newest snapshot a second old or older
  let prev = null;
  for (const s of history) if (s.time <= doc.time - 0.999 || !prev) prev = s.doc;
  history.push({time: doc.time, doc});
  while (history.length > KEEP) history.shift();
  const r = rates(doc, prev);
  if (prev) {
    series.push({rps: r.rps, errors: r.errors, tps: r.tps, active: doc.counters.active_streams,
                 waiting: doc.counters.waiting_streams, open: doc.counters.open_connections});
    while (series.length > KEEP) series.shift();
  }
  cards(doc, r);
  table(doc, r);
  charts();
  histograms(doc);
  document.body.dataset.snapshots = history.length;
}
async function poll() {
  try {
    const response = await fetch(FEED, {cache: "no-store"});
    if (!response.ok) throw new Error("HTTP " + response.status);
    show(await response.json());
    $("state").className = "live";
    $("state").textContent = "live · every " + (EVERY / 1000) + " s";
  } catch (error) {
    $("state").className = "down";
    $("state").textContent = "no answer: " + error.message;
  }
  setTimeout(poll, EVERY);
}
$("where").textContent = location.host;
for (const id of ["route", "window"])
  $(id).addEventListener("change", () => { if (history.length) histograms(history[history.length - 1].doc); });
poll();
</script>
</body>
</html>
'''
