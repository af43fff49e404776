import re
import shutil
from pathlib import Path

import pytest

from domain.vocabulary import Level
from knowledge import Knowledge, KnowledgeError, load_knowledge
from knowledge.base import DATA_DIR
from tools.routing import DepartmentsQuery, SlaQuery, departments_for, sla_for, urgency_for

YUZHONG_STREETS = {
    "七星岗街道",
    "解放碑街道",
    "两路口街道",
    "上清寺街道",
    "菜园坝街道",
    "南纪门街道",
    "朝天门街道",
    "大溪沟街道",
    "大坪街道",
    "化龙桥街道",
    "石油路街道",
}


def test_shipped_knowledge_covers_the_paper_districts(knowledge: Knowledge) -> None:
    names = {d.name for d in knowledge.districts()}
    assert {
        "渝中区",
        "江北区",
        "南岸区",
        "綦江区",
        "梁平区",
        "沙坪坝区",
        "九龙坡区",
        "渝北区",
    } <= names
    yuzhong = {s.name for s in knowledge.streets("500103")}
    assert yuzhong == YUZHONG_STREETS
    assert len(knowledge.streets("500105")) >= 12  # 江北区: 9 streets and 3 towns


def test_tree_goes_down_to_grids(knowledge: Knowledge) -> None:
    grid = next(j for j in knowledge.jurisdictions.values() if j.level == "grid")
    levels = [j.level for j in knowledge.ancestors(grid.code)]
    assert levels == ["grid", "community", "street", "district", "city"]


def test_taxonomy_is_broad(knowledge: Knowledge) -> None:
    assert len(knowledge.subtypes) >= 60
    assert len(knowledge.categories) >= 12
    for st in knowledge.subtypes.values():
        assert st.sla_hours.response <= st.sla_hours.disposal, st.code


def test_every_subtype_routes_in_every_street(knowledge: Knowledge) -> None:
    """No dangling department anywhere: every subtype resolves to real departments everywhere."""
    for street in knowledge.streets():
        for code in knowledge.subtypes:
            answer = departments_for(
                knowledge, DepartmentsQuery(subtype=code, jurisdiction=street.code)
            )
            assert answer.lead.code in knowledge.departments
            assert answer.lead.duty_ids and answer.lead.duties
            for a in answer.assisting:
                assert a.code in knowledge.departments and a.code != answer.lead.code


def test_routing_climbs_to_the_district_counterpart(knowledge: Knowledge) -> None:
    q = DepartmentsQuery(subtype="EN01", jurisdiction="500103003", level=Level.DISTRICT)
    answer = departments_for(knowledge, q)
    assert answer.lead.name == "重庆市公安局渝中区分局"
    street = departments_for(knowledge, DepartmentsQuery(subtype="EN01", jurisdiction="500103003"))
    assert street.lead.name == "解放碑街道派出所"


def test_sla_caps_by_urgency(knowledge: Knowledge) -> None:
    normal = sla_for(knowledge, SlaQuery(subtype="CO02", urgency="normal"))
    urgent = sla_for(knowledge, SlaQuery(subtype="CO02", urgency="urgent"))
    assert (normal.response_hours, normal.disposal_hours) == (24, 240)
    assert (urgent.response_hours, urgent.disposal_hours) == (2, 24)
    assert "紧急" in urgent.basis


def test_urgency_rises_on_keywords(knowledge: Knowledge) -> None:
    assert urgency_for(knowledge, "CO04", "电梯停了半个月")[0].value == "normal"
    level, words = urgency_for(knowledge, "CO04", "电梯故障，有老人被困在里面")
    assert level.value == "critical" and "被困" in words


# -- broken files fail at start-up with the file and the line -----------------------------


@pytest.fixture
def kdir(tmp_path: Path) -> Path:
    target = tmp_path / "k"
    shutil.copytree(DATA_DIR, target)
    return target


def _replace(path: Path, old: str, new: str) -> int:
    """Replace the first ``old`` and return its 1-based line number."""
    text = path.read_text(encoding="utf-8")
    pos = text.index(old)
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return text.count("\n", 0, pos) + 1


def test_dangling_department_type_names_file_and_line(kdir: Path) -> None:
    line = _replace(
        kdir / "taxonomy.yaml",
        "lead: {type: traffic_police, duties: [TP-02]}",
        "lead: {type: traffic_polise, duties: [TP-02]}",
    )
    with pytest.raises(KnowledgeError) as exc:
        load_knowledge(kdir)
    assert exc.value.path.name == "taxonomy.yaml" and exc.value.line == line
    assert "unknown department type traffic_polise" in str(exc.value)
    assert re.search(rf"taxonomy\.yaml:{line}: ", str(exc.value))


def test_duty_of_another_department_is_rejected(kdir: Path) -> None:
    line = _replace(
        kdir / "taxonomy.yaml",
        "lead: {type: traffic_police, duties: [TP-02]}",
        "lead: {type: traffic_police, duties: [UM-01]}",
    )
    with pytest.raises(KnowledgeError, match="duty UM-01 belongs to urban_mgmt") as exc:
        load_knowledge(kdir)
    assert exc.value.line == line


def test_unknown_key_is_a_typo_not_ignored(kdir: Path) -> None:
    line = _replace(kdir / "taxonomy.yaml", "    urgency: normal\n", "    urgancy: normal\n")
    with pytest.raises(KnowledgeError, match="urgancy: Extra inputs are not permitted") as exc:
        load_knowledge(kdir)
    assert exc.value.line == line


def test_yaml_syntax_error_points_at_the_line(kdir: Path) -> None:
    line = _replace(kdir / "sla.yaml", "due_soon_fraction: 0.2", "due_soon_fraction: [0.2")
    with pytest.raises(KnowledgeError, match="YAML syntax error") as exc:
        load_knowledge(kdir)
    assert exc.value.path.name == "sla.yaml"
    assert exc.value.line is not None and exc.value.line >= line


def test_duplicate_duty_id_is_rejected(kdir: Path) -> None:
    line = _replace(kdir / "departments.yaml", "{id: UM-02,", "{id: UM-01,")
    with pytest.raises(KnowledgeError, match="duplicate duty id UM-01") as exc:
        load_knowledge(kdir)
    assert exc.value.line == line


def test_street_outside_its_district_is_rejected(kdir: Path) -> None:
    _replace(kdir / "jurisdictions.yaml", 'code: "500103003"', 'code: "500105099"')
    with pytest.raises(KnowledgeError, match="does not start with its district code 500103"):
        load_knowledge(kdir)


def test_escalation_rule_naming_unknown_subtype(kdir: Path) -> None:
    line = _replace(kdir / "escalation.yaml", "subtypes: [MK01,", "subtypes: [ZZ99,")
    with pytest.raises(KnowledgeError, match="ESC-N-06: unknown subtype ZZ99") as exc:
        load_knowledge(kdir)
    assert exc.value.line == line


def test_missing_file_is_named(kdir: Path) -> None:
    (kdir / "return_reasons.yaml").unlink()
    with pytest.raises(KnowledgeError, match=r"return_reasons\.yaml: knowledge file is missing"):
        load_knowledge(kdir)


def test_bad_article_format_is_rejected(kdir: Path) -> None:
    text = (kdir / "taxonomy.yaml").read_text(encoding="utf-8")
    first = re.search(r"article: (第[^}]+条)", text)
    assert first
    line = _replace(kdir / "taxonomy.yaml", f"article: {first.group(1)}", "article: 15")
    with pytest.raises(KnowledgeError, match="article") as exc:
        load_knowledge(kdir)
    assert exc.value.line == line
