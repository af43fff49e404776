"""The parts a drafting benchmark runs on: a SQLite store loaded with the demo events, the
built-in regulation index, the offline classifier and a fixed clock. ``workdir`` may be kept
between runs: the regulation index (minutes to embed on a small machine) is then built once,
and the store is copied fresh from a template each time."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from agents.casebook import ensure_casebook
from agents.classifier import ensure_classifier
from agents.deps import AgentDeps
from agents.dispatch import Dispatcher
from demo.load import load_demo
from knowledge import Knowledge, default_knowledge
from knowledge.retrieval import BUILTIN_DIR, open_index
from store import EventStore

#: the benchmark's clock: the demo events and the drafted events are dated before it
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


@dataclass
class Bench:
    knowledge: Knowledge
    deps: AgentDeps
    dispatcher: Dispatcher

    def close(self) -> None:
        self.deps.store.close()


def open_bench(workdir: Path, demo_events: int = 640, *, precedents: bool = True) -> Bench:
    k = default_knowledge()
    workdir.mkdir(parents=True, exist_ok=True)
    template = workdir / f"demo-{demo_events}.db"
    if not template.exists():
        partial = workdir / "demo-partial.db"
        partial.unlink(missing_ok=True)
        seeded = EventStore.open(f"sqlite:///{partial}", k.store_rules)
        load_demo(seeded, k, seed=5, now=NOW, count=demo_events)
        seeded.close()
        partial.rename(template)
    db = workdir / "bench.db"
    db.unlink(missing_ok=True)
    shutil.copyfile(template, db)
    store = EventStore.open(f"sqlite:///{db}", k.store_rules)
    index = open_index(workdir / "data", workdir / "chroma")
    index.build([BUILTIN_DIR])  # incremental: nothing to embed when the workdir is kept
    classifier = ensure_classifier(k, workdir / "models")
    casebook = ensure_casebook(k, workdir / "models") if precedents else None
    deps = AgentDeps(store, k, index, classifier, lambda: NOW, casebook=casebook)
    return Bench(k, deps, Dispatcher(deps, None))
