"""The period review's facts (tools/period.py) and its offline narrative: periods are local
calendar weeks and months, deadlines count from 签收, a scope sees only its own events, every
number of the template narrative is a number of the facts, and the demo's review week has
what a meeting discusses (hot spot, returned twice, overdue, low satisfaction)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from agents.review_period import model_facts, template_narrative, unknown_numbers
from demo.load import load_demo
from demo.period_week import REPEATED, last_full_week
from domain.clock import CHINA_TZ
from domain.errors import OutOfScope
from domain.lifecycle import Action
from domain.models import EventCreate, Scope, Source
from domain.vocabulary import Urgency
from knowledge import Knowledge
from store import EventStore
from tools.drafting import draft_order
from tools.period import PeriodReview, hot_spots, period_review
from tools.periods import PeriodQuery, period_of, problem

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)  # a Friday; the week before is 2026-W46
WEEK = "2026-W46"
QIJIANG = "500110"
EVERYTHING = Scope(everything=True)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, knowledge: Knowledge) -> Iterator[EventStore]:
    path: Path = tmp_path_factory.mktemp("period") / "s.db"
    store = EventStore.open(f"sqlite:///{path}", knowledge.store_rules)
    load_demo(store, knowledge, seed=11, now=NOW, count=120, period_week=QIJIANG)
    yield store
    store.close()


@pytest.fixture(scope="module")
def review(demo: EventStore, knowledge: Knowledge) -> PeriodReview:
    q = PeriodQuery(jurisdiction=QIJIANG, week=WEEK)
    return period_review(demo, knowledge, EVERYTHING, q, now=NOW)


def test_a_week_a_month_and_dates_are_local_calendar_days_with_the_period_before() -> None:
    week = period_of(PeriodQuery(week="2026-W01"))
    assert (week.first_day, week.last_day) == (date(2025, 12, 29), date(2026, 1, 4))
    assert week.since == datetime(2025, 12, 29, tzinfo=CHINA_TZ)  # Beijing midnight
    assert week.previous_label == "2025-W52"
    assert week.previous_until == week.since
    jan = period_of(PeriodQuery(month="2026-01"))
    assert jan.last_day == date(2026, 1, 31) and jan.previous_label == "2025-12"
    assert jan.until - jan.since == timedelta(days=31)
    days = period_of(PeriodQuery(start=date(2026, 7, 1), end=date(2026, 7, 10)))
    assert days.previous_since == datetime(2026, 6, 21, tzinfo=CHINA_TZ)
    assert last_full_week(NOW) == datetime(2026, 11, 9, tzinfo=CHINA_TZ)


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ({"week": "2026-W60"}, "ISO 周"),
        ({"week": "28"}, "ISO 周"),
        ({"month": "2026-13"}, "年-月"),
        ({"week": "2026-W28", "month": "2026-07"}, "只指定一种时段"),
        ({}, "只指定一种时段"),
        ({"start": date(2026, 7, 2), "end": date(2026, 7, 1)}, "结束日期"),
    ],
)
def test_a_bad_period_is_refused_in_chinese(given: dict, says: str) -> None:
    with pytest.raises(ValueError) as caught:
        period_of(PeriodQuery(**given))
    assert says in problem(caught.value)


def test_the_counts_are_the_events_of_the_place_and_week(
    demo: EventStore, review: PeriodReview
) -> None:
    p = review.period
    _, total = demo.search(EVERYTHING, districts=[QIJIANG], since=p.since, until=p.until)
    assert review.count == total and review.count >= 25
    _, prev = demo.search(
        EVERYTHING, districts=[QIJIANG], since=p.previous_since, until=p.previous_until
    )
    assert review.previous_count == prev and review.change == total - (prev or 0)
    assert sum(t.count for t in review.by_category) == review.count
    assert sum(t.count for t in review.by_area) == review.count
    assert sum(t.previous for t in review.by_area) == review.previous_count
    assert review.area_level == "street"
    assert review.timed >= review.on_time > 0
    assert review.on_time_pct == round(review.on_time / review.timed * 100, 1)
    s = review.satisfaction
    assert sum(s.distribution.values()) == s.count and s.low >= 1
    assert s.low == s.distribution["1"] + s.distribution["2"]


def test_the_review_week_has_a_hot_spot_returns_overdue_and_low_satisfaction(
    demo: EventStore, review: PeriodReview, knowledge: Knowledge
) -> None:
    (spot,) = [h for h in review.hot_spots if h.subtype == REPEATED]
    assert spot.count >= 4 and len(spot.event_ids) == spot.count
    assert len({demo.get_event(i).street for i in spot.event_ids}) == 1
    assert len(review.cases) == 5
    twice = [c for c in review.cases if c.returns >= 2]
    assert twice and all(f"退单{c.returns}次" in c.why for c in twice)
    timeline = [t.action for t in twice[0].timeline]
    assert timeline.count("退单") == twice[0].returns and timeline[0] == "受理"
    assert any(c.hours_late for c in review.cases)
    assert any(c.satisfaction is not None and c.satisfaction <= 2 for c in review.cases)
    assert review.overdue_open >= 1
    # the departments' returns are the returns recorded on the events
    returned = [d for d in review.departments if d.returned]
    assert returned
    recorded = sum(
        len(demo.returns_of(r["id"]))
        for r in demo.search(
            EVERYTHING,
            districts=[QIJIANG],
            since=review.period.since,
            until=review.period.until,
            limit=500,
        )[0]
    )
    assert sum(d.returned for d in review.departments) == recorded
    for d in returned:
        assert sum(x.count for x in d.reasons) <= d.returned
        assert all(x.code in knowledge.return_reasons for x in d.reasons)


def test_every_number_of_the_template_narrative_is_in_the_facts(review: PeriodReview) -> None:
    text = template_narrative(review)
    assert review.jurisdiction_name in text and WEEK in text
    assert f"共受理事件{review.count}件" in text and "重复诉求热点" in text
    assert unknown_numbers(text, model_facts(review)) == []


def test_the_number_check_refuses_what_the_facts_do_not_say() -> None:
    facts = {"count": 12, "change": -3, "on_time_pct": 82.4, "period": {"label": "2026-W28"}}
    assert unknown_numbers("本周2026-W28共12件，减少3件，按时办结率82.4%。", facts) == []
    assert unknown_numbers("按时办结率82%，较上期下降5.5个百分点。", facts) == ["5.5", "82"]


def test_a_street_officer_reviews_only_its_streets(
    demo: EventStore, review: PeriodReview, knowledge: Knowledge
) -> None:
    street = max(review.by_area, key=lambda t: t.count)
    own = Scope(streets=(street.key,))
    mine = period_review(
        demo, knowledge, own, PeriodQuery(jurisdiction=QIJIANG, week=WEEK), now=NOW
    )
    assert mine.count == street.count and mine.jurisdiction_name == street.name
    assert {t.key for t in mine.by_area} == {street.key}
    assert all(c.street_name == street.name for c in mine.cases)
    with pytest.raises(OutOfScope):
        period_review(demo, knowledge, own, PeriodQuery(jurisdiction="500103", week=WEEK), now=NOW)


def test_on_time_counts_from_signing_and_time_to_close_from_the_report(
    tmp_path: Path, knowledge: Knowledge
) -> None:
    store = EventStore.open(f"sqlite:///{tmp_path / 's.db'}", knowledge.store_rules)
    street = knowledge.sample_streets(QIJIANG)[0].code
    monday = datetime(2026, 7, 6, 9, 0, tzinfo=CHINA_TZ)  # 2026-W28

    def handled(n: int, sign_after_h: float, resolve_after_sign: float) -> None:
        reported = monday + timedelta(hours=n)
        event, _ = store.add_event(
            EventCreate(
                source=Source.HOTLINE,
                external_id=f"t{n}",
                text="楼下广场舞噪音扰民",
                reported_at=reported,
            ),
            now=reported,
        )
        store.set_classification(
            event.id,
            street=street,
            district=QIJIANG,
            subtype="EN01",
            category="EN",
            urgency=Urgency.NORMAL,
            now=reported,
        )
        order = draft_order(
            knowledge,
            event_id=event.id,
            subtype="EN01",
            jurisdiction=street,
            urgency=Urgency.NORMAL,
        )
        store.add_order(order, now=reported)
        at = reported
        for action, after in (
            (Action.TRIAGE, 0.1),
            (Action.DISPATCH, 0.1),
            (Action.ACCEPT, sign_after_h),
            (Action.RESOLVE, resolve_after_sign),
        ):
            at += timedelta(hours=after)
            store.transition(event.id, action, actor="测试", at=at)

    disposal = draft_order(
        knowledge, event_id=0, subtype="EN01", jurisdiction=street, urgency=Urgency.NORMAL
    ).disposal_hours
    handled(0, 30, disposal - 1)  # signed late, closed within the deadline from signing
    handled(1, 0.5, disposal + 2)  # signed at once, closed after the deadline
    r = period_review(
        store, knowledge, EVERYTHING, PeriodQuery(jurisdiction=QIJIANG, week="2026-W28"), now=NOW
    )
    store.close()
    assert (r.count, r.timed, r.on_time, r.on_time_pct) == (2, 2, 1, 50.0)
    assert r.median_hours_to_close == round(((30.2 + disposal - 1) + (0.7 + disposal + 2)) / 2, 2)
    (late,) = [c for c in r.cases if c.hours_late]
    assert late.hours_late == 2.0 and "超时2.0小时" in late.why
    assert r.hot_spots == []  # two reports at one place are not a hot spot


def test_hot_spots_join_reports_of_one_subtype_within_300_m(knowledge: Knowledge) -> None:
    def row(n: int, subtype: str, lat: float | None, lon: float | None, address: str = "") -> dict:
        at = datetime(2026, 7, 6, tzinfo=CHINA_TZ) + timedelta(hours=n)
        return {
            "id": n,
            "subtype": subtype,
            "lat": lat,
            "lon": lon,
            "address": address or f"地址{n}",
            "street": "500110001",
            "reported_at": at,
        }

    base_lat, base_lon = 29.0270, 106.6540  # near cell edges on purpose: the grid must not split
    east = 0.25 / (111.0 * math.cos(math.radians(base_lat)))  # 250 m east
    rows = [
        row(1, "EN01", base_lat, base_lon),
        row(2, "EN01", base_lat, base_lon + east),
        row(3, "EN01", base_lat + 0.0020, base_lon),  # 222 m north
        row(4, "EN01", base_lat + 0.0060, base_lon),  # 666 m north: another place
        row(5, "CA01", base_lat, base_lon),  # another subtype at the same spot
        row(6, "CA01", base_lat, base_lon),
        row(7, "WU02", None, None, "古南街道某小区"),  # not located: the same address counts
        row(8, "WU02", None, None, "古南街道某小区"),
        row(9, "WU02", None, None, "古南街道某小区"),
    ]
    spots = hot_spots(knowledge, rows)
    assert [(h.subtype, h.event_ids) for h in spots] == [("EN01", [1, 2, 3]), ("WU02", [7, 8, 9])]
    assert spots[0].place == "地址1" and spots[1].count == 3
