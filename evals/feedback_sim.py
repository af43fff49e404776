"""A simulated month with one subtype systematically misrouted, and whether the returns teach.

The knowledge files route a subtype to one department type; in the simulated districts the work
was delegated elsewhere (say 渣土车违规运输 to the street enforcement teams: ``--subtype CA07
--true-type street_enforcement``), which is the kind of error returns reveal. For a month,
demo events are stored, triaged by the offline engine and approved; the department named signs
(签收) when it is the right type, and otherwise returns the order (退单, 非本单位职责). The
owning centre adjudicates the return (``agents.oversight.adjudicate``, as the console does):
accepted and re-dispatched to the right department, the ruling recorded as a label. A few
correct orders are returned too (noise) and the centre rejects those returns.

Then ``agents.feedback.retrain`` runs as ``sanji train --feedback`` does, and the next week's
events (not stored, generated with another seed) are drafted before and after: the share whose
lead has the right type, for the misrouted subtype and for all. The drift report must name it.

    python -m evals.feedback_sim --subtype CA07 --true-type street_enforcement --out DIR
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from langgraph.checkpoint.memory import InMemorySaver

from agents.classifier import ensure_classifier
from agents.deps import AgentDeps
from agents.dispatch import Dispatcher
from agents.feedback import FeedbackModel, drift, retrain
from agents.oversight import adjudicate
from demo.generator import Generator
from domain.lifecycle import Action
from knowledge import Knowledge, default_knowledge
from knowledge.retrieval import BUILTIN_DIR, open_index
from store import EventStore
from tools.routing import department_of_type

START = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)


@dataclass
class SimResult:
    subtype: str
    true_type: str
    districts: list[str]  # where the error holds (empty: everywhere)
    month_events: int
    returned: int
    adjudicated_accept: int
    adjudicated_reject: int
    model_version: str | None
    promoted: bool
    heldout_comparison: dict[str, Any]
    week_events: int
    week: dict[str, dict[str, Any]]  # group → events, lead-type accuracy before and after
    drift_flagged: list[str]


class _Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@dataclass(frozen=True)
class Misrouting:
    """The simulated error: events of ``subtype`` (in ``districts``, or everywhere when
    empty) are done by ``true_type``, not by the type the knowledge names."""

    subtype: str
    true_type: str
    districts: frozenset[str] = frozenset()

    def affects(self, ev: Any) -> bool:
        return ev.subtype == self.subtype and (not self.districts or ev.district in self.districts)

    def truth(self, ev: Any, drafted_type: str) -> str:
        """The type that does the work: the delegated one where the error holds, else what
        the draft named (the knowledge is right elsewhere)."""
        return self.true_type if self.affects(ev) else drafted_type


def _events(
    k: Knowledge, seed: int, start: datetime, days: int, count: int, misrouted: str, share: float
) -> list[Any]:
    gen = Generator(k, seed, start + timedelta(days=days))
    rng = random.Random(seed)
    out = []
    for i in range(count):
        at = start + timedelta(minutes=rng.uniform(0, days * 24 * 60))
        subtype = misrouted if rng.random() < share else None
        out.append(gen.event(i, at, subtype=subtype))
    return sorted(out, key=lambda e: e.create.reported_at)


def _type_of(k: Knowledge, code: str) -> str:
    return k.departments[code].type


def run(
    error: Misrouting,
    *,
    month_events: int,
    week_events: int,
    share: float,
    noise: float,
    workdir: Path,
    seed: int = 11,
    store_url: str | None = None,
    progress: Callable[[str], None] = lambda s: None,
) -> SimResult:
    """Simulate the month in ``workdir`` (its store, index and models; ``store_url`` to put
    the events in another store), retrain, and score the next week before and after."""
    k = default_knowledge()
    subtype = error.subtype
    unknown = [d for d in error.districts if d not in k.jurisdictions]
    if subtype not in k.subtypes or error.true_type not in k.department_types or unknown:
        raise SystemExit(f"未知的小类 {subtype}、部门类型 {error.true_type} 或区县 {unknown}")
    store = EventStore.open(store_url or f"sqlite:///{workdir / 'sim.db'}", k.store_rules)
    index = open_index(workdir / "data", workdir / "chroma")
    index.build([BUILTIN_DIR])
    classifier = ensure_classifier(k, workdir / "models")
    clock = _Clock(START)
    deps = AgentDeps(store, k, index, classifier, clock)
    dispatcher = Dispatcher(deps, InMemorySaver())
    rng = random.Random(seed)
    returned = accepted = rejected = 0
    month = _events(k, seed, START, 30, month_events, subtype, share)
    for n, ev in enumerate(month, 1):
        clock.at = ev.create.reported_at
        event, _ = store.add_event(ev.create, now=clock.at)
        view = dispatcher.triage(event.id, by="sim")
        drafted = view["lead_department"]["code"]
        dispatcher.decide(event.id, {"action": "approve"}, by="值班员")
        truth = error.truth(ev, _type_of(k, drafted))
        clock.at += timedelta(hours=1)
        wrong = _type_of(k, drafted) != truth
        if wrong or rng.random() < noise:
            returned += 1
            code = "not_our_duty" if wrong else "info_insufficient"
            store.transition(
                event.id,
                Action.RETURN,
                actor=drafted,
                at=clock.at,
                reason="非本单位职责" if wrong else "地址不清",
                reason_code=code,
            )
            clock.at += timedelta(hours=1)
            # the owning centre rules on the return as officers do in the console
            if wrong:
                accepted += 1
                corrected = department_of_type(k, truth, ev.street)  # the generator knows where
                adjudicate(
                    store,
                    k,
                    event.id,
                    "accept",
                    "中心值班长",
                    clock.at,
                    corrected_department=corrected,
                    note="退单理由成立，改派",
                )
            else:
                rejected += 1
                adjudicate(
                    store,
                    k,
                    event.id,
                    "reject",
                    "中心值班长",
                    clock.at,
                    note="地址已核实，请继续办理",
                )
        lead = store.get_event(event.id).lead_department or drafted
        clock.at += timedelta(hours=1)
        store.transition(event.id, Action.ACCEPT, actor=lead, at=clock.at)
        if n % 50 == 0:
            progress(f"模拟第 {n}/{len(month)} 件")
    done = retrain(store, k, workdir / "models", holdout=0.2)
    model = FeedbackModel.load(workdir / "models") if done.promoted else None
    week = _events(k, seed + 1000, START + timedelta(days=31), 7, week_events, subtype, share)
    after_deps = replace(deps, feedback=model)
    # (before right, after right) per group: the misrouted events, the same subtype where the
    # knowledge is right (a correction must not spill over), and every event
    scores: dict[str, list[tuple[bool, bool]]] = {
        "misrouted": [],
        "same_subtype_elsewhere": [],
        "all": [],
    }
    before_d, after_d = Dispatcher(deps, None), Dispatcher(after_deps, None)
    for ev in week:
        b = before_d.draft(ev.create, engine="offline")
        a = after_d.draft(ev.create, engine="offline")
        bt = _type_of(k, b["lead_department"]["code"])
        truth = error.truth(ev, bt)
        pair = (bt == truth, _type_of(k, a["lead_department"]["code"]) == truth)
        scores["all"].append(pair)
        if error.affects(ev):
            scores["misrouted"].append(pair)
        elif ev.subtype == subtype:
            scores["same_subtype_elsewhere"].append(pair)
    flagged = [f"{r.department_type}/{r.subtype}" for r in drift(store, k, model) if r.flagged]
    store.close()

    def rate(rows: list[tuple[bool, bool]], i: int) -> float:
        return round(sum(r[i] for r in rows) / len(rows), 4) if rows else 0.0

    return SimResult(
        subtype=subtype,
        true_type=error.true_type,
        districts=sorted(error.districts),
        month_events=len(month),
        returned=returned,
        adjudicated_accept=accepted,
        adjudicated_reject=rejected,
        model_version=done.version,
        promoted=done.promoted,
        heldout_comparison=done.comparison.as_dict(),
        week_events=len(week),
        week={
            group: {"events": len(rows), "before": rate(rows, 0), "after": rate(rows, 1)}
            for group, rows in scores.items()
        },
        drift_flagged=flagged,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--subtype", default="CA07")
    ap.add_argument("--true-type", default="street_enforcement")
    ap.add_argument(
        "--districts", default="", help="comma-separated district codes where the error holds"
    )
    ap.add_argument("--events", type=int, default=400, help="events in the simulated month")
    ap.add_argument("--week", type=int, default=200, help="events in the held-out week")
    ap.add_argument("--share", type=float, default=0.12, help="share of the misrouted subtype")
    ap.add_argument("--noise", type=float, default=0.04, help="share of unfounded returns")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        error = Misrouting(
            args.subtype,
            args.true_type,
            frozenset(d for d in args.districts.split(",") if d),
        )
        result = run(
            error,
            month_events=args.events,
            week_events=args.week,
            share=args.share,
            noise=args.noise,
            workdir=Path(tmp),
            progress=print,
        )
    text = json.dumps(asdict(result), ensure_ascii=False, indent=1)
    print(text)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "feedback-sim.json").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
