"""The river network as knowledge: the shipped 綦江 basin is a tree flowing down to the 长江,
travel times are length over velocity, and a broken file names its file and line."""

import shutil
from itertools import pairwise
from pathlib import Path

import pytest

from knowledge import Knowledge, KnowledgeError
from knowledge.base import DATA_DIR
from knowledge.rivers import load_rivers


def test_shipped_basin_flows_from_the_border_to_the_yangtze(knowledge: Knowledge) -> None:
    net = knowledge.rivers
    assert 20 <= len(net.nodes) <= 40
    assert 5 <= len(net.stations) <= 8
    # every node reaches the one outlet, 綦江入长江口 in 江津区支坪镇
    for node in net.nodes:
        path = net.path(node, "qj-o01")
        assert path is not None and path[-1] == "qj-o01"
    assert knowledge.jurisdiction(net.node("qj-o01").street).parent == "500116"
    # the 松坎河 border lies upstream of 赶水, 东溪, 古南, 三江 and 支坪 in that order
    order = ["qj-w01", "qj-w02", "qj-w03", "qj-w04", "qj-w05", "qj-w06"]
    assert all(net.path(a, b) for a, b in pairwise(order))
    # the 蒲河 from 万盛 joins at 三江, not above 古南
    assert net.path("qj-w07", "qj-w05") is not None and net.path("qj-w07", "qj-w04") is None
    assert net.stations["QJ-WQ-05"] == "qj-w05"


def test_travel_time_is_length_over_velocity(knowledge: Knowledge) -> None:
    net = knowledge.rivers
    # 文龙 outfall → 文龙段 0.2 km at 0.4 m/s, → 三江汇口 8.5 km at 0.8, → 三江 station 1.5 km at 0.8
    expected = (200 / 0.4 + 8500 / 0.8 + 1500 / 0.8) / 3600
    assert net.travel_hours("qj-s09", "qj-w05") == pytest.approx(expected)
    assert net.travel_hours("qj-w05", "qj-s09") is None  # water does not flow up
    within = net.upstream_within("qj-w05", 5.0)
    assert within["qj-s09"] == pytest.approx(expected) and within["qj-w05"] == 0
    assert "qj-w04" in within and "qj-w03" not in within  # 古南 is 4.3 h above 三江, 东溪 11.6 h


@pytest.fixture
def rdir(tmp_path: Path) -> Path:
    for sub in ("rivers", "devices"):
        (tmp_path / sub).mkdir()
    shutil.copy(DATA_DIR / "rivers" / "qijiang.yaml", tmp_path / "rivers")
    shutil.copy(DATA_DIR / "devices" / "qijiang-water.yaml", tmp_path / "devices")
    return tmp_path


def _replace(path: Path, old: str, new: str) -> int:
    text = path.read_text(encoding="utf-8")
    pos = text.index(old)
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return text.count("\n", 0, pos) + 1


def _load(k: Knowledge, root: Path) -> None:
    load_rivers(root, k.jurisdictions, k.department_types)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("{from: qj-w04, to: qj-p03,", "{from: qj-w04, to: qj-w04,", "to itself"),
        ("{from: qj-p03, to: qj-c03,", "{from: qj-p03, to: qj-w01,", "loop"),
        ("{from: qj-c03, to: qj-w05,", "{from: qj-c03, to: qj-s09,", "nothing flows into a source"),
        ("{from: qj-w06, to: qj-o01,", "{from: qj-w06, to: qj-x99,", "unknown node qj-x99"),
        ('street: "500110003", lat: 29.086', 'street: "500110999", lat: 29.086', "unknown street"),
        (
            "owner: agriculture, discharge: []",
            "owner: farming, discharge: []",
            "unknown department",
        ),
        ("discharge: [turbidity_ntu]}", "discharge: [mud]}", "unknown metric mud"),
    ],
)
def test_broken_network_names_file_and_line(
    knowledge: Knowledge, rdir: Path, old: str, new: str, message: str
) -> None:
    path = rdir / "rivers" / "qijiang.yaml"
    line = _replace(path, old, new)
    with pytest.raises(KnowledgeError) as exc:
        _load(knowledge, rdir)
    assert exc.value.path == path and exc.value.line == line
    assert message in exc.value.message


def test_a_node_with_two_ways_down_is_not_a_tree(knowledge: Knowledge, rdir: Path) -> None:
    path = rdir / "rivers" / "qijiang.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text + "  - {from: qj-w04, to: qj-c03, length_km: 1, velocity_m_s: 1}\n")
    with pytest.raises(KnowledgeError, match="already flows to qj-p03: a river network is a tree"):
        _load(knowledge, rdir)


def test_a_node_that_flows_nowhere_is_named(knowledge: Knowledge, rdir: Path) -> None:
    path = rdir / "rivers" / "qijiang.yaml"
    _replace(path, "  - {from: qj-s16, to: qj-p07, length_km: 0.8, velocity_m_s: 0.4}\n", "")
    with pytest.raises(KnowledgeError, match="qj-s16 flows nowhere") as exc:
        _load(knowledge, rdir)
    assert exc.value.line == 1 + path.read_text(encoding="utf-8").split("\n").index(
        next(ln for ln in path.read_text(encoding="utf-8").split("\n") if "id: qj-s16" in ln)
    )


def test_duplicate_node_id_across_files(knowledge: Knowledge, rdir: Path) -> None:
    shutil.copy(rdir / "rivers" / "qijiang.yaml", rdir / "rivers" / "other.yaml")
    with pytest.raises(KnowledgeError, match="duplicate river node id") as exc:
        _load(knowledge, rdir)
    assert exc.value.path.name == "qijiang.yaml"  # loaded after other.yaml, sorted by name


def test_device_must_sit_on_a_station_node(knowledge: Knowledge, rdir: Path) -> None:
    path = rdir / "devices" / "qijiang-water.yaml"
    line = _replace(path, "river_node: qj-w05", "river_node: qj-w55")
    with pytest.raises(KnowledgeError, match="QJ-WQ-05: unknown river node qj-w55") as exc:
        _load(knowledge, rdir)
    assert exc.value.path == path and exc.value.line == line
    _replace(path, "river_node: qj-w55", "river_node: qj-s09")
    with pytest.raises(KnowledgeError, match="is a outfall, not a station"):
        _load(knowledge, rdir)


def test_device_street_must_be_its_nodes(knowledge: Knowledge, rdir: Path) -> None:
    path = rdir / "devices" / "qijiang-water.yaml"
    line = _replace(path, 'street: "500110003", lat: 29.086', 'street: "500110002", lat: 29.086')
    with pytest.raises(KnowledgeError, match="QJ-WQ-05: street 500110002 is not the street"):
        _load(knowledge, rdir)
    with pytest.raises(KnowledgeError) as exc:
        _load(knowledge, rdir)
    assert exc.value.path == path and exc.value.line == line


def test_no_rivers_folder_is_an_empty_network(knowledge: Knowledge, tmp_path: Path) -> None:
    net = load_rivers(tmp_path, knowledge.jurisdictions, knowledge.department_types)
    assert net.nodes == {} and net.stations == {}
