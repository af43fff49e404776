"""Turn jurisdiction codes into a ``Scope`` the store understands."""

from __future__ import annotations

from collections.abc import Iterable

from domain.models import Scope
from knowledge import Knowledge


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

    Returns ([district], []) or ([], [street]); raises PermissionError outside the scope."""
    if jurisdiction is None:
        return [], []
    node = k.jurisdiction(jurisdiction)
    if node.level == "city":
        if not scope.everything:
            raise PermissionError("无权查看全市事件 (outside your jurisdiction)")
        return [], []
    if node.level == "district":
        if not (scope.everything or node.code in scope.districts):
            if any(k.jurisdiction(s).parent == node.code for s in scope.streets):
                return [], [s for s in scope.streets if k.jurisdiction(s).parent == node.code]
            raise PermissionError(f"无权查看{node.name}的事件 (outside your jurisdiction)")
        return [node.code], []
    street = k.ancestor_at(node.code, "street")
    assert street is not None
    if not scope.allows(street.parent, street.code):
        raise PermissionError(f"无权查看{street.name}的事件 (outside your jurisdiction)")
    return [], [street.code]
