"""Request and response models of the JSON API. Suffixes say the role: ``…In`` is a request
body, ``…Public`` a response as callers read it. The dispatch draft itself is a domain
contract (``domain.drafts``); the error bodies are in ``api.errors``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import HTTPException
from pydantic import BaseModel, ConfigDict, Field, field_validator

from agents.review_period import PeriodReport
from api.common import MAX_API_TEXT
from domain.access import Role
from domain.alarms import IngestResult
from domain.decisions import MAX_ARTICLES, MAX_DISPOSAL_HOURS
from domain.drafts import DispatchDraft, PendingDraft
from domain.models import Event, EventCreate, Source
from domain.text import CONTROL, EMPTY_TEXT, StorableStr, fit_text, is_empty
from domain.vocabulary import Level, Urgency
from tools.jointwarning import JointWarning
from tools.tracing import TraceAnswer

# -- health and knowledge ------------------------------------------------------------------


class HealthPublic(BaseModel):
    status: Literal["ok"]


class Check(BaseModel):
    """One readiness check; the other keys depend on the check."""

    model_config = ConfigDict(extra="allow")

    ok: bool
    error: str | None = Field(default=None, description="失败原因（仅失败时）")


class StartupProgress(BaseModel):
    step: str = Field(description="当前步骤：store、index、classifier、checkpointer、warm_up")
    label: str = Field(description="当前步骤的中文说明")
    detail: str = Field(description="步骤内的进度，如 已嵌入 256/900")
    steps_done: int
    steps: int
    elapsed_s: float = Field(description="已启动的秒数")


class ReadinessPublic(BaseModel):
    ready: bool = Field(description="数据库和法规索引可用")
    warming_up: bool = Field(
        default=False, description="正在启动：法规索引和分类模型尚未就绪，见 progress"
    )
    degraded: bool = Field(description="大模型不可用，各智能体改用离线引擎")
    progress: StartupProgress | None = Field(default=None, description="启动进度（预热期间）")
    checks: dict[str, Check] = Field(description="database、knowledge、index、llm 各项检查")


class SlaHoursPublic(BaseModel):
    response: float
    disposal: float


class SubtypePublic(BaseModel):
    code: str
    name: str
    description: str
    level: Level
    urgency: Urgency
    lead_type: str
    sla_hours: SlaHoursPublic


class CategoryPublic(BaseModel):
    code: str
    name: str
    subtypes: list[SubtypePublic]


class StreetPublic(BaseModel):
    code: str
    name: str
    kind: str | None
    lat: float | None = Field(description="街道中心纬度；仅示范区县的街道有")
    lon: float | None = Field(description="街道中心经度；仅示范区县的街道有")


class DistrictPublic(BaseModel):
    code: str
    name: str
    lat: float
    lon: float
    streets: list[StreetPublic]


class JurisdictionTreePublic(BaseModel):
    code: str
    name: str
    districts: list[DistrictPublic]


class DepartmentPublic(BaseModel):
    code: str
    name: str
    level: str
    level_zh: str
    duties: list[str]


class ReturnReasonPublic(BaseModel):
    code: str
    name: str
    description: str


# -- auth ------------------------------------------------------------------------------------


class LoginIn(BaseModel):
    username: StorableStr = Field(min_length=1, max_length=64)
    password: StorableStr = Field(min_length=1, max_length=256)


class MePublic(BaseModel):
    username: str
    display_name: str
    role: Role
    role_zh: str
    jurisdiction: str
    jurisdiction_name: str
    sees_personal_information: bool


class SessionPublic(BaseModel):
    token: str
    expires_at: datetime
    user: MePublic


# -- events ----------------------------------------------------------------------------------


class EventIn(EventCreate):
    """An event as an integrator or an officer files it: the fields of ``EventCreate``, but the
    time may be left out (it is then the time of receipt) and the text may be longer (what an
    event cannot hold is kept whole in its attributes)."""

    text: str = Field(min_length=1, max_length=MAX_API_TEXT)
    reported_at: datetime | None = Field(default=None, description="不填则为收到时间")  # type: ignore[assignment]

    @field_validator("text", "title", "address", "reporter_name", "reporter_phone", mode="before")
    @classmethod
    def _clean(cls, v: Any) -> Any:
        return CONTROL.sub("", v) if isinstance(v, str) else v

    def to_create(self, now: datetime) -> tuple[EventCreate, list[str]]:
        warnings: list[str] = []
        data = self.model_dump()
        data["reported_at"] = self.reported_at or now
        if self.reported_at is None:
            warnings.append("未提供上报时间，按收到时间登记")
        data["text"], data["attributes"], more = fit_text(self.text, self.attributes)
        return EventCreate.model_validate(data), warnings + more


class AllowedAction(BaseModel):
    action: str
    name: str


class EventViewPublic(BaseModel):
    event: Event
    allowed_actions: list[AllowedAction]
    history: list[dict[str, Any]]
    orders: list[dict[str, Any]]
    ai_decisions: list[dict[str, Any]] = []
    feedback: list[dict[str, Any]] = []
    pending_approval: int | None = None


class FiledPublic(BaseModel):
    id: int
    created: bool
    status: str
    warnings: list[str] = []
    draft: PendingDraft | None = None


class ReviewHours(BaseModel):
    to_dispatch: float | None
    to_accept: float | None
    to_resolve: float | None


class ReviewDeadline(BaseModel):
    due_at: str | None
    resolved_at: str | None
    on_time: bool | None
    hours_late: float | None
    extensions: int


class ReviewReturns(BaseModel):
    count: int
    reasons: list[str]


class ReviewPublic(BaseModel):
    """复盘：时间线、各环节用时、时限、退单、满意度和改进建议。"""

    event_id: int
    status: str
    status_zh: str
    subtype: str | None
    subtype_name: str
    street: str
    lead_department: str
    timeline: list[dict[str, Any]]
    hours: ReviewHours
    deadline: ReviewDeadline
    returns: ReviewReturns
    satisfaction: int | None
    supervised: bool
    improvements: list[str]
    summary: str
    engine: str


class ActionIn(BaseModel):
    model_config = {"extra": "forbid"}

    reason: StorableStr | None = Field(default=None, max_length=2000, description="原因或说明")
    reason_code: StorableStr | None = Field(default=None, max_length=64, description="退单原因代码")
    hours: float | None = Field(
        default=None, gt=0, le=24 * 90, description="申请或批准的延期小时数"
    )
    satisfaction: int | None = Field(default=None, ge=1, le=5, description="回访满意度 1-5")
    expected_version: int | None = Field(default=None, description="您看到的版本号，防止并发覆盖")
    attachments: list[int] = Field(
        default=[], max_length=50, description="随本次操作提交的附件编号（先上传）"
    )


class ActionResultPublic(BaseModel):
    event: Event
    redraft: PendingDraft | None = None
    warnings: list[str] = []


# -- dispatch --------------------------------------------------------------------------------


class DraftIn(BaseModel):
    """Text to draft a dispatch order for; nothing is stored."""

    model_config = {"extra": "forbid"}

    text: str = Field(min_length=1, max_length=20_000)
    title: str | None = Field(default=None, max_length=500)
    source: Source = Source.HOTLINE
    address: str | None = Field(default=None, max_length=500)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    reported_at: datetime | None = None

    def to_create(self) -> EventCreate:
        text = CONTROL.sub("", self.text)
        if is_empty(text):
            raise HTTPException(422, detail=EMPTY_TEXT)
        return EventCreate(
            source=self.source,
            title=self.title,
            text=text,
            address=self.address,
            lat=self.lat,
            lon=self.lon,
            reported_at=self.reported_at or datetime.now(UTC),
        )


class BatchIn(BaseModel):
    model_config = {"extra": "forbid"}

    items: list[DraftIn] = Field(min_length=1, max_length=500)


class DraftBatchOk(BaseModel):
    index: int
    ok: Literal[True]
    draft: DispatchDraft


class DraftBatchFailed(BaseModel):
    index: int
    ok: Literal[False]
    error: str


DraftBatchItem = Annotated[DraftBatchOk | DraftBatchFailed, Field(discriminator="ok")]


class DraftBatchPublic(BaseModel):
    count: int
    ok: int
    failed: int
    results: list[DraftBatchItem]


APPROVAL_ID = Field(
    default=None, description="您审核的草稿编号（draft.approval.id）；草稿已被取代时拒绝"
)


class ApproveIn(BaseModel):
    model_config = {"extra": "forbid"}
    note: str | None = Field(default=None, max_length=1000)
    approval_id: int | None = APPROVAL_ID


class EditIn(BaseModel):
    model_config = {"extra": "forbid"}
    approval_id: int | None = APPROVAL_ID
    lead_department: str | None = None
    assisting_departments: list[str] | None = None
    level: Literal["street", "district", "city"] | None = None
    disposal_hours: float | None = Field(default=None, gt=0, le=MAX_DISPOSAL_HOURS)
    legal_basis: list[Annotated[str, Field(max_length=200)]] | None = Field(
        default=None,
        max_length=MAX_ARTICLES,
        description="派单的法律依据，每条写作「《法规名称》第X条」（草稿的引用、候选依据或索引中的其他条文）；"
        "给出即替换草稿的依据，空列表表示按权责清单处理",
    )
    note: str | None = Field(default=None, max_length=1000)


class RejectIn(BaseModel):
    model_config = {"extra": "forbid"}
    approval_id: int | None = APPROVAL_ID
    reason: str = Field(min_length=1, max_length=2000)


class MergeIn(BaseModel):
    model_config = {"extra": "forbid"}
    approval_id: int | None = APPROVAL_ID
    duplicate_of: int = Field(ge=1, le=2**63 - 1)
    reason: str | None = Field(default=None, max_length=2000)


class DecidedPublic(BaseModel):
    event_id: int
    outcome: str
    decision: str
    event: Event


# -- chat ------------------------------------------------------------------------------------


class ChatIn(BaseModel):
    model_config = {"extra": "forbid"}

    thread_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    message: str = Field(min_length=1, max_length=2000)
    event_id: int | None = Field(
        default=None, ge=1, le=2**63 - 1, description="在事件详情旁提问时的事件编号"
    )
    engine: Literal["auto", "offline", "llm"] = "auto"


class ChatMessagePublic(BaseModel):
    """One message of a conversation; the assistant's also carry sources, intent, engine."""

    model_config = ConfigDict(extra="allow")

    role: Literal["user", "assistant"]
    content: str


# -- Open311 GeoReport v2 --------------------------------------------------------------------


class Open311Service(BaseModel):
    service_code: str
    service_name: str
    description: str
    metadata: bool
    type: str
    keywords: str
    group: str


class Open311ServiceDefinition(BaseModel):
    service_code: str
    attributes: list[dict[str, Any]]


class Open311Request(BaseModel):
    service_request_id: str
    status: Literal["open", "closed"]
    status_notes: str
    service_name: str | None
    service_code: str | None
    description: str
    agency_responsible: str | None
    service_notice: str | None
    requested_datetime: str
    updated_datetime: str
    expected_datetime: str | None
    address: str | None
    address_id: str | None
    zipcode: str | None
    lat: float | None
    long: float | None
    media_url: str | None


class Open311Receipt(BaseModel):
    service_request_id: str
    service_notice: str
    account_id: str | None


class Open311Error(BaseModel):
    code: int
    description: str


class PeriodReviewPublic(PeriodReport):
    """A period review (周/月复盘): the facts, the narrative, the engine that wrote it, and
    why the template stands in when it does."""


# -- perception: alarms and devices ---------------------------------------------------------


class AlarmsIngestedPublic(BaseModel):
    """每条读数的处理结果，顺序与提交时相同。"""

    new: int = Field(description="新接收的读数条数")
    duplicate: int = Field(description="此前已接收过的读数条数（未重复处理）")
    rejected: int = Field(description="被拒收的读数条数（原文已存档，见 reason）")
    results: list[IngestResult]


class AlarmPublic(BaseModel):
    id: int
    device_id: str
    device_name: str
    kind: str
    kind_zh: str
    rule_id: str
    rule_name: str
    rule_type: str
    subtype: str
    subtype_name: str
    urgency: Urgency
    street: str | None
    district: str | None
    lat: float | None
    lon: float | None
    opened_at: datetime
    last_at: datetime = Field(description="最近一次满足规则的读数时间")
    cleared_at: datetime | None = Field(description="解除时间；未解除为空")
    open: bool
    readings: int = Field(description="满足规则的读数条数")
    peak: dict[str, float] = Field(description="告警期间的最不利值")
    why: str = Field(description="触发说明")
    event_id: int | None = Field(description="告警所在事件")


class AlarmSeriesPoint(BaseModel):
    observed_at: datetime
    metrics: dict[str, float]
    label: str | None = None
    confidence: float | None = None


class AlarmMetricPublic(BaseModel):
    code: str
    name: str
    unit: str
    threshold: float | None = Field(description="规则的阈值（图中画线）")
    clear: float | None = Field(description="解除值")


class AlarmDetailPublic(AlarmPublic):
    metrics: list[AlarmMetricPublic] = Field(description="图中各指标的名称和单位")
    series: list[AlarmSeriesPoint] = Field(description="告警前后的读数（画图用）")


# -- departments: their orders, attachments, adjudicated returns, supervision -----------------


class AttachmentPublic(BaseModel):
    id: int
    event_id: int
    order_id: int | None
    department: str | None
    uploaded_by: str
    filename: str
    media_type: str
    size: int
    sha256: str
    note: str | None
    created_at: datetime
    url: str = Field(description="下载地址")


class DepartmentOrderPublic(BaseModel):
    """One order in a department's worklist."""

    part: Literal["lead", "assisting"] | None = Field(
        description="本部门在当前工单中的角色：主办 lead、协办 assisting；None 表示已不再承办"
    )
    part_zh: str
    department_name: str
    allowed_actions: list[AllowedAction]
    event: Any = Field(description="事件摘要（EventSummary）")


class AdjudicateIn(BaseModel):
    model_config = {"extra": "forbid"}

    decision: Literal["accept", "reject", "escalate"] = Field(
        description="accept 同意退单并改派；reject 驳回退单，原部门继续办理；escalate 提交上一级中心裁定"
    )
    corrected_department: StorableStr | None = Field(
        default=None, max_length=128, description="同意退单时改派的承办部门编码"
    )
    note: StorableStr | None = Field(default=None, max_length=2000, description="裁定意见")
    expected_version: int | None = Field(default=None, description="您看到的版本号，防止并发覆盖")


class ReturnPublic(BaseModel):
    """A returned order waiting for the owning centre's ruling."""

    event_id: int
    returned_department: str
    returned_department_name: str
    reason_code: str | None
    reason_name: str | None
    reason: str | None
    returned_by: str | None
    owner_level: Level
    owner_level_zh: str
    owner_centre: str
    owner_centre_name: str
    may_adjudicate: bool
    suggested_department: str | None = Field(
        default=None, description="重新分拨草稿建议的承办部门（可作为改派部门）"
    )
    suggested_department_name: str | None = None
    adjudications: list[dict[str, Any]] = []


class SweepPublic(BaseModel):
    raised: list[dict[str, Any]] = Field(description="本次新发起的督办（每件工单每一级只发起一次）")


class AlarmTracePublic(BaseModel):
    """一条水质告警的上游溯源：疑似源头排名及证据、途经辖区和联合预警（主办、协办、层级）。"""

    alarm_id: int
    event_id: int | None
    device_id: str
    computed: Literal["filed", "refreshed"] = Field(
        description="filed：事件登记时的溯源；refreshed：按该告警最后读数时刻重新溯源"
    )
    trace: TraceAnswer
    joint_warning: JointWarning
