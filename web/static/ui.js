// Shared helpers of the console: the API client, DOM building, formatting, badges.

const TOKEN = "sanji.token";

export class ApiError extends Error {
  constructor(status, message, retryAfter = 0) {
    super(message);
    this.status = status;
    // seconds to wait before asking again (503 while the server is still preparing)
    this.retryAfter = retryAfter;
  }
}

function query(params) {
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(params || {})) {
    if (value === undefined || value === null || value === "") continue;
    for (const v of Array.isArray(value) ? value : [value]) q.append(key, v);
  }
  const s = q.toString();
  return s ? `?${s}` : "";
}

async function request(method, path, { params, body, raw, signal, file } = {}) {
  const headers = {};
  const token = sessionStorage.getItem(TOKEN);
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (file) headers["Content-Type"] = file.type || "application/octet-stream";
  const res = await fetch(path + query(params), {
    method,
    headers,
    body: file || (body === undefined ? undefined : JSON.stringify(body)),
    signal,
  });
  if (raw) return res;
  if (res.status === 401 && !path.endsWith("/auth/login")) {
    sessionStorage.removeItem(TOKEN);
    location.hash = "#/login";
    throw new ApiError(401, "登录已失效，请重新登录");
  }
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    if (res.ok) throw new ApiError(res.status, "服务器的应答无法读取");
  }
  if (!res.ok) {
    const detail = data && data.detail;
    const retryAfter = res.status === 503 ? Number(res.headers.get("Retry-After")) || 5 : 0;
    throw new ApiError(res.status, typeof detail === "string" ? detail : `请求失败（${res.status}）`, retryAfter);
  }
  return data;
}

export const api = {
  get: (path, params) => request("GET", path, { params }),
  post: (path, body, params) => request("POST", path, { body, params }),
  raw: (method, path, body, signal) => request(method, path, { body, raw: true, signal }),
  // a file as the request body (attachments), and a download with the session's token
  upload: (path, file, params) => request("POST", path, { file, params }),
  blob: async (path) => (await request("GET", path, { raw: true })).blob(),
  setToken: (token) => (token ? sessionStorage.setItem(TOKEN, token) : sessionStorage.removeItem(TOKEN)),
  hasToken: () => Boolean(sessionStorage.getItem(TOKEN)),
};

// h("div", {class: "x", onclick: fn}, child, "text", [more]) builds an element.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el, ...children) {
  el.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
  return el;
}

export function toast(message, ms = 3500) {
  const el = document.getElementById("toast");
  el.textContent = message;
  el.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (el.hidden = true), ms);
}

export function failure(error) {
  return h("p", { class: "error", role: "alert" }, error.message || String(error));
}

const BEIJING = { timeZone: "Asia/Shanghai", hour12: false };

export function when(iso, withYear = false) {
  if (!iso) return "—";
  const d = new Date(iso);
  const opts = { ...BEIJING, month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" };
  if (withYear) opts.year = "numeric";
  return d.toLocaleString("zh-CN", opts).replace(/\//g, "-");
}

export function hours(h) {
  if (h === null || h === undefined) return "—";
  if (Math.abs(h) < 48) return `${Math.round(h * 10) / 10} 小时`;
  const days = Math.floor(h / 24);
  const rest = Math.round(h - days * 24);
  return rest ? `${days} 天 ${rest} 小时` : `${days} 天`;
}

export const SOURCES = {
  hotline: "12345热线", web: "网络留言", grid: "网格上报", ai_video: "AI视频", sensor: "物联感知", referral: "部门转办",
};
export const URGENCY = { normal: "一般", urgent: "紧急", critical: "特急" };
export const LEVELS = { street: "街道（镇）级", district: "区县级", city: "市级", enterprise: "公共企业" };
export const STATUSES = {
  received: "受理", triaged: "分拨", dispatched: "派遣", accepted: "签收", returned: "退单",
  in_progress: "处置中", extension_requested: "延期申请", resolved: "办结", verified: "回访", closed: "归档",
};
export const WAITING = ["received", "triaged", "returned"];
const CLOCK = ["accepted", "in_progress", "extension_requested"];

// The deadline badge: green (time left), amber (due soon: past due_soon_at, which the server
// sets from sla.yaml), red (overdue).
export function deadline(e, now = Date.now()) {
  if (CLOCK.includes(e.status) && e.due_at) {
    const due = Date.parse(e.due_at);
    const left = (due - now) / 3.6e6;
    if (left < 0) return h("span", { class: "badge b-red", dataset: { deadline: "overdue" } }, `超时 ${hours(-left)}`);
    if (e.due_soon_at && now >= Date.parse(e.due_soon_at)) return h("span", { class: "badge b-amber", dataset: { deadline: "soon" } }, `即将到期 · 剩 ${hours(left)}`);
    return h("span", { class: "badge b-green", dataset: { deadline: "ok" } }, `剩 ${hours(left)}`);
  }
  if (WAITING.includes(e.status)) {
    const label = e.status === "returned" ? "退单待重派" : "待分拨";
    return h("span", { class: "badge b-blue", dataset: { deadline: "waiting" } }, label);
  }
  if (e.status === "dispatched") return h("span", { class: "badge b-grey" }, "待签收");
  return null; // resolved or closed: the status badge says it
}

export function statusBadge(status) {
  const tone = { returned: "b-amber", resolved: "b-green", verified: "b-green", closed: "b-grey" }[status] || "b-accent";
  return h("span", { class: `badge ${tone}`, dataset: { status } }, STATUSES[status] || status);
}

export function percent(x, digits = 1) {
  return x === null || x === undefined ? "—" : `${(x * 100).toFixed(digits)}%`;
}

// A modal form: fields, an error line, 取消 / 确定; onSubmit runs on 确定 (the button waits for it)
// and the dialog closes when it succeeds, or shows its error.
export function dialog(title, fields, onSubmit) {
  const error = h("div");
  const form = h("form", { method: "dialog" }, h("h2", {}, title), fields, error,
    h("div", { class: "actions" },
      h("button", { type: "button", onclick: () => dlg.close() }, "取消"),
      h("button", { class: "primary", type: "submit" }, "确定")));
  const dlg = h("dialog", {}, form);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clear(error);
    const ok = form.querySelector("button.primary");
    ok.disabled = true;
    try {
      await onSubmit();
      dlg.close();
    } catch (e) {
      clear(error, failure(e));
    } finally {
      ok.disabled = false;
    }
  });
  dlg.addEventListener("close", () => dlg.remove());
  document.body.append(dlg);
  dlg.showModal();
  return dlg;
}

// A labelled input for a dialog.
export function field(label, input) {
  const id = `f-${Math.random().toString(36).slice(2, 8)}`;
  input.id = id;
  return [h("label", { for: id }, label), input];
}
