"""Pydantic models of the knowledge files. Every model forbids unknown fields, so a typo in a
YAML key fails at start-up instead of being silently ignored."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from domain.vocabulary import Level, Urgency


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ----------------------------------------------------------------------------- jurisdictions


class StreetSpec(Strict):
    code: str = Field(pattern=r"^\d{9}$")
    name: str
    kind: Literal["street", "town", "township"] = "street"
    # a centroid only for the demo streets, which also carry sample roads and landmarks
    lat: float | None = Field(default=None, ge=28.0, le=32.5)
    lon: float | None = Field(default=None, ge=105.0, le=110.5)
    roads: list[str] = []
    landmarks: list[str] = []


class DistrictSpec(Strict):
    code: str = Field(pattern=r"^\d{6}$")
    name: str
    lat: float = Field(ge=28.0, le=32.5)
    lon: float = Field(ge=105.0, le=110.5)
    streets: list[StreetSpec]


class CitySpec(Strict):
    code: str = Field(pattern=r"^\d{6}$")
    name: str
    lat: float
    lon: float


class CommunitySpec(Strict):
    code: str = Field(pattern=r"^\d{12}$")
    street: str
    name: str
    grids: int = Field(ge=1, le=50)


class JurisdictionsFile(Strict):
    city: CitySpec
    districts: list[DistrictSpec]
    communities: list[CommunitySpec] = []


class Jurisdiction(Strict):
    """One node of the tree city -> district -> street/town -> community -> grid."""

    code: str
    name: str
    level: Literal["city", "district", "street", "community", "grid"]
    parent: str | None
    lat: float | None  # None for a street/town without a sample centroid
    lon: float | None
    kind: str | None = None  # street | town | township for level street
    roads: tuple[str, ...] = ()
    landmarks: tuple[str, ...] = ()


# ----------------------------------------------------------------------------- departments


class DutySpec(Strict):
    id: str = Field(pattern=r"^[A-Z]{2}-\d{2}$")
    text: str
    board: str | None = None
    enforcement: bool = False


class DepartmentTypeSpec(Strict):
    code: str = Field(pattern=r"^[a-z_]+$")
    name: dict[Literal["city", "district", "street", "town", "enterprise"], str]
    levels: list[Level] = Field(min_length=1)
    escalates_to: str | None = None
    #: the district bureau this street-level type is a unit of (派出所 of 公安分局): the same
    #: bureau for scoring and display, while the level stays street
    unit_of: str | None = None
    boards: list[str] = []
    duties: list[DutySpec] = Field(min_length=1)


class DepartmentsFile(Strict):
    department_types: list[DepartmentTypeSpec]


class Duty(Strict):
    id: str
    text: str
    department_type: str
    board: str | None = None
    enforcement: bool = False


class Department(Strict):
    """A concrete department: a department type instantiated in one jurisdiction."""

    code: str  # "<jurisdiction code>.<type code>", e.g. 500103.urban_mgmt
    name: str
    type: str
    level: Level
    jurisdiction: str
    duty_ids: tuple[str, ...]


# ----------------------------------------------------------------------------- taxonomy


class DutyRef(Strict):
    type: str
    duties: list[str] = Field(min_length=1)


class RegulationRef(Strict):
    title: str
    article: str = Field(
        pattern=r"^第[一二三四五六七八九十百千零〇]+条(之[一二三四五六七八九十]+)?$"
    )
    #: the article governs only a sub-case of the subtype, which a report names with one of
    #: these words (工地, 桥梁…); without any of them the draft offers it instead of citing it
    when: list[str] = []

    def names_case(self, text: str) -> bool:
        """Whether a report of ``text`` is a case this article governs (always, without ``when``)."""
        return not self.when or any(w in text for w in self.when)


class SlaHours(Strict):
    response: float = Field(gt=0)
    disposal: float = Field(gt=0)


class Category(Strict):
    code: str = Field(pattern=r"^[A-Z]{2}$")
    name: str


class Subtype(Strict):
    code: str = Field(pattern=r"^[A-Z]{2}\d{2}$")
    name: str
    description: str
    keywords: list[str] = Field(min_length=3)
    examples: list[str] = Field(min_length=2)
    lead: DutyRef
    #: who leads when the event is owned above its default level (the district bureau whose
    #: stationed unit leads at the street); without it the lead type's ``escalates_to`` acts
    lead_above: DutyRef | None = None
    assist: list[DutyRef] = []
    level: Level
    urgency: Urgency = Urgency.NORMAL
    urgent_keywords: list[str] = []
    critical_keywords: list[str] = []
    sla_hours: SlaHours
    regulations: list[RegulationRef] = []

    @property
    def category(self) -> str:
        return self.code[:2]


class TaxonomyFile(Strict):
    categories: list[Category]
    subtypes: list[Subtype]


# ----------------------------------------------------------------------------- SLA, escalation


class UrgencyLevel(Strict):
    code: Urgency
    name: str
    response_cap_hours: float = Field(gt=0)
    disposal_cap_hours: float = Field(gt=0)
    description: str


class ExtensionPolicy(Strict):
    max_count: int = Field(ge=0)
    max_hours: float = Field(gt=0)


class SupervisionStep(Strict):
    """A 督办 raised automatically once an order is this many hours past its deadline."""

    code: str = Field(pattern=r"^[a-z0-9_]+$")
    name: str
    after_overdue_hours: float = Field(ge=0)
    up_levels: int = Field(default=0, ge=0, le=2)  # 0: the owning centre; 1: the one above
    description: str


class SlaFile(Strict):
    urgency_levels: list[UrgencyLevel]
    due_soon_fraction: float = Field(gt=0, lt=1)
    extension: ExtensionPolicy
    supervision: list[SupervisionStep] = []

    @field_validator("supervision")
    @classmethod
    def _distinct_steps(cls, steps: list[SupervisionStep]) -> list[SupervisionStep]:
        codes = [s.code for s in steps]
        if len(set(codes)) != len(codes):
            raise ValueError("督办步骤的 code 不能重复 (supervision step codes must be distinct)")
        return sorted(steps, key=lambda s: s.after_overdue_hours)


class EscalationCondition(Strict):
    any_keywords: list[str] | None = None
    urgency_at_least: Urgency | None = None
    needs_enforcement: bool | None = None
    cross_jurisdiction: bool | None = None
    min_departments: int | None = Field(default=None, ge=2)
    subtypes: list[str] | None = None
    # the rule does not apply to these subtypes (their first responders work at the street)
    except_subtypes: list[str] | None = None
    min_reports: int | None = Field(default=None, ge=2)


class EscalationRule(Strict):
    id: str = Field(pattern=r"^ESC-[NAR]-\d{2}$")
    kind: Literal["nature", "authority", "resources"]
    name: str
    description: str
    when: EscalationCondition
    target_level: Literal["district", "city"]


class EscalationFile(Strict):
    rules: list[EscalationRule]


class ReturnReason(Strict):
    code: str = Field(pattern=r"^[a-z_]+$")
    name: str
    description: str


class ReturnReasonsFile(Strict):
    reasons: list[ReturnReason]


class Landmark(Strict):
    """A well-known place a text may name instead of a street: in one street, somewhere in one
    district, or across several districts (a river bridge), which then locates nothing."""

    name: str = Field(min_length=3)
    street: str | None = None
    district: str | None = None
    districts: list[str] | None = Field(default=None, min_length=2)

    @model_validator(mode="after")
    def _one_place(self) -> Landmark:
        if sum(x is not None for x in (self.street, self.district, self.districts)) != 1:
            raise ValueError("a landmark has exactly one of street, district, districts")
        return self


class LandmarksFile(Strict):
    landmarks: list[Landmark]
