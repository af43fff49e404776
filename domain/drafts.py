"""The product contract: the draft dispatch order officers and integrators read, every choice
with the duty, rule or article it rests on, and the draft waiting for an officer's decision.

Field order is the order of the JSON the console and integrators read; do not reorder."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, PlainSerializer

from domain.vocabulary import Level, Urgency

#: timestamps of the approval block keep the ``+00:00`` offset they were always sent with
IsoDatetime = Annotated[datetime, PlainSerializer(lambda v: v.isoformat(), when_used="json")]


class SubtypeAlternative(BaseModel):
    subtype: str
    name: str
    probability: float


class DraftCategory(BaseModel):
    code: str = Field(description="事件小类编码")
    name: str = Field(description="事件小类名称")
    category: str = Field(description="事件大类名称")
    confidence: float
    alternatives: list[SubtypeAlternative]


class DraftDepartment(BaseModel):
    code: str
    name: str
    duties: list[str] = Field(description="所依据的权责清单条目")


class DraftDeadlines(BaseModel):
    response_hours: float
    disposal_hours: float
    clock_starts: str = Field(description="时限起算点")


class LegalBasis(BaseModel):
    title: str
    article: str
    text: str | None
    why: str | None = Field(default=None, description="为何列出：常用依据、检索命中等")


class DutyBasis(BaseModel):
    id: str
    text: str


class EscalationRuleHit(BaseModel):
    id: str
    name: str
    why: str


class AlarmRuleHit(BaseModel):
    """A perception rule (knowledge/data/alarm_rules.yaml) whose alarm the event was filed for."""

    id: str
    name: str
    why: str


class DraftLocation(BaseModel):
    street: str | None
    district: str | None
    confidence: float
    ambiguous: bool
    explanation: str
    candidates: list[str]


class SuspectedDuplicate(BaseModel):
    event_id: int
    score: float
    reasons: list[str]


class PrecedentCase(BaseModel):
    """A labelled event the casebook's verdict rests on."""

    id: str
    level: Level
    lead_type: str | None = Field(description="部门类型编码；判例写的类型本系统没有时为空")
    similarity: float
    text: str


class PrecedentConfidence(BaseModel):
    """How sure the casebook's verdict is, calibrated on verdicts over labelled events of
    writers it was not trained on; below a threshold an officer confirms that part."""

    level: float = Field(description="层级判断正确的把握（0–1）")
    lead_type: float = Field(description="主办类型判断正确的把握（0–1）")
    level_threshold: float = Field(description="层级自动采纳线，低于此值须人工确认")
    lead_threshold: float = Field(description="主办类型自动采纳线，低于此值须人工确认")


class DispatchDraft(BaseModel):
    """派单草稿：分类、主办协办部门、层级、时限、法规依据、处置步骤和说明。"""

    event_id: int | None = Field(description="已登记事件的编号；只起草不登记时为空")
    category: DraftCategory
    lead_department: DraftDepartment
    assisting_departments: list[DraftDepartment]
    level: Level
    urgency: Urgency
    deadlines: DraftDeadlines
    legal_basis: list[LegalBasis]
    proposed_basis: list[LegalBasis] = Field(
        default=[],
        description="候选依据（不列入法律依据，供人工选用）：按事件内容检索到的参考条文；"
        "事件类型把握不足时，该类事件常用条文中与事件内容不相符的",
    )
    duty_basis: list[DutyBasis]
    escalation_rules: list[EscalationRuleHit]
    reroute: list[str] = Field(description="退单后重新分拨的说明")
    steps: list[str]
    explanation: str
    engine: str
    location: DraftLocation
    duplicates: list[SuspectedDuplicate]
    needs_human: list[str] = Field(description="需要人工确认的原因")
    injection: list[str] = Field(description="文本中疑似对模型下指令的片段")
    trace: list[dict[str, Any]] = Field(description="各智能体的引擎、用时和回退记录")
    alarm_rules: list[AlarmRuleHit] = Field(
        default=[], description="物联感知或AI视频告警事件所触发的告警规则"
    )
    pending_lead_type: str | None = Field(
        default=None,
        description="事发街道（镇）待核实、由治理中心暂管时，核实后应主办的部门类型编码",
    )
    precedents: list[PrecedentCase] = Field(
        default=[], description="判例库中与本事件最相近的已标注事件（层级和主办类型据此判断）"
    )
    precedent_confidence: PrecedentConfidence | None = Field(
        default=None, description="判例判断层级和主办类型的把握；规则单独判断时为空"
    )


class ApprovalWait(BaseModel):
    """The waiting run a decision resumes."""

    id: int = Field(description="草稿编号；审核时作为 approval_id 提交")
    thread_id: str
    created_by: str
    created_at: IsoDatetime
    question: str | None
    errors: list[str]


class PendingDraft(DispatchDraft):
    """待审核的派单草稿（已登记的事件）。"""

    event_id: int  # a stored event always has its id
    approval: ApprovalWait
