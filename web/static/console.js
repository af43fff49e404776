// The console's shell: sign-in, the signed-in officer, the router between pages.
import { api, clear, failure, h } from "./ui.js";
import { renderQueue } from "./queue.js";
import { renderEvent } from "./event.js";
import { renderAssistant } from "./chat.js";
import { renderReview } from "./review.js";
import { renderDashboard } from "./dashboard.js";
import { renderAlarms } from "./alarms.js";

const app = document.getElementById("app");
const state = { me: null, knowledge: null, stop: null };

async function knowledge() {
  if (!state.knowledge) {
    const [taxonomy, tree, reasons] = await Promise.all([
      api.get("/api/v1/taxonomy"),
      api.get("/api/v1/jurisdictions"),
      api.get("/api/v1/return-reasons"),
    ]);
    const places = {};
    for (const d of tree.districts) {
      places[d.code] = { ...d, level: "district" };
      for (const s of d.streets) places[s.code] = { ...s, level: "street", district: d.code };
    }
    places[tree.code] = { code: tree.code, name: tree.name, level: "city" };
    const subtypes = {};
    for (const c of taxonomy) for (const s of c.subtypes) subtypes[s.code] = { ...s, category: c.code, category_name: c.name };
    state.knowledge = { taxonomy, tree, places, subtypes, reasons };
  }
  return state.knowledge;
}

function signIn() {
  const error = h("div");
  const user = h("input", { name: "username", autocomplete: "username", required: true });
  const pass = h("input", { name: "password", type: "password", autocomplete: "current-password", required: true });
  const form = h(
    "form",
    { class: "card login" },
    h("h1", {}, "登录"),
    h("p", { class: "muted small" }, "请使用本人账号登录，登录后进入本辖区的事件。"),
    h("label", { for: "username" }, "用户名"),
    user,
    h("label", { for: "password" }, "密码"),
    pass,
    error,
    h("button", { class: "primary", type: "submit" }, "登录"),
  );
  user.id = "username";
  pass.id = "password";
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clear(error);
    try {
      const session = await api.post("/api/v1/auth/login", { username: user.value.trim(), password: pass.value });
      api.setToken(session.token);
      state.me = session.user;
      location.hash = "#/queue";
    } catch (e) {
      clear(error, failure(e));
    }
  });
  clear(app, form);
  user.focus();
}

function header() {
  const nav = document.getElementById("nav");
  const who = document.getElementById("who");
  nav.hidden = !state.me;
  if (!state.me) return clear(who);
  const out = h("button", { type: "button", onclick: signOut }, "退出");
  clear(
    who,
    h("span", { class: "name" }, `${state.me.display_name}`),
    h("span", { class: "badge b-grey", "data-testid": "jurisdiction" }, state.me.jurisdiction_name),
    out,
  );
}

async function signOut() {
  try {
    await api.post("/api/v1/auth/logout");
  } catch {
    // the token may have expired already
  }
  api.setToken(null);
  state.me = null;
  location.hash = "#/login";
}

async function route() {
  if (state.stop) state.stop();
  state.stop = null;
  const [, page = "queue", arg] = (location.hash || "#/queue").split("/");
  if (page === "login" || !api.hasToken()) {
    state.me = null;
    header();
    return signIn();
  }
  try {
    if (!state.me) state.me = await api.get("/api/v1/auth/me");
    header();
    for (const a of document.querySelectorAll("[data-nav]")) a.classList.toggle("on", a.dataset.nav === page);
    const ctx = { app, me: state.me, k: await knowledge(), onLeave: (fn) => (state.stop = fn) };
    clear(app, h("p", { class: "muted" }, "正在加载…"));
    if (page === "event" && arg) return await renderEvent(ctx, Number(arg));
    if (page === "review" && arg) return await renderReview(ctx, Number(arg));
    if (page === "assistant") return renderAssistant(ctx);
    if (page === "alarms") return await renderAlarms(ctx);
    if (page === "dashboard") {
      const root = h("div");
      clear(app, h("h1", {}, `${state.me.jurisdiction_name} · 运行概览`), root);
      return await renderDashboard(root, api, state.me);
    }
    return await renderQueue(ctx);
  } catch (e) {
    if (e.status === 503 && e.retryAfter) return preparing(e);
    if (e.status !== 401) clear(app, failure(e));
  }
}

// The server is still preparing what this page needs: say so and try again when it says.
function preparing(error) {
  clear(
    app,
    h(
      "div",
      { class: "card", role: "status", "data-testid": "preparing" },
      h("h1", {}, "正在准备…"),
      h("p", { class: "muted" }, error.message),
      h("p", { class: "muted small" }, `${error.retryAfter} 秒后自动重试。`),
    ),
  );
  const timer = setTimeout(route, error.retryAfter * 1000);
  state.stop = () => clearTimeout(timer);
}

window.addEventListener("hashchange", route);
route();
