"""Events and dispatch orders."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from domain.lifecycle import Status
from domain.text import EMPTY_TEXT, check_storable, is_empty
from domain.text import MAX_TEXT_CHARS as MAX_TEXT_CHARS  # the event's limit, read from here
from domain.vocabulary import Level, Urgency

EARLIEST, LATEST = datetime(1990, 1, 1), datetime(2100, 1, 1)


class Source(StrEnum):
    HOTLINE = "hotline"  # 12345 热线来电
    WEB = "web"  # 网络留言
    GRID = "grid"  # 网格员上报
    AI_VIDEO = "ai_video"  # AI 视频识别
    SENSOR = "sensor"  # 物联感知告警
    REFERRAL = "referral"  # 部门转办

    @property
    def zh(self) -> str:
        return {
            "hotline": "12345热线",
            "web": "网络留言",
            "grid": "网格上报",
            "ai_video": "AI视频",
            "sensor": "物联感知",
            "referral": "部门转办",
        }[self.value]


class EventCreate(BaseModel):
    """What arrives: a complaint, a grid report, a video or sensor alarm."""

    model_config = ConfigDict(extra="forbid")

    source: Source
    external_id: str | None = Field(default=None, max_length=128)
    title: str | None = Field(default=None, max_length=500)
    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)
    reported_at: datetime
    address: str | None = Field(default=None, max_length=500)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    reporter_name: str | None = Field(default=None, max_length=100)
    reporter_phone: str | None = Field(default=None, max_length=32)
    attributes: dict[str, Any] = {}

    @field_validator(
        "external_id", "title", "text", "address", "reporter_name", "reporter_phone", "attributes"
    )
    @classmethod
    def _storable(cls, v: Any) -> Any:
        return check_storable(v)

    @field_validator("external_id", mode="before")
    @classmethod
    def _blank_is_none(cls, v: Any) -> Any:
        return None if isinstance(v, str) and not v.strip() else v

    @field_validator("text")
    @classmethod
    def _visible(cls, v: str) -> str:
        if is_empty(v):
            raise ValueError(EMPTY_TEXT)
        return v

    @field_validator("reported_at")
    @classmethod
    def _plausible_time(cls, v: datetime | None) -> datetime | None:
        if v is not None and not EARLIEST <= v.replace(tzinfo=None) <= LATEST:
            raise ValueError("上报时间应在 1990 年到 2100 年之间")
        return v


class Event(EventCreate):
    """A stored event with its current state."""

    model_config = ConfigDict(extra="forbid")

    id: int
    status: Status = Status.RECEIVED
    street: str | None = None
    district: str | None = None
    subtype: str | None = None
    category: str | None = None
    urgency: Urgency = Urgency.NORMAL
    supervised: bool = False
    duplicate_of: int | None = None
    satisfaction: int | None = Field(default=None, ge=1, le=5)
    lead_department: str | None = None
    returns: int = 0
    dispatched_at: datetime | None = None
    accepted_at: datetime | None = None  # 签收: the disposal clock starts here
    due_at: datetime | None = None
    due_soon_at: datetime | None = None  # from here on the event counts as due soon (sla.yaml)
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    version: int = 1
    created_at: datetime
    updated_at: datetime


class Citation(BaseModel):
    """A regulation article cited as legal basis."""

    title: str
    article: str
    article_no: int | None = None
    excerpt: str | None = None


class DispatchOrder(BaseModel):
    """A dispatch order (派单): who must do what by when, and why."""

    event_id: int
    lead_department: str  # department code, e.g. 500103.urban_mgmt (主办)
    assisting_departments: list[str] = []  # 协办
    level: Level
    urgency: Urgency
    response_hours: float = Field(gt=0)
    disposal_hours: float = Field(gt=0)
    legal_basis: list[Citation] = []
    duty_basis: list[str] = []  # 权责清单 duty ids
    escalation_rules: list[str] = []
    steps: list[str] = []
    explanation: str = ""
    engine: str = "offline"
    confidence: float = Field(default=1.0, ge=0, le=1)
    accepted_at: datetime | None = None  # 签收: the clock starts here
    extension_hours: float = 0

    def response_due(self) -> datetime | None:
        if self.accepted_at is None:
            return None
        return self.accepted_at + timedelta(hours=self.response_hours)

    def disposal_due(self) -> datetime | None:
        """Deadline for disposal, counted from signing (签收), including approved extensions."""
        if self.accepted_at is None:
            return None
        return self.accepted_at + timedelta(hours=self.disposal_hours + self.extension_hours)


class Scope(BaseModel):
    """What a caller may see and act on: everything (city), some districts, some streets.

    Events with no known place are visible to city scope only. A department's scope names
    its instance code: it sees the events whose dispatched orders address it, whatever the
    place (``allows`` answers for places only; the store and ``tools.scope`` add the rest)."""

    model_config = ConfigDict(frozen=True)

    everything: bool = False
    districts: tuple[str, ...] = ()
    streets: tuple[str, ...] = ()
    department: str | None = None

    @property
    def empty(self) -> bool:
        return not (self.everything or self.districts or self.streets or self.department)

    def allows(self, district: str | None, street: str | None) -> bool:
        if self.everything:
            return True
        return (district is not None and district in self.districts) or (
            street is not None and street in self.streets
        )
