// 上游溯源: a water-quality alarm's traced sources (GET /api/v1/alarms/{id}/trace) on a small
// map of the basin (inline SVG: the alarm station, the candidate sources, the most likely in
// red, those ruled out faded), the ranked list with its evidence, and the joint warning.
import { h } from "./ui.js";

const SVG = "http://www.w3.org/2000/svg";
const W = 320;
const H = 200;
const PAD = 14;

function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  for (const c of children) el.append(c);
  return el;
}

function map(body) {
  const { trace } = body;
  const pts = trace.candidates.map((c) => ({ lat: c.lat, lon: c.lon }));
  const s = { lat: trace.lat, lon: trace.lon };
  pts.push(s);
  const lats = pts.map((p) => p.lat);
  const lons = pts.map((p) => p.lon);
  const [lat0, lat1] = [Math.min(...lats), Math.max(...lats)];
  const [lon0, lon1] = [Math.min(...lons), Math.max(...lons)];
  const k = Math.min((W - 2 * PAD) / (lon1 - lon0 || 1), (H - 2 * PAD) / (lat1 - lat0 || 1));
  const x = (lon) => PAD + (lon - lon0) * k;
  const y = (lat) => H - PAD - (lat - lat0) * k;
  const box = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "trace-map", role: "img", "aria-label": "疑似源头分布图" });
  const top = new Set(trace.top);
  for (const c of [...trace.candidates].reverse()) {
    const cls = top.has(c.node) ? "src-top" : c.ruled_out ? "src-out" : "src";
    const dot = svg("circle", { cx: x(c.lon).toFixed(1), cy: y(c.lat).toFixed(1), r: top.has(c.node) ? 5 : 3.5, class: cls });
    dot.append(svg("title", {}, `${c.rank}. ${c.name}（${c.kind_zh}，得分 ${c.score.toFixed(2)}）`));
    box.append(dot);
    if (c.rank === 1) {
      const label = svg("text", { x: (x(c.lon) + 7).toFixed(1), y: (y(c.lat) + 4).toFixed(1), class: "src-label" });
      label.textContent = c.name;
      box.append(label);
    }
  }
  {
    const mark = svg("rect", { x: (x(s.lon) - 5).toFixed(1), y: (y(s.lat) - 5).toFixed(1), width: 10, height: 10, class: "station" });
    mark.append(svg("title", {}, trace.station_name));
    box.append(mark);
  }
  return box;
}

export function traceBlock(body) {
  const { trace, joint_warning: w } = body;
  const live = trace.candidates.filter((c) => !c.ruled_out).slice(0, 3);
  return h(
    "section",
    { class: "trace", "data-testid": "trace" },
    h("h3", {}, "上游溯源"),
    h("p", { class: "small" }, trace.summary),
    map(body),
    h(
      "ol",
      { class: "trace-top" },
      live.map((c) =>
        h(
          "li",
          { dataset: { node: c.node } },
          h("strong", {}, c.name),
          ` ${c.kind_zh} · ${c.district_name}${c.street_name} · 得分 ${c.score.toFixed(2)}`,
          h("div", { class: "muted small" }, c.evidence.slice(1).join("；")),
        ),
      ),
    ),
    h(
      "p",
      { class: "small", "data-testid": "joint-warning" },
      `联合预警：${w.level === "city" ? "市级" : w.level === "district" ? "区县级" : "街道级"}承办，${w.lead.name}主办；协办 ${w.assisting.map((a) => a.name).join("、")}`,
    ),
  );
}
