"""Who may see and do what: roles, and the principal a request acts as.

A street officer sees and acts on its street, a district officer on its district's streets, a
city officer and an admin on everything. An integration client (a hotline system, a video
platform) files events and asks for drafts within its jurisdiction; it never approves or moves
an event through its lifecycle. Personal information (names, phone numbers in the text) is
shown to the officers who dispose and call back (street and district), and to admins; the city
supervises from aggregates and masked texts, integrations never get it back.

A department account (部门经办人) belongs to one department instance (``500103.urban_mgmt``):
it sees the orders addressed to its department, as lead or assisting, and acts only as that
department (签收, 退单, 延期 request, progress, 办结); it approves nothing and adjudicates
nothing."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from domain.models import Scope


class Role(StrEnum):
    STREET = "street_officer"
    DISTRICT = "district_officer"
    CITY = "city_officer"
    ADMIN = "admin"
    INTEGRATION = "integration"
    DEPARTMENT = "department"

    @property
    def zh(self) -> str:
        return ROLE_ZH[self]

    @property
    def jurisdiction_level(self) -> str | None:
        """The level the role's jurisdiction must be at (None: any level)."""
        return {
            Role.STREET: "street",
            Role.DISTRICT: "district",
            Role.CITY: "city",
            Role.ADMIN: "city",
            Role.INTEGRATION: None,
            Role.DEPARTMENT: None,  # a department instance code, not a jurisdiction
        }[self]

    @property
    def reveals_personal(self) -> bool:
        return self in (Role.STREET, Role.DISTRICT, Role.ADMIN, Role.DEPARTMENT)

    @property
    def acts(self) -> bool:
        """Approves drafts and moves events through their lifecycle (a centre officer)."""
        return self not in (Role.INTEGRATION, Role.DEPARTMENT)

    @property
    def level_rank(self) -> int:
        """How high the officer's centre stands: street 1, district 2, city and admin 3
        (0: not a centre officer)."""
        return {Role.STREET: 1, Role.DISTRICT: 2, Role.CITY: 3, Role.ADMIN: 3}.get(self, 0)

    @property
    def supervises(self) -> bool:
        """督办 and approving extensions come from above the street."""
        return self in (Role.DISTRICT, Role.CITY, Role.ADMIN)


ROLE_ZH = {
    Role.STREET: "街道（镇）工作人员",
    Role.DISTRICT: "区县工作人员",
    Role.CITY: "市级工作人员",
    Role.ADMIN: "系统管理员",
    Role.INTEGRATION: "对接系统",
    Role.DEPARTMENT: "部门经办人",
}


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of a request."""

    user_id: int
    username: str
    display_name: str
    role: Role
    jurisdiction: str
    scope: Scope

    @property
    def actor(self) -> str:
        """How the caller appears in audit records."""
        return self.username

    @property
    def reveals_personal(self) -> bool:
        return self.role.reveals_personal
