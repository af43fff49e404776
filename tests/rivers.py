"""The 綦江 episode the trace tests share: a day of basin readings with the 沱湾 outfall
discharging from 06:00, ingested into a store as a consumer would, batch by batch."""

from __future__ import annotations

from datetime import datetime, timedelta

from agents.perception import Perception
from demo.episodes import PollutionEpisode, pollution_episode
from domain.clock import CHINA_TZ
from knowledge import Knowledge
from store import EventStore

DAY = datetime(2026, 6, 1, tzinfo=CHINA_TZ)


def outfall_episode(knowledge: Knowledge, span_hours: int = 33) -> PollutionEpisode:
    """The 沱湾 outfall discharging from 06:00, readings from 12:00 the day before for
    ``span_hours``."""
    return pollution_episode(
        knowledge,
        source="qj-s09",
        day=DAY - timedelta(hours=12),
        span_hours=span_hours,
        starts_at=DAY + timedelta(hours=6),
        seed=7,
    )


def ingest_episode(
    store: EventStore, knowledge: Knowledge, batch: int = 500, span_hours: int = 33
) -> datetime:
    """Ingest the episode through ``Perception`` (no drafts), the clock following the readings;
    the default span ends at 21:00, while the 支坪 station's alarm is still open. Returns the
    time of the last reading."""
    clock = {"now": DAY}
    perception = Perception(store, knowledge, None, clock=lambda: clock["now"])
    ep = outfall_episode(knowledge, span_hours)
    for i in range(0, len(ep.readings), batch):
        part = ep.readings[i : i + batch]
        clock["now"] = part[-1].observed_at
        perception.ingest(part)
    return clock["now"]
