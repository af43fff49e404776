// The assistant: a chat panel that streams answers (Server-Sent Events over POST) and shows
// where every fact came from, as links to events and to the articles' text.
import { api, clear, h } from "./ui.js";
import { readSSE } from "./live.js";

const SUGGESTIONS = [
  "今天有哪些超时未办结的事件",
  "本周噪音投诉多少件，比上周多还是少",
  "哪些事件快到期了",
  "占道经营依据什么规定处罚",
];

function article(a) {
  const link = h("a", { href: "#", dataset: { source: "article" } }, a.citation || `《${a.title}》${a.article}`);
  link.addEventListener("click", async (ev) => {
    ev.preventDefault();
    const box = link.nextElementSibling && link.nextElementSibling.classList.contains("law") ? link.nextElementSibling : null;
    if (box) return box.remove();
    try {
      const hit = await api.get("/api/v1/regulations/article", { title: a.title, article: a.article });
      link.after(h("div", { class: "law small" }, hit.text, hit.digest ? h("div", { class: "muted" }, "（Sanji 编写的要点摘要，以法规原文为准）") : null));
    } catch (e) {
      link.after(h("div", { class: "law small error" }, e.message));
    }
  });
  return link;
}

function sources(src) {
  const links = [
    ...src.events.map((id) => h("a", { href: `#/event/${id}`, dataset: { source: "event" } }, `E${id}`)),
    ...src.articles.map(article),
  ];
  return links.length ? h("div", { class: "src" }, h("span", { class: "muted" }, "出处："), links) : null;
}

export function chatPanel(ctx, { eventId = null, thread = null } = {}) {
  const threadId = thread || `console-${Date.now().toString(36)}`;
  const log = h("div", { class: "log", "data-testid": "chat-log" });
  const input = h("input", { placeholder: eventId ? "例如：这起事件依据哪条规定处理" : "请输入问题，例如：今天有哪些超时未办结的事件", "aria-label": "问题" });
  const send = h("button", { class: "primary", type: "submit" }, "发送");
  const form = h("form", {}, input, send);

  async function ask(text) {
    if (!text.trim()) return;
    log.append(h("div", { class: "msg user" }, text));
    const bubble = h("div", { class: "msg assistant", "data-testid": "answer" });
    const body = h("span");
    bubble.append(body);
    log.append(bubble);
    send.disabled = true;
    try {
      const res = await api.raw("POST", "/api/v1/chat", { thread_id: threadId, message: text, event_id: eventId || undefined });
      if (!res.ok) {
        const detail = (await res.json()).detail;
        throw new Error(typeof detail === "string" ? detail : "提问失败");
      }
      for await (const { event, data } of readSSE(res)) {
        if (event === "delta") body.textContent += data.text;
        else if (event === "reset") body.textContent = "";
        else if (event === "sources") { const s = sources(data); if (s) bubble.append(s); }
        else if (event === "proposal") {
          bubble.append(h("div", { class: "actions" },
            h("button", { class: "good", "data-testid": "confirm", onclick: () => ask("确认派单") }, "确认派单"),
            h("button", { onclick: () => ask("取消") }, "取消")));
        } else if (event === "done") bubble.dataset.done = "1";
        else if (event === "error") body.textContent += `\n（出错：${data.detail}）`;
        log.scrollTop = log.scrollHeight;
      }
    } catch (e) {
      body.textContent = e.message;
      bubble.classList.add("error");
    } finally {
      send.disabled = false;
      bubble.dataset.done = "1";
    }
  }

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const text = input.value;
    input.value = "";
    ask(text);
  });
  const suggest = h("div", { class: "suggest" },
    (eventId ? ["这起事件依据哪条规定处理", "和这件事类似的还有哪些", "帮我给这件事起草派单"] : SUGGESTIONS)
      .map((s) => h("button", { type: "button", onclick: () => ask(s) }, s)));
  return h("div", { class: "chat" }, log, suggest, form);
}

export function renderAssistant(ctx) {
  clear(ctx.app,
    h("h1", {}, "值班助手"),
    h("p", { class: "muted small" }, `按您的辖区（${ctx.me.jurisdiction_name}）回答；涉及派单的操作需要您确认后才执行。每个回答都列出出处。`),
    h("section", { class: "card" }, chatPanel(ctx)));
}
