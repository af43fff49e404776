// Changes the server pushes (GET /api/v1/stream: Server-Sent Events, read with fetch so that the
// sign-in token travels in its header). One stream per console; pages subscribe to it, and poll
// only while it is down. A reconnect resumes from the last message's id, so nothing is missed.
import { api } from "./ui.js";

// Parse an SSE byte stream into {event, id, data} records (comments and empty data skipped).
export async function* readSSE(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let event = "message";
      let id = null;
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("id:")) id = line.slice(3).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
      }
      if (data.length) yield { event, id, data: JSON.parse(data.join("\n")) };
    }
  }
}

const listeners = new Set();
const state = { running: false, up: false, cursor: null, controller: null };

function mark(up) {
  state.up = up;
  document.body.dataset.live = up ? "on" : "off";
  const badge = document.getElementById("live");
  if (badge) {
    badge.textContent = up ? "实时" : "离线·轮询";
    badge.className = `badge ${up ? "b-green" : "b-amber"}`;
    badge.title = up ? "新事件、派单和退单由服务器即时推送" : "实时连接中断，正在重连；其间每 10 秒刷新";
  }
}

async function run() {
  let wait = 1000;
  while (state.running && api.hasToken()) {
    state.controller = new AbortController();
    try {
      const since = state.cursor ? `?since=${encodeURIComponent(state.cursor)}` : "";
      const res = await api.raw("GET", `/api/v1/stream${since}`, undefined, state.controller.signal);
      if (!res.ok) throw new Error(`stream ${res.status}`);
      for await (const m of readSSE(res)) {
        if (m.id) state.cursor = m.id;
        if (m.event === "ready") {
          mark(true);
          wait = 1000;
        } else if (m.event === "change" || m.event === "draft") {
          for (const fn of listeners) fn(m.event, m.data);
        }
      }
    } catch (e) {
      if (e.name === "AbortError") break;
    }
    mark(false);
    if (!state.running) break;
    await new Promise((r) => setTimeout(r, wait));
    wait = Math.min(wait * 2, 30000);
  }
  state.running = false;
}

export const live = {
  get up() {
    return state.up;
  },
  start() {
    if (!state.running) {
      state.running = true;
      run();
    }
  },
  // fn(kind, change): kind "change" (a lifecycle transition) or "draft" (a draft waiting)
  subscribe(fn) {
    listeners.add(fn);
    live.start();
    return () => listeners.delete(fn);
  },
  stop() {
    state.running = false;
    state.cursor = null;
    if (state.controller) state.controller.abort();
    mark(false);
  },
};
