// Event detail: the event, its history, the AI draft that explains itself, and the actions.
import { api, clear, deadline, dialog, failure, field, h, hours, LEVELS, percent, SOURCES, statusBadge, toast, URGENCY, WAITING, when } from "./ui.js";
import { chatPanel } from "./chat.js";
import { actionDialog, adjudicationCard, attachmentsCard } from "./department.js";
import { live } from "./live.js";
import { eventAlarms } from "./alarms.js";

const ACTIONS = {
  receive: "受理", triage: "分拨", dispatch: "派单", accept: "签收", return: "退单", redispatch: "改派",
  retriage: "重新分拨", start: "开始处置", request_extension: "申请延期", approve_extension: "批准延期",
  reject_extension: "驳回延期", resolve: "办结", resolve_directly: "直接答复办结", verify: "回访",
  reopen: "重新办理", close: "归档", merge_duplicate: "合并重复件", supervise: "督办",
  report_progress: "进展反馈", adjudicate: "退单裁定",
};
// what each lifecycle action asks for before it is sent
const FIELDS = {
  return: ["reason_code", "reason"],
  request_extension: ["hours", "reason"],
  approve_extension: ["hours"],
  reject_extension: ["reason"],
  resolve: ["reason?"],
  resolve_directly: ["reason"],
  verify: ["satisfaction"],
  reopen: ["reason"],
  supervise: ["reason"],
};
const SUPERVISING = new Set(["supervise", "approve_extension", "reject_extension"]);
const HIDDEN = new Set(["receive", "triage", "dispatch", "redispatch", "retriage", "merge_duplicate", "adjudicate"]);
// actions that may carry photos or documents: asked for with an upload (department.js)
const WITH_FILES = new Set(["report_progress", "resolve"]);

function eventCard(v, k) {
  const e = v.event;
  const st = k.subtypes[e.subtype];
  const place = k.places[e.street] || k.places[e.district];
  const kv = [
    ["编号", `E${e.id}`],
    ["状态", h("span", {}, statusBadge(e.status), " ", deadline(e))],
    ["来源", SOURCES[e.source] || e.source],
    ["上报时间", when(e.reported_at, true)],
    ["地址", e.address || "—"],
    ["所属", place ? place.name : "未定位"],
    ["分类", st ? `${st.category_name} · ${st.name}` : "未分类"],
    ["紧急程度", URGENCY[e.urgency] || e.urgency],
    ["办结时限", e.due_at ? when(e.due_at, true) : "签收后起算"],
    ["反映人", [e.reporter_name, e.reporter_phone].filter(Boolean).join(" ") || "—"],
  ];
  if (e.duplicate_of) kv.push(["重复件", h("a", { href: `#/event/${e.duplicate_of}` }, `并入 E${e.duplicate_of}`)]);
  if (e.satisfaction) kv.push(["满意度", `${e.satisfaction} / 5`]);
  return h("section", { class: "card" },
    h("h2", {}, e.title || `事件 E${e.id}`),
    h("dl", { class: "kv" }, kv.map(([a, b]) => [h("dt", {}, a), h("dd", {}, b)])),
    h("h3", { style: "margin-top:12px" }, "原文"),
    h("div", { class: "original", "data-testid": "original" }, e.text),
    e.attributes && e.attributes.full_text ? h("p", { class: "muted small" }, `原文共 ${e.attributes.full_text.length} 字，此处显示前 ${e.text.length} 字。`) : null);
}

function timeline(v) {
  return h("section", { class: "card" }, h("h2", {}, "流转记录"),
    h("ol", { class: "timeline", "data-testid": "timeline" }, v.history.map((t) =>
      h("li", { dataset: { action: t.action } },
        h("div", { class: "when" }, when(t.at, true)),
        h("div", {}, h("b", {}, ACTIONS[t.action] || t.action), ` · ${t.actor}`, t.reason ? `：${t.reason}` : "")))));
}

function lawItem(x) {
  return h("details", { class: "law" }, h("summary", {}, `《${x.title}》${x.article}`, x.why ? h("span", { class: "muted small" }, `（${x.why}）`) : null), h("p", {}, x.text || "（无条文）"));
}

function draftCard(ctx, v, d, reload) {
  const c = d.category;
  const confidence = Math.round(c.confidence * 100);
  const decide = async (path, body) => {
    await api.post(`/api/v1/events/${v.event.id}/${path}`, { ...body, approval_id: d.approval.id });
    toast("已处理并记录");
    await reload();
  };
  const approve = h("button", { class: "primary", "data-testid": "approve", onclick: async (ev) => {
    ev.target.disabled = true;
    try { await decide("approve", {}); } catch (e) { toast(e.message); ev.target.disabled = false; }
  } }, "同意派单");
  const edit = h("button", { "data-testid": "edit", onclick: () => editDialog(ctx, v, d, decide) }, "修改后派单");
  const reject = h("button", { onclick: () => {
    const reason = h("textarea", { required: true });
    dialog("驳回草稿", field("驳回原因", reason), () => decide("reject", { reason: reason.value }));
  } }, "驳回");
  const merge = h("button", { onclick: () => {
    const target = h("input", { type: "number", min: 1, required: true, value: d.duplicates[0] ? d.duplicates[0].event_id : "" });
    dialog("合并为重复件", [field("并入事件编号", target),
      d.duplicates.length ? h("p", { class: "muted small" }, `疑似重复：${d.duplicates.map((x) => `E${x.event_id}`).join("、")}`) : null],
    () => decide("merge", { duplicate_of: Number(target.value) }));
  } }, "合并重复件");
  return h("section", { class: "card draft", "data-testid": "draft" },
    h("h2", {}, "智能派单草稿", " ", h("span", { class: "badge b-grey" }, d.engine === "llm" ? "大模型" : "离线引擎")),
    d.needs_human.length ? h("ul", { class: "warn" }, d.needs_human.map((n) => h("li", {}, n))) : null,
    d.reroute && d.reroute.length ? h("p", { class: "note" }, `退单后重新分拨：${d.reroute.join("；")}`) : null,
    d.alarm_rules && d.alarm_rules.length ? h("p", { class: "note", "data-testid": "alarm-rules" }, h("b", {}, "感知告警规则："), d.alarm_rules.map((r) => `${r.id} ${r.name}（${r.why}）`).join("；"), " ", h("a", { href: "#/alarms" }, "查看告警")) : null,
    h("h3", {}, `${c.category} · ${c.name}`, h("span", { class: "conf", title: `把握 ${confidence}%` }, h("i", { style: `width:${confidence}%` })), h("span", { class: "muted small" }, `把握 ${confidence}%`)),
    h("p", { class: "muted small" }, "其他可能：", c.alternatives.slice(1).map((a) => `${a.name}（${Math.round(a.probability * 100)}%）`).join("、") || "无"),
    h("ul", { class: "depts" },
      h("li", { "data-testid": "lead" }, h("b", {}, "主办："), d.lead_department.name, h("div", { class: "why" }, `职责：${(d.lead_department.duties || []).join("；") || "—"}`)),
      d.assisting_departments.map((a) => h("li", {}, h("b", {}, "协办："), a.name,
        a.duties && a.duties.length ? h("div", { class: "why" }, `职责：${a.duties.join("；")}`) : null))),
    h("p", {}, h("b", {}, "层级："), LEVELS[d.level] || d.level, d.escalation_rules.length ? h("span", { class: "muted small" }, `（${d.escalation_rules.map((r) => `${r.id} ${r.name}：${r.why}`).join("；")}）`) : null),
    d.precedents && d.precedents.length ? h("p", { class: "muted small", "data-testid": "precedents" }, h("b", {}, "参照判例："),
      d.precedents.map((p) => `${p.id}「${p.text.slice(0, 30)}…」（${LEVELS[p.level] || p.level}，相似度 ${p.similarity.toFixed(2)}）`).join("；")) : null,
    d.precedent_confidence ? h("p", { class: "muted small", "data-testid": "precedent-confidence" },
      h("b", {}, "判例把握："), `层级 ${percent(d.precedent_confidence.level, 0)}（采纳线 ${percent(d.precedent_confidence.level_threshold, 0)}），`,
      `主办类型 ${percent(d.precedent_confidence.lead_type, 0)}（采纳线 ${percent(d.precedent_confidence.lead_threshold, 0)}）`) : null,
    h("p", {}, h("b", {}, "时限："), `签收后 ${hours(d.deadlines.response_hours)} 内响应，${hours(d.deadlines.disposal_hours)} 内办结`),
    h("h3", {}, "法律依据"), d.legal_basis.length ? d.legal_basis.map(lawItem) : h("p", { class: "muted" }, "按权责清单处理"),
    d.legal_basis.length ? h("p", { class: "muted small" }, "点击条目查看条文；内置条文为要点摘要，以法规原文为准。") : null,
    d.proposed_basis && d.proposed_basis.length ? h("div", { class: "proposed", "data-testid": "proposed-basis" },
      h("p", { class: "muted small" }, "候选依据（未列入法律依据，供人工选用）："),
      d.proposed_basis.map(lawItem)) : null,
    d.duty_basis.length ? h("p", { class: "small muted" }, `权责清单：${d.duty_basis.map((x) => x.id).join("、")}`) : null,
    h("h3", {}, "处置步骤"), h("ol", { class: "steps" }, d.steps.map((s) => h("li", {}, s))),
    h("h3", {}, "说明"), h("p", { "data-testid": "explanation" }, d.explanation),
    ctx.me.role === "integration" ? null : h("div", { class: "actions noprint" }, approve, edit, reject, merge));
}

async function editDialog(ctx, v, d, decide) {
  const place = v.event.street || v.event.district;
  const depts = await api.get("/api/v1/departments", { jurisdiction: place });
  const lead = h("select", { "data-testid": "edit-lead" }, depts.map((x) => h("option", { value: x.code, selected: x.code === d.lead_department.code || undefined }, `${x.name}（${x.level_zh}）`)));
  const duties = h("p", { class: "muted small" });
  const showDuties = () => { const x = depts.find((y) => y.code === lead.value); clear(duties, x ? `职责：${x.duties.join("；") || "—"}` : ""); };
  lead.addEventListener("change", showDuties);
  showDuties();
  const level = h("select", {}, ["street", "district", "city"].map((l) => h("option", { value: l, selected: l === d.level || undefined }, LEVELS[l])));
  const hoursIn = h("input", { type: "number", min: 1, max: 2160, step: 1, value: d.deadlines.disposal_hours });
  const note = h("textarea", { placeholder: "给承办单位的说明（可选）" });
  const cite = (x) => `《${x.title}》${x.article}`;
  const cited = d.legal_basis.map(cite);
  const articles = [...d.legal_basis, ...(d.proposed_basis || [])].map((x) => {
    const box = h("input", { type: "checkbox", value: cite(x), checked: cited.includes(cite(x)) || undefined });
    return h("label", { class: "check" }, box, ` ${cite(x)}`, x.why ? h("span", { class: "muted small" }, `（${x.why}）`) : null);
  });
  const basis = h("div", { "data-testid": "edit-basis" }, articles.length ? articles : h("p", { class: "muted small" }, "无候选条文，按权责清单处理"));
  dialog("修改派单", [field("主办单位", lead), duties, field("承办层级", level), field("办结时限（小时）", hoursIn), field("法律依据（勾选列入派单）", basis), field("备注", note)], () => {
    const edits = {};
    const chosen = [...basis.querySelectorAll("input:checked")].map((b) => b.value);
    if (chosen.join("|") !== cited.join("|")) edits.legal_basis = chosen;
    if (lead.value !== d.lead_department.code) edits.lead_department = lead.value;
    if (level.value !== d.level) edits.level = level.value;
    if (Number(hoursIn.value) !== d.deadlines.disposal_hours) edits.disposal_hours = Number(hoursIn.value);
    if (note.value.trim()) edits.note = note.value.trim();
    if (!Object.keys(edits).length) throw new Error("没有修改任何内容");
    return decide("edit", edits);
  });
}

function lifecycleCard(ctx, v, reload) {
  const street = ctx.me.role === "street_officer"; // 督办 and extensions come from above
  const allowed = v.allowed_actions.filter((a) => !HIDDEN.has(a.action) && !(street && SUPERVISING.has(a.action)));
  if (!allowed.length || ctx.me.role === "integration") return null;
  const act = (a) => {
    if (ctx.me.role === "department" || WITH_FILES.has(a.action)) return actionDialog(ctx, v.event.id, v.event.version, a, reload);
    const inputs = {};
    const fields = (FIELDS[a.action] || []).map((name) => {
      const optional = name.endsWith("?");
      const key = name.replace("?", "");
      if (key === "reason_code") {
        inputs[key] = h("select", { required: true }, ctx.k.reasons.map((r) => h("option", { value: r.code }, `${r.name}：${r.description}`)));
        return field("退单原因", inputs[key]);
      }
      if (key === "hours") { inputs[key] = h("input", { type: "number", min: 1, max: 2160, required: true, value: 24 }); return field("延期小时数", inputs[key]); }
      if (key === "satisfaction") {
        inputs[key] = h("select", {}, [5, 4, 3, 2, 1].map((n) => h("option", { value: n }, `${n} 分`)));
        return field("群众满意度", inputs[key]);
      }
      inputs[key] = h("textarea", { required: !optional || undefined });
      return field(optional ? "说明（可选）" : "原因或说明", inputs[key]);
    });
    const send = async () => {
      const body = { expected_version: v.event.version };
      for (const [key, el] of Object.entries(inputs)) if (el.value !== "") body[key] = key === "hours" || key === "satisfaction" ? Number(el.value) : el.value;
      const res = await api.post(`/api/v1/events/${v.event.id}/${a.action.replaceAll("_", "-")}`, body);
      toast(`已${a.name}${res.redraft ? "，已按退单原因重新起草派单" : ""}`);
      await reload();
    };
    if (!fields.length) return send().catch((e) => toast(e.message));
    dialog(a.name, fields, send);
  };
  return h("section", { class: "card noprint" }, h("h2", {}, "办理"),
    h("div", { class: "actions", "data-testid": "lifecycle" }, allowed.map((a) => h("button", { dataset: { action: a.action }, onclick: () => act(a) }, a.name))));
}

function decisions(v) {
  if (!v.ai_decisions.length) return null;
  return h("details", { class: "card" }, h("summary", {}, `智能分拨记录（${v.ai_decisions.length} 条，可审计）`),
    h("ul", { class: "small" }, v.ai_decisions.map((x) => h("li", {},
      `${when(x.created_at, true)} ${x.agent} · ${x.engine}${x.model ? ` · ${x.model}` : ""} · ${x.latency_ms} ms`,
      x.fallbacks && x.fallbacks.length ? ` · 回退：${x.fallbacks.join("；")}` : ""))));
}

export async function renderEvent(ctx, id) {
  const left = h("div");
  const right = h("div");
  let drawer = null;
  async function reload() {
    const v = await api.get(`/api/v1/events/${id}`);
    let d = null;
    if (v.pending_approval && ctx.me.role !== "department") d = await api.get(`/api/v1/events/${id}/draft`);
    const sensed = ["sensor", "ai_video"].includes(v.event.source) ? await eventAlarms(id).catch(() => null) : null;
    clear(left, eventCard(v, ctx.k), sensed, timeline(v));
    const triage = WAITING.includes(v.event.status) && !d
      ? h("section", { class: "card" }, h("p", {}, "这件事件还没有派单草稿。"),
        h("button", { class: "primary", "data-testid": "triage", onclick: async (ev) => {
          ev.target.disabled = true;
          try { await api.post(`/api/v1/events/${id}/triage`); await reload(); } catch (e) { toast(e.message); ev.target.disabled = false; }
        } }, "智能分拨"))
      : null;
    const centre = ctx.me.role !== "department";
    clear(right, adjudicationCard(ctx, v, reload), d && centre ? draftCard(ctx, v, d, reload) : centre ? triage : null,
      lifecycleCard(ctx, v, reload), attachmentsCard(ctx, v, reload), decisions(v),
      ["resolved", "verified", "closed"].includes(v.event.status) ? h("p", {}, h("a", { href: `#/review/${id}` }, "查看复盘 →")) : null);
  }
  const ask = h("button", { class: "noprint", hidden: ctx.me.role === "department" || undefined, onclick: () => {
    if (drawer) { drawer.remove(); drawer = null; return; }
    drawer = h("div", { class: "card drawer" }, h("div", { class: "row" }, h("b", { class: "grow" }, `就事件 E${id} 提问`), h("button", { onclick: () => { drawer.remove(); drawer = null; } }, "关闭")), chatPanel(ctx, { eventId: id, thread: `event-${id}` }));
    document.body.append(drawer);
  } }, "问助手");
  clear(ctx.app, h("div", { class: "row" }, h("a", { href: "#/queue", class: "noprint" }, "← 返回事件"), h("span", { class: "grow" }), ask), h("div", { class: "detail" }, left, right));
  // someone else acted on this event (signed, returned, dispatched…): show it without a reload
  let pending;
  const unsubscribe = live.subscribe((kind, c) => {
    if (c.event_id !== id) return;
    if (kind === "change" && c.actor !== ctx.me.username) toast(`E${id}：${c.actor} ${c.action_zh}`);
    clearTimeout(pending);
    pending = setTimeout(() => reload().catch(() => {}), 300);
  });
  ctx.onLeave(() => {
    if (drawer) drawer.remove();
    clearTimeout(pending);
    unsubscribe();
  });
  try {
    await reload();
  } catch (e) {
    clear(ctx.app, h("a", { href: "#/queue" }, "← 返回事件"), failure(e));
  }
}
