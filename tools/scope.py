"""Turn jurisdiction codes into a ``Scope`` the store understands."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from domain.access import Principal, Role
from domain.errors import OutOfScope
from domain.models import Event, Scope
from knowledge import Knowledge
from store import NotFound
from store.users import User


def scope_for(k: Knowledge, codes: Iterable[str]) -> Scope:
    """The union of what each jurisdiction sees: the city everything, a district its streets,
    a street (or a community or grid in it) its own street."""
    districts: set[str] = set()
    streets: set[str] = set()
    for code in codes:
        node = k.jurisdiction(code)
        if node.level == "city":
            return Scope(everything=True)
        if node.level == "district":
            districts.add(node.code)
        else:
            street = k.ancestor_at(node.code, "street")
            assert street is not None
            streets.add(street.code)
    streets = {s for s in streets if k.jurisdiction(s).parent not in districts}
    return Scope(districts=tuple(sorted(districts)), streets=tuple(sorted(streets)))


def narrow(k: Knowledge, scope: Scope, jurisdiction: str | None) -> tuple[list[str], list[str]]:
    """District and street filters for a requested jurisdiction, checked against the scope.

    Returns ([district], []) or ([], [street]); raises OutOfScope outside the scope."""
    if jurisdiction is None:
        return [], []
    node = k.jurisdiction(jurisdiction)
    if node.level == "city":
        if not scope.everything:
            raise OutOfScope("无权查看全市事件 (outside your jurisdiction)")
        return [], []
    if node.level == "district":
        if not (scope.everything or node.code in scope.districts):
            if any(k.jurisdiction(s).parent == node.code for s in scope.streets):
                return [], [s for s in scope.streets if k.jurisdiction(s).parent == node.code]
            raise OutOfScope(f"无权查看{node.name}的事件 (outside your jurisdiction)")
        return [node.code], []
    street = k.ancestor_at(node.code, "street")
    assert street is not None
    if not scope.allows(street.parent, street.code):
        raise OutOfScope(f"无权查看{street.name}的事件 (outside your jurisdiction)")
    return [], [street.code]


def jurisdiction_code(k: Knowledge, name_or_code: str) -> str:
    """A jurisdiction code from its code or its exact Chinese name (渝中区, 解放碑街道); a
    department instance code (500103.urban_mgmt) or exact name (重庆市渝中区城市管理局) too."""
    if name_or_code in k.jurisdictions or name_or_code in k.departments:
        return name_or_code
    for node in k.jurisdictions.values():
        if node.name == name_or_code:
            return node.code
    for dept in k.departments.values():
        if dept.name == name_or_code:
            return dept.code
    raise KeyError(f"没有名为「{name_or_code}」的辖区或部门")


def check_role_jurisdiction(k: Knowledge, role: Role, code: str) -> None:
    """A street officer belongs to a street, a district officer to a district, a city officer
    and an admin to the city; an integration client to any jurisdiction; a department account
    to one department instance."""
    if role is Role.DEPARTMENT:
        if code not in k.departments:
            raise ValueError(f"{role.zh}的辖区应为部门编码（如 500103.urban_mgmt），{code} 不是")
        return
    if code in k.departments:
        raise ValueError(f"{code} 是部门编码，只能用于{Role.DEPARTMENT.zh}账号")
    node = k.jurisdiction(code)
    want = role.jurisdiction_level
    if want is not None and node.level != want:
        level_zh = {"street": "街道（镇）", "district": "区县", "city": "全市"}[want]
        raise ValueError(f"{role.zh}的辖区应为{level_zh}，{node.name}不是")


def principal_for(k: Knowledge, user: User) -> Principal:
    if user.role is Role.DEPARTMENT:
        scope = Scope(department=user.jurisdiction)
    else:
        scope = scope_for(k, [user.jurisdiction])
    return Principal(
        user_id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        jurisdiction=user.jurisdiction,
        scope=scope,
    )


def jurisdiction_name(k: Knowledge, code: str) -> str:
    """The Chinese name of a jurisdiction or of a department instance."""
    dept = k.departments.get(code)
    return dept.name if dept else k.jurisdiction(code).name


def may_see(store: Any, scope: Scope, actor: str | None, event: Event) -> bool:
    """The one visibility rule: the scope covers the event's place, or the event is not
    located yet and ``actor`` filed it (an integration reads back what it sent), or the caller
    is a department that one of the event's dispatched orders addressed."""
    if scope.allows(event.district, event.street):
        return True
    if scope.department and store.addressed_to(event.id, scope.department):
        return True
    unlocated = event.district is None and event.street is None
    return unlocated and actor is not None and store.filed_by(event.id) == actor


def covers(store: Any, principal: Principal, event: Event) -> bool:
    """Whether the caller may see the event (``may_see`` for a signed-in caller)."""
    return may_see(store, principal.scope, principal.actor, event)


def visible_event(store: Any, scope: Scope, actor: str | None, event_id: int) -> Event:
    """The event if the caller may see it; NotFound otherwise (existence is not revealed)."""
    event: Event = store.get_event(event_id)
    if not may_see(store, scope, actor, event):
        raise NotFound(f"事件 {event_id} 不存在或不在您的辖区内")
    return event


def foreign_duplicates(store: Any, scope: Scope, actor: str | None, *records: Any) -> set[int]:
    """The suspected duplicates named in ``records`` (lists under a ``duplicates`` key, as
    the intake writes them in drafts and AI decisions) that the caller may not see."""
    named: set[int] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, v in value.items():
                if key == "duplicates" and isinstance(v, list):
                    named.update(
                        int(d["event_id"]) for d in v if isinstance(d, dict) and "event_id" in d
                    )
                walk(v)
        elif isinstance(value, list | tuple):
            for v in value:
                walk(v)

    walk(records)
    hidden = set()
    for event_id in named:
        try:
            if may_see(store, scope, actor, store.get_event(event_id)):
                continue
        except NotFound:
            pass
        hidden.add(event_id)
    return hidden


#: how drafts and decisions name another event: 「与事件 123 相似（得分 0.82）」
_EVENT_MENTION = re.compile(r"事件 ?E?(\d+)(?:（得分 [\d.]+）)?")


def without_events(value: Any, hidden: set[int]) -> Any:
    """``value`` with the ``hidden`` events unnamed: entries that are about one of them
    (``{"event_id": …}`` in a list) are dropped, and a text naming one says 辖区外的一件事件
    instead, without its score."""
    if not hidden:
        return value
    if isinstance(value, str):
        return _EVENT_MENTION.sub(
            lambda m: "辖区外的一件事件" if int(m.group(1)) in hidden else m.group(0), value
        )
    if isinstance(value, dict):
        return {k: without_events(v, hidden) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [
            without_events(v, hidden)
            for v in value
            if not (isinstance(v, dict) and v.get("event_id") in hidden and "score" in v)
        ]
    return value
