"""Routing corrections learned from what officers settled: labels, the model, versions, the
comparison before use and the drift report (on both store backends)."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agents.errors import TrainingError
from agents.feedback import (
    APPLY_AT,
    Example,
    FeedbackModel,
    collect,
    compare,
    drift,
    predict,
    retrain,
    split,
)
from domain.lifecycle import Action
from domain.models import DispatchOrder, EventCreate, Source
from domain.vocabulary import Level, Urgency
from knowledge import Knowledge
from store import EventStore

T0 = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
STREET = "500103001"  # 渝中区 解放碑街道 … a demo street
MUCK = "渣土车夜间未密闭运输，沿路撒落泥土，车牌看不清"


def _dispatched(store: EventStore, n: int, text: str, lead: str, subtype: str = "CA07") -> int:
    at = T0 + timedelta(hours=n)
    event, _ = store.add_event(
        EventCreate(source=Source.HOTLINE, text=f"{text}（第{n}次）", reported_at=at), now=at
    )
    store.db.execute(
        "UPDATE events SET subtype = ?, district = ?, street = ? WHERE id = ?",
        (subtype, STREET[:6], STREET, event.id),
    )
    order = DispatchOrder(
        event_id=event.id,
        lead_department=lead,
        level=Level.DISTRICT,
        urgency=Urgency.NORMAL,
        response_hours=2,
        disposal_hours=72,
    )
    store.dispatch_order(
        store.get_event(event.id),
        order,
        officer="值班员",
        triaged_by="sanji",
        now=at,
        decision="approve",
    )
    return event.id


def _adjudicated(
    store: EventStore, event_id: int, decision: str, returned: str, corrected: str | None, n: int
) -> None:
    at = T0 + timedelta(hours=n, minutes=30)
    store.transition(
        event_id,
        Action.RETURN,
        actor=returned,
        at=at,
        reason="非本单位职责",
        reason_code="not_our_duty",
    )
    store.add_feedback(
        event_id=event_id,
        officer="中心值班长",
        kind="return_adjudicated",
        payload={
            "decision": decision,
            "returned_department": returned,
            "corrected_department": corrected,
            "reason_code": "not_our_duty",
            "note": "",
            "subtype": "CA07",
            "order_id": None,
        },
        now=at,
    )


def test_lessons_come_from_adjudications_edits_and_signed_orders(
    store: EventStore, knowledge: Knowledge
) -> None:
    urban, enforcement = "500103.urban_mgmt", f"{STREET}.street_enforcement"
    moved = _dispatched(store, 1, MUCK, urban)
    _adjudicated(store, moved, "accept", urban, enforcement, 1)
    kept = _dispatched(store, 2, MUCK, urban)
    _adjudicated(store, kept, "reject", urban, None, 2)
    signed = _dispatched(store, 3, "路灯不亮", urban, subtype="CA09")
    store.transition(signed, Action.ACCEPT, actor=urban, at=T0 + timedelta(hours=4))
    unsigned = _dispatched(store, 4, "路灯又不亮", urban, subtype="CA09")
    lessons = {ex.event_id: ex for ex in collect(store, knowledge)}
    assert unsigned not in lessons  # nobody settled anything about it yet
    assert (lessons[moved].drafted, lessons[moved].label) == ("urban_mgmt", "street_enforcement")
    assert lessons[moved].kind == "accepted_return" and lessons[moved].weight == 2.0
    assert lessons[moved].corrected
    assert (lessons[kept].label, lessons[kept].kind) == ("urban_mgmt", "rejected_return")
    assert not lessons[kept].corrected
    assert (lessons[signed].label, lessons[signed].kind) == ("urban_mgmt", "signed")


def _ex(
    n: int,
    label: str,
    district: str = "500103",
    drafted: str = "urban_mgmt",
    kind: str = "accepted_return",
    subtype: str = "CA07",
) -> Example:
    return Example(
        n, f"{MUCK}{n}", subtype, district, drafted, label, kind, T0 + timedelta(hours=n)
    )


def test_a_subtype_needs_enough_corrections_and_the_model_speaks_only_when_sure() -> None:
    two = FeedbackModel.train([_ex(1, "street_enforcement"), _ex(2, "street_enforcement")])
    assert two.models == {} and two.suggest(MUCK, "CA07", "500103") is None
    many = FeedbackModel.train([_ex(n, "street_enforcement") for n in range(6)])
    s = many.suggest(MUCK, "CA07", "500103")
    assert s is not None and s.type == "street_enforcement" and s.corrections == 6
    assert APPLY_AT <= s.probability < 1  # six lessons: sure, never certain
    assert many.suggest(MUCK, "CA09", "500103") is None  # no lesson about street lamps
    assert "6次纠正" in s.reason("解放碑街道综合行政执法大队")


def test_the_model_learns_where_the_correction_holds() -> None:
    """Corrections in one district, confirmations of the draft in another: the model moves the
    lead in the first only."""
    lessons = [_ex(n, "street_enforcement", "500103") for n in range(8)]
    lessons += [_ex(100 + n, "urban_mgmt", "500112", kind="signed") for n in range(8)]
    model = FeedbackModel.train(lessons)
    here = model.suggest(MUCK, "CA07", "500103")
    there = model.suggest(MUCK, "CA07", "500112")
    assert here is not None and here.type == "street_enforcement"
    assert there is None or there.type == "urban_mgmt"
    assert predict(model, _ex(999, "urban_mgmt", "500112")) == "urban_mgmt"


def test_versions_are_kept_and_the_comparison_is_on_later_lessons(tmp_path: Path) -> None:
    lessons = [_ex(n, "street_enforcement") for n in range(10)]
    first = FeedbackModel.train(lessons[:5])
    first.save(tmp_path)
    second = FeedbackModel.train(lessons)
    second.save(tmp_path)
    assert first.version != second.version
    assert (tmp_path / f"feedback-{first.version}.joblib").exists()  # the earlier one stays
    loaded = FeedbackModel.load(tmp_path)
    assert loaded is not None and loaded.version == second.version
    learn, heldout = split(lessons, 0.2)
    assert [e.event_id for e in heldout] == [8, 9] and len(learn) == 8
    c = compare({"规则": None, "新模型": FeedbackModel.train(learn)}, heldout)
    assert c.overall == {"规则": 0.0, "新模型": 1.0}
    assert c.by_subtype["CA07"] == {"cases": 2, "规则": 0.0, "新模型": 1.0}


def test_retrain_refuses_without_corrections_then_promotes_and_drift_names_the_subtype(
    store: EventStore, knowledge: Knowledge, tmp_path: Path
) -> None:
    urban, enforcement = "500103.urban_mgmt", f"{STREET}.street_enforcement"
    first = _dispatched(store, 0, MUCK, urban)
    _adjudicated(store, first, "accept", urban, enforcement, 0)
    with pytest.raises(TrainingError, match="纠正样本不足"):
        retrain(store, knowledge, tmp_path)
    for n in range(1, 12):
        e = _dispatched(store, n, MUCK, urban)
        _adjudicated(store, e, "accept", urban, enforcement, n)
    for n in range(20, 30):  # street lamps go where the rules send them
        e = _dispatched(store, n, "路灯不亮", urban, subtype="CA09")
        store.transition(e, Action.ACCEPT, actor=urban, at=T0 + timedelta(hours=n + 1))
    done = retrain(store, knowledge, tmp_path, holdout=0.3)
    assert done.promoted and done.version is not None and done.previous is None
    assert done.comparison.overall["新模型"] >= done.comparison.overall["规则"]
    assert (tmp_path / "feedback-current.txt").read_text() == done.version
    model = FeedbackModel.load(tmp_path)
    rows = drift(store, knowledge, model)
    flagged = [(r.department_type, r.subtype) for r in rows if r.flagged]
    assert flagged == [("urban_mgmt", "CA07")]
    ca07 = next(r for r in rows if r.subtype == "CA07")
    assert ca07.returned == 12 and ca07.reasons == [("not_our_duty", 12)]
    assert ca07.model_disagrees == 0  # the model now agrees with the officers
    again = retrain(store, knowledge, tmp_path, holdout=0.3)
    assert again.previous == done.version and "当前模型" in again.comparison.models
