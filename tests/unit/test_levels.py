"""The level is the lowest centre that can own the disposal (knowledge/LEVELS.md): the routing
node, given a classified and located event, keeps at the street what the street office, its
enforcement team or a stationed unit does, and sends up what needs a bureau's own authority,
district resources, several streets or a public-safety risk (district), and what crosses
districts or touches city-owned infrastructure (city)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from agents.deps import AgentDeps
from agents.routing import route_event
from agents.state import TriageContext
from domain.vocabulary import Level
from evals.dispatch_eval import score
from knowledge import Knowledge
from store import EventStore
from tools.escalation import spans
from tools.routing import DepartmentsQuery, departments_for, urgency_for

NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
JIEFANGBEI, GUANYINQIAO, NANPING = "500103003", "500105006", "500108003"


@pytest.fixture(scope="module")
def route(tmp_path_factory: pytest.TempPathFactory, knowledge: Knowledge) -> Iterator[Any]:
    """Route an event whose subtype and place are known: the routing node on its own."""
    root: Path = tmp_path_factory.mktemp("levels")
    store = EventStore.open(f"sqlite:///{root / 'sanji.db'}", knowledge.store_rules)
    deps = AgentDeps(store, knowledge, None, None, lambda: NOW)  # type: ignore[arg-type]

    def run(subtype: str, text: str, street: str | None) -> dict[str, Any]:
        urgency, _ = urgency_for(knowledge, subtype, text)
        district = knowledge.jurisdiction(street).parent if street else None
        state: dict[str, Any] = {
            "event_id": 0,  # a draft: nothing is recorded
            "text": text,
            "classification": {
                "subtype": subtype,
                "urgency": urgency.value,
                "alternatives": [{"subtype": subtype}],
            },
            "location": {"street": street, "district": district},
        }
        return route_event(deps, state, TriageContext(), "levels")["routing"]  # type: ignore[arg-type]

    yield run
    store.close()


def rules(routing: dict[str, Any]) -> set[str]:
    return {r["id"] for r in routing["escalation"]}


def test_a_market_complaint_stays_with_the_market_supervision_office(route: Any) -> None:
    r = route("MK04", "在解放碑一家店买的热水器第二天就漏水，商家拒绝退换。", JIEFANGBEI)
    assert r["level"] == "street"
    assert r["lead"]["code"] == f"{JIEFANGBEI}.market_office"
    assert r["lead"]["name"] == "渝中区市场监督管理局解放碑街道市场监管所"
    assert r["lead"]["duty_ids"] == ["MO-04"] and "ESC-A-01" not in rules(r)


def test_unlabelled_food_stays_at_the_street_but_suspected_poisoning_goes_up(route: Any) -> None:
    shop = route("MK01", "卤肉店冰柜断电，肉品放常温售卖，柜台有苍蝇。", GUANYINQIAO)
    assert (shop["level"], shop["lead"]["code"]) == ("street", f"{GUANYINQIAO}.market_office")
    sick = route("MK01", "快餐店的盒饭吃了以后多人上吐下泻，两个住院了。", GUANYINQIAO)
    assert sick["level"] == "district" and "ESC-N-06" in rules(sick)
    assert sick["lead"]["code"] == "500105.market" and sick["lead"]["duty_ids"] == ["MS-01"]


def test_wage_arrears_for_many_workers_go_to_district_labour_inspection(route: Any) -> None:
    r = route("LB01", "工地拖欠三十多个农民工半年工资，包工头联系不上。", GUANYINQIAO)
    assert r["level"] == "district" and r["lead"]["code"] == "500105.hrss"
    assert "ESC-A-05" in rules(r)  # labour inspection of a building project: the bureau's own


def test_one_workers_unpaid_wages_are_mediated_at_the_street(route: Any) -> None:
    r = route(
        "LB01", "我在观音桥一家火锅店打工三个月，老板欠我两个月工资一直拖着不给。", GUANYINQIAO
    )
    assert r["level"] == "street"
    assert r["lead"]["code"] == f"{GUANYINQIAO}.social_security_office"
    assert r["lead"]["duty_ids"] == ["SS-03"] and not rules(r)


def test_an_ordinary_fire_stays_with_the_fire_station_but_casualties_go_up(route: Any) -> None:
    bin_fire = route("ES01", "小区垃圾桶着火了，冒黑烟，火不大。", NANPING)
    assert bin_fire["level"] == "street"
    assert bin_fire["lead"]["code"] == f"{NANPING}.fire_station"
    assert "ESC-N-03" not in rules(bin_fire)  # critical, but the station owns it
    hurt = route("ES01", "居民楼三楼起火，有人被困在阳台，已有人受伤。", NANPING)
    assert hurt["level"] == "district" and "ESC-N-01" in rules(hurt)
    assert hurt["lead"]["code"] == "500108.fire" and hurt["lead"]["duty_ids"] == ["FR-01"]


def test_a_gas_smell_is_the_gas_crews_but_an_explosion_goes_up(route: Any) -> None:
    leak = route("WU03", "楼道里燃气味很重，怀疑燃气泄漏。", NANPING)
    assert leak["level"] == "street" and leak["lead"]["code"].endswith("gas_company")
    boom = route("WU03", "餐馆燃气泄漏后发生爆燃，门窗都震碎了。", NANPING)
    assert boom["level"] == "district" and "ESC-N-05" in rules(boom)


def test_shop_loudspeakers_are_the_street_enforcement_teams(route: Any) -> None:
    r = route("EN10", "服装店门口两个大音箱循环放促销广告，从早放到晚。", JIEFANGBEI)
    assert r["level"] == "street"
    assert r["lead"]["code"] == f"{JIEFANGBEI}.street_enforcement"
    assert r["lead"]["duty_ids"] == ["SE-07"]


def test_job_training_is_the_social_security_office(route: Any) -> None:
    r = route("LB04", "下岗了想学个电工证，有没有免费培训，在哪里报名？", NANPING)
    assert r["level"] == "street"
    assert r["lead"]["name"] == "南坪街道劳动就业和社会保障服务所"
    injury = route("LB03", "在厂里摔伤了，公司不给申请工伤认定。", NANPING)
    assert injury["level"] == "district" and "ESC-A-02" in rules(injury)


def test_noise_goes_to_the_police_station_and_a_fight_with_injuries_goes_up(route: Any) -> None:
    noise = route("EN01", "楼下烧烤摊划拳喝酒闹到凌晨三点，吵得睡不着。", NANPING)
    assert (noise["level"], noise["lead"]["code"]) == ("street", f"{NANPING}.police_station")
    fight = route("PS01", "茶馆门口几个人打架，有人受伤流血。", NANPING)
    assert fight["level"] == "district" and "ESC-N-01" in rules(fight)
    assert fight["lead"]["code"] == "500108.public_security"
    assert fight["lead"]["duty_ids"] == ["PS-01"]


def test_a_blocked_fire_lane_is_the_police_stations_and_a_fire_the_fire_stations(
    route: Any,
) -> None:
    lane = route("ES02", "小区消防通道被两辆私家车堵了一下午。", GUANYINQIAO)
    assert lane["level"] == "street"
    assert lane["lead"]["code"] == f"{GUANYINQIAO}.police_station"
    assert lane["lead"]["duty_ids"] == ["PP-03"]
    fire = route("ES01", "垃圾收集点着火，明火一米多高，旁边是老房子。", GUANYINQIAO)
    assert fire["level"] == "street" and fire["lead"]["code"] == f"{GUANYINQIAO}.fire_station"


def test_setting_off_fireworks_stays_but_selling_them_goes_up(route: Any) -> None:
    night = route("ES09", "半夜有人在小区楼下放冲天炮，放了二十多分钟。", JIEFANGBEI)
    assert (night["level"], night["lead"]["code"]) == ("street", f"{JIEFANGBEI}.police_station")
    shop = route("ES09", "副食店门口摆售烟花爆竹，店里堆了二十箱。", JIEFANGBEI)
    assert shop["level"] == "district" and "ESC-A-03" in rules(shop)
    assert shop["lead"]["code"] == "500103.public_security"


def test_a_crack_on_a_yangtze_bridge_is_the_citys(route: Any) -> None:
    bridge = route("TR02", "菜园坝长江大桥桥面人行道出现一条长裂缝。", "500103007")
    assert bridge["level"] == "city" and "ESC-A-04" in rules(bridge)
    assert bridge["lead"]["code"] == "500000.urban_mgmt"
    street = route("TR02", "菜袁路人行道板松动，下雨踩上去溅一身水。", "500103007")
    assert street["level"] == "district" and "ESC-A-04" not in rules(street)


def test_a_rail_station_nearby_is_not_city_infrastructure(route: Any) -> None:
    """Rail words locate many events; only the rail structure itself is the city's."""
    stall = route("CA01", "轻轨站出口人行道上一排流动摊贩卖水果。", GUANYINQIAO)
    assert stall["level"] == "street" and "ESC-A-04" not in rules(stall)
    pothole = route("TR02", "两路口轻轨站门口的人行道有个大坑。", "500103004")
    assert pothole["level"] == "district" and "ESC-A-04" not in rules(pothole)
    viaduct = route("CO03", "李子坝那段轻轨桥的桥墩有一条明显裂缝。", "500103013")
    assert viaduct["level"] == "city" and "ESC-A-04" in rules(viaduct)


def test_a_chemical_smell_along_a_river_across_two_districts_is_the_citys(route: Any) -> None:
    text = "长江寸滩段到广阳岛上游一带江面有刺鼻的化工味，分属江北区、南岸区，两岸都有人反映。"
    r = route("EN05", text, "500105005")
    assert r["level"] == "city" and "ESC-R-04" in rules(r)
    assert r["lead"]["code"] == "500000.eco_env"
    one = route("EN05", "五宝码头下游那条小溪沟水变成了乳白色。", "500105005")
    assert one["level"] == "district" and "ESC-R-04" not in rules(one)


def test_a_street_matter_over_two_streets_goes_to_the_district(route: Any) -> None:
    r = route("CA01", "夜市摊位从洋河路延伸到五简路，跨观音桥、五里店两个街道。", GUANYINQIAO)
    assert r["level"] == "district" and "ESC-R-01" in rules(r)
    assert r["lead"]["code"] == "500105.urban_mgmt"


def test_a_utility_fault_is_the_local_crews_unless_it_is_dangerous(route: Any) -> None:
    water = route("WU01", "上清寺这边从早上停水到下午，没有通知。", "500103005")
    assert (water["level"], water["lead"]["code"]) == ("street", "500000.water_company")
    wire = route("WU04", "电线杆被货车刮倒，电线垂落离地两米。", "500103005")
    assert wire["level"] == "district" and "ESC-N-06" in rules(wire)


def test_an_event_known_only_to_its_district_is_owned_by_the_district(
    knowledge: Knowledge,
) -> None:
    answer = departments_for(knowledge, DepartmentsQuery(subtype="MK04", jurisdiction="500103"))
    assert answer.level is Level.DISTRICT and answer.lead.code == "500103.market"
    nowhere = departments_for(knowledge, DepartmentsQuery(subtype="CS01", jurisdiction="500000"))
    assert nowhere.level is Level.CITY


def test_place_names_count_only_with_a_word_of_extent(knowledge: Knowledge) -> None:
    assert spans(knowledge, "监测点分属江北区、南岸区") == (2, 2)
    assert spans(knowledge, "我住在渝北区，在江北区上班，公司门口有人摆摊") == (1, 1)
    assert spans(knowledge, "夜市跨观音桥、五里店两个街道") == (2, 1)


def test_every_street_default_subtype_has_a_street_level_lead(knowledge: Knowledge) -> None:
    """A subtype owned at the street is led by a unit that works there (or a utility's crew),
    and when it goes up a district department takes the lead."""
    street = knowledge.streets()[0].code
    for st in knowledge.subtypes.values():
        if st.level is not Level.STREET:
            continue
        here = departments_for(knowledge, DepartmentsQuery(subtype=st.code, jurisdiction=street))
        assert here.lead.level in (Level.STREET, Level.ENTERPRISE), st.code
        up = departments_for(
            knowledge, DepartmentsQuery(subtype=st.code, jurisdiction=street, level=Level.DISTRICT)
        )
        assert up.lead.level in (Level.DISTRICT, Level.ENTERPRISE), st.code
        assert set(up.lead.duty_ids) <= set(knowledge.departments[up.lead.code].duty_ids)


def test_a_stationed_unit_scores_as_its_bureau(knowledge: Knowledge) -> None:
    """A golden set that names the bureau (市场监管局, level street) and a draft that names its
    market-supervision office agree on the bureau, not on the type."""
    row = {"gold": {"subtype": "MK04", "lead_department": "500103.market", "level": "street",
                    "urgency": "normal"}}  # fmt: skip
    draft = {
        "category": {"code": "MK04"},
        "lead_department": {"code": f"{JIEFANGBEI}.market_office"},
        "assisting_departments": [],
        "legal_basis": [],
        "level": "street",
        "urgency": "normal",
    }
    s = score(row, draft, knowledge)
    assert s["lead_bureau"] and not s["lead_type"] and not s["lead"] and s["level"]
    draft["lead_department"] = {"code": f"{JIEFANGBEI}.police_station"}
    assert not score(row, draft, knowledge)["lead_bureau"]


def test_an_event_with_no_place_keeps_its_level_and_the_city_centre_holds_it(route: Any) -> None:
    r = route("EN10", "店门口的喇叭从早喊到晚，吵死人了。", None)
    assert r["level"] == "street" and r["unlocated"]
    assert r["lead"]["code"] == "500000.governance_center" and r["lead"]["duty_ids"] == ["GC-01"]
    assert any(a["code"].endswith("urban_mgmt") for a in r["assisting"])
    up = route("EN03", "化工厂晚上偷排废气，刺鼻得很。", None)
    assert up["level"] == "district" and up["lead"]["code"] == "500000.governance_center"
    city = route("TR07", "轨道列车在区间停了二十分钟，广播没有说明原因。", None)
    assert city["level"] == "city" and not city["unlocated"]
    assert city["lead"]["code"].endswith("rail_transit")
