// Departments as users: a department's worklist (its orders, due times, the actions it may
// take, uploads), the attachments of an event, and the owning centre's ruling on a return.
import { api, clear, deadline, dialog, failure, field, h, statusBadge, toast, URGENCY, when } from "./ui.js";
import { live } from "./live.js";

const ACCEPT = "image/jpeg,image/png,application/pdf";
const MAX_BYTES = 10 * 1024 * 1024;
// what each department action asks for before it is sent
const ASKS = {
  return: ["reason_code", "reason"],
  request_extension: ["hours", "reason"],
  report_progress: ["reason", "files"],
  resolve: ["reason?", "files"],
};

export function fileInput() {
  return h("input", { type: "file", multiple: true, accept: ACCEPT, "data-testid": "files" });
}

// Upload the chosen files (checked again by the server, by their content); their ids.
export async function uploadFiles(eventId, input, note) {
  const ids = [];
  for (const file of input ? input.files : []) {
    if (file.size > MAX_BYTES) throw new Error(`「${file.name}」超过 10 MB，请压缩后重新上传`);
    const meta = await api.upload(`/api/v1/events/${eventId}/attachments`, file, { filename: file.name, note });
    ids.push(meta.id);
  }
  return ids;
}

// The dialog of one lifecycle action, with the fields it needs; files go up first.
export function actionDialog(ctx, eventId, version, a, done, asks = ASKS[a.action] || []) {
  const inputs = {};
  const fields = asks.map((name) => {
    const optional = name.endsWith("?");
    const key = name.replace("?", "");
    if (key === "reason_code") {
      inputs[key] = h("select", { required: true, "data-testid": "reason-code" }, ctx.k.reasons.map((r) => h("option", { value: r.code }, `${r.name}：${r.description}`)));
      return field("退单原因", inputs[key]);
    }
    if (key === "hours") {
      inputs[key] = h("input", { type: "number", min: 1, max: 2160, required: true, value: 24 });
      return field("延期小时数", inputs[key]);
    }
    if (key === "files") {
      inputs[key] = fileInput();
      return [field("照片或材料（JPEG、PNG、PDF，每个不超过 10 MB，可多选）", inputs[key])];
    }
    inputs[key] = h("textarea", { required: !optional || undefined, "data-testid": "reason" });
    return field(optional ? "说明（可选）" : a.action === "return" ? "退单说明" : "情况说明", inputs[key]);
  });
  const send = async () => {
    const body = { expected_version: version };
    for (const [key, el] of Object.entries(inputs)) {
      if (key === "files") continue;
      if (el.value !== "") body[key] = key === "hours" ? Number(el.value) : el.value;
    }
    const ids = await uploadFiles(eventId, inputs.files, body.reason);
    if (ids.length) body.attachments = ids;
    await api.post(`/api/v1/events/${eventId}/${a.action.replaceAll("_", "-")}`, body);
    toast(`已${a.name}${ids.length ? `，附件 ${ids.length} 个` : ""}`);
    await done();
  };
  if (!fields.length) return send().catch((e) => toast(e.message));
  dialog(a.name, fields, send);
}

function orderRow(ctx, o, reload) {
  const e = o.event;
  const st = ctx.k.subtypes[e.subtype];
  return h("tr", { dataset: { event: e.id } },
    h("td", {}, h("a", { href: `#/event/${e.id}` }, `E${e.id}`)),
    h("td", { class: "text", title: e.excerpt }, e.title ? `${e.title}：${e.excerpt}` : e.excerpt,
      h("div", { class: "muted small" }, [e.address || "", st ? ` · ${st.name}` : ""].join(""))),
    h("td", {}, h("span", { class: `badge ${o.part === "lead" ? "b-accent" : "b-grey"}` }, o.part_zh)),
    h("td", {}, statusBadge(e.status), e.supervised ? h("span", { class: "badge b-accent" }, "督办") : null,
      e.urgency !== "normal" ? h("span", { class: "badge b-red" }, URGENCY[e.urgency]) : null),
    h("td", {}, e.accepted_at ? when(e.accepted_at) : "未签收"),
    h("td", { "data-testid": "due" }, e.due_at ? [when(e.due_at), " ", deadline(e)] : "签收后起算"),
    h("td", { class: "actions" }, o.allowed_actions.map((a) =>
      h("button", { dataset: { action: a.action }, onclick: () => actionDialog(ctx, e.id, undefined, a, reload) }, a.name))));
}

export async function renderDepartment(ctx) {
  const { app, me } = ctx;
  const all = h("input", { type: "checkbox", "aria-label": "显示已办结" });
  const body = h("tbody");
  const count = h("span", { class: "muted small" });
  async function reload() {
    const orders = await api.get("/api/v1/department/orders", { open_only: !all.checked, limit: 200 });
    clear(count, `共 ${orders.length} 件`);
    clear(body, orders.length ? orders.map((o) => orderRow(ctx, o, reload))
      : h("tr", {}, h("td", { colspan: 7, class: "muted" }, "暂无派给本部门的工单。")));
  }
  all.addEventListener("change", () => reload().catch((e) => toast(e.message)));
  clear(app,
    h("h1", {}, `${me.jurisdiction_name} · 本部门工单`),
    h("p", { class: "muted small" }, "办结时限自签收起算；超时工单由指挥中心自动督办。退单须选择原因，由承办中心裁定。"),
    h("div", { class: "row" }, h("label", {}, all, " 显示已办结"), h("span", { class: "grow" }), count),
    h("table", { class: "table", "data-testid": "department-orders" },
      h("thead", {}, h("tr", {}, ["编号", "事件", "本部门", "状态", "签收", "办理时限", "办理"].map((t) => h("th", {}, t)))),
      body));
  // pushed changes to its orders refresh the list (once for a burst); polling only while the
  // stream is down
  let pending;
  const unsubscribe = live.subscribe((kind, c) => {
    if (kind === "change" && c.action === "dispatch") toast(`新派工单 E${c.event_id}`);
    clearTimeout(pending);
    pending = setTimeout(() => reload().catch(() => {}), 300);
  });
  const timer = setInterval(() => live.up || reload().catch(() => {}), 10000);
  ctx.onLeave(() => {
    unsubscribe();
    clearTimeout(pending);
    clearInterval(timer);
  });
  try {
    await reload();
  } catch (e) {
    clear(body, h("tr", {}, h("td", { colspan: 7 }, failure(e))));
  }
}

// The event's attachments: thumbnails for photos, links for PDFs, and an upload for those
// who may add one.
export function attachmentsCard(ctx, v, reload) {
  const list = h("ul", { class: "attachments", "data-testid": "attachments" });
  const card = h("section", { class: "card" }, h("h2", {}, "附件"), list);
  api.get(`/api/v1/events/${v.event.id}/attachments`).then(async (items) => {
    if (!items.length) return clear(list, h("li", { class: "muted" }, "暂无附件"));
    clear(list, items.map((a) => {
      const li = h("li", { dataset: { attachment: a.id } });
      const label = `${a.filename}（${Math.ceil(a.size / 1024)} KB，${a.uploaded_by}，${when(a.created_at)}）${a.note ? `：${a.note}` : ""}`;
      api.blob(a.url).then((blob) => {
        const url = URL.createObjectURL(blob);
        clear(li, a.media_type.startsWith("image/") ? h("img", { src: url, alt: a.filename, class: "thumb", style: "max-width:160px;display:block" }) : null,
          h("a", { href: url, download: a.filename, target: "_blank" }, label));
      }).catch(() => clear(li, label));
      clear(li, label);
      return li;
    }));
  }).catch((e) => clear(list, failure(e)));
  const mayUpload = ctx.me.role !== "integration" && (ctx.me.role !== "department" || v.allowed_actions.length);
  if (mayUpload) {
    const input = fileInput();
    const go = h("button", { onclick: async (ev) => {
      ev.target.disabled = true;
      try {
        const ids = await uploadFiles(v.event.id, input);
        toast(ids.length ? `已上传 ${ids.length} 个附件` : "请先选择文件");
        await reload();
      } catch (e) {
        toast(e.message);
      } finally {
        ev.target.disabled = false;
      }
    } }, "上传");
    card.append(h("div", { class: "row noprint" }, input, go));
  }
  return card;
}

// The owning centre's ruling on a returned order: accept (re-route), reject, escalate.
export function adjudicationCard(ctx, v, reload) {
  if (v.event.status !== "returned" || ctx.me.role === "integration") return null;
  const card = h("section", { class: "card", "data-testid": "adjudication" }, h("h2", {}, "退单裁定"), h("p", { class: "muted" }, "正在加载…"));
  api.get(`/api/v1/events/${v.event.id}/adjudication`).then((r) => {
    const rule = async (decision, extra) => {
      await api.post(`/api/v1/events/${v.event.id}/adjudicate`, { decision, expected_version: v.event.version, ...extra });
      toast({ accept: "已同意退单并改派", reject: "已驳回退单，原部门继续办理", escalate: "已提交上一级中心裁定" }[decision]);
      await reload();
    };
    const note = () => h("textarea", { "data-testid": "ruling-note", placeholder: "裁定意见" });
    const accept = h("button", { class: "primary", dataset: { decision: "accept" }, onclick: async () => {
      const place = v.event.street || v.event.district;
      const depts = await api.get("/api/v1/departments", { jurisdiction: place });
      const pick = h("select", { required: true, "data-testid": "corrected" }, depts.filter((d) => d.code !== r.returned_department)
        .map((d) => h("option", { value: d.code, selected: d.code === r.suggested_department || undefined }, `${d.name}（${d.level_zh}）`)));
      const n = note();
      dialog("同意退单并改派", [field("改派至", pick), field("裁定意见（可选）", n)], () => rule("accept", { corrected_department: pick.value, note: n.value }));
    } }, "同意退单并改派");
    const reject = h("button", { dataset: { decision: "reject" }, onclick: () => {
      const n = note();
      n.required = true;
      dialog("驳回退单", [h("p", {}, `由${r.returned_department_name}继续办理。`), field("驳回理由", n)], () => rule("reject", { note: n.value }));
    } }, "驳回退单");
    const escalate = h("button", { dataset: { decision: "escalate" }, disabled: r.owner_level === "city" || undefined, onclick: () => {
      const n = note();
      dialog("提交上一级中心裁定", field("提级理由", n), () => rule("escalate", { note: n.value }));
    } }, "提级裁定");
    clear(card, h("h2", {}, "退单裁定"),
      h("dl", { class: "kv" },
        h("dt", {}, "退单部门"), h("dd", {}, r.returned_department_name),
        h("dt", {}, "退单原因"), h("dd", {}, `${r.reason_name || r.reason_code || "—"}${r.reason ? `：${r.reason}` : ""}`),
        h("dt", {}, "裁定单位"), h("dd", {}, `${r.owner_centre_name}（${r.owner_level_zh}）`),
        r.suggested_department ? [h("dt", {}, "重新分拨建议"), h("dd", {}, r.suggested_department_name || r.suggested_department)] : null),
      r.adjudications.length ? h("ul", { class: "small" }, r.adjudications.map((x) => h("li", {}, `${when(x.created_at)} ${x.officer}：${{ accept: "同意", reject: "驳回", escalate: "提级" }[x.decision]}${x.note ? `（${x.note}）` : ""}`))) : null,
      r.may_adjudicate
        ? h("div", { class: "actions noprint" }, accept, reject, escalate)
        : h("p", { class: "muted" }, `该退单由${r.owner_centre_name}裁定。`));
  }).catch((e) => clear(card, h("h2", {}, "退单裁定"), failure(e)));
  return card;
}
