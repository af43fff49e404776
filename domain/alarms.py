"""Perception's words: what a sensor or an AI-video camera sends, and what ingesting it gave.

One pipeline takes readings from every way in (``POST /api/v1/alarms``, MQTT, NATS JetStream).
Its contract, :class:`AlarmSink`, is what the broker consumers rely on: ``ingest`` is
idempotent by ``message_id`` (a redelivered reading never makes a second alarm or event) and
durable when it returns (a consumer acknowledges a message only after that)."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from domain.text import check_storable

#: the most readings one request or one broker batch may carry
MAX_BATCH = 5_000


class Detection(BaseModel):
    """What an AI-video model saw: a label from the device kind's list, how sure it was, and
    where the frame is kept."""

    model_config = ConfigDict(extra="forbid")

    label: str = Field(min_length=1, max_length=64)
    confidence: float = Field(ge=0, le=1)
    image_ref: str | None = Field(default=None, max_length=500)

    @field_validator("label", "image_ref")
    @classmethod
    def _storable(cls, v: Any) -> Any:
        return check_storable(v)


class Reading(BaseModel):
    """One message of one device: metric values, a detection, or both.

    ``message_id`` is the sender's id of this message, the key that makes ingestion
    idempotent; when a sender has none, it is derived from the content (device, time, values),
    so an identical resend is still recognised."""

    model_config = ConfigDict(extra="forbid")

    message_id: str | None = Field(default=None, max_length=128)
    device_id: str = Field(min_length=1, max_length=64)
    observed_at: datetime
    metrics: dict[str, float] = {}
    detection: Detection | None = None
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    attributes: dict[str, Any] = {}

    @field_validator("message_id", "device_id", "attributes", "metrics")
    @classmethod
    def _storable(cls, v: Any) -> Any:
        return check_storable(v)

    @field_validator("metrics")
    @classmethod
    def _finite(cls, v: dict[str, float]) -> dict[str, float]:
        bad = [name for name, x in v.items() if not math.isfinite(x)]
        if bad:
            raise ValueError(f"指标 {'、'.join(bad)} 的值不是有效数字（NaN 或无穷大）")
        return v

    @field_validator("attributes")
    @classmethod
    def _plain_json(cls, v: dict[str, Any]) -> dict[str, Any]:
        try:
            json.dumps(v, allow_nan=False, default=str)
        except ValueError:
            raise ValueError("附加信息中含有 NaN 或无穷大，无法保存") from None
        return v

    @field_validator("observed_at")
    @classmethod
    def _plausible_time(cls, v: datetime) -> datetime:
        if not datetime(1990, 1, 1) <= v.replace(tzinfo=None) <= datetime(2100, 1, 1):
            raise ValueError("观测时间应在 1990 年到 2100 年之间")
        return v

    @model_validator(mode="after")
    def _says_something(self) -> Reading:
        if not self.metrics and self.detection is None and not self.attributes.get("heartbeat"):
            raise ValueError("读数为空：至少要有一个指标值（metrics）或一个识别结果（detection）")
        return self

    @property
    def key(self) -> str:
        """The idempotency key: the sender's message id, or a hash of what the message says."""
        if self.message_id:
            return self.message_id
        body = json.dumps(
            [
                self.device_id,
                self.observed_at.isoformat(),
                sorted(self.metrics.items()),
                self.detection.model_dump() if self.detection else None,
            ],
            ensure_ascii=False,
        )
        return "sha1:" + hashlib.sha1(body.encode()).hexdigest()


class Outcome(StrEnum):
    NEW = "new"  # stored; maybe fired rules, opened or joined an event
    DUPLICATE = "duplicate"  # this message_id was ingested before: nothing changed
    REJECTED = "rejected"  # unknown device, metric not of its kind…: kept with the reason


class IngestResult(BaseModel):
    """What one reading did."""

    key: str
    outcome: Outcome
    alarm_ids: list[int] = []  # alarms this reading raised or extended
    event_ids: list[int] = []  # events opened or joined
    rule_ids: list[str] = []  # rules that fired (ids from the rules file)
    reason: str | None = None  # why a reading was rejected, in Chinese


class AlarmSink(Protocol):
    """Where readings go. Idempotent by :attr:`Reading.key`; durable when it returns."""

    def ingest(self, batch: Sequence[Reading]) -> list[IngestResult]: ...
