// The period review (周/月复盘) of the officer's jurisdiction: pick a place and a week or a
// month, read the facts and the narrative, print the page or download it as PDF or XLSX.
import { api, clear, failure, h } from "./ui.js";

const API = "/api/v1/reviews/period";

// the ISO week ("2026-W28") of a date in Beijing time
function isoWeek(date) {
  const d = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()));
  const day = d.getUTCDay() || 7;
  d.setUTCDate(d.getUTCDate() + 4 - day);
  const first = new Date(Date.UTC(d.getUTCFullYear(), 0, 1));
  const week = Math.ceil(((d - first) / 864e5 + 1) / 7);
  return `${d.getUTCFullYear()}-W${String(week).padStart(2, "0")}`;
}

function lastMonth() {
  const b = new Date(Date.now() + 8 * 3600e3);
  b.setUTCDate(1);
  b.setUTCMonth(b.getUTCMonth() - 1);
  return b.toISOString().slice(0, 7);
}

function lastWeek() {
  return isoWeek(new Date(Date.now() + 8 * 3600e3 - 7 * 864e5));
}

// the places an officer may review: its own jurisdiction and what lies under it
function places(ctx) {
  const k = ctx.k;
  const own = k.places[ctx.me.jurisdiction];
  if (!own || own.level === "city") {
    return [["", "全市"], ...k.tree.districts.map((d) => [`district:${d.code}`, d.name])];
  }
  if (own.level === "district") {
    const d = k.tree.districts.find((x) => x.code === own.code);
    return [[`district:${own.code}`, own.name], ...(d ? d.streets : []).map((s) => [`street:${s.code}`, `　${s.name}`])];
  }
  return [[`street:${own.code}`, own.name]];
}

function params(form) {
  const [kind, code] = form.place.value.split(":");
  const p = { engine: form.engine.value };
  if (kind && code) p[kind] = code;
  if (form.span.value === "week") p.week = form.week.value;
  else p.month = form.month.value;
  return p;
}

function table(title, head, rows, testid) {
  return h(
    "section",
    { class: "section", "data-testid": testid },
    h("h2", {}, title),
    rows.length
      ? h(
          "table",
          {},
          h("thead", {}, h("tr", {}, head.map((x) => h("th", {}, x)))),
          h("tbody", {}, rows.map((r) => h("tr", {}, r.map((x) => h("td", {}, x ?? "—"))))),
        )
      : h("p", { class: "muted" }, "（无）"),
  );
}

const trendRows = (rows) => rows.map((t) => [t.name, t.count, t.previous, t.change, t.change_pct ?? "—"]);
const TREND = ["名称", "本期（件）", "上期（件）", "增减（件）", "增减幅度（%）"];

function render(root, r, links) {
  const f = r.facts;
  const numbers = [
    ["事件数", `${f.count} 件`],
    ["上期", `${f.previous_count} 件`],
    ["按时办结率", f.on_time_pct === null ? "—" : `${f.on_time_pct}%`],
    ["办结用时中位数", f.median_hours_to_close === null ? "—" : `${f.median_hours_to_close} 小时`],
    ["退单率", f.return_pct === null ? "—" : `${f.return_pct}%`],
    ["满意度", f.satisfaction.mean === null ? "—" : `${f.satisfaction.mean} / 5`],
    ["超时未办结", `${f.overdue_open} 件`],
    ["未办结", `${f.open} 件`],
  ];
  const s = f.satisfaction;
  clear(
    root,
    h(
      "article",
      { class: "card review period", "data-testid": "period-review" },
      h("h1", {}, `${f.jurisdiction_name} ${f.period.label} 复盘`),
      h("p", { class: "muted" }, `${f.period.first_day} 至 ${f.period.last_day}，对比上期 ${f.period.previous_label}`),
      h("div", { class: "numbers" }, numbers.map(([a, b]) => h("div", {}, h("span", { class: "muted small" }, a), h("b", {}, b)))),
      h("h2", {}, "综述"),
      h("div", { class: "narrative", "data-testid": "narrative" }, r.narrative.split("\n").map((line) => h("p", {}, line))),
      h("p", { class: "muted small" }, `撰写方式：${r.engine === "llm" ? "大模型（仅依据以下事实）" : "模板"}`),
      r.fallbacks.map((x) => h("p", { class: "muted small" }, x)),
      links,
      table("按大类", TREND, trendRows(f.by_category), "by-category"),
      table(f.area_level === "street" ? "按街道" : "按区县", TREND, trendRows(f.by_area), "by-area"),
      table(
        "部门退单",
        ["部门", "派单（件）", "退单（件）", "退单率（%）", "主要原因"],
        f.departments.map((d) => [d.name, d.dispatched, d.returned, d.return_pct, d.reasons.map((x) => `${x.name}${x.count}件`).join("、") || "—"]),
        "departments",
      ),
      table(
        "重复诉求热点",
        ["街道", "地点", "事件小类", "件数"],
        f.hot_spots.map((x) => [x.street_name, x.place, x.subtype_name, x.count]),
        "hot-spots",
      ),
      table("满意度", ["分值", "件数"], [...Object.entries(s.distribution).map(([k, n]) => [`${k} 分`, n]), ["合计", s.count]], "satisfaction"),
      h(
        "section",
        { class: "section", "data-testid": "cases" },
        h("h2", {}, "值得讨论的事件"),
        f.cases.length ? null : h("p", { class: "muted" }, "（无）"),
        f.cases.map((c) =>
          h(
            "div",
            { class: "case", dataset: { event: c.event_id } },
            h("h3", {}, h("a", { href: `#/event/${c.event_id}` }, `E${c.event_id}`), ` ${c.street_name} · ${c.subtype_name} · ${c.status}`),
            h("p", {}, `${c.title}（主办：${c.department}）`),
            h("p", { class: "why" }, c.why.join("、")),
            h(
              "table",
              {},
              h("tbody", {}, c.timeline.map((t) => h("tr", {}, h("td", {}, t.at), h("td", {}, t.action), h("td", {}, t.actor), h("td", {}, t.reason || "")))),
            ),
          ),
        ),
      ),
    ),
  );
}

async function download(p, suffix) {
  const q = new URLSearchParams(p).toString();
  const res = await api.raw("GET", `${API}.${suffix}?${q}`);
  if (!res.ok) {
    let detail = `下载失败（${res.status}）`;
    try {
      detail = (await res.json()).detail || detail;
    } catch {
      // not JSON: keep the status
    }
    throw new Error(detail);
  }
  const name = decodeURIComponent((res.headers.get("Content-Disposition") || "").split("''")[1] || `复盘.${suffix}`);
  const url = URL.createObjectURL(await res.blob());
  const a = h("a", { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

export async function renderPeriod(ctx) {
  const out = h("div", { "data-testid": "period-out" });
  const error = h("div");
  const form = h(
    "form",
    { class: "card filters noprint period-form", "data-testid": "period-form" },
    h("label", {}, "辖区", h("select", { name: "place" }, places(ctx).map(([v, n]) => h("option", { value: v }, n)))),
    h(
      "label",
      {},
      "时段",
      h("select", { name: "span" }, h("option", { value: "week" }, "按周"), h("option", { value: "month" }, "按月")),
    ),
    h("label", { class: "w" }, "周", h("input", { name: "week", type: "week", value: lastWeek(), required: true })),
    h("label", { class: "m", hidden: true }, "月", h("input", { name: "month", type: "month", value: lastMonth() })),
    h(
      "label",
      {},
      "撰写",
      h("select", { name: "engine" }, h("option", { value: "offline" }, "模板"), h("option", { value: "llm" }, "大模型")),
    ),
    h("button", { class: "primary", type: "submit" }, "生成复盘"),
  );
  form.span.addEventListener("change", () => {
    form.querySelector(".w").hidden = form.span.value !== "week";
    form.querySelector(".m").hidden = form.span.value !== "month";
  });
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clear(error);
    clear(out, h("p", { class: "muted" }, "正在生成…"));
    const p = params(form);
    try {
      const r = await api.get(API, p);
      const links = h(
        "p",
        { class: "row noprint downloads" },
        ["pdf", "xlsx"].map((suffix) =>
          h(
            "button",
            {
              type: "button",
              "data-testid": `download-${suffix}`,
              onclick: () => download(p, suffix).catch((e) => clear(error, failure(e))),
            },
            `下载 ${suffix.toUpperCase()}`,
          ),
        ),
        h("button", { type: "button", onclick: () => window.print() }, "打印"),
      );
      render(out, r, links);
    } catch (e) {
      clear(out);
      clear(error, failure(e));
    }
  });
  clear(ctx.app, h("h1", { class: "noprint" }, "时段复盘"), form, error, out);
  form.requestSubmit();
}
