"""The officer's decision on a draft dispatch order: approve, edit, reject or merge, one model
each, told apart by ``action``. ``parse_decision`` reads whatever a front end sent (the API,
the chat, a LangGraph resume value) and says in Chinese what is wrong with it."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field, StrictInt, TypeAdapter, ValidationError

from domain.vocabulary import Level

ACTIONS = ("approve", "edit", "reject", "merge")
MAX_DISPOSAL_HOURS = 24 * 90
MAX_ARTICLES = 20


class Edits(BaseModel):
    """What an officer changes before dispatching; unset fields keep the draft's choice."""

    lead_department: str | None = None
    assisting_departments: list[str] | None = None
    level: Level | None = None
    disposal_hours: float | None = Field(default=None, gt=0, le=MAX_DISPOSAL_HOURS, strict=True)
    # the order's legal basis as the officer settles it (the draft's citations, its offered
    # articles or any other article of the index); [] rests the order on the duty list alone
    legal_basis: list[str] | None = Field(
        default=None,
        max_length=MAX_ARTICLES,
        description="法律依据，写作「《法规名称》第X条」；给出即替换草稿的依据，空列表表示按权责清单处理",
    )
    note: str | None = None


def _not_blank(v: str) -> str:
    if not v.strip():
        raise ValueError("blank")
    return v


#: text that must say something (not only spaces)
Said = Annotated[str, AfterValidator(_not_blank)]


class _Decided(BaseModel):
    officer: Said = Field(description="审核人")


class ApproveDecision(_Decided):
    action: Literal["approve"] = "approve"
    note: str | None = None


class EditDecision(_Decided):
    action: Literal["edit"] = "edit"
    edits: Edits | None = None


class RejectDecision(_Decided):
    action: Literal["reject"] = "reject"
    reason: Said


class MergeDecision(_Decided):
    action: Literal["merge"] = "merge"
    duplicate_of: StrictInt
    reason: str | None = None


Decision = Annotated[
    ApproveDecision | EditDecision | RejectDecision | MergeDecision, Field(discriminator="action")
]
#: validates a decision already known to be well formed (one kept in a checkpoint)
DECISION: TypeAdapter[Decision] = TypeAdapter(Decision)

_FIELD_MESSAGES = {
    ("officer",): "请注明审核人（officer）",
    ("edits",): 'edits 应为对象，如 {"lead_department": "部门编码"}',
    ("edits", "assisting_departments"): "assisting_departments 应为部门编码列表",
    ("edits", "level"): "层级应为 street / district / city",
    ("edits", "disposal_hours"): f"办结时限应为 0 到 {MAX_DISPOSAL_HOURS} 小时之间的数字",
    ("edits", "legal_basis"): (
        f"legal_basis 应为至多 {MAX_ARTICLES} 条的列表，每条写作「《法规名称》第X条」"
    ),
    ("reason",): "驳回必须说明原因",
    ("duplicate_of",): "合并重复件需要 duplicate_of（事件编号）",
}


def _message(error: Any) -> str:
    tag, *rest = error["loc"]  # a discriminated union puts the action first
    path = tuple(str(x) for x in rest)
    if path == ("edits", "lead_department") or (
        path[:2] == ("edits", "assisting_departments") and len(path) == 3
    ):
        return f"没有编码为 {error['input']} 的部门"
    if path == ("reason",) and tag == "merge":
        return "合并说明应为文字"
    if path in (("note",), ("edits", "note")):
        return "备注应为文字"
    if path[:2] == ("edits", "legal_basis"):
        path = path[:2]
    return _FIELD_MESSAGES.get(path, f"{'.'.join(path)}：{error['msg']}")


def parse_decision(value: Any) -> tuple[Decision | None, list[str]]:
    """The decision ``value`` stands for, or None and what is wrong with it (in Chinese).
    Unknown keys are ignored, as front ends add their own (an approval id, a thread)."""
    if not isinstance(value, dict) or value.get("action") not in ACTIONS:
        return None, [f"请选择操作：{'/'.join(ACTIONS)}"]
    try:
        return DECISION.validate_python(value), []
    except ValidationError as exc:
        messages = [_message(e) for e in exc.errors()]
        if "请注明审核人（officer）" in messages:
            return None, ["请注明审核人（officer）"]
        return None, list(dict.fromkeys(messages))
