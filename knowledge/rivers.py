"""River networks (``knowledge/data/rivers/*.yaml``): nodes and the reaches between them, so
that upstream tracing can walk from a water-quality station to the sources that could have
polluted it and compute how long the water took.

Validated like every knowledge file, errors naming the file and line: node ids are unique
across files, streets exist, owners are department types, and each file is a tree that flows
down to exactly one outlet. The water-quality devices (``devices/*.yaml``) that name a
``river_node`` must name a station node of some river file."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import Field

from knowledge.models import Jurisdiction, Strict
from knowledge.yamlfile import YamlFile

#: what a registered candidate source is, in the words officers use
SOURCE_KINDS: dict[str, str] = {
    "outfall": "排污口",
    "sewage_plant": "污水处理厂",
    "industrial": "工业企业（园区）",
    "construction": "施工工地",
    "livestock": "养殖场",
}
NODE_KINDS: dict[str, str] = {
    "station": "水质自动监测站",
    "confluence": "汇口",
    "point": "河段节点",
    "outlet": "河口",
    **SOURCE_KINDS,
}
#: the metrics a water-quality station reports, with their Chinese names and units
WATER_METRICS: dict[str, tuple[str, str]] = {
    "do_mg_l": ("溶解氧", "mg/L"),
    "nh3n_mg_l": ("氨氮", "mg/L"),
    "cod_mg_l": ("化学需氧量", "mg/L"),
    "ph": ("pH", ""),
    "turbidity_ntu": ("浊度", "NTU"),
}

NodeKind = Literal[
    "station",
    "confluence",
    "point",
    "outlet",
    "outfall",
    "sewage_plant",
    "industrial",
    "construction",
    "livestock",
]


class RiverNodeSpec(Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=32)
    name: str = Field(min_length=2)
    kind: NodeKind
    river: str = Field(min_length=1)
    street: str = Field(pattern=r"^\d{9}$")
    lat: float = Field(ge=28.0, le=32.5)
    lon: float = Field(ge=105.0, le=110.5)
    owner: str
    #: metrics the source is registered to discharge (登记排放); sources only
    discharge: list[str] | None = None


class ReachSpec(Strict):
    upstream: str = Field(alias="from")
    downstream: str = Field(alias="to")
    length_km: float = Field(gt=0, le=1000)
    velocity_m_s: float = Field(gt=0, le=10)


class RiverFile(Strict):
    river: str
    nodes: list[RiverNodeSpec] = Field(min_length=2)
    reaches: list[ReachSpec] = Field(min_length=1)


@dataclass(frozen=True)
class RiverNode:
    id: str
    name: str
    kind: str
    river: str
    street: str
    lat: float
    lon: float
    owner: str
    discharge: tuple[str, ...] = ()
    registered: bool = False  # the source has a registered discharge (登记排放) on file

    @property
    def is_source(self) -> bool:
        return self.kind in SOURCE_KINDS

    @property
    def kind_zh(self) -> str:
        return NODE_KINDS[self.kind]


@dataclass(frozen=True)
class Reach:
    upstream: str
    downstream: str
    length_km: float
    velocity_m_s: float

    @property
    def hours(self) -> float:
        """How long water takes from one end to the other at the mean velocity."""
        return self.length_km * 1000 / self.velocity_m_s / 3600


@dataclass(frozen=True, eq=False)
class RiverNetwork:
    """Every river file as one forest: each node has at most one reach going down."""

    nodes: dict[str, RiverNode] = field(default_factory=dict)
    down: dict[str, Reach] = field(default_factory=dict)
    up: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: water-quality device id -> its station node
    stations: dict[str, str] = field(default_factory=dict)

    def node(self, node_id: str) -> RiverNode:
        try:
            return self.nodes[node_id]
        except KeyError:
            raise KeyError(f"未知的河流节点 unknown river node: {node_id}") from None

    def station_node(self, device_id: str) -> RiverNode:
        try:
            return self.nodes[self.stations[device_id]]
        except KeyError:
            raise KeyError(f"设备 {device_id} 不是河流网络上的水质监测站") from None

    def device_at(self, node_id: str) -> str | None:
        return next((d for d, n in self.stations.items() if n == node_id), None)

    def path(self, start: str, end: str) -> list[str] | None:
        """The nodes from ``start`` down to ``end`` (both included), or None when ``end`` is
        not downstream of ``start``."""
        self.node(start)
        out = [start]
        node = start
        while node != end:
            reach = self.down.get(node)
            if reach is None:
                return None
            node = reach.downstream
            out.append(node)
        return out

    def travel_hours(self, start: str, end: str) -> float | None:
        """Hours water takes from ``start`` down to ``end``; None when it never gets there."""
        nodes = self.path(start, end)
        if nodes is None:
            return None
        return sum(self.down[n].hours for n in nodes[:-1])

    def upstream_within(self, node_id: str, hours: float) -> dict[str, float]:
        """Every node upstream of ``node_id`` (itself included, at 0) whose water reaches it
        within ``hours``, with its travel time."""
        self.node(node_id)
        out = {node_id: 0.0}
        todo = [node_id]
        while todo:
            here = todo.pop()
            for above in self.up.get(here, ()):
                t = out[here] + self.down[above].hours
                if t <= hours and t < out.get(above, float("inf")):
                    out[above] = t
                    todo.append(above)
        return out


def load_rivers(
    root: Path, streets: Mapping[str, Jurisdiction], department_types: Collection[str]
) -> RiverNetwork:
    """Load ``root/rivers/*.yaml`` and the ``river_node`` of ``root/devices/*.yaml``. A
    knowledge directory without a ``rivers`` folder has no river network."""
    folder = root / "rivers"
    if not folder.is_dir():
        return RiverNetwork()
    nodes: dict[str, RiverNode] = {}
    down: dict[str, Reach] = {}
    up: dict[str, list[str]] = {}
    for path in sorted(folder.glob("*.yaml")):
        f = YamlFile(path)
        _load_file(f, f.parse(RiverFile), streets, department_types, nodes, down, up)
    stations = _stations(root / "devices", nodes)
    return RiverNetwork(
        nodes=nodes, down=down, up={k: tuple(v) for k, v in up.items()}, stations=stations
    )


def _load_file(
    f: YamlFile,
    spec: RiverFile,
    streets: Mapping[str, Jurisdiction],
    department_types: Collection[str],
    nodes: dict[str, RiverNode],
    down: dict[str, Reach],
    up: dict[str, list[str]],
) -> None:
    mine: list[str] = []
    line_of: dict[str, int] = {}  # node -> index of its reach going down
    for i, n in enumerate(spec.nodes):
        loc: list[int | str] = ["nodes", i]
        if n.id in nodes:
            raise f.error([*loc, "id"], f"duplicate river node id {n.id}")
        street = streets.get(n.street)
        if street is None or street.level != "street":
            raise f.error([*loc, "street"], f"{n.id}: unknown street {n.street}")
        if n.owner not in department_types:
            raise f.error([*loc, "owner"], f"{n.id}: unknown department type {n.owner}")
        if n.discharge is not None and n.kind not in SOURCE_KINDS:
            raise f.error([*loc, "discharge"], f"{n.id}: only a source has a discharge")
        for metric in n.discharge or []:
            if metric not in WATER_METRICS:
                raise f.error(
                    [*loc, "discharge"],
                    f"{n.id}: unknown metric {metric} (one of {', '.join(WATER_METRICS)})",
                )
        nodes[n.id] = RiverNode(
            id=n.id,
            name=n.name,
            kind=n.kind,
            river=n.river,
            street=n.street,
            lat=n.lat,
            lon=n.lon,
            owner=n.owner,
            discharge=tuple(n.discharge or ()),
            registered=bool(n.discharge),
        )
        mine.append(n.id)
    for i, r in enumerate(spec.reaches):
        loc = ["reaches", i]
        for end in (r.upstream, r.downstream):
            if end not in mine:
                raise f.error(loc, f"reach names unknown node {end} (not in this file)")
        if r.upstream == r.downstream:
            raise f.error(loc, f"reach from {r.upstream} to itself")
        if r.upstream in down:
            raise f.error(
                loc,
                f"{r.upstream} already flows to {down[r.upstream].downstream}: "
                "a river network is a tree, each node has one reach going down",
            )
        if nodes[r.downstream].is_source:
            raise f.error(loc, f"{r.downstream} is a source: nothing flows into a source")
        if nodes[r.upstream].kind == "outlet":
            raise f.error(loc, f"{r.upstream} is the outlet: nothing flows out of it")
        line_of[r.upstream] = i
        down[r.upstream] = Reach(r.upstream, r.downstream, r.length_km, r.velocity_m_s)
        up.setdefault(r.downstream, []).append(r.upstream)
    outlets = [n for n in mine if nodes[n].kind == "outlet"]
    if len(outlets) != 1:
        raise f.error(["nodes"], f"a river file has exactly one outlet node, found {len(outlets)}")
    for i, node_id in enumerate(mine):
        if node_id != outlets[0] and node_id not in down:
            raise f.error(
                ["nodes", i, "id"], f"{node_id} flows nowhere: it has no reach going down"
            )
        seen = {node_id}
        here = node_id
        while here in down:
            prev, here = here, down[here].downstream
            if here in seen:
                raise f.error(["reaches", line_of[prev]], f"reach {prev} → {here} closes a loop")
            seen.add(here)


def _stations(folder: Path, nodes: Mapping[str, RiverNode]) -> dict[str, str]:
    """The ``river_node`` of every device file: each must be a station node. Only these two
    fields are read here; the device registry's own loader checks the rest."""
    stations: dict[str, str] = {}
    if not folder.is_dir():
        return stations
    for path in sorted(folder.glob("*.yaml")):
        f = YamlFile(path)
        devices = f.data.get("devices") if isinstance(f.data, dict) else None
        for i, d in enumerate(devices if isinstance(devices, list) else []):
            if not isinstance(d, dict) or d.get("river_node") is None:
                continue
            node = nodes.get(str(d["river_node"]))
            if node is None:
                raise f.error(
                    ["devices", i, "river_node"],
                    f"{d.get('id')}: unknown river node {d['river_node']}",
                )
            if node.kind != "station":
                raise f.error(
                    ["devices", i, "river_node"],
                    f"{d.get('id')}: river node {node.id} is a {node.kind}, not a station",
                )
            if d.get("street") is not None and str(d["street"]) != node.street:
                raise f.error(
                    ["devices", i, "street"],
                    f"{d.get('id')}: street {d['street']} is not the street {node.street} "
                    f"of its river node {node.id}",
                )
            stations[str(d.get("id"))] = node.id
    return stations
