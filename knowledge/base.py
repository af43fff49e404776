"""Load, validate and cross-reference the knowledge files into one immutable ``Knowledge``.

Every reference between files is checked here (department types, duty ids, subtypes, levels),
so a dangling code fails at start-up with the file and line, never in a dispatch."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from domain.vocabulary import StoreRules
from knowledge.errors import KnowledgeError
from knowledge.models import (
    Category,
    Department,
    DepartmentsFile,
    DepartmentTypeSpec,
    Duty,
    EscalationFile,
    EscalationRule,
    Jurisdiction,
    JurisdictionsFile,
    Landmark,
    LandmarksFile,
    Level,
    ReturnReason,
    ReturnReasonsFile,
    SlaFile,
    Subtype,
    TaxonomyFile,
    Urgency,
    UrgencyLevel,
)
from knowledge.rivers import RiverNetwork, load_rivers
from knowledge.sensing import Sensing, load_sensing
from knowledge.yamlfile import YamlFile

DATA_DIR = Path(__file__).parent / "data"
FILES = (
    "jurisdictions",
    "departments",
    "taxonomy",
    "sla",
    "escalation",
    "return_reasons",
    "landmarks",
)


@dataclass(frozen=True, eq=False)  # identity hash: a loaded Knowledge can key caches
class Knowledge:
    """Everything Sanji knows about the city, validated. Immutable; share it freely."""

    source: Path
    city: Jurisdiction
    jurisdictions: dict[str, Jurisdiction]
    department_types: dict[str, DepartmentTypeSpec]
    duties: dict[str, Duty]
    departments: dict[str, Department]
    categories: dict[str, Category]
    subtypes: dict[str, Subtype]
    urgency_levels: dict[Urgency, UrgencyLevel]
    sla: SlaFile
    escalation_rules: tuple[EscalationRule, ...]
    return_reasons: dict[str, ReturnReason]
    #: well-known places a text may name instead of a street (landmarks.yaml)
    landmarks: tuple[Landmark, ...] = ()
    _children: dict[str, list[str]] = field(default_factory=dict, repr=False)
    #: device kinds, alarm rules and the device registry (alarm_rules.yaml, devices/*.yaml)
    sensing: Sensing = field(default_factory=Sensing, repr=False)
    #: river networks and the water-quality stations on them (rivers/*.yaml)
    rivers: RiverNetwork = field(default_factory=RiverNetwork, repr=False)

    @property
    def store_rules(self) -> StoreRules:
        """What the event store enforces from these files: return codes, the due-soon share."""
        return StoreRules(frozenset(self.return_reasons), self.sla.due_soon_fraction)

    # -- jurisdictions -------------------------------------------------------------------

    def jurisdiction(self, code: str) -> Jurisdiction:
        try:
            return self.jurisdictions[code]
        except KeyError:
            raise KeyError(f"未知的辖区编码 unknown jurisdiction: {code}") from None

    def children(self, code: str) -> list[Jurisdiction]:
        return [self.jurisdictions[c] for c in self._children.get(code, [])]

    def ancestors(self, code: str) -> list[Jurisdiction]:
        """The node itself and its parents up to the city, nearest first."""
        out = []
        node: Jurisdiction | None = self.jurisdiction(code)
        while node is not None:
            out.append(node)
            node = self.jurisdictions[node.parent] if node.parent else None
        return out

    def ancestor_at(self, code: str, level: str) -> Jurisdiction | None:
        return next((j for j in self.ancestors(code) if j.level == level), None)

    def districts(self) -> list[Jurisdiction]:
        return self.children(self.city.code)

    def streets(self, district: str | None = None) -> list[Jurisdiction]:
        parents = [district] if district else [d.code for d in self.districts()]
        return [s for p in parents for s in self.children(p)]

    def sample_streets(self, district: str | None = None) -> list[Jurisdiction]:
        """The demo streets: those with Sanji's sample centroid, roads and landmarks."""
        return [s for s in self.streets(district) if s.lat is not None and s.lon is not None]

    def within(self, code: str, scope: str) -> bool:
        """Whether jurisdiction ``code`` lies inside ``scope`` (or is it)."""
        return any(j.code == scope for j in self.ancestors(code))

    def serves(self, dept: Department, place: str) -> bool:
        """Whether a department may handle an event at ``place``: its own jurisdiction
        contains the place, or it works city-wide (city bureaus, utilities)."""
        return self.within(place, dept.jurisdiction) or dept.jurisdiction == self.city.code

    # -- departments ---------------------------------------------------------------------

    def department(self, dept_type: str, jurisdiction: str, level: Level) -> Department:
        """The department of ``dept_type`` at ``level`` that serves ``jurisdiction``."""
        spec = self.department_types[dept_type]
        if Level.ENTERPRISE in spec.levels:
            return self.departments[f"{self.city.code}.{dept_type}"]
        if level not in spec.levels:
            raise KeyError(f"{dept_type} has no department at level {level}")
        node = self.ancestor_at(jurisdiction, level.value)
        if node is None:
            raise KeyError(f"jurisdiction {jurisdiction} has no {level.value} above it")
        return self.departments[f"{node.code}.{dept_type}"]

    # -- taxonomy ------------------------------------------------------------------------

    def subtype(self, code: str) -> Subtype:
        try:
            return self.subtypes[code]
        except KeyError:
            raise KeyError(f"未知的事件小类 unknown subtype: {code}") from None

    def subtypes_of(self, category: str) -> list[Subtype]:
        return [s for s in self.subtypes.values() if s.category == category]


def _jurisdictions(f: YamlFile) -> tuple[Jurisdiction, dict[str, Jurisdiction]]:
    spec = f.parse(JurisdictionsFile)
    city = Jurisdiction(
        code=spec.city.code,
        name=spec.city.name,
        level="city",
        parent=None,
        lat=spec.city.lat,
        lon=spec.city.lon,
    )
    nodes: dict[str, Jurisdiction] = {city.code: city}

    def add(node: Jurisdiction, loc: list[int | str]) -> None:
        if node.code in nodes:
            raise f.error(loc, f"duplicate jurisdiction code {node.code}")
        nodes[node.code] = node

    for i, d in enumerate(spec.districts):
        add(
            Jurisdiction(
                code=d.code, name=d.name, level="district", parent=city.code, lat=d.lat, lon=d.lon
            ),
            ["districts", i, "code"],
        )
        for k, s in enumerate(d.streets):
            loc: list[int | str] = ["districts", i, "streets", k]
            if not s.code.startswith(d.code):
                raise f.error(
                    loc, f"street {s.code} {s.name} does not start with its district code {d.code}"
                )
            add(
                Jurisdiction(
                    code=s.code,
                    name=s.name,
                    level="street",
                    parent=d.code,
                    lat=s.lat,
                    lon=s.lon,
                    kind=s.kind,
                    roads=tuple(s.roads),
                    landmarks=tuple(s.landmarks),
                ),
                loc,
            )
    for i, c in enumerate(spec.communities):
        street = nodes.get(c.street)
        if street is None or street.level != "street":
            raise f.error(
                ["communities", i, "street"], f"unknown street {c.street} for community {c.name}"
            )
        add(
            Jurisdiction(
                code=c.code,
                name=c.name,
                level="community",
                parent=street.code,
                lat=street.lat,
                lon=street.lon,
            ),
            ["communities", i],
        )
        for g in range(1, c.grids + 1):
            add(
                Jurisdiction(
                    code=f"{c.code}{g:02d}",
                    name=f"{c.name}第{g}网格",
                    level="grid",
                    parent=c.code,
                    lat=street.lat,
                    lon=street.lon,
                ),
                ["communities", i],
            )
    return city, nodes


def _departments(
    f: YamlFile, city: Jurisdiction, nodes: dict[str, Jurisdiction]
) -> tuple[dict[str, DepartmentTypeSpec], dict[str, Duty], dict[str, Department]]:
    spec = f.parse(DepartmentsFile)
    types: dict[str, DepartmentTypeSpec] = {}
    duties: dict[str, Duty] = {}
    departments: dict[str, Department] = {}
    for i, t in enumerate(spec.department_types):
        if t.code in types:
            raise f.error(["department_types", i, "code"], f"duplicate department type {t.code}")
        types[t.code] = t
        for k, d in enumerate(t.duties):
            if d.id in duties:
                raise f.error(["department_types", i, "duties", k], f"duplicate duty id {d.id}")
            if d.board and d.board not in t.boards:
                raise f.error(
                    ["department_types", i, "duties", k, "board"],
                    f"duty {d.id} names board {d.board} that {t.code} does not have",
                )
            duties[d.id] = Duty(
                id=d.id,
                text=d.text,
                department_type=t.code,
                board=d.board,
                enforcement=d.enforcement,
            )
        duty_ids = tuple(d.id for d in t.duties)
        if t.escalates_to and t.escalates_to not in {x.code for x in spec.department_types}:
            raise f.error(
                ["department_types", i, "escalates_to"],
                f"{t.code} escalates to unknown department type {t.escalates_to}",
            )
        if t.unit_of and t.unit_of not in {x.code for x in spec.department_types}:
            raise f.error(
                ["department_types", i, "unit_of"],
                f"{t.code} is a unit of unknown department type {t.unit_of}",
            )
        for level in t.levels:
            if level is Level.ENTERPRISE:
                holders = [city]
            else:
                holders = [n for n in nodes.values() if n.level == level.value]
            for node in holders:
                # a 乡 (township) has a people's government like a 镇: X乡人民政府
                key = "town" if node.kind in ("town", "township") else level.value
                template = t.name.get(key) or t.name.get(level.value)  # type: ignore[call-overload]
                if template is None:
                    raise f.error(
                        ["department_types", i, "name"],
                        f"{t.code} has level {level.value} but no name for it",
                    )
                parent = nodes.get(node.parent) if node.parent else None
                name = template.format(
                    city=city.name,
                    district=(parent or node).name if level is Level.STREET else node.name,
                    street=node.name,
                )
                code = f"{node.code}.{t.code}"
                departments[code] = Department(
                    code=code,
                    name=name,
                    type=t.code,
                    level=level,
                    jurisdiction=node.code,
                    duty_ids=duty_ids,
                )
    return types, duties, departments


def _taxonomy(
    f: YamlFile, types: dict[str, DepartmentTypeSpec], duties: dict[str, Duty]
) -> tuple[dict[str, Category], dict[str, Subtype]]:
    spec = f.parse(TaxonomyFile)
    categories = {c.code: c for c in spec.categories}
    subtypes: dict[str, Subtype] = {}
    for i, s in enumerate(spec.subtypes):
        loc: list[int | str] = ["subtypes", i]
        if s.code in subtypes:
            raise f.error([*loc, "code"], f"duplicate subtype code {s.code}")
        if s.category not in categories:
            raise f.error([*loc, "code"], f"subtype {s.code} has no category {s.category}")
        refs = [("lead", s.lead)] + [(f"assist.{k}", a) for k, a in enumerate(s.assist)]
        if s.lead_above is not None:
            refs.append(("lead_above", s.lead_above))
        for where, ref in refs:
            ref_loc: list[int | str] = [*loc, *where.split(".")]
            ref_loc = [int(p) if isinstance(p, str) and p.isdigit() else p for p in ref_loc]
            if ref.type not in types:
                raise f.error([*ref_loc, "type"], f"{s.code}: unknown department type {ref.type}")
            for duty in ref.duties:
                if duty not in duties:
                    raise f.error([*ref_loc, "duties"], f"{s.code}: unknown duty id {duty}")
                if duties[duty].department_type != ref.type:
                    raise f.error(
                        [*ref_loc, "duties"],
                        f"{s.code}: duty {duty} belongs to {duties[duty].department_type}, "
                        f"not {ref.type}",
                    )
        lead_levels = types[s.lead.type].levels
        if s.level not in lead_levels and Level.ENTERPRISE not in lead_levels:
            raise f.error(
                [*loc, "level"],
                f"{s.code}: lead department {s.lead.type} does not exist at level {s.level.value}",
            )
        if s.lead_above is not None and not any(
            lv is not Level.ENTERPRISE and lv.rank > s.level.rank
            for lv in types[s.lead_above.type].levels
        ):
            raise f.error(
                [*loc, "lead_above", "type"],
                f"{s.code}: lead_above {s.lead_above.type} has no level above {s.level.value}",
            )
        subtypes[s.code] = s
    return categories, subtypes


def _landmarks(f: YamlFile, nodes: dict[str, Jurisdiction]) -> tuple[Landmark, ...]:
    spec = f.parse(LandmarksFile)
    names = {n.name for n in nodes.values()}
    seen: set[str] = set()
    for i, lm in enumerate(spec.landmarks):
        if lm.name in seen:
            raise f.error(["landmarks", i, "name"], f"duplicate landmark {lm.name}")
        if lm.name in names:
            raise f.error(["landmarks", i, "name"], f"{lm.name} is a jurisdiction's own name")
        seen.add(lm.name)
        wanted = [(lm.street, "street")] if lm.street else []
        wanted += [(d, "district") for d in [lm.district, *(lm.districts or [])] if d]
        for code, level in wanted:
            node = nodes.get(code)
            if node is None or node.level != level:
                raise f.error(["landmarks", i], f"{lm.name}: unknown {level} {code}")
    return tuple(spec.landmarks)


def load_knowledge(directory: Path | None = None) -> Knowledge:
    """Load every knowledge file from ``directory`` (default: the shipped ``knowledge/data``)."""
    root = Path(directory) if directory else DATA_DIR
    files = {}
    for name in FILES:
        path = root / f"{name}.yaml"
        if not path.exists():
            raise KnowledgeError(path, None, "knowledge file is missing")
        files[name] = YamlFile(path)

    city, nodes = _jurisdictions(files["jurisdictions"])
    types, duties, departments = _departments(files["departments"], city, nodes)
    categories, subtypes = _taxonomy(files["taxonomy"], types, duties)

    sla = files["sla"].parse(SlaFile)
    levels = {u.code: u for u in sla.urgency_levels}
    if set(levels) != set(Urgency):
        raise files["sla"].error(
            ["urgency_levels"], f"urgency levels must be exactly {[u.value for u in Urgency]}"
        )

    esc = files["escalation"].parse(EscalationFile)
    seen: set[str] = set()
    for i, rule in enumerate(esc.rules):
        if rule.id in seen:
            raise files["escalation"].error(["rules", i, "id"], f"duplicate rule id {rule.id}")
        seen.add(rule.id)
        for code in [*(rule.when.subtypes or []), *(rule.when.except_subtypes or [])]:
            if code not in subtypes:
                raise files["escalation"].error(
                    ["rules", i, "when", "subtypes"], f"{rule.id}: unknown subtype {code}"
                )

    reasons = files["return_reasons"].parse(ReturnReasonsFile)
    landmarks = _landmarks(files["landmarks"], nodes)
    children: dict[str, list[str]] = {}
    for node in nodes.values():
        if node.parent:
            children.setdefault(node.parent, []).append(node.code)

    return Knowledge(
        source=root,
        city=city,
        jurisdictions=nodes,
        department_types=types,
        duties=duties,
        departments=departments,
        categories=categories,
        subtypes=subtypes,
        urgency_levels=levels,
        sla=sla,
        escalation_rules=tuple(esc.rules),
        return_reasons={r.code: r for r in reasons.reasons},
        landmarks=landmarks,
        _children=children,
        sensing=load_sensing(root, nodes, types, subtypes),
        rivers=load_rivers(root, nodes, types),
    )


@cache
def default_knowledge() -> Knowledge:
    """The shipped knowledge, loaded once per process."""
    return load_knowledge()
