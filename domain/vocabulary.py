"""The ground floor's words: administrative levels, urgencies and the store's rules. Knowledge files, the store,
tools and agents all speak them; this module imports nothing of the project."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Level(StrEnum):
    """Administrative level that owns an event or holds a duty."""

    CITY = "city"
    DISTRICT = "district"
    STREET = "street"
    ENTERPRISE = "enterprise"  # utilities: one instance city-wide, outside the government ladder

    @property
    def zh(self) -> str:
        return {"city": "市级", "district": "区县级", "street": "镇街级", "enterprise": "企业"}[
            self
        ]

    @property
    def rank(self) -> int:
        return {"street": 0, "district": 1, "city": 2, "enterprise": 1}[self]


class Urgency(StrEnum):
    NORMAL = "normal"
    URGENT = "urgent"
    CRITICAL = "critical"

    @property
    def zh(self) -> str:
        return {"normal": "一般", "urgent": "紧急", "critical": "特急"}[self]

    @property
    def rank(self) -> int:
        return {"normal": 0, "urgent": 1, "critical": 2}[self]


@dataclass(frozen=True)
class StoreRules:
    """The two rules the event store enforces by itself: which return (退单) codes exist and
    what share of an order's time left makes it 'due soon'. Taken from the knowledge files by
    the wiring root; ``None`` return codes accept any code."""

    return_reasons: frozenset[str] | None = None
    due_soon_fraction: float = 0.2
