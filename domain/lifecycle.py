"""The event lifecycle as an explicit state machine.

受理 received → 分拨 triaged → 派遣 dispatched → 签收 accepted | 退单 returned → 处置中 in progress
→ 延期 extension requested → 办结 resolved → 回访 verified → 归档 closed. 督办 (supervision) is a
flag set by an action that does not change the state; so are a department's progress report
(进展反馈) and the owning centre's ruling on a return (退单裁定). Every applied action yields a
``Transition``, the audit record of who did what, when, from which state to which, and why.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from domain.errors import SanjiError


class Status(StrEnum):
    RECEIVED = "received"
    TRIAGED = "triaged"
    DISPATCHED = "dispatched"
    ACCEPTED = "accepted"
    RETURNED = "returned"
    IN_PROGRESS = "in_progress"
    EXTENSION_REQUESTED = "extension_requested"
    RESOLVED = "resolved"
    VERIFIED = "verified"
    CLOSED = "closed"

    @property
    def zh(self) -> str:
        return STATUS_ZH[self]

    @property
    def is_open(self) -> bool:
        return self not in (Status.RESOLVED, Status.VERIFIED, Status.CLOSED)


STATUS_ZH: dict[Status, str] = {
    Status.RECEIVED: "受理",
    Status.TRIAGED: "分拨",
    Status.DISPATCHED: "派遣",
    Status.ACCEPTED: "签收",
    Status.RETURNED: "退单",
    Status.IN_PROGRESS: "处置中",
    Status.EXTENSION_REQUESTED: "延期申请",
    Status.RESOLVED: "办结",
    Status.VERIFIED: "回访",
    Status.CLOSED: "归档",
}


class Action(StrEnum):
    RECEIVE = "receive"  # the event is stored; recorded, never applied to a state
    TRIAGE = "triage"
    DISPATCH = "dispatch"
    ACCEPT = "accept"
    RETURN = "return"
    REDISPATCH = "redispatch"
    RETRIAGE = "retriage"
    START = "start"
    REQUEST_EXTENSION = "request_extension"
    APPROVE_EXTENSION = "approve_extension"
    REJECT_EXTENSION = "reject_extension"
    RESOLVE = "resolve"
    RESOLVE_DIRECTLY = "resolve_directly"
    VERIFY = "verify"
    REOPEN = "reopen"
    CLOSE = "close"
    MERGE_DUPLICATE = "merge_duplicate"
    SUPERVISE = "supervise"
    REPORT_PROGRESS = "report_progress"
    ADJUDICATE = "adjudicate"

    @property
    def zh(self) -> str:
        return ACTION_ZH[self]


ACTION_ZH: dict[Action, str] = {
    Action.RECEIVE: "受理",
    Action.TRIAGE: "分拨",
    Action.DISPATCH: "派单",
    Action.ACCEPT: "签收",
    Action.RETURN: "退单",
    Action.REDISPATCH: "改派",
    Action.RETRIAGE: "重新分拨",
    Action.START: "开始处置",
    Action.REQUEST_EXTENSION: "申请延期",
    Action.APPROVE_EXTENSION: "批准延期",
    Action.REJECT_EXTENSION: "驳回延期",
    Action.RESOLVE: "办结",
    Action.RESOLVE_DIRECTLY: "直接答复办结",
    Action.VERIFY: "回访",
    Action.REOPEN: "重新办理",
    Action.CLOSE: "归档",
    Action.MERGE_DUPLICATE: "合并重复件",
    Action.SUPERVISE: "督办",
    Action.REPORT_PROGRESS: "进展反馈",
    Action.ADJUDICATE: "退单裁定",
}

S = Status
#: states in which an event waits for a dispatch order (it may be triaged, drafted, approved)
WAITING_FOR_DISPATCH = frozenset({S.RECEIVED, S.TRIAGED, S.RETURNED})
_OPEN_ORDER_STATES = frozenset(
    {S.DISPATCHED, S.ACCEPTED, S.RETURNED, S.IN_PROGRESS, S.EXTENSION_REQUESTED}
)

#: action -> (states it may be applied in, state it leads to; None = state unchanged)
TRANSITIONS: dict[Action, tuple[frozenset[Status], Status | None]] = {
    Action.RECEIVE: (frozenset(), S.RECEIVED),
    Action.TRIAGE: (frozenset({S.RECEIVED}), S.TRIAGED),
    Action.DISPATCH: (frozenset({S.TRIAGED}), S.DISPATCHED),
    Action.ACCEPT: (frozenset({S.DISPATCHED}), S.ACCEPTED),
    Action.RETURN: (frozenset({S.DISPATCHED}), S.RETURNED),
    Action.REDISPATCH: (frozenset({S.RETURNED}), S.DISPATCHED),
    Action.RETRIAGE: (frozenset({S.RETURNED}), S.TRIAGED),
    Action.START: (frozenset({S.ACCEPTED}), S.IN_PROGRESS),
    Action.REQUEST_EXTENSION: (frozenset({S.ACCEPTED, S.IN_PROGRESS}), S.EXTENSION_REQUESTED),
    Action.APPROVE_EXTENSION: (frozenset({S.EXTENSION_REQUESTED}), S.IN_PROGRESS),
    Action.REJECT_EXTENSION: (frozenset({S.EXTENSION_REQUESTED}), S.IN_PROGRESS),
    Action.RESOLVE: (frozenset({S.ACCEPTED, S.IN_PROGRESS}), S.RESOLVED),
    Action.RESOLVE_DIRECTLY: (frozenset({S.RECEIVED, S.TRIAGED}), S.RESOLVED),
    Action.VERIFY: (frozenset({S.RESOLVED}), S.VERIFIED),
    Action.REOPEN: (frozenset({S.RESOLVED, S.VERIFIED}), S.IN_PROGRESS),
    Action.CLOSE: (frozenset({S.RESOLVED, S.VERIFIED}), S.CLOSED),
    Action.MERGE_DUPLICATE: (frozenset({S.RECEIVED, S.TRIAGED}), S.CLOSED),
    Action.SUPERVISE: (_OPEN_ORDER_STATES, None),
    Action.REPORT_PROGRESS: (
        frozenset({S.ACCEPTED, S.IN_PROGRESS, S.EXTENSION_REQUESTED}),
        None,
    ),
    # the owning centre's ruling on a return; accept and reject are followed by a redispatch
    Action.ADJUDICATE: (frozenset({S.RETURNED}), None),
}

#: what a department account may do, and only on an order addressed to it
DEPARTMENT_ACTIONS = frozenset(
    {
        Action.ACCEPT,
        Action.RETURN,
        Action.START,
        Action.REQUEST_EXTENSION,
        Action.REPORT_PROGRESS,
        Action.RESOLVE,
    }
)
#: of those, what an assisting department (协办) may do: report its part
ASSISTING_ACTIONS = frozenset({Action.REPORT_PROGRESS})

#: actions that must say why
REASON_REQUIRED = frozenset(
    {
        Action.RETURN,
        Action.REQUEST_EXTENSION,
        Action.REJECT_EXTENSION,
        Action.REOPEN,
        Action.MERGE_DUPLICATE,
        Action.SUPERVISE,
        Action.RETRIAGE,
        Action.REPORT_PROGRESS,
    }
)


class IllegalTransition(SanjiError, ValueError):
    """An action that the event's current state does not allow."""

    def __init__(self, status: Status, action: Action, detail: str | None = None) -> None:
        self.status = status
        self.action = action
        allowed = "、".join(f"{a.zh}({a.value})" for a in allowed_actions(status)) or "无"
        msg = detail or (
            f"事件当前状态为「{status.zh}」，不能执行「{action.zh}」；当前可执行：{allowed}。"
            f" (cannot {action.value} an event in state {status.value})"
        )
        super().__init__(msg)


class Transition(BaseModel):
    """The audit record of one lifecycle action."""

    model_config = ConfigDict(frozen=True)

    action: Action
    from_status: Status
    to_status: Status
    actor: str = Field(min_length=1)
    at: datetime
    reason: str | None = None
    reason_code: str | None = None
    payload: dict[str, Any] = {}


def allowed_actions(status: Status) -> list[Action]:
    return [a for a, (sources, _) in TRANSITIONS.items() if status in sources]


def department_actions(status: Status, part: str | None) -> list[Action]:
    """What a department may do now, given its part in the current order (lead, assisting,
    or None when the order does not address it)."""
    mine = {"lead": DEPARTMENT_ACTIONS, "assisting": ASSISTING_ACTIONS}.get(part or "")
    return [a for a in allowed_actions(status) if mine and a in mine]


def apply(
    status: Status,
    action: Action,
    *,
    actor: str,
    at: datetime,
    reason: str | None = None,
    reason_code: str | None = None,
    payload: dict[str, Any] | None = None,
    return_reasons: frozenset[str] | None = None,
) -> Transition:
    """Check that ``action`` is legal in ``status`` and return its transition record.

    ``return_reasons`` is the set of valid reason codes for a return (退单); a return must
    carry one of them. Raises ``IllegalTransition`` with a Chinese and English message.
    """
    sources, target = TRANSITIONS[action]
    if status not in sources:
        raise IllegalTransition(status, action)
    if action in REASON_REQUIRED and not (reason and reason.strip()):
        raise IllegalTransition(
            status, action, f"「{action.zh}」必须填写原因。 ({action.value} needs a reason)"
        )
    if action is Action.RETURN:
        if not reason_code:
            raise IllegalTransition(
                status, action, "退单必须选择退单原因代码。 (a return needs a reason code)"
            )
        if return_reasons is not None and reason_code not in return_reasons:
            codes = "、".join(sorted(return_reasons))
            raise IllegalTransition(
                status,
                action,
                f"未知的退单原因代码「{reason_code}」，可选：{codes}。 (unknown return reason code)",
            )
    if action is Action.VERIFY:
        score = (payload or {}).get("satisfaction")
        if not isinstance(score, int) or not 1 <= score <= 5:
            raise IllegalTransition(
                status, action, "回访必须记录满意度（1-5分）。 (verify needs satisfaction 1..5)"
            )
    return Transition(
        action=action,
        from_status=status,
        to_status=target or status,
        actor=actor,
        at=at,
        reason=reason,
        reason_code=reason_code,
        payload=payload or {},
    )
