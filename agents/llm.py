"""The only place a chat client is built. Any OpenAI-compatible server works (vLLM, Ollama,
llama.cpp, DeepSeek, Qwen). Answers are JSON parsed into pydantic models; one repair retry,
then ``LLMFailed`` so the caller falls back to its offline engine."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from agents.errors import LLMBadAnswer, LLMFailed, LLMUnavailable
from prompts import Prompt
from settings import Settings

if TYPE_CHECKING:
    import openai

log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)


@dataclass
class Usage:
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)


@dataclass
class ToolCall:
    """A tool the model asks for, with its arguments as the JSON text it wrote."""

    id: str = ""
    name: str = ""
    arguments: str = ""


@dataclass
class ToolTurn:
    """One streamed model turn: the text it wrote and the tools it called (none: the answer)."""

    text: str
    calls: list[ToolCall]


class LLM:
    """A chat model behind an OpenAI-compatible endpoint."""

    def __init__(self, client: openai.OpenAI, model: str) -> None:
        self.client = client
        self.model = model

    def ask(
        self, prompt: Prompt, schema: type[M], usage: Usage, check: Any = None, **values: object
    ) -> M:
        """Render ``prompt``, ask once, repair once; validate with ``schema`` and ``check``
        (a function returning a list of problems in the knowledge, empty when fine)."""
        system, user = prompt.render(**values)
        messages: list[Any] = [
            {"role": "system", "content": system},
            {"role": "user", "content": user},
        ]
        problem = ""
        for attempt in range(2):
            if attempt:
                messages += [
                    {
                        "role": "user",
                        "content": f"上一个回答不可用：{problem}。请只输出符合要求的 JSON。",
                    }
                ]
            content = self._call(messages, usage)
            try:
                parsed = schema.model_validate(_json(content))
            except (ValueError, ValidationError) as exc:
                problem = f"不是合法的 JSON 或字段不符（{str(exc)[:120]}）"
                usage.errors.append(problem)
                messages.append({"role": "assistant", "content": content[:2000]})
                continue
            issues = check(parsed) if check else []
            if not issues:
                return parsed
            problem = "；".join(issues)
            usage.errors.append(problem)
            messages.append({"role": "assistant", "content": content[:2000]})
        raise LLMBadAnswer(f"模型两次回答都不可用：{problem}")

    def ask_or_fall_back(
        self,
        prompt: Prompt,
        schema: type[M],
        usage: Usage,
        fallbacks: list[str],
        failure: str,
        check: Any = None,
        **values: object,
    ) -> M | None:
        """``ask``, or None when the model gives no usable answer: the reason is added to
        ``fallbacks`` after ``failure`` (what the offline engine does instead), so the trace
        says why the offline result stands."""
        try:
            return self.ask(prompt, schema, usage, check=check, **values)
        except LLMFailed as exc:
            fallbacks.append(f"{failure}：{exc}")
            return None

    def stream_tools(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        usage: Usage,
        on_text: Callable[[str], None],
    ) -> ToolTurn:
        """One streamed completion in which the model may call ``tools`` (OpenAI tool specs).
        Text goes to ``on_text`` as it comes; tool-call fragments are joined by index.
        ``LLMUnavailable`` when the endpoint fails, before or during the stream."""
        create: Any = self.client.chat.completions.create  # plain dicts, not the SDK's types
        with self._metered(usage):
            stream = create(
                model=self.model,
                messages=messages,
                tools=tools,
                temperature=0,
                stream=True,
                stream_options={"include_usage": True},
            )
            return _collect(stream, on_text, usage)

    def _call(self, messages: list[Any], usage: Usage) -> str:
        with self._metered(usage):
            response = self.client.chat.completions.create(
                model=self.model,
                messages=messages,
                temperature=0,
                response_format={"type": "json_object"},
            )
        _count_tokens(usage, response.usage)
        choice = response.choices[0] if response.choices else None
        return (choice.message.content or "") if choice else ""

    @contextmanager
    def _metered(self, usage: Usage) -> Iterator[None]:
        """Count one call and its time; an endpoint error (timeouts, refused connections,
        4xx/5xx after retries) is noted and becomes ``LLMUnavailable``."""
        import openai  # imported with the first model call: the graphs import this module

        started = time.perf_counter()
        usage.calls += 1
        try:
            yield
        except openai.APIError as exc:
            usage.errors.append(f"{type(exc).__name__}: {str(exc)[:160]}")
            raise LLMUnavailable(f"模型服务不可用：{type(exc).__name__}") from exc
        finally:
            usage.seconds += time.perf_counter() - started


def _count_tokens(usage: Usage, reported: Any) -> None:
    if reported:
        usage.prompt_tokens += reported.prompt_tokens or 0
        usage.completion_tokens += reported.completion_tokens or 0


def _collect(stream: Iterable[Any], on_text: Callable[[str], None], usage: Usage) -> ToolTurn:
    text: list[str] = []
    calls: dict[int, ToolCall] = {}
    for chunk in stream:
        _count_tokens(usage, getattr(chunk, "usage", None))  # the last chunk, when reported
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        if delta.content:
            text.append(delta.content)
            on_text(delta.content)
        for tc in delta.tool_calls or []:
            call = calls.setdefault(tc.index, ToolCall())
            if tc.id:
                call.id = tc.id
            if tc.function and tc.function.name:
                call.name += tc.function.name
            if tc.function and tc.function.arguments:
                call.arguments += tc.function.arguments
    return ToolTurn("".join(text), [calls[i] for i in sorted(calls)])


def _json(content: str) -> Any:
    """The JSON object in an answer, tolerating code fences and text around it."""
    text = content.strip()
    fenced = re.search(r"```(?:json)?\s*(\{.*\})\s*```", text, re.S)
    if fenced:
        text = fenced.group(1)
    start, end = text.find("{"), text.rfind("}")
    if start == -1 or end <= start:
        raise ValueError("no JSON object in the answer")
    return json.loads(text[start : end + 1])


@dataclass(frozen=True)
class EndpointStatus:
    """What the model endpoint said when asked for its models."""

    url: str
    ok: bool
    models: list[str] = field(default_factory=list)
    error: str | None = None


def probe_endpoint(settings: Settings, timeout: float) -> EndpointStatus:
    """Ask the configured endpoint for its models (``GET …/models``): the one check behind
    ``sanji doctor`` and ``/readyz``. Never raises."""
    url = str(settings.llm_base_url).rstrip("/") + "/models"
    headers = {"Authorization": f"Bearer {settings.llm_api_key.get_secret_value()}"}
    try:
        r = httpx.get(url, headers=headers, timeout=timeout)
    except httpx.HTTPError as exc:
        return EndpointStatus(url, False, error=f"{type(exc).__name__}: {exc}")
    if r.status_code != 200:
        return EndpointStatus(url, False, error=f"HTTP {r.status_code}")
    try:
        models = [str(m.get("id")) for m in r.json().get("data", [])]
    except (ValueError, AttributeError):
        return EndpointStatus(url, False, error="回答不是模型列表（不是 JSON）")
    return EndpointStatus(url, True, models)


def build_llm(settings: Settings) -> LLM | None:
    """The configured model, or None when no endpoint is set (offline engines only)."""
    if not settings.llm_configured:
        return None
    import openai

    client = openai.OpenAI(
        base_url=str(settings.llm_base_url),
        api_key=settings.llm_api_key.get_secret_value(),
        timeout=settings.llm_timeout_s,
        max_retries=2,
    )
    return LLM(client, settings.llm_model)
