"""The wiring root: ``build_services(settings)`` builds, once, everything the server, the
``sanji`` command, LangGraph Studio and the evals run on: knowledge → store → regulation
index → classifier → model client → checkpointer → dispatcher → chat assistant.

Nothing else opens a store or builds ``AgentDeps``; callers take what they need from the
``Services`` and close it when done (it is a context manager)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agents.casebook import ensure_casebook
from agents.chat import ChatAssistant
from agents.checkpoint import close_checkpointer, open_checkpointer
from agents.classifier import ensure_classifier, zero_shot
from agents.deps import AgentDeps
from agents.dispatch import Dispatcher
from agents.llm import build_llm
from agents.perception import Perception
from knowledge import Knowledge, default_knowledge
from knowledge.retrieval import RegulationIndex, open_index, open_ready_index
from settings import Settings
from store import EventStore

if TYPE_CHECKING:
    from agents.feedback import FeedbackModel

log = logging.getLogger(__name__)

Observer = Callable[[list[dict[str, Any]]], None]
#: told each step of the build as (step, what is happening), e.g. ("index", "《…》：已嵌入 256/900")
Progress = Callable[[str, str], None]

#: told the store and the knowledge as soon as the store is open, before the slow parts
Opened = Callable[[EventStore, Knowledge], None]

#: the steps of ``build_services`` in order, with what officers are told while each runs
STEPS = {
    "store": "正在打开事件库",
    "index": "正在准备法规索引（首次启动时构建，可能需要一两分钟）",
    "classifier": "正在准备事件分类模型",
    "checkpointer": "正在打开审批检查点",
    "warm_up": "正在预热",
    "prepare": "正在导入演示数据和账号",  # the server's, beside the steps above
}


def _quiet(step: str, detail: str) -> None:
    pass


def open_store(settings: Settings, knowledge: Knowledge | None = None) -> EventStore:
    """The configured event store, migrated, enforcing the knowledge's rules. For commands
    that need the store alone (users, demo data, imports); everything else takes
    ``build_services``."""
    k = knowledge or default_knowledge()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return EventStore.open(
        settings.resolved_database_url, k.store_rules, pool_size=settings.db_pool_size
    )


def open_configured_index(
    settings: Settings,
    *,
    build_if_empty: bool = True,
    progress: Callable[[str], None] | None = None,
) -> RegulationIndex:
    """The configured regulation index; built from the shipped digests when still empty
    (telling ``progress`` how far it got), unless ``build_if_empty`` is False (the index
    commands, which report emptiness)."""
    url, headers = settings.chroma_server or (None, {})
    where = (settings.data_dir, settings.resolved_chroma_path, url)
    cache = settings.resolved_vector_cache
    if not build_if_empty:
        return open_index(*where, headers=headers, vector_cache=cache)
    return open_ready_index(*where, headers=headers, progress=progress, vector_cache=cache)


@dataclass
class Services:
    """What one process runs on. ``checkpointer`` is None for services that only draft
    (nothing waits for approval across restarts then)."""

    settings: Settings
    deps: AgentDeps
    checkpointer: Any
    dispatcher: Dispatcher
    _closed: bool = field(default=False, repr=False)
    _stop_sweeping: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def knowledge(self) -> Knowledge:
        return self.deps.knowledge

    @property
    def store(self) -> EventStore:
        return self.deps.store

    @property
    def index(self) -> RegulationIndex:
        return self.deps.index

    @cached_property
    def chat(self) -> ChatAssistant:
        """The officers' assistant, sharing the dispatcher's checkpointer and drafts."""
        return ChatAssistant(self.deps, self.checkpointer, self.dispatcher)

    @cached_property
    def perception(self) -> Perception:
        """The one alarm sink: readings from the API and the brokers become alarms and
        events; its windows and open alarms are rebuilt from the store at first use. New
        events are triaged when there is a checkpointer to keep their drafts."""
        return Perception(
            self.store,
            self.knowledge,
            self.dispatcher,
            clock=self.deps.clock,
            draft=self.checkpointer is not None,
        )

    def sweep_every(self, seconds: float) -> None:
        """Run ``perception.sweep`` every ``seconds`` in a daemon thread until ``close``
        (silent sensors become events without a reading to trigger them). 0: never."""
        if seconds <= 0:
            return
        stop = self._stop_sweeping

        def loop() -> None:
            while not stop.wait(seconds):
                try:
                    self.perception.sweep()
                except Exception:  # the next round tries again; nothing is lost meanwhile
                    log.exception("perception sweep failed")

        threading.Thread(target=loop, name="sanji-perception-sweep", daemon=True).start()

    def warm_up(self, progress: Progress = _quiet) -> None:
        """Build the lazy parts (label embeddings of the zero-shot path, the lexical index)
        before the first request rather than during it."""
        progress("warm_up", "")
        started = time.perf_counter()
        zero_shot(self.knowledge, "预热")
        self.index.search("预热", k=1)
        log.info("warmed up in %.1f s", time.perf_counter() - started)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._stop_sweeping.set()
        if self.checkpointer is not None:
            close_checkpointer(self.checkpointer)
        self.store.close()

    def __enter__(self) -> Services:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def load_feedback(models_dir: Path) -> FeedbackModel | None:
    """The routing corrections officers taught (``sanji train --feedback``), if any: the
    module (scikit-learn) is imported only when a model was trained."""
    if not (models_dir / "feedback-current.txt").exists():
        return None
    from agents.feedback import FeedbackModel

    return FeedbackModel.load(models_dir)


def build_services(
    settings: Settings,
    *,
    durable: bool = True,
    observe: Observer | None = None,
    knowledge: Knowledge | None = None,
    clock: Callable[[], datetime] | None = None,
    progress: Progress = _quiet,
    opened: Opened | None = None,
) -> Services:
    """Build every part from the settings. ``durable=False`` skips the checkpointer (drafts
    only: evals, benchmarks, Studio, whose server brings its own); ``observe`` receives each
    run's trace (the server's metrics); ``progress`` is told each step (``STEPS``);
    ``opened`` gets the store and the knowledge as soon as the store is open, before the
    slow parts are built (the server prepares its demo data there and starts serving what
    needs nothing more)."""
    k = knowledge or default_knowledge()
    progress("store", "")
    store = open_store(settings, k)
    try:
        if opened is not None:
            opened(store, k)
        progress("index", "")
        index = open_configured_index(settings, progress=lambda detail: progress("index", detail))
        progress("classifier", "")
        classifier = ensure_classifier(k, settings.data_dir / "models")
        casebook = ensure_casebook(k, settings.data_dir / "models") if settings.precedents else None
        deps = AgentDeps(
            store,
            k,
            index,
            classifier,
            clock or (lambda: datetime.now(UTC)),
            llm=build_llm(settings),
            feedback=load_feedback(settings.data_dir / "models"),
            casebook=casebook,
        )
        if durable:
            progress("checkpointer", "")
        checkpointer = (
            open_checkpointer(
                settings.resolved_database_url, settings.data_dir, settings.db_pool_size
            )
            if durable
            else None
        )
    except BaseException:
        store.close()
        raise
    dispatcher = Dispatcher(deps, checkpointer, observe=observe or (lambda trace: None))
    return Services(settings, deps, checkpointer, dispatcher)
