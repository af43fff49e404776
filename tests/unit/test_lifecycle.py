from datetime import datetime

import pytest

from domain.lifecycle import (
    REASON_REQUIRED,
    TRANSITIONS,
    Action,
    IllegalTransition,
    Status,
    allowed_actions,
    apply,
)

AT = datetime(2026, 5, 1, 9, 30)
REASONS = frozenset({"not_our_duty", "not_our_area"})


def legal_kwargs(action: Action) -> dict:
    kw: dict = {"actor": "解放碑街道指挥中心", "at": AT, "return_reasons": REASONS}
    if action in REASON_REQUIRED:
        kw["reason"] = "测试原因"
    if action is Action.RETURN:
        kw["reason_code"] = "not_our_duty"
    if action is Action.VERIFY:
        kw["payload"] = {"satisfaction": 4}
    return kw


LEGAL = [(s, a) for a, (sources, _) in TRANSITIONS.items() for s in sources]
ILLEGAL = [(s, a) for a, (sources, _) in TRANSITIONS.items() for s in Status if s not in sources]


@pytest.mark.parametrize(("status", "action"), LEGAL, ids=lambda v: v.value)
def test_every_legal_transition_leads_where_the_table_says(status: Status, action: Action) -> None:
    t = apply(status, action, **legal_kwargs(action))
    expected = TRANSITIONS[action][1] or status
    assert (t.from_status, t.to_status, t.action) == (status, expected, action)
    assert t.actor == "解放碑街道指挥中心" and t.at == AT


@pytest.mark.parametrize(("status", "action"), ILLEGAL, ids=lambda v: v.value)
def test_every_illegal_transition_is_refused_in_plain_chinese(
    status: Status, action: Action
) -> None:
    with pytest.raises(IllegalTransition) as exc:
        apply(status, action, **legal_kwargs(action))
    message = str(exc.value)
    assert status.zh in message and action.zh in message
    assert f"cannot {action.value}" in message


def test_the_expected_happy_path_reaches_closed() -> None:
    path = [
        Action.TRIAGE,
        Action.DISPATCH,
        Action.ACCEPT,
        Action.START,
        Action.RESOLVE,
        Action.VERIFY,
        Action.CLOSE,
    ]
    status = Status.RECEIVED
    for action in path:
        status = apply(status, action, **legal_kwargs(action)).to_status
    assert status is Status.CLOSED


def test_a_return_needs_a_known_reason_code() -> None:
    with pytest.raises(IllegalTransition, match="退单原因代码"):
        apply(Status.DISPATCHED, Action.RETURN, actor="a", at=AT, reason="不归我们管")
    with pytest.raises(IllegalTransition, match="未知的退单原因代码"):
        apply(
            Status.DISPATCHED,
            Action.RETURN,
            actor="a",
            at=AT,
            reason="x",
            reason_code="nope",
            return_reasons=REASONS,
        )


@pytest.mark.parametrize("action", sorted(REASON_REQUIRED))
def test_actions_that_must_say_why_refuse_a_blank_reason(action: Action) -> None:
    status = next(iter(TRANSITIONS[action][0]))
    kw = legal_kwargs(action) | {"reason": "   "}
    with pytest.raises(IllegalTransition, match="必须填写原因"):
        apply(status, action, **kw)


@pytest.mark.parametrize("score", [0, 6, "5", None])
def test_verification_needs_a_satisfaction_score_from_1_to_5(score: object) -> None:
    with pytest.raises(IllegalTransition, match="满意度"):
        apply(
            Status.RESOLVED, Action.VERIFY, actor="回访员", at=AT, payload={"satisfaction": score}
        )


def test_supervision_flags_without_changing_state() -> None:
    t = apply(Status.IN_PROGRESS, Action.SUPERVISE, actor="区指挥中心", at=AT, reason="超时")
    assert t.to_status is Status.IN_PROGRESS


def test_allowed_actions_lists_what_an_officer_can_do_next() -> None:
    assert set(allowed_actions(Status.DISPATCHED)) == {
        Action.ACCEPT,
        Action.RETURN,
        Action.SUPERVISE,
    }
    assert allowed_actions(Status.CLOSED) == []
    assert Action.RECEIVE not in {a for s in Status for a in allowed_actions(s)}


def test_a_department_acts_on_its_own_part_only() -> None:
    from domain.lifecycle import department_actions

    assert department_actions(Status.DISPATCHED, "lead") == [Action.ACCEPT, Action.RETURN]
    assert department_actions(Status.DISPATCHED, "assisting") == []
    assert department_actions(Status.ACCEPTED, "assisting") == [Action.REPORT_PROGRESS]
    lead_now = department_actions(Status.IN_PROGRESS, "lead")
    assert Action.RESOLVE in lead_now and Action.REPORT_PROGRESS in lead_now
    assert Action.SUPERVISE not in lead_now and Action.APPROVE_EXTENSION not in lead_now
    assert department_actions(Status.IN_PROGRESS, None) == []
    assert department_actions(Status.RETURNED, "lead") == []  # the centre rules on a return


def test_progress_and_rulings_keep_the_state() -> None:
    with pytest.raises(IllegalTransition, match="必须填写原因"):
        apply(Status.IN_PROGRESS, Action.REPORT_PROGRESS, actor="a", at=AT)
    t = apply(Status.IN_PROGRESS, Action.REPORT_PROGRESS, actor="a", at=AT, reason="已到场")
    assert t.to_status is Status.IN_PROGRESS
    ruling = apply(Status.RETURNED, Action.ADJUDICATE, actor="中心", at=AT)
    assert ruling.to_status is Status.RETURNED
    with pytest.raises(IllegalTransition):
        apply(Status.DISPATCHED, Action.ADJUDICATE, actor="中心", at=AT)
