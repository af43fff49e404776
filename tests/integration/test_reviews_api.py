"""``GET /api/v1/reviews/period`` and its PDF and XLSX downloads on a live server (SQLite and
PostgreSQL): officers only, each within its scope (a street officer asking for its district
gets its own street), bad periods and places refused in Chinese."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from demo.load import load_demo
from demo.period_week import last_full_week
from knowledge import Knowledge
from store import EventStore
from tests.live import Live, backend_live

YUZHONG = "500103"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def live(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    prepared_data: Path,
    knowledge: Knowledge,
) -> Iterator[Live]:
    root = tmp_path_factory.mktemp(f"reviews-{request.param}")
    with backend_live(root, prepared_data, knowledge, backend=request.param, events=60) as server:
        store = EventStore.open(str(server.settings.database_url), knowledge.store_rules)
        load_demo(store, knowledge, seed=3, now=datetime.now(UTC), count=0, period_week=YUZHONG)
        store.close()
        yield server


@pytest.fixture(scope="module")
def week() -> str:
    year, number, _ = last_full_week(datetime.now(UTC)).isocalendar()
    return f"{year}-W{number:02d}"


def review(live: Live, user: str, **params: Any) -> Any:
    with live.client(user) as c:
        return c.get("/api/v1/reviews/period", params=params)


def test_a_district_review_has_the_facts_and_a_narrative(live: Live, week: str) -> None:
    r = review(live, "yuzhong", district="渝中区", week=week)
    assert r.status_code == 200, r.text
    body = r.json()
    f = body["facts"]
    assert f["jurisdiction"] == YUZHONG and f["period"]["label"] == week
    assert f["count"] >= 30 and len(f["cases"]) == 5
    assert all(c["timeline"] and c["why"] for c in f["cases"])
    assert any(c["returns"] >= 2 for c in f["cases"]) and f["hot_spots"]
    assert body["engine"] == "offline" and f"共受理事件{f['count']}件" in body["narrative"]
    by_code = review(live, "city", district=YUZHONG, week=week).json()["facts"]
    assert by_code["count"] == f["count"] and by_code["by_area"] == f["by_area"]


def test_a_street_officer_sees_its_own_street_only(
    live: Live, week: str, knowledge: Knowledge
) -> None:
    district = review(live, "yuzhong", district="渝中区", week=week).json()["facts"]
    mine = review(live, "jiefangbei", district="渝中区", week=week)
    assert mine.status_code == 200, mine.text
    f = mine.json()["facts"]
    jiefangbei = next(j.code for j in knowledge.jurisdictions.values() if j.name == "解放碑街道")
    assert f["jurisdiction_name"] == "解放碑街道"
    assert {t["key"] for t in f["by_area"]} <= {jiefangbei}
    own = next((t["count"] for t in district["by_area"] if t["key"] == jiefangbei), 0)
    assert f["count"] == own
    assert all(c["street_name"] == "解放碑街道" for c in f["cases"])
    other = review(live, "jiefangbei", district="江北区", week=week)
    assert other.status_code == 403 and "无权查看" in other.json()["detail"]
    assert review(live, "jiangbei", district="渝中区", week=week).status_code == 403


def test_integrations_may_not_read_reviews(live: Live, week: str) -> None:
    r = review(live, "hotline", district="渝中区", week=week)
    assert r.status_code == 403 and "只能报送事件" in r.json()["detail"]


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"district": "渝中区", "week": "2026-W99"}, "ISO 周"),
        ({"district": "渝中区", "month": "2026-13"}, "年-月"),
        ({"district": "渝中区"}, "只指定一种时段"),
        ({"district": "渝北", "week": "2026-W28"}, "没有名为「渝北」的辖区"),
        ({"district": "解放碑街道", "week": "2026-W28"}, "不是区县"),
        ({"district": "渝中区", "from": "2026-07-10", "to": "2026-07-01"}, "结束日期"),
    ],
)
def test_bad_requests_are_refused_in_chinese(live: Live, params: dict, says: str) -> None:
    r = review(live, "city", **params)
    assert r.status_code == 422 and says in r.json()["detail"], r.text


def test_the_llm_engine_without_a_model_says_the_template_stands(live: Live, week: str) -> None:
    body = review(live, "city", district="渝中区", week=week, engine="llm").json()
    assert body["engine"] == "offline" and "未配置大模型" in body["fallbacks"][0]


def test_the_pdf_and_xlsx_downloads(live: Live, week: str) -> None:
    facts = review(live, "yuzhong", district="渝中区", week=week).json()["facts"]
    with live.client("yuzhong") as c:
        pdf = c.get("/api/v1/reviews/period.pdf", params={"district": "渝中区", "week": week})
        xlsx = c.get("/api/v1/reviews/period.xlsx", params={"district": "渝中区", "week": week})
        bad = c.get("/api/v1/reviews/period.pdf", params={"district": "渝中区", "week": "x"})
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert re.search(r"filename\*=UTF-8''%E5%A4%8D%E7%9B%98-", pdf.headers["content-disposition"])
    assert xlsx.status_code == 200 and "spreadsheetml" in xlsx.headers["content-type"]
    book = load_workbook(io.BytesIO(xlsx.content))
    overview = {row[0]: row[1] for row in book["概况"].iter_rows(values_only=True)}
    assert overview["事件数"] == facts["count"] and overview["辖区"] == "渝中区"
    cases = [row[0] for row in book["重点事件"].iter_rows(values_only=True)][1:]
    assert cases == [c["event_id"] for c in facts["cases"]]
    assert bad.status_code == 422 and "ISO 周" in bad.json()["detail"]
