"""Periods of a review: an ISO week, a month or a span of days, read as local (Beijing)
calendar days, and the period of the same length just before it."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from pydantic import BaseModel, Field, model_validator

from domain.clock import CHINA_TZ

WEEK = re.compile(r"^(\d{4})-?W(\d{1,2})$")
MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")


class PeriodQuery(BaseModel):
    jurisdiction: str | None = Field(
        default=None, description="区县或街道编码；不填则为本人全部辖区（全市需市级权限）"
    )
    week: str | None = Field(default=None, description="ISO 周，如 2026-W28")
    month: str | None = Field(default=None, description="月份，如 2026-07")
    start: date | None = Field(default=None, description="起始日期（含）")
    end: date | None = Field(default=None, description="结束日期（含）")

    @model_validator(mode="after")
    def one_period(self) -> PeriodQuery:
        given = [self.week is not None, self.month is not None, self.start is not None]
        if sum(given) != 1 or (self.start is None) != (self.end is None):
            raise ValueError("请只指定一种时段：周（如 2026-W28）、月（如 2026-07）或起止日期")
        return self


class Period(BaseModel):
    label: str = Field(description="时段名称，如 2026-W28")
    since: datetime = Field(description="起（含，UTC）")
    until: datetime = Field(description="止（不含，UTC）")
    first_day: date
    last_day: date
    previous_label: str
    previous_since: datetime
    previous_until: datetime


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=CHINA_TZ)


def period_of(q: PeriodQuery) -> Period:
    """The local (Beijing) calendar days of the requested period and of the one before it."""
    if q.week is not None:
        m = WEEK.match(q.week.strip())
        try:
            if not m:
                raise ValueError
            first = date.fromisocalendar(int(m.group(1)), int(m.group(2)), 1)
        except ValueError:
            raise ValueError(f"周「{q.week}」格式不对，应为 2026-W28 这样的 ISO 周") from None
        end = first + timedelta(days=7)
        py, pw, _ = (first - timedelta(days=7)).isocalendar()
        label, previous = f"{m.group(1)}-W{int(m.group(2)):02d}", f"{py}-W{pw:02d}"
        prev_first = first - timedelta(days=7)
    elif q.month is not None:
        m = MONTH.match(q.month.strip())
        if not m or not 1 <= int(m.group(2)) <= 12:
            raise ValueError(f"月份「{q.month}」格式不对，应为 2026-07 这样的年-月")
        first = date(int(m.group(1)), int(m.group(2)), 1)
        end = (first + timedelta(days=32)).replace(day=1)
        prev_first = (first - timedelta(days=1)).replace(day=1)
        label, previous = f"{first:%Y-%m}", f"{prev_first:%Y-%m}"
    else:
        assert q.start is not None and q.end is not None
        if q.end < q.start:
            raise ValueError("结束日期不能早于起始日期")
        if (q.end - q.start).days > 366:
            raise ValueError("时段不能超过一年")
        first, end = q.start, q.end + timedelta(days=1)
        prev_first = first - (end - first)
        label = f"{first:%Y-%m-%d}至{q.end:%Y-%m-%d}"
        previous = f"{prev_first:%Y-%m-%d}至{first - timedelta(days=1):%Y-%m-%d}"
    return Period(
        label=label,
        since=_midnight(first),
        until=_midnight(end),
        first_day=first,
        last_day=end - timedelta(days=1),
        previous_label=previous,
        previous_since=_midnight(prev_first),
        previous_until=_midnight(first),
    )


def problem(exc: ValueError) -> str:
    """The officer-readable reason of a rejected period query (a pydantic error's message
    without its framing)."""
    errors = getattr(exc, "errors", None)
    if callable(errors):
        return "；".join(str(e.get("ctx", {}).get("error", e["msg"])) for e in errors())
    return str(exc)
