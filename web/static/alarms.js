// 感知告警: open alarms with a small chart of their readings (inline SVG), the rule that fired
// and the event they belong to; below, the devices that are offline or whose data is stuck.
import { live } from "./live.js";
import { api, clear, h, when, URGENCY } from "./ui.js";
import { traceBlock } from "./trace.js";

const SVG = "http://www.w3.org/2000/svg";
const CHARTED = 12; // alarms whose readings are fetched and drawn at once

function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  for (const c of children) el.append(c);
  return el;
}

function fmt(x) {
  return Math.abs(x) >= 100 ? x.toFixed(0) : String(Math.round(x * 100) / 100);
}

// The first charted metric of the alarm over time, its threshold (red, dashed) and its clear
// value (grey, dashed); a detection alarm shows each detection's confidence.
export function chart(detail) {
  const W = 320, H = 96, L = 36, R = 6, T = 8, B = 18;
  const metric = detail.metrics.find((m) => detail.series.some((p) => m.code in p.metrics));
  const points = detail.series
    .map((p) => ({ t: Date.parse(p.observed_at), v: metric ? p.metrics[metric.code] : p.confidence }))
    .filter((p) => typeof p.v === "number");
  const box = svg("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, class: "spark", role: "img" });
  const label = metric ? `${metric.name}（${metric.unit || "—"}）` : "识别置信度";
  box.append(svg("title", {}, `${detail.device_name} · ${label}`));
  if (!points.length) {
    box.append(svg("text", { x: L, y: H / 2, class: "spark-none" }, "暂无读数"));
    return box;
  }
  const lines = [metric?.threshold, metric?.clear].filter((x) => typeof x === "number");
  const values = [...points.map((p) => p.v), ...lines];
  let lo = Math.min(...values), hi = Math.max(...values);
  if (hi === lo) { hi += 1; lo -= 1; }
  const t0 = points[0].t, t1 = points[points.length - 1].t === t0 ? t0 + 1 : points[points.length - 1].t;
  const x = (t) => L + ((t - t0) / (t1 - t0)) * (W - L - R);
  const y = (v) => T + (1 - (v - lo) / (hi - lo)) * (H - T - B);
  box.append(svg("line", { x1: L, y1: H - B, x2: W - R, y2: H - B, class: "spark-axis" }));
  box.append(svg("text", { x: L - 4, y: T + 4, class: "spark-tick", "text-anchor": "end" }, fmt(hi)));
  box.append(svg("text", { x: L - 4, y: H - B, class: "spark-tick", "text-anchor": "end" }, fmt(lo)));
  box.append(svg("text", { x: L, y: H - 4, class: "spark-tick" }, when(new Date(t0).toISOString())));
  if (metric && typeof metric.threshold === "number") {
    const ty = y(metric.threshold);
    box.append(svg("line", { x1: L, y1: ty, x2: W - R, y2: ty, class: "spark-threshold", "data-threshold": metric.threshold }));
  }
  if (metric && typeof metric.clear === "number") {
    const cy = y(metric.clear);
    box.append(svg("line", { x1: L, y1: cy, x2: W - R, y2: cy, class: "spark-clear" }));
  }
  if (metric) {
    box.append(svg("polyline", { points: points.map((p) => `${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join(" "), class: "spark-line" }));
  }
  for (const p of points) {
    box.append(svg("circle", { cx: x(p.t).toFixed(1), cy: y(p.v).toFixed(1), r: metric ? 2 : 3, class: metric ? "spark-dot" : "spark-hot" }));
  }
  return box;
}

export function alarmCard(a, detail, trace) {
  const tone = { critical: "b-red", urgent: "b-amber", normal: "b-blue" }[a.urgency] || "b-grey";
  return h(
    "article",
    { class: "card alarm", dataset: { alarm: a.id, rule: a.rule_id } },
    h(
      "div",
      { class: "row" },
      h("strong", {}, a.device_name),
      h("span", { class: `badge ${tone}` }, URGENCY[a.urgency] || a.urgency),
      h("span", { class: "badge b-accent", "data-testid": "rule" }, `${a.rule_id} ${a.rule_name}`),
    ),
    h("p", { class: "why" }, a.why),
    h(
      "p",
      { class: "muted small" },
      `${a.kind_zh} · ${a.subtype_name} · ${when(a.opened_at)} 起，满足规则 ${a.readings} 次`,
      a.event_id ? [" · ", h("a", { href: `#/event/${a.event_id}` }, `事件 E${a.event_id}`)] : "",
    ),
    detail ? chart(detail) : h("p", { class: "muted small" }, "读数图见告警详情"),
    trace ? traceBlock(trace) : "",
  );
}

function deviceRow(d) {
  const since = d.last_seen ? `${when(d.last_seen)}（${Math.round(d.minutes_silent)} 分钟前）` : "登记后从未上报";
  return h(
    "tr",
    { dataset: { device: d.id, state: d.state } },
    h("td", {}, d.name, h("div", { class: "muted small" }, `${d.id} · ${d.kind_zh}`)),
    h("td", {}, h("span", { class: `badge ${d.state === "silent" ? "b-red" : "b-amber"}` }, d.state_zh)),
    h("td", {}, since),
    h("td", {}, d.owner_name),
  );
}

// A water station on a river network has its alarm traced upstream (404 for the others).
function traceOf(a) {
  return a.kind === "water_quality" ? api.get(`/api/v1/alarms/${a.id}/trace`).catch(() => null) : null;
}

// The alarms an alarm-born event was filed for, each with its chart (the event page).
export async function eventAlarms(eventId) {
  const alarms = await api.get("/api/v1/alarms", { event: eventId, limit: 20 });
  if (!alarms.length) return null;
  const details = await Promise.all(alarms.slice(0, 4).map((a) => api.get(`/api/v1/alarms/${a.id}`).catch(() => null)));
  const traces = await Promise.all(alarms.slice(0, 4).map(traceOf));
  return h(
    "section",
    { class: "card", "data-testid": "event-alarms" },
    h("h2", {}, `感知告警（${alarms.length}）`),
    alarms.map((a, i) => alarmCard(a, details[i], traces[i])),
  );
}

export async function renderAlarms(ctx) {
  // a new alarm redraws the page (pushed, see live.js)
  let pending;
  const unsubscribe = live.subscribe((kind, c) => {
    if (kind !== "alarm") return;
    clearTimeout(pending);
    pending = setTimeout(() => drawAlarms(ctx).catch(() => {}), 500);
  });
  ctx.onLeave(() => {
    clearTimeout(pending);
    unsubscribe();
  });
  await drawAlarms(ctx);
}

async function drawAlarms(ctx) {
  const { app, me } = ctx;
  const [alarms, silent, stuck] = await Promise.all([
    api.get("/api/v1/alarms", { open: true, limit: 100 }),
    api.get("/api/v1/devices", { state: "silent" }),
    api.get("/api/v1/devices", { state: "stuck" }),
  ]);
  const details = await Promise.all(
    alarms.slice(0, CHARTED).map((a) => api.get(`/api/v1/alarms/${a.id}`).catch(() => null)),
  );
  const traces = await Promise.all(alarms.slice(0, CHARTED).map(traceOf));
  const reported = silent.filter((d) => d.last_seen);
  const never = silent.length - reported.length;
  const devices = [...reported, ...stuck];
  clear(
    app,
    h("h1", {}, `${me.jurisdiction_name} · 感知告警`),
    h(
      "section",
      { "data-testid": "open-alarms" },
      h("h2", {}, `未解除的告警（${alarms.length}）`),
      alarms.length
        ? h("div", { class: "alarms" }, alarms.map((a, i) => alarmCard(a, details[i], traces[i])))
        : h("p", { class: "muted" }, "本辖区目前没有未解除的告警。"),
    ),
    h(
      "section",
      { "data-testid": "silent-devices" },
      h("h2", {}, `离线或数据异常的设备（${devices.length}）`),
      never ? h("p", { class: "muted small" }, `另有 ${never} 台设备登记后从未上报数据。`) : "",
      devices.length
        ? h(
            "table",
            { class: "devices" },
            h("thead", {}, h("tr", {}, h("th", {}, "设备"), h("th", {}, "状态"), h("th", {}, "最近上报"), h("th", {}, "权属单位"))),
            h("tbody", {}, devices.map(deviceRow)),
          )
        : h("p", { class: "muted" }, "上报过数据的设备都在线。"),
    ),
  );
}

