// The event queue: waiting events first, filters, deadline badges, duplicate markers, search;
// it refreshes itself when the server pushes a change in scope (and polls only while the push
// stream is down).
import { api, clear, deadline, failure, h, SOURCES, STATUSES, statusBadge, toast, URGENCY, when, WAITING } from "./ui.js";
import { live } from "./live.js";

const PAGE = 30;
const POLL_MS = 10000;

function streetsInScope(me, k) {
  const place = k.places[me.jurisdiction];
  if (!place || place.level === "city") return Object.values(k.places).filter((p) => p.level === "street");
  if (place.level === "district") return Object.values(k.places).filter((p) => p.district === place.code);
  return [place];
}

function option(value, label, selected) {
  return h("option", { value, selected: selected || undefined }, label);
}

function row(e, k) {
  const st = k.subtypes[e.subtype];
  const place = k.places[e.street];
  return h(
    "li",
    { dataset: { event: e.id, street: e.street || "" }, onclick: () => (location.hash = `#/event/${e.id}`) },
    h("span", { class: "id" }, `E${e.id}`),
    h("span", { class: "text", title: e.excerpt }, e.title ? `${e.title}：${e.excerpt}` : e.excerpt),
    h(
      "span",
      { class: "flags" },
      e.urgency !== "normal" ? h("span", { class: "badge b-red" }, URGENCY[e.urgency]) : null,
      e.supervised ? h("span", { class: "badge b-accent" }, "督办") : null,
      e.duplicate_of ? h("span", { class: "badge b-grey", dataset: { duplicate: e.duplicate_of } }, `重复件→E${e.duplicate_of}`) : null,
      e.returns ? h("span", { class: "badge b-amber" }, `退单 ${e.returns} 次`) : null,
      statusBadge(e.status),
      deadline(e),
    ),
    h(
      "span",
      { class: "meta" },
      h("span", {}, when(e.reported_at)),
      h("span", {}, SOURCES[e.source] || e.source),
      h("span", {}, place ? place.name : "未定位"),
      h("span", {}, st ? `${st.category_name} · ${st.name}` : "未分类"),
    ),
  );
}

export async function renderQueue(ctx) {
  const { app, me, k } = ctx;
  const f = { category: "", status: "", source: "", street: "", text: "", offset: 0 };
  const category = h("select", { "aria-label": "大类" }, option("", "全部大类"), k.taxonomy.map((c) => option(c.code, c.name)));
  const status = h("select", { "aria-label": "状态" }, option("", "全部状态"), Object.entries(STATUSES).map(([v, l]) => option(v, l)));
  const source = h("select", { "aria-label": "来源" }, option("", "全部来源"), Object.entries(SOURCES).map(([v, l]) => option(v, l)));
  const streets = streetsInScope(me, k);
  const street = h(
    "select",
    { "aria-label": "街道", disabled: streets.length < 2 || undefined },
    streets.length > 1 ? option("", "全部街道") : null,
    streets.map((s) => option(s.code, s.name)),
  );
  const search = h("input", { type: "search", placeholder: "搜索正文、标题或地址", "aria-label": "搜索" });
  const waitingList = h("ul", { class: "queue", "data-testid": "waiting" });
  const allList = h("ul", { class: "queue", "data-testid": "all" });
  const waitingTitle = h("div", { class: "section-title" });
  const allTitle = h("div", { class: "section-title" });
  const pager = h("div", { class: "pager" });
  const problem = h("div");
  let newest = 0;

  function params(extra) {
    return {
      category: f.category,
      status: f.status,
      source: f.source,
      jurisdiction: f.street || undefined,
      text: f.text,
      ...extra,
    };
  }

  async function load() {
    clear(problem);
    try {
      const showWaiting = !f.status || WAITING.includes(f.status);
      const [waiting, page] = await Promise.all([
        showWaiting ? api.get("/api/v1/events", params({ status: f.status || WAITING, limit: 50 })) : null,
        api.get("/api/v1/events", params({ limit: PAGE, offset: f.offset })),
      ]);
      if (waiting) {
        clear(waitingTitle, h("h2", {}, "待分拨、退单待重派"), h("span", { class: "muted" }, `${waiting.total} 件`));
        clear(waitingList, waiting.items.length ? waiting.items.map((e) => row(e, k)) : h("li", { class: "muted empty" }, "没有等待处理的事件"));
      } else {
        clear(waitingTitle);
        clear(waitingList);
      }
      clear(allTitle, h("h2", {}, "全部事件"), h("span", { class: "muted" }, `${page.total} 件，最新的在前`));
      clear(allList, page.items.length ? page.items.map((e) => row(e, k)) : h("li", { class: "muted empty" }, "没有符合条件的事件"));
      const last = Math.min(f.offset + PAGE, page.total);
      clear(
        pager,
        h("span", { class: "muted small" }, page.total ? `第 ${f.offset + 1}–${last} 件` : ""),
        h("button", { disabled: f.offset === 0 || undefined, onclick: () => { f.offset = Math.max(0, f.offset - PAGE); load(); } }, "上一页"),
        h("button", { disabled: last >= page.total || undefined, onclick: () => { f.offset += PAGE; load(); } }, "下一页"),
      );
      newest = Math.max(newest, ...page.items.map((e) => e.id), 0);
    } catch (e) {
      clear(problem, failure(e));
    }
  }

  for (const [el, key] of [[category, "category"], [status, "status"], [source, "source"], [street, "street"]]) {
    el.addEventListener("change", () => { f[key] = el.value; f.offset = 0; load(); });
  }
  let typing;
  search.addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(() => { f.text = search.value.trim(); f.offset = 0; load(); }, 350);
  });
  if (streets.length === 1) f.street = streets[0].code;

  clear(
    app,
    h("div", { class: "row" }, h("h1", { class: "grow" }, `${me.jurisdiction_name} · 事件`), h("span", { class: "muted small" }, "有变化即时刷新")),
    h("div", { class: "card filters noprint" }, category, status, source, street, search),
    problem,
    h("div", { class: "card" }, waitingTitle, waitingList, allTitle, allList, pager),
  );
  await load();

  // pushed changes: a new event says so; any change in scope refreshes the lists (once for a burst)
  let pending;
  const unsubscribe = live.subscribe((kind, c) => {
    if (kind === "change" && c.action === "receive") toast(`新到事件 E${c.event_id}`);
    clearTimeout(pending);
    pending = setTimeout(load, 300);
  });
  // the fallback while the stream is down: look for new events every 10 seconds
  const timer = setInterval(async () => {
    if (live.up) return;
    try {
      const top = await api.get("/api/v1/events", { limit: 5 });
      const fresh = top.items.filter((e) => e.id > newest);
      if (fresh.length) {
        toast(`新到事件 ${fresh.length} 件：${fresh.map((e) => `E${e.id}`).join("、")}`);
        await load();
      }
    } catch {
      // a failed poll is retried at the next tick
    }
  }, POLL_MS);
  ctx.onLeave(() => {
    clearInterval(timer);
    clearTimeout(pending);
    unsubscribe();
  });
}
