"""Time zones of the domain: naive timestamps (as in most Chinese source data) are Beijing
time; everything is compared and stored in UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

CHINA_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")


def to_utc(value: datetime) -> datetime:
    """``value`` in UTC; a naive value is read as Beijing time."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=CHINA_TZ)
    return value.astimezone(UTC)
