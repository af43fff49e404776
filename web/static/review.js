// The 复盘 of an event, laid out to print.
import { api, clear, h, hours } from "./ui.js";

export async function renderReview(ctx, id) {
  const r = await api.get(`/api/v1/events/${id}/review`);
  const numbers = [
    ["派单用时", hours(r.hours.to_dispatch)],
    ["签收用时", hours(r.hours.to_accept)],
    ["办结用时", hours(r.hours.to_resolve)],
    ["时限", r.deadline.on_time === null ? "未办结" : r.deadline.on_time ? "按时办结" : `超时 ${hours(r.deadline.hours_late)}`],
    ["退单", `${r.returns.count} 次`],
    ["延期", `${r.deadline.extensions} 次`],
    ["满意度", r.satisfaction ? `${r.satisfaction} / 5` : "—"],
    ["督办", r.supervised ? "是" : "否"],
  ];
  clear(ctx.app,
    h("div", { class: "row noprint" }, h("a", { href: `#/event/${id}` }, "← 返回事件"), h("span", { class: "grow" }),
      h("button", { onclick: () => window.print() }, "打印")),
    h("article", { class: "card review", "data-testid": "review" },
      h("h1", {}, `事件 E${r.event_id} 复盘`),
      h("p", { class: "muted" }, `${r.subtype_name} · ${r.street} · 当前状态：${r.status_zh} · 主办：${r.lead_department}`),
      h("div", { class: "numbers" }, numbers.map(([a, b]) => h("div", {}, h("span", { class: "muted small" }, a), h("b", {}, b)))),
      h("h2", {}, "经过"),
      h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "时间"), h("th", {}, "环节"), h("th", {}, "经办"), h("th", {}, "说明"))),
        h("tbody", {}, r.timeline.map((t) => h("tr", {}, h("td", {}, t.at), h("td", {}, t.action), h("td", {}, t.actor), h("td", {}, t.reason || ""))))),
      r.returns.count ? h("p", {}, `退单原因：${r.returns.reasons.join("、")}`) : null,
      h("h2", {}, "复盘意见"),
      h("p", { style: "white-space:pre-wrap" }, r.summary),
      r.improvements && r.improvements.length ? [h("h2", {}, "改进建议"), h("ul", {}, r.improvements.map((x) => h("li", {}, x)))] : null,
      h("p", { class: "muted small" }, `生成方式：${r.engine === "llm" ? "大模型" : "离线规则"}`)));
}
