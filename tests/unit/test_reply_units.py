"""The handling unit read from a reply: our own short replies in the style of the board's."""

from __future__ import annotations

import yaml

from evals.reply_units import PATTERNS, extract, label_rows
from knowledge import default_knowledge


def _handler(reply: str) -> tuple[str, str]:
    ex = extract(reply)
    assert ex.handler is not None, reply
    return ex.handler.type, ex.handler.level


def test_every_mapped_type_exists_in_our_knowledge() -> None:
    raw = yaml.safe_load(PATTERNS.read_text(encoding="utf-8"))
    known = set(default_knowledge().department_types)
    assert set(raw["units"]) <= known


def test_district_bureau_that_investigated() -> None:
    reply = "网友您好！您的留言已收悉。经B3区住建局调查核实，该小区电梯已安排维修。感谢您的支持！2019年3月2日"
    assert _handler(reply) == ("housing", "district")


def test_forwarding_chain_ends_at_the_street() -> None:
    reply = (
        "您好！市信访局收到您的留言后，转交C2区城管局，C2区城管局已转交梅林街道办事处调查处理。"
        "梅林街道办事处已组织人员到现场清理。2018年5月6日"
    )
    ex = extract(reply)
    assert ex.handler is not None
    assert (ex.handler.type, ex.handler.level) == ("street_office", "street")
    assert any(m.type == "urban_mgmt" and m.level == "district" for m in ex.mentions)


def test_signature_of_a_city_bureau() -> None:
    reply = "网友：您好！关于公交线路调整的建议，我局将在下次线网优化时统筹考虑。D市交通运输局 2017年8月1日"
    assert _handler(reply) == ("transport", "city")


def test_county_level_city_is_district() -> None:
    reply = "您好，您反映的问题已转交E5市教育局核实、办复。2019年9月1日"
    assert _handler(reply) == ("education", "district")


def test_town_speaking_for_itself() -> None:
    reply = "网友：您好！您反映的村道破损问题，我镇高度重视，已安排村干部现场查看，年底前完成修补。"
    assert _handler(reply) == ("street_office", "street")


def test_police_station_and_traffic_brigade_levels() -> None:
    assert _handler("您好！经青石派出所民警现场调解，双方已达成一致。") == (
        "police_station",
        "street",
    )
    assert _handler("您好！已转县交警大队核实、办理。") == ("traffic_police", "district")


def test_referral_only_when_nothing_acted() -> None:
    reply = "您好！您咨询的社保转移问题，请向F市人力资源和社会保障局咨询。"
    ex = extract(reply)
    assert ex.rule == "referral"
    assert ex.handler is not None and (ex.handler.type, ex.handler.level) == ("hrss", "city")


def test_cited_documents_and_untyped_units_give_no_label() -> None:
    assert extract("您好！根据《G市公安局关于养犬管理的通告》，相关工作正在推进。").handler is None
    assert extract("您好！您的留言已转G1区财政局调查处理。").handler is None
    assert extract("网友您好，留言已收悉，感谢您的关注。").handler is None


def test_label_rows_count_coverage() -> None:
    rows = [
        {"留言编号": "1", "答复意见": "经H2区生态环境局现场监测，噪声达标。"},
        {"留言编号": "2", "答复意见": "感谢您的留言。"},
    ]
    out, stats = label_rows(rows)
    assert [(o["留言编号"], o["department_type"], o["level"]) for o in out] == [
        ("1", "eco_env", "district")
    ]
    assert stats["labelled"] == 1 and stats["messages"] == 2 and stats["by_rule"]["none"] == 1


def test_the_towns_own_voice_beats_the_bureaus_it_names() -> None:
    reply = "您好！我镇接到留言后，会同县环保局对养殖场进行了现场检查，已责令整改。2019年6月3日"
    assert _handler(reply) == ("street_office", "street")


def test_a_schools_name_is_not_a_town() -> None:
    reply = "您好！我局调查核实，红岩镇中学已退还多收的资料费。感谢您对县教育工作的关心。"
    ex = extract(reply)
    assert all(m.type != "street_office" for m in ex.mentions)


def test_a_street_enforcement_squad_is_our_street_enforcement() -> None:
    reply = "您好！经调查，南湖街道城管执法中队已对占道摊点进行了劝离和整治。"
    assert _handler(reply) == ("street_enforcement", "street")


def test_bare_city_bureau_of_a_county_level_city() -> None:
    reply = "您好！您反映的问题，我们已要求市住建局调查处理。"
    assert _handler(reply) == ("housing", "city")
    assert extract(reply, subject="K3市某小区漏水").handler.level == "district"  # type: ignore[union-attr]
