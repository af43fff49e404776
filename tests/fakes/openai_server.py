"""A scripted OpenAI-compatible chat server over real HTTP on 127.0.0.1.

Each test scripts the answers in order: a dict (sent as JSON content), a plain string (sent
as is: garbage, truncated JSON), ``Status(code)`` (an HTTP error), ``Slow(seconds, answer)``.
Every request is recorded; ``close()`` fails if the script was not used up exactly."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Status:
    code: int


@dataclass
class Slow:
    seconds: float
    answer: Any


@dataclass
class ToolCalls:
    """The model asks for tools: a list of (name, arguments as a dict)."""

    calls: list[tuple[str, dict[str, Any]]]


@dataclass
class Say:
    """Plain assistant text (for chat answers, streamed when the request asks for it)."""

    text: str


class ScriptedServer:
    def __init__(self, script: list[Any]) -> None:
        self.script = list(script)
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output quiet
                return

            def do_GET(self) -> None:
                if self.path.rstrip("/").endswith("/models"):
                    self._send(
                        200, {"object": "list", "data": [{"id": "scripted", "object": "model"}]}
                    )
                else:
                    self._send(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:
                body = json.loads(
                    self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}"
                )
                with server._lock:
                    server.requests.append(body)
                    step = server.script.pop(0) if server.script else Status(599)
                if isinstance(step, Slow):
                    time.sleep(step.seconds)
                    step = step.answer
                if isinstance(step, Status):
                    self._send(
                        step.code,
                        {"error": {"message": f"scripted {step.code}", "type": "server_error"}},
                    )
                    return
                if body.get("stream"):
                    self._stream(step, body)
                    return
                if isinstance(step, Say):
                    step = step.text
                content = (
                    json.dumps(step, ensure_ascii=False) if isinstance(step, dict) else str(step)
                )
                self._send(
                    200,
                    {
                        "id": f"chatcmpl-{len(server.requests)}",
                        "object": "chat.completion",
                        "created": 0,
                        "model": body.get("model", "scripted"),
                        "choices": [
                            {
                                "index": 0,
                                "finish_reason": "stop",
                                "message": {"role": "assistant", "content": content},
                            }
                        ],
                        "usage": {
                            "prompt_tokens": 100,
                            "completion_tokens": 20,
                            "total_tokens": 120,
                        },
                    },
                )

            def _stream(self, step: Any, body: dict[str, Any]) -> None:
                """Server-sent chunks as OpenAI streams them: text in small deltas, or tool
                calls, then a finish reason, the usage when asked for (100 prompt tokens, one
                completion token per chunk) and [DONE]."""
                base = {"id": "chatcmpl-s", "object": "chat.completion.chunk", "created": 0}
                base["model"] = body.get("model", "scripted")
                chunks: list[dict[str, Any]] = []
                if isinstance(step, ToolCalls):
                    for n, (name, args) in enumerate(step.calls):
                        text = json.dumps(args, ensure_ascii=False)
                        call = {"index": n, "id": f"call_{n}", "type": "function"}
                        chunks.append(
                            {
                                "tool_calls": [
                                    {**call, "function": {"name": name, "arguments": text[:5]}}
                                ]
                            }
                        )
                        chunks.append(
                            {"tool_calls": [{"index": n, "function": {"arguments": text[5:]}}]}
                        )
                    finish = "tool_calls"
                else:
                    text = step.text if isinstance(step, Say) else str(step)
                    chunks = [{"content": text[i : i + 4]} for i in range(0, len(text), 4)]
                    finish = "stop"
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.end_headers()
                    for delta in chunks:
                        choice = {"index": 0, "delta": delta, "finish_reason": None}
                        self.wfile.write(
                            f"data: {json.dumps({**base, 'choices': [choice]})}\n\n".encode()
                        )
                    last = {"index": 0, "delta": {}, "finish_reason": finish}
                    self.wfile.write(
                        f"data: {json.dumps({**base, 'choices': [last]})}\n\n".encode()
                    )
                    if (body.get("stream_options") or {}).get("include_usage"):
                        usage = {"prompt_tokens": 100, "completion_tokens": len(chunks)}
                        usage["total_tokens"] = 100 + len(chunks)
                        tail = {**base, "choices": [], "usage": usage}
                        self.wfile.write(f"data: {json.dumps(tail)}\n\n".encode())
                    self.wfile.write(b"data: [DONE]\n\n")
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def _send(self, code: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload, ensure_ascii=False).encode()
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def prompts(self) -> list[str]:
        return ["\n".join(m.get("content") or "" for m in r["messages"]) for r in self.requests]

    def close(self, *, expect_all_used: bool = True) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if expect_all_used and self.script:
            raise AssertionError(
                f"the model was called fewer times than scripted; {len(self.script)} answers left"
            )
