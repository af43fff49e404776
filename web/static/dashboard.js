// The dashboard: the vital signs of the officer's jurisdiction (cards, categories, areas, trend,
// open events on a map), drawn with our own SVG. The server scopes every figure to the officer.

const API = "/api/v1";
const HOUR = 3600e3;
const DAY = 24 * HOUR;
const TZ = 8 * HOUR; // Beijing time, UTC+8, no daylight saving
const OPEN = ["received", "triaged", "dispatched", "accepted", "returned", "in_progress", "extension_requested"];
const COLOR = { accent: "#b71c1c", green: "#2e7d32", amber: "#f9a825", red: "#c62828", grey: "#78909c", line: "#e3e8ee", muted: "#616e7c" };
const EMPTY = "暂无数据";

// -- formatting ----------------------------------------------------------------------------

const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const nf = new Intl.NumberFormat("zh-CN");
const count = (n) => (n == null ? "—" : nf.format(n));

// x with d decimals, exact ties to even like Python's format (so the page matches the API's tools)
function fixed(x, d) {
  const m = x * 10 ** d;
  if (Number.isInteger(m * 2) && !Number.isInteger(m)) {
    const f = Math.floor(m);
    return ((f % 2 === 0 ? f : f + 1) / 10 ** d).toFixed(d);
  }
  return x.toFixed(d);
}
const pct = (v) => (v == null ? "—" : `${fixed(v * 100, 1)}%`);
const hours = (v) => (v == null ? "—" : fixed(v, 1));
const score = (v) => (v == null ? "—" : fixed(v, 2));

// rough width of a label in px: CJK characters are a full em, others about 0.6 em
const textWidth = (s, size) => [...String(s)].reduce((w, ch) => w + (ch.charCodeAt(0) > 255 ? size : size * 0.6), 0);
function fit(s, maxW, size) {
  let out = String(s ?? "");
  if (textWidth(out, size) <= maxW) return out;
  while (out && textWidth(out + "…", size) > maxW) out = out.slice(0, -1);
  return out + "…";
}

// -- Beijing time --------------------------------------------------------------------------

const bj = (t) => new Date(t.getTime() + TZ); // read with getUTC* to get Beijing fields
function bjMidnight(now, daysBack = 0) {
  const b = bj(now);
  return new Date(Date.UTC(b.getUTCFullYear(), b.getUTCMonth(), b.getUTCDate() - daysBack) - TZ);
}
const bjMonday = (now) => bjMidnight(now, (bj(now).getUTCDay() + 6) % 7);
const bjDay = (t) => bj(t).toISOString().slice(0, 10);
const bjClock = (t) => bj(t).toISOString().slice(11, 16);

// -- page ----------------------------------------------------------------------------------

const CARDS = [
  ["today", "今日上报", "件", "北京时间 0 时起"],
  ["week", "本周上报", "件", "自周一 0 时起"],
  ["on_time_rate", "按时办结率", "", "近 30 天"],
  ["median_hours", "办结用时中位数", "小时", "近 30 天"],
  ["return_rate", "退单率", "", "近 30 天"],
  ["satisfaction", "满意度", "/ 5", "近 30 天"],
];

function skeleton(areaName, now) {
  const cards = CARDS.map(
    ([key, label, unit, sub]) => `<div class="dash-card">
      <div class="dash-label">${label}</div>
      <div class="dash-figure"><span class="dash-num" data-kpi="${key}">…</span>${unit ? `<span class="dash-unit">${unit}</span>` : ""}</div>
      <div class="dash-sub" data-sub="${key}">${sub}</div></div>`,
  ).join("");
  const panel = (id, title, cls = "") => `<section class="dash-panel ${cls}">
      <h3 class="dash-title">${title}<span class="dash-note" data-note="${id}"></span></h3>
      <div class="dash-body" data-panel="${id}"><p class="dash-empty">加载中…</p></div></section>`;
  return `<p class="dash-meta">统计截至 ${bjDay(now)} ${bjClock(now)}（北京时间），除注明外为近 30 天</p>
    <div class="dash-error" hidden></div>
    <div class="dash-cards">${cards}</div>
    <div class="dash-grid">
      ${panel("categories", "事件大类 前 8 位")}
      ${panel("areas", `各${areaName}对比`)}
      ${panel("trend", "每日上报趋势", "dash-wide")}
      ${panel("map", "未办结事件分布", "dash-wide")}
    </div>`;
}

export async function renderDashboard(root, api, me) {
  const now = new Date();
  const until = now.toISOString();
  const since30 = new Date(now.getTime() - 30 * DAY).toISOString();
  const byDistrict = me.role === "city_officer" || me.role === "admin";
  root.classList.add("dash");
  root.dataset.state = "loading";
  root.innerHTML = skeleton(byDistrict ? "区县" : "街道", now);
  const $ = (sel) => root.querySelector(sel);
  const errors = new Set();
  const fail = (e) => {
    errors.add(e && e.message ? e.message : String(e));
    const box = $(".dash-error");
    box.textContent = [...errors].join("；");
    box.hidden = false;
  };
  const stats = (since, group_by = "none") => api.get(`${API}/stats`, { since, until, group_by });
  const charts = watchWidth(root);

  // each section loads on its own: one failure leaves the others standing
  const month = stats(since30, "category");
  const tree = api.get(`${API}/jurisdictions`);
  const taxonomy = api.get(`${API}/taxonomy`).catch(() => []);
  const jobs = [
    stats(bjMidnight(now).toISOString()).then((r) => setKpi($, "today", r.total.count), (e) => (setKpi($, "today", null), fail(e))),
    stats(bjMonday(now).toISOString()).then((r) => setKpi($, "week", r.total.count), (e) => (setKpi($, "week", null), fail(e))),
    month.then(
      (r) => {
        const t = r.total;
        setKpi($, "on_time_rate", t.on_time_rate);
        setKpi($, "median_hours", t.median_hours_to_close);
        setKpi($, "return_rate", t.return_rate);
        setKpi($, "satisfaction", t.satisfaction);
        $('[data-sub="median_hours"]').textContent = t.p90_hours_to_close == null ? "近 30 天" : `90 分位 ${hours(t.p90_hours_to_close)} 小时`;
        $('[data-sub="satisfaction"]').textContent = `${count(t.satisfaction_count)} 次回访评价`;
        $('[data-note="categories"]').textContent = `共 ${count(t.count)} 件`;
        charts.add($('[data-panel="categories"]'), (w) => barsSvg(r.groups.slice(0, 8), w));
      },
      (e) => {
        for (const k of ["on_time_rate", "median_hours", "return_rate", "satisfaction"]) setKpi($, k, null);
        failed($('[data-panel="categories"]'), e, fail);
      },
    ),
    stats(since30, byDistrict ? "district" : "street").then(
      (r) => areasTable($('[data-panel="areas"]'), r.groups),
      (e) => failed($('[data-panel="areas"]'), e, fail),
    ),
    stats(since30, "day").then(
      (r) => {
        const days = dailySeries(r.groups, new Date(since30), now);
        const total = days.reduce((s, d) => s + d.n, 0);
        $('[data-note="trend"]').textContent = `共 ${count(total)} 件 · 日均 ${fixed(total / days.length, 1)} 件`;
        charts.add($('[data-panel="trend"]'), (w) => trendSvg(days, w));
      },
      (e) => failed($('[data-panel="trend"]'), e, fail),
    ),
    Promise.all([api.get(`${API}/events`, { status: OPEN, limit: 500 }), tree, taxonomy]).then(
      ([page, t, tax]) => {
        const names = {};
        for (const c of tax) for (const s of c.subtypes) names[s.code] = s.name;
        const map = mapModel(page, places(t, me.jurisdiction), names, now);
        $('[data-note="map"]').textContent = mapNote(page, map);
        charts.add($('[data-panel="map"]'), (w) => mapSvg(map, w));
      },
      (e) => failed($('[data-panel="map"]'), e, fail),
    ),
  ];
  await Promise.all(jobs);
  root.dataset.state = errors.size ? "error" : "ready";
}

function setKpi($, key, value) {
  const el = $(`[data-kpi="${key}"]`);
  const format = { today: count, week: count, on_time_rate: pct, median_hours: hours, return_rate: pct, satisfaction: score }[key];
  el.textContent = format(value);
  el.dataset.value = value == null ? "" : String(value);
}

function failed(panel, e, fail) {
  panel.innerHTML = `<p class="dash-empty dash-failed">${esc(e && e.message ? e.message : e)}</p>`;
  fail(e);
}

// Charts are drawn for the width they get (so text keeps its size) and redrawn when it changes.
function watchWidth(root) {
  const drawn = new Map();
  const draw = (el) => {
    const w = Math.max(280, Math.round(el.clientWidth || 600));
    if (drawn.get(el).w === w) return;
    drawn.get(el).w = w;
    el.innerHTML = drawn.get(el).fn(w);
  };
  const ro = new ResizeObserver((entries) => {
    if (!root.isConnected) return ro.disconnect();
    for (const e of entries) if (drawn.has(e.target)) draw(e.target);
  });
  return {
    add(el, fn) {
      drawn.set(el, { fn, w: 0 });
      draw(el);
      ro.observe(el);
    },
  };
}

const svgOpen = (w, h, label) =>
  `<svg class="dash-svg" viewBox="0 0 ${w} ${h}" width="100%" preserveAspectRatio="xMidYMid meet" role="img" aria-label="${esc(label)}">`;
const empty = () => `<p class="dash-empty">${EMPTY}</p>`;

// -- top categories: horizontal bars -------------------------------------------------------

function barsSvg(groups, w) {
  if (!groups.length) return empty();
  const size = 13, rowH = 30, top = 4;
  const labelW = Math.min(Math.max(...groups.map((g) => textWidth(g.name, size))) + 10, w * 0.38);
  const valueW = Math.max(...groups.map((g) => textWidth(count(g.metrics.count), size))) + 12;
  const barW = w - labelW - valueW;
  const max = Math.max(1, ...groups.map((g) => g.metrics.count));
  const rows = groups.map((g, i) => {
    const y = top + i * rowH, n = g.metrics.count, bw = Math.max(2, (n / max) * barW);
    return `<g><title>${esc(g.name)}：${count(n)} 件，按时办结率 ${pct(g.metrics.on_time_rate)}</title>
      <text x="${labelW - 8}" y="${y + rowH / 2}" text-anchor="end" dominant-baseline="central" class="dash-t">${esc(fit(g.name, labelW - 10, size))}</text>
      <rect x="${labelW}" y="${y + 6}" width="${bw.toFixed(1)}" height="${rowH - 12}" rx="3" fill="${i ? COLOR.accent : COLOR.red}" fill-opacity="${1 - i * 0.08}"/>
      <text x="${(labelW + bw + 6).toFixed(1)}" y="${y + rowH / 2}" dominant-baseline="central" class="dash-t dash-v">${count(n)}</text></g>`;
  });
  return `${svgOpen(w, top * 2 + groups.length * rowH, "事件大类排行")}${rows.join("")}</svg>`;
}

// -- districts or streets: a table with a count bar ----------------------------------------

function areasTable(panel, groups) {
  if (!groups.length) return (panel.innerHTML = empty());
  const max = Math.max(1, ...groups.map((g) => g.metrics.count));
  const tone = (v, good, fair) => (v == null ? "" : v >= good ? "dash-good" : v >= fair ? "dash-fair" : "dash-bad");
  const rows = groups.map(({ name, metrics: m }) => `<tr>
      <th scope="row" title="${esc(name)}">${esc(name)}</th>
      <td><span class="dash-cell-bar"><i style="width:${((m.count / max) * 100).toFixed(1)}%"></i></span>${count(m.count)}</td>
      <td class="${tone(m.on_time_rate, 0.9, 0.75)}">${pct(m.on_time_rate)}</td>
      <td class="${m.return_rate == null ? "" : m.return_rate <= 0.05 ? "dash-good" : m.return_rate <= 0.15 ? "dash-fair" : "dash-bad"}">${pct(m.return_rate)}</td>
      <td class="${tone(m.satisfaction, 4.5, 3.5)}">${score(m.satisfaction)}</td></tr>`);
  panel.innerHTML = `<div class="dash-table-wrap"><table class="dash-table">
    <thead><tr><th scope="col">名称</th><th scope="col">事件数</th><th scope="col">按时办结</th><th scope="col">退单率</th><th scope="col">满意度</th></tr></thead>
    <tbody>${rows.join("")}</tbody></table></div>`;
}

// -- daily trend: area chart ---------------------------------------------------------------

function dailySeries(groups, since, now) {
  const byDay = Object.fromEntries(groups.map((g) => [g.key, g.metrics.count]));
  const days = [];
  for (let t = new Date(bjMidnight(since).getTime() + 12 * HOUR); bjDay(t) <= bjDay(now); t = new Date(t.getTime() + DAY)) {
    days.push({ day: bjDay(t), n: byDay[bjDay(t)] || 0 });
  }
  return days;
}

function niceStep(max, ticks) {
  const raw = Math.max(1, max) / ticks, p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw);
  return Math.max(1, step);
}

function trendSvg(days, w) {
  if (!days.some((d) => d.n)) return empty();
  const h = w < 500 ? 200 : 240, size = 12;
  const step = niceStep(Math.max(...days.map((d) => d.n)), 4);
  const yMax = step * Math.ceil(Math.max(...days.map((d) => d.n)) / step);
  const left = textWidth(count(yMax), size) + 12, right = 12, top = 22, bottom = 26;
  const pw = w - left - right, ph = h - top - bottom;
  const x = (i) => left + (days.length > 1 ? (i / (days.length - 1)) * pw : pw / 2);
  const y = (n) => top + ph - (n / yMax) * ph;
  const grid = [];
  for (let v = 0; v <= yMax; v += step) {
    grid.push(`<line x1="${left}" x2="${w - right}" y1="${y(v)}" y2="${y(v)}" class="dash-grid-line"/>
      <text x="${left - 6}" y="${y(v)}" text-anchor="end" dominant-baseline="central" class="dash-t dash-axis">${count(v)}</text>`);
  }
  const every = Math.max(1, Math.ceil((days.length * 50) / pw));
  const labels = days.map((d, i) => ((days.length - 1 - i) % every ? "" :
    `<text x="${x(i)}" y="${h - 8}" text-anchor="${i === 0 ? "start" : i === days.length - 1 ? "end" : "middle"}" class="dash-t dash-axis">${Number(d.day.slice(5, 7))}/${Number(d.day.slice(8))}</text>`));
  const pts = days.map((d, i) => `${x(i).toFixed(1)},${y(d.n).toFixed(1)}`);
  const dots = days.map((d, i) => `<circle cx="${x(i).toFixed(1)}" cy="${y(d.n).toFixed(1)}" r="${pw / days.length > 14 ? 3 : 2}" class="dash-dot">
      <title>${Number(d.day.slice(5, 7))}月${Number(d.day.slice(8))}日：${count(d.n)} 件</title></circle>`);
  return `${svgOpen(w, h, "每日上报事件数")}${grid.join("")}
    <path d="M${x(0)},${y(0)} L${pts.join(" L")} L${x(days.length - 1)},${y(0)} Z" class="dash-area"/>
    <polyline points="${pts.join(" ")}" class="dash-line"/>${dots.join("")}${labels.join("")}
    <text x="${left - 6}" y="8" text-anchor="end" class="dash-t dash-axis">件</text></svg>`;
}

// -- open events on a map ------------------------------------------------------------------

// the places to label: the districts of a city, the streets of a district, the street itself
function places(tree, code) {
  if (!tree || tree.code === code) return tree ? tree.districts : [];
  for (const d of tree.districts) {
    if (d.code === code) return d.streets;
    const s = d.streets.find((x) => x.code === code);
    if (s) return [s];
  }
  return tree.districts;
}

function mapModel(page, placeList, names, now) {
  const kind = (e) => (e.due_at && new Date(e.due_at) < now ? "overdue" : e.urgency === "normal" ? "normal" : "urgent");
  const points = page.items.filter((e) => e.lat != null && e.lon != null)
    .map((e) => ({ ...e, kind: kind(e), label: `E${e.id} ${names[e.subtype] || e.subtype || "未分类"} ${e.status_zh}` }));
  const order = { normal: 0, urgent: 1, overdue: 2 };
  points.sort((a, b) => order[a.kind] - order[b.kind]);
  const tally = {};
  for (const e of page.items) for (const k of [e.district, e.street]) if (k) tally[k] = (tally[k] || 0) + 1;
  const marks = placeList.filter((p) => p.lat != null && p.lon != null).map((p) => ({ ...p, n: tally[p.code] || 0 }));
  return { points, marks, shown: page.items.length, total: page.total };
}

function mapNote(page, map) {
  const parts = [`共 ${count(page.total)} 件`];
  if (page.total > page.items.length) parts.push(`显示最新 ${count(page.items.length)} 件`);
  const missing = page.items.length - map.points.length;
  if (missing) parts.push(`${count(missing)} 件无坐标`);
  return parts.join(" · ");
}

const KINDS = [["overdue", "已超时", COLOR.red], ["urgent", "紧急/特急", COLOR.amber], ["normal", "一般", COLOR.grey]];

function mapSvg({ points, marks }, w) {
  if (!points.length) return empty();
  const pad = 28, legendH = 28, size = 12;
  const all = [...points, ...marks];
  const lats = all.map((p) => p.lat), lons = all.map((p) => p.lon);
  const lat0 = (Math.min(...lats) + Math.max(...lats)) / 2, kx = Math.cos((lat0 * Math.PI) / 180);
  const spanX = Math.max((Math.max(...lons) - Math.min(...lons)) * kx, 0.01);
  const spanY = Math.max(Math.max(...lats) - Math.min(...lats), 0.01);
  // as tall as the points' shape asks, within reason for the screen
  const h = Math.round(Math.min(480, w * 1.1, Math.max(240, legendH + 2 * pad + ((w - 2 * pad) * spanY) / spanX)));
  const s = Math.min((w - 2 * pad) / spanX, (h - legendH - 2 * pad) / spanY);
  const cx = (Math.min(...lons) + Math.max(...lons)) / 2;
  const px = (p) => (w / 2 + (p.lon - cx) * kx * s).toFixed(1);
  const py = (p) => (legendH + (h - legendH) / 2 - (p.lat - lat0) * s).toFixed(1);
  // label the busiest places first; skip a label that would overlap one already placed
  const boxes = [], spots = [], labels = [];
  for (const m of [...marks].sort((a, b) => b.n - a.n)) {
    const x = +px(m), y = +py(m), tw = textWidth(m.name, size);
    const box = [Math.min(Math.max(x - tw / 2, 2), w - tw - 2), y - 16, tw, 14];
    const free = !boxes.some((b) => box[0] < b[0] + b[2] + 4 && b[0] < box[0] + box[2] + 4 && box[1] < b[1] + b[3] && b[1] < box[1] + box[3]);
    spots.push(`<circle cx="${x}" cy="${y}" r="3.5" class="dash-place"><title>${esc(m.name)}：未办结 ${count(m.n)} 件</title></circle>`);
    if (!free) continue;
    boxes.push(box);
    labels.push(`<text x="${(box[0] + tw / 2).toFixed(1)}" y="${y - 7}" text-anchor="middle" class="dash-t dash-place-name">${esc(m.name)}</text>`);
  }
  const color = Object.fromEntries(KINDS.map(([k, , c]) => [k, c]));
  const dots = points.map((p) => `<a href="#/event/${p.id}" class="dash-pt"><circle cx="${px(p)}" cy="${py(p)}" r="${p.kind === "overdue" ? 5 : 4}" fill="${color[p.kind]}" data-event-id="${p.id}" data-kind="${p.kind}"><title>${esc(p.label)}</title></circle></a>`);
  let lx = 4;
  const legend = KINDS.map(([k, name, c]) => {
    const text = `${name} ${count(points.filter((p) => p.kind === k).length)}`;
    const g = `<circle cx="${lx + 5}" cy="12" r="5" fill="${c}"/><text x="${lx + 14}" y="12" dominant-baseline="central" class="dash-t dash-axis">${text}</text>`;
    lx += 24 + textWidth(text, size);
    return g;
  });
  return `${svgOpen(w, h, "未办结事件分布图")}<rect x="0" y="${legendH}" width="${w}" height="${h - legendH}" rx="8" class="dash-map-bg"/>
    ${legend.join("")}${spots.join("")}${dots.join("")}${labels.join("")}</svg>`;
}
