"""The offline intent parser of the officers' chat assistant: kinds, slots, windows, speed."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone

import pytest

from agents.chat.intents import Intent, Window, parse
from knowledge import Knowledge

BEIJING = timezone(timedelta(hours=8))
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=BEIJING)  # a Wednesday


def bj(month: int, day: int, hour: int = 0, year: int = 2026) -> datetime:
    """A Beijing wall-clock instant, as the UTC datetime the parser returns."""
    return datetime(year, month, day, hour, tzinfo=BEIJING).astimezone(UTC)


def place(k: Knowledge, name: str) -> str:
    return next(j.code for j in k.jurisdictions.values() if j.name == name)


def subtype(k: Knowledge, name: str) -> str:
    return next(s.code for s in k.subtypes.values() if s.name == name)


def noise(k: Knowledge) -> tuple[str, ...]:
    return tuple(sorted(s.code for s in k.subtypes.values() if "噪声" in s.name))


def ask(k: Knowledge, text: str, now: datetime = NOW) -> Intent:
    return parse(text, k, now)


# ----------------------------------------------------------------------------- kinds

KINDS = [
    ("渝中区今天有哪些超时未办结的事件", "overdue"),
    ("重庆市本周超时事件", "overdue"),
    ("超过规定时限的事件", "overdue"),
    ("渝中区已经超时的事件", "overdue"),
    ("确认一下渝中区今天超时的事件", "overdue"),
    ("已超时和快超时的事件", "overdue"),
    ("快到期的事件有哪些", "due_soon"),
    ("哪些事件快超时了", "due_soon"),
    ("渝中区快超时的事件", "due_soon"),
    ("24小时内到期的事件", "due_soon"),
    ("即将超期的工单", "due_soon"),
    ("解放碑街道本周噪音投诉多少件，比上周多还是少", "count"),
    ("上个月燃气泄漏事件有几起", "count"),
    ("哪个街道噪音投诉最多", "count"),
    ("今天过期食品的投诉多少件", "count"),
    ("今天比昨天多还是少", "count"),
    ("这周的事件和上周比怎么样", "count"),
    ("江北区最近7天占道经营的事件", "list"),
    ("本周退单的事件有哪些", "list"),
    ("沙坪坝本月督办件有哪些", "list"),
    ("近一周江北观音桥的乱停车", "list"),
    ("解放碑88号附近的噪音投诉有哪些", "list"),
    ("看看事件 456", "event"),
    ("E456 现在什么情况", "event"),
    ("123号事件什么情况", "event"),
    ("编号123的进展", "event"),
    ("这起事件现在什么情况", "event"),
    ("E123超时了吗", "event"),
    ("帮我确认一下E123派单了没有", "event"),
    ("这起事件依据哪条规定处理", "basis"),
    ("事件 E123 依据什么法规", "basis"),
    ("帮我给事件 E123 起草派单", "draft"),
    ("给E123派单", "draft"),
    ("帮我草拟一份回复", "draft"),
    ("和这件事类似的还有哪些", "similar"),
    ("和E123相似的事件", "similar"),
    ("占道经营依据什么规定处罚", "regulation"),
    ("违规养犬归哪个法规管", "regulation"),
    ("渣土车撒漏怎么罚", "regulation"),
    ("确认", "confirm"),
    ("确认派单", "confirm"),
    ("好的，派吧", "confirm"),
    ("同意", "confirm"),
    ("可以，就按这个派", "confirm"),
    ("OK", "confirm"),
    ("取消", "cancel"),
    ("算了", "cancel"),
    ("先不派", "cancel"),
    ("不同意", "cancel"),
    ("好的，先不派了", "cancel"),
    ("你能做什么", "help"),
    ("帮助", "help"),
    ("有哪些功能", "help"),
    ("今天天气怎么样", "unknown"),
    ("给我讲个笑话", "unknown"),
    ("今天天气多少度", "unknown"),
    ("", "unknown"),
    ("   ", "unknown"),
]


@pytest.mark.parametrize(("text", "kind"), KINDS)
def test_kind(knowledge: Knowledge, text: str, kind: str) -> None:
    intent = ask(knowledge, text)
    assert intent.kind == kind, intent.reason
    assert intent.reason


def test_overdue_in_a_district_today(knowledge: Knowledge) -> None:
    intent = ask(knowledge, "渝中区今天有哪些超时未办结的事件")
    assert intent.kind == "overdue"
    assert intent.jurisdiction == place(knowledge, "渝中区")
    assert intent.window == Window(bj(11, 25), bj(11, 26), "今天")
    assert intent.compare is None
    assert intent.subtypes == ()
    assert intent.statuses == ()  # 未办结 is not 已办结
    assert intent.event_id is None


def test_count_with_comparison(knowledge: Knowledge) -> None:
    intent = ask(knowledge, "解放碑街道本周噪音投诉多少件，比上周多还是少")
    assert intent.kind == "count"
    assert intent.jurisdiction == place(knowledge, "解放碑街道")
    assert intent.window == Window(bj(11, 23), bj(11, 30), "本周")
    assert intent.compare == Window(bj(11, 16), bj(11, 23), "上周")
    assert intent.subtypes == noise(knowledge)
    assert intent.categories == ()


def test_basis_without_and_with_an_event_id(knowledge: Knowledge) -> None:
    focus = ask(knowledge, "这起事件依据哪条规定处理")
    assert (focus.kind, focus.event_id) == ("basis", None)
    assert focus.query == "这起事件依据哪条规定处理"
    named = ask(knowledge, "事件 E123 依据什么法规")
    assert (named.kind, named.event_id) == ("basis", 123)


def test_draft_event_and_similar_carry_the_event_id(knowledge: Knowledge) -> None:
    assert ask(knowledge, "帮我给事件 E123 起草派单").event_id == 123
    assert ask(knowledge, "看看事件 456").event_id == 456
    assert ask(knowledge, "E456 现在什么情况").event_id == 456
    assert ask(knowledge, "和E123相似的事件").event_id == 123
    assert ask(knowledge, "和这件事类似的还有哪些").event_id is None


def test_list_with_window_and_subtype(knowledge: Knowledge) -> None:
    intent = ask(knowledge, "江北区最近7天占道经营的事件")
    assert intent.kind == "list"
    assert intent.jurisdiction == place(knowledge, "江北区")
    assert intent.window == Window(bj(11, 19), bj(11, 26), "近7天")
    assert intent.subtypes == (subtype(knowledge, "占道经营"),)
    assert intent.event_id is None  # the 7 of 近7天 is no event id


def test_regulation_questions_keep_the_text_and_no_event(knowledge: Knowledge) -> None:
    road = ask(knowledge, "占道经营依据什么规定处罚")
    assert (road.kind, road.event_id) == ("regulation", None)
    assert road.query == "占道经营依据什么规定处罚"
    assert road.subtypes == (subtype(knowledge, "占道经营"),)
    dogs = ask(knowledge, "违规养犬归哪个法规管")
    assert (dogs.kind, dogs.event_id) == ("regulation", None)
    assert dogs.query == "违规养犬归哪个法规管"
    assert dogs.subtypes == (subtype(knowledge, "流浪犬只与文明养犬"),)
    assert ask(knowledge, "渝中区本周超时事件").query == ""


def test_confirm_and_cancel_carry_a_named_event(knowledge: Knowledge) -> None:
    intent = ask(knowledge, "确认派单 E123")
    assert (intent.kind, intent.event_id) == ("confirm", 123)
    assert ask(knowledge, "取消E123").event_id == 123


# ----------------------------------------------------------------------------- ambiguities


def test_address_number_is_not_an_event_id(knowledge: Knowledge) -> None:
    intent = ask(knowledge, "解放碑88号附近的噪音投诉有哪些")
    assert intent.event_id is None
    assert intent.jurisdiction == place(knowledge, "解放碑街道")
    assert intent.subtypes == noise(knowledge)


@pytest.mark.parametrize(
    "text", ["近7天的事件", "事件3件", "第3条规定是什么", "过去2小时的事件", "超时3天的事件"]
)
def test_numbers_that_are_not_event_ids(knowledge: Knowledge, text: str) -> None:
    assert ask(knowledge, text).event_id is None


def test_overdue_against_due_soon(knowledge: Knowledge) -> None:
    code = place(knowledge, "渝中区")
    soon = ask(knowledge, "渝中区快超时的事件")
    late = ask(knowledge, "渝中区已经超时的事件")
    assert (soon.kind, soon.jurisdiction) == ("due_soon", code)
    assert (late.kind, late.jurisdiction) == ("overdue", code)


def test_dispatch_word_draft_against_confirm(knowledge: Knowledge) -> None:
    assert ask(knowledge, "起草派单").kind == "draft"
    assert ask(knowledge, "确认派单").kind == "confirm"
    assert ask(knowledge, "先不派单").kind == "cancel"


def test_expired_food_is_a_subtype_not_an_overdue_question(knowledge: Knowledge) -> None:
    intent = ask(knowledge, "今天过期食品的投诉多少件")
    assert intent.kind == "count"
    assert intent.subtypes == (subtype(knowledge, "食品安全问题"),)


# ----------------------------------------------------------------------------- jurisdictions


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("渝中今天的事件", "渝中区"),
        ("解放碑今天的事件", "解放碑街道"),
        ("江北今天的事件", "江北区"),
        ("江北城今天的事件", "江北城街道"),
        ("渝中区解放碑街道今天的事件", "解放碑街道"),
        ("解放碑街道，渝中区今天的事件", "解放碑街道"),
        ("沙坪坝今天的事件", "沙坪坝区"),
        ("沙坪坝街道今天的事件", "沙坪坝街道"),
        ("九龙坡今天的事件", "九龙坡区"),
        ("两路口今天的事件", "两路口街道"),
        ("洪崖洞今天的事件", "解放碑街道"),
        ("民族路社区上周的事件", "民族路社区"),
        ("重庆市今天的事件", "重庆市"),
        ("全市今天的事件", "重庆市"),
    ],
)
def test_jurisdiction_names(knowledge: Knowledge, text: str, name: str) -> None:
    assert ask(knowledge, text).jurisdiction == place(knowledge, name)


def test_no_jurisdiction_when_none_is_named(knowledge: Knowledge) -> None:
    assert ask(knowledge, "今天有哪些事件").jurisdiction is None


# ----------------------------------------------------------------------------- subtypes


def test_noise_complaints_are_the_noise_subtypes_only(knowledge: Knowledge) -> None:
    codes = ask(knowledge, "噪音投诉有哪些").subtypes
    assert codes == noise(knowledge)
    assert len(codes) == 4  # 社会生活、建筑施工、工业、商业经营噪声
    complaints = {s.code for s in knowledge.subtypes.values() if "投诉" in s.name}
    assert complaints and not complaints & set(codes)


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("渣土车的事件", ["渣土车违规运输"]),
        ("泥头车的事件", ["渣土车违规运输"]),
        ("吵架纠纷多少件", ["邻里矛盾纠纷"]),
        ("这个月的物业纠纷", ["物业服务纠纷"]),
        ("广场舞扰民多少起", ["社会生活噪声扰民"]),
        ("工地扬尘的事件", ["建筑工地扬尘"]),
        ("冒黑烟的事件", ["工业噪声与废气"]),
        ("电梯关人多少起", ["电梯故障困人"]),
        ("乱停车的事件", ["机动车违法停放"]),
    ],
)
def test_officer_words_name_subtypes(knowledge: Knowledge, text: str, names: list[str]) -> None:
    assert ask(knowledge, text).subtypes == tuple(sorted(subtype(knowledge, n) for n in names))


def test_a_whole_category(knowledge: Knowledge) -> None:
    intent = ask(knowledge, "本月市容环卫类事件多少件")
    assert intent.categories == ("CA",)
    assert knowledge.categories["CA"].name == "市容环卫"
    assert intent.subtypes == ()


def test_statuses_and_supervision(knowledge: Knowledge) -> None:
    assert ask(knowledge, "本周退单的事件有哪些").statuses == ("returned",)
    assert ask(knowledge, "沙坪坝本月督办件有哪些").supervised is True
    assert ask(knowledge, "沙坪坝本月的事件有哪些").supervised is False


# ----------------------------------------------------------------------------- windows


@pytest.mark.parametrize(
    ("text", "label", "since", "until"),
    [
        ("今天的事件", "今天", bj(11, 25), bj(11, 26)),
        ("今日的事件", "今天", bj(11, 25), bj(11, 26)),
        ("昨天的事件", "昨天", bj(11, 24), bj(11, 25)),
        ("本周的事件", "本周", bj(11, 23), bj(11, 30)),
        ("这周的事件", "本周", bj(11, 23), bj(11, 30)),
        ("上周的事件", "上周", bj(11, 16), bj(11, 23)),
        ("本月的事件", "本月", bj(11, 1), bj(12, 1)),
        ("这个月的事件", "本月", bj(11, 1), bj(12, 1)),
        ("上个月的事件", "上月", bj(10, 1), bj(11, 1)),
        ("上月的事件", "上月", bj(10, 1), bj(11, 1)),
        ("今年的事件", "今年", bj(1, 1), bj(1, 1, year=2027)),
        ("近7天的事件", "近7天", bj(11, 19), bj(11, 26)),
        ("最近7天的事件", "近7天", bj(11, 19), bj(11, 26)),
        ("过去3天的事件", "近3天", bj(11, 23), bj(11, 26)),
        ("近七天的事件", "近7天", bj(11, 19), bj(11, 26)),
        ("近三十天的事件", "近30天", bj(10, 27), bj(11, 26)),
        ("近一周的事件", "近一周", bj(11, 19), bj(11, 26)),
        ("近一个月的事件", "近一个月", bj(10, 27), bj(11, 26)),
        ("近24小时的事件", "近24小时", bj(11, 24, 10), bj(11, 25, 10)),
    ],
)
def test_windows(
    knowledge: Knowledge, text: str, label: str, since: datetime, until: datetime
) -> None:
    window = ask(knowledge, text).window
    assert window == Window(since, until, label)
    assert window.since.utcoffset() == timedelta(0)


def test_windows_are_beijing_days_not_utc_days(knowledge: Knowledge) -> None:
    early = datetime(2026, 11, 24, 17, 30, tzinfo=UTC)  # 01:30 on the 25th in Beijing
    assert ask(knowledge, "今天的事件", early).window == Window(bj(11, 25), bj(11, 26), "今天")


def test_naive_now_is_beijing_time(knowledge: Knowledge) -> None:
    naive = datetime(2026, 11, 25, 1, 30)
    assert ask(knowledge, "今天的事件", naive).window == Window(bj(11, 25), bj(11, 26), "今天")


def test_week_on_a_sunday_night_and_month_across_the_year(knowledge: Knowledge) -> None:
    sunday = datetime(2026, 11, 29, 23, 30, tzinfo=BEIJING)
    assert ask(knowledge, "本周的事件", sunday).window == Window(bj(11, 23), bj(11, 30), "本周")
    january = datetime(2027, 1, 10, 9, 0, tzinfo=BEIJING)
    last = ask(knowledge, "上个月的事件", january).window
    assert last == Window(bj(12, 1), bj(1, 1, year=2027), "上月")


@pytest.mark.parametrize(
    ("text", "window", "compare"),
    [
        (
            "今天比昨天多还是少",
            Window(bj(11, 25), bj(11, 26), "今天"),
            Window(bj(11, 24), bj(11, 25), "昨天"),
        ),
        (
            "比上周多还是少的噪音投诉",
            Window(bj(11, 23), bj(11, 30), "本周"),
            Window(bj(11, 16), bj(11, 23), "上周"),
        ),
        (
            "本月市容环卫类事件多少件，环比",
            Window(bj(11, 1), bj(12, 1), "本月"),
            Window(bj(10, 1), bj(11, 1), "上月"),
        ),
        (
            "本月投诉同比上月增加还是减少",
            Window(bj(11, 1), bj(12, 1), "本月"),
            Window(bj(10, 1), bj(11, 1), "上月"),
        ),
        (
            "近7天的噪音投诉环比",
            Window(bj(11, 19), bj(11, 26), "近7天"),
            Window(bj(11, 12), bj(11, 19), "此前7天"),
        ),
        (
            "本月噪音投诉同比",
            Window(bj(11, 1), bj(12, 1), "本月"),
            Window(bj(11, 1, year=2025), bj(12, 1, year=2025), "去年同期"),
        ),
    ],
)
def test_comparisons(knowledge: Knowledge, text: str, window: Window, compare: Window) -> None:
    intent = ask(knowledge, text)
    assert (intent.window, intent.compare) == (window, compare)


def test_no_comparison_without_a_comparison_word(knowledge: Knowledge) -> None:
    assert ask(knowledge, "本周噪音投诉多少件").compare is None


# ----------------------------------------------------------------------------- speed


def test_parse_is_fast(knowledge: Knowledge) -> None:
    texts = [text for text, _ in KINDS]
    ask(knowledge, texts[0])  # the tables are built once per Knowledge
    started = time.perf_counter()
    for _ in range(5):
        for text in texts:
            ask(knowledge, text)
    per_call = (time.perf_counter() - started) / (5 * len(texts))
    assert per_call < 0.005
