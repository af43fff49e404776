"""Perception's knowledge: device kinds and alarm rules (``alarm_rules.yaml``) and the device
registry (``devices/*.yaml``), validated together against the rest of the knowledge.

Every reference is checked at load (a device's kind, street, owner department type; a rule's
kind, metric, label and subtype), so a typo fails at start-up with the file and line."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from domain.vocabulary import Urgency
from knowledge.models import DepartmentTypeSpec, Jurisdiction, Subtype
from knowledge.yamlfile import YamlFile


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Op = Literal[">", ">=", "<", "<="]
RuleType = Literal[
    "threshold", "consecutive", "rate", "duration", "combination", "detection", "silent", "stuck"
]
#: which fields each rule type needs (the others must be absent)
NEEDS: dict[str, set[str]] = {
    "threshold": {"when"},
    "consecutive": {"when", "count"},
    "rate": {"when", "minutes"},
    "duration": {"when", "minutes"},
    "combination": {"all"},
    "detection": {"label", "min_confidence"},
    "silent": {"silent_after"},
    "stuck": {"count"},
}
OPTIONAL = {"detection": {"count"}, "stuck": {"metrics"}}


class MetricSpec(Strict):
    code: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str
    unit: str = ""
    #: a flat line is normal (a rain gauge reads 0 all of a dry day): no stuck rule on it
    flat_ok: bool = False


class LabelSpec(Strict):
    code: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str


class DeviceKind(Strict):
    code: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str
    source: Literal["sensor", "ai_video"] = "sensor"
    metrics: list[MetricSpec] = []
    labels: list[LabelSpec] = []

    def metric(self, code: str) -> MetricSpec | None:
        return next((m for m in self.metrics if m.code == code), None)

    def label(self, code: str) -> LabelSpec | None:
        return next((x for x in self.labels if x.code == code), None)


class Condition(Strict):
    metric: str
    op: Op
    value: float

    def holds(self, value: float) -> bool:
        if self.op == ">":
            return value > self.value
        if self.op == ">=":
            return value >= self.value
        if self.op == "<":
            return value < self.value
        return value <= self.value


class ClearSpec(Strict):
    """When an open alarm clears (hysteresis): the value back on the good side of ``value``
    (for a rule on ``> x``: below ``value``), for ``after_normal`` readings in a row; or, for
    detections, ``after_minutes`` without one."""

    value: float | None = None
    after_normal: int | None = Field(default=None, ge=1, le=1000)
    after_minutes: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _something(self) -> ClearSpec:
        if self.value is None and self.after_normal is None and self.after_minutes is None:
            raise ValueError("clear needs value, after_normal or after_minutes")
        return self


class AlarmRule(Strict):
    id: str = Field(pattern=r"^AR-[A-Z]{2}-\d{2}$")
    kind: str
    type: RuleType
    name: str
    #: the condition of one metric (for ``rate`` the change over ``minutes``, signed)
    when: Condition | None = None
    #: the conditions that must hold together (``combination``)
    all: list[Condition] | None = Field(default=None, min_length=2)
    count: int | None = Field(default=None, ge=2, le=1000)
    minutes: float | None = Field(default=None, gt=0, le=24 * 60)
    label: str | None = None
    min_confidence: float | None = Field(default=None, ge=0, le=1)
    silent_after: float | None = Field(default=None, ge=1, le=1000)  # intervals
    metrics: list[str] | None = None  # stuck: the metrics watched (default: all but flat_ok)
    clear: ClearSpec | None = None
    subtype: str
    urgency: Urgency = Urgency.NORMAL

    @model_validator(mode="after")
    def _fields_of_type(self) -> AlarmRule:
        given = {
            f
            for f in ("when", "all", "count", "minutes", "label", "min_confidence", "silent_after")
            if getattr(self, f) is not None
        }
        if self.metrics is not None:
            given.add("metrics")
        missing = NEEDS[self.type] - given
        extra = given - NEEDS[self.type] - OPTIONAL.get(self.type, set())
        if missing:
            raise ValueError(f"rule type {self.type} needs {', '.join(sorted(missing))}")
        if extra:
            raise ValueError(f"rule type {self.type} does not take {', '.join(sorted(extra))}")
        if self.type in ("silent", "stuck") and self.clear is not None:
            raise ValueError(f"a {self.type} rule clears by itself (no clear)")
        if (
            self.clear is not None
            and self.clear.value is not None
            and (self.when is None or self.type == "rate")
        ):
            raise ValueError("clear.value needs a rule on one metric's value (not rate)")
        if self.type == "detection" and (self.clear is None or self.clear.after_minutes is None):
            raise ValueError("a detection rule clears after_minutes without a detection")
        if self.type != "detection" and self.clear is not None and self.clear.after_minutes:
            raise ValueError("only a detection rule clears after_minutes")
        return self

    @property
    def data_quality(self) -> bool:
        return self.type in ("silent", "stuck")

    @property
    def conditions(self) -> list[Condition]:
        return list(self.all or ([self.when] if self.when else []))


class FoldSpec(Strict):
    """Alarms of one incident become one event: the same device, or devices within
    ``radius_km`` whose alarms (of the same subtype) opened within ``window_minutes``."""

    radius_km: float = Field(default=1.0, gt=0, le=10)
    window_minutes: float = Field(default=60, gt=0, le=7 * 24 * 60)
    #: a citizen's open report of the same subtype this near and this recent takes the alarm
    #: as a duplicate with its evidence
    report_radius_km: float = Field(default=1.0, gt=0, le=10)
    report_window_hours: float = Field(default=24, gt=0, le=30 * 24)


class AlarmRulesFile(Strict):
    fold: FoldSpec = FoldSpec()
    kinds: list[DeviceKind]
    rules: list[AlarmRule]


class DeviceSpec(Strict):
    id: str = Field(pattern=r"^[A-Z0-9][A-Z0-9-]*$", max_length=64)
    kind: str
    name: str
    street: str | None = Field(default=None, pattern=r"^\d{9}$")
    district: str | None = Field(default=None, pattern=r"^\d{6}$")
    lat: float = Field(ge=28.0, le=32.5)
    lon: float = Field(ge=105.0, le=110.5)
    owner: str
    interval_s: int = Field(ge=1, le=7 * 86400)
    river_node: str | None = None
    thresholds: dict[str, float] = {}

    @model_validator(mode="after")
    def _place(self) -> DeviceSpec:
        if (self.street is None) == (self.district is None):
            raise ValueError("a device has exactly one of street, district")
        return self


class DevicesFile(Strict):
    devices: list[DeviceSpec]


class Device(Strict):
    """A registered device with its place resolved (street and district codes)."""

    id: str
    kind: str
    name: str
    street: str | None
    district: str
    lat: float
    lon: float
    owner: str
    interval_s: int
    river_node: str | None = None
    thresholds: dict[str, float] = {}
    source_file: str = ""


@dataclass(frozen=True, eq=False)
class Sensing:
    """Device kinds, alarm rules and devices, cross-checked."""

    kinds: Mapping[str, DeviceKind] = field(default_factory=dict)
    rules: tuple[AlarmRule, ...] = ()
    devices: Mapping[str, Device] = field(default_factory=dict)
    fold: FoldSpec = field(default_factory=FoldSpec)
    _by_kind: dict[str, tuple[AlarmRule, ...]] = field(default_factory=dict, repr=False)
    _per_device: dict[str, tuple[AlarmRule, ...]] = field(default_factory=dict, repr=False)

    def rule(self, rule_id: str) -> AlarmRule | None:
        return next((r for r in self.rules if r.id == rule_id), None)

    def rules_of(self, kind: str) -> tuple[AlarmRule, ...]:
        return self._by_kind.get(kind, ())

    def rules_for(self, device: Device) -> tuple[AlarmRule, ...]:
        """The kind's rules with the device's own thresholds: ``thresholds: {metric: v}``
        moves every single-metric rule on that metric (and its clear value, by as much)."""
        if not device.thresholds:
            return self.rules_of(device.kind)
        cached = self._per_device.get(device.id)
        if cached is None:
            cached = tuple(
                _with_threshold(r, device.thresholds) for r in self.rules_of(device.kind)
            )
            self._per_device[device.id] = cached
        return cached


def _with_threshold(rule: AlarmRule, thresholds: Mapping[str, float]) -> AlarmRule:
    if rule.when is None or rule.type == "rate" or rule.when.metric not in thresholds:
        return rule
    value = thresholds[rule.when.metric]
    clear = rule.clear
    if clear is not None and clear.value is not None:
        clear = clear.model_copy(update={"value": clear.value + value - rule.when.value})
    return rule.model_copy(
        update={"when": rule.when.model_copy(update={"value": value}), "clear": clear}
    )


def load_sensing(
    root: Path,
    jurisdictions: Mapping[str, Jurisdiction],
    department_types: Mapping[str, DepartmentTypeSpec],
    subtypes: Mapping[str, Subtype],
) -> Sensing:
    """``root/alarm_rules.yaml`` and every ``root/devices/*.yaml``; an empty ``Sensing`` when
    the rules file is absent (a knowledge folder without perception)."""
    path = root / "alarm_rules.yaml"
    if not path.exists():
        return Sensing()
    f = YamlFile(path)
    spec = f.parse(AlarmRulesFile)
    kinds: dict[str, DeviceKind] = {}
    for i, kind in enumerate(spec.kinds):
        if kind.code in kinds:
            raise f.error(["kinds", i, "code"], f"duplicate device kind {kind.code}")
        codes = [m.code for m in kind.metrics] + [x.code for x in kind.labels]
        if len(set(codes)) != len(codes):
            raise f.error(["kinds", i], f"{kind.code}: a metric or label is listed twice")
        kinds[kind.code] = kind
    seen: set[str] = set()
    by_kind: dict[str, list[AlarmRule]] = {}
    for i, rule in enumerate(spec.rules):
        loc: list[int | str] = ["rules", i]
        if rule.id in seen:
            raise f.error([*loc, "id"], f"duplicate rule id {rule.id}")
        seen.add(rule.id)
        found = kinds.get(rule.kind)
        if found is None:
            raise f.error([*loc, "kind"], f"{rule.id}: unknown device kind {rule.kind}")
        kind = found
        if rule.subtype not in subtypes:
            raise f.error([*loc, "subtype"], f"{rule.id}: unknown subtype {rule.subtype}")
        for c in rule.conditions:
            if kind.metric(c.metric) is None:
                raise f.error(
                    [*loc, "when" if rule.when else "all"],
                    f"{rule.id}: {rule.kind} has no metric {c.metric}",
                )
        for m in rule.metrics or []:
            if kind.metric(m) is None:
                raise f.error([*loc, "metrics"], f"{rule.id}: {rule.kind} has no metric {m}")
        if rule.label is not None and kind.label(rule.label) is None:
            raise f.error([*loc, "label"], f"{rule.id}: {rule.kind} has no label {rule.label}")
        if rule.type == "stuck" and not kind.metrics:
            raise f.error([*loc, "type"], f"{rule.id}: {rule.kind} has no metrics to be stuck")
        by_kind.setdefault(rule.kind, []).append(rule)
    devices = _devices(root / "devices", kinds, jurisdictions, department_types)
    return Sensing(
        kinds=kinds,
        rules=tuple(spec.rules),
        devices=devices,
        fold=spec.fold,
        _by_kind={k: tuple(v) for k, v in by_kind.items()},
    )


def _devices(
    folder: Path,
    kinds: Mapping[str, DeviceKind],
    jurisdictions: Mapping[str, Jurisdiction],
    department_types: Mapping[str, DepartmentTypeSpec],
) -> dict[str, Device]:
    devices: dict[str, Device] = {}
    where: dict[str, str] = {}
    for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
        f = YamlFile(path)
        spec = f.parse(DevicesFile)
        for i, d in enumerate(spec.devices):
            loc: list[int | str] = ["devices", i]
            if d.id in devices:
                raise f.error([*loc, "id"], f"duplicate device id {d.id} (also in {where[d.id]})")
            kind = kinds.get(d.kind)
            if kind is None:
                raise f.error([*loc, "kind"], f"{d.id}: unknown device kind {d.kind}")
            if d.owner not in department_types:
                raise f.error([*loc, "owner"], f"{d.id}: unknown department type {d.owner}")
            for metric in d.thresholds:
                if kind.metric(metric) is None:
                    raise f.error([*loc, "thresholds"], f"{d.id}: {d.kind} has no metric {metric}")
            if d.street is not None:
                node = jurisdictions.get(d.street)
                if node is None or node.level != "street":
                    raise f.error([*loc, "street"], f"{d.id}: unknown street {d.street}")
                district = str(node.parent)
            else:
                node = jurisdictions.get(str(d.district))
                if node is None or node.level != "district":
                    raise f.error([*loc, "district"], f"{d.id}: unknown district {d.district}")
                district = node.code
            devices[d.id] = Device(
                **d.model_dump(exclude={"district"}), district=district, source_file=path.name
            )
            where[d.id] = f"{path.name}:{f.line_of(loc)}"
    return devices


__all__ = [
    "AlarmRule",
    "ClearSpec",
    "Condition",
    "Device",
    "DeviceKind",
    "FoldSpec",
    "Sensing",
    "load_sensing",
]
