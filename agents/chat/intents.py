"""The offline engine of the officers' chat assistant: a deterministic parser of a Chinese
question into an ``Intent`` with slots (jurisdiction, time window, subtypes, event id).

No model, no network, no clock: ``now`` comes in as an argument. Name tables are built once per
loaded ``Knowledge`` and kept beside it; one ``parse`` takes a fraction of a millisecond."""

from __future__ import annotations

import re
import unicodedata
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Literal

from agents.chat.owner_terms import asks_level, is_ownership, subject
from agents.chat.trace_text import asks_source
from domain.clock import CHINA_TZ, to_utc
from knowledge import Knowledge
from knowledge.retrieval.lexical import load_synonyms

Kind = Literal[
    "overdue", "due_soon", "count", "list", "event", "basis", "regulation",
    "draft", "similar", "ownership", "confirm", "cancel", "help", "unknown", "devices",
    "water_source",
]  # fmt: skip


@dataclass(frozen=True)
class Window:
    since: datetime  # tz-aware UTC, inclusive
    until: datetime  # tz-aware UTC, exclusive
    label: str  # Chinese, e.g. "今天", "本周", "近7天"


@dataclass(frozen=True)
class Intent:
    kind: Kind
    jurisdiction: str | None = None
    window: Window | None = None
    compare: Window | None = None
    subtypes: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    event_id: int | None = None
    query: str = ""
    statuses: tuple[str, ...] = ()
    supervised: bool = False  # 督办件
    reason: str = ""
    asks_level: bool = False  # 要不要上报区里, 要不要提级
    refers: bool = False  # points at an event without its id (这事, 这起事件)


# ----------------------------------------------------------------------------- vocabulary

_NUM = "[0-9零〇一二两三四五六七八九十百]+"
_DIGITS = {ch: i for i, ch in enumerate("零一二三四五六七八九")} | {"〇": 0, "两": 2}
_EVENT_ID = re.compile(
    r"(?<![A-Za-z0-9])[Ee]\s?(\d{1,12})(?!\d)"
    r"|(?:事件|工单|案件)\s*(?:编号|号)?\s*[:#]?\s*(\d{1,12})(?!\d|\s*(?:天|日|小时|个|件|起|周|月|年|条|号|分钟|%))"
    r"|(?:编号|单号|#)\s*[:]?\s*(\d{1,12})(?!\d)"
    r"|(?<!\d)(\d{1,12})\s*号\s*(?:事件|工单|案件)"
)
_ROLLING = rf"(?:最近|近|过去|前)(?P<n>{_NUM})\s*(?P<unit>个?小时|天|日|个?星期|周|个?礼拜|个?月)"
_NAMED: dict[str, tuple[str, int]] = {
    **dict.fromkeys(("今天", "今日", "当天"), ("day", 0)),
    **dict.fromkeys(("昨天", "昨日"), ("day", -1)),
    "前天": ("day", -2),
    **dict.fromkeys(
        ("本周", "这周", "这星期", "这个星期", "本星期", "这礼拜", "这个礼拜", "本礼拜"),
        ("week", 0),
    ),
    **dict.fromkeys(("上周", "上星期", "上个星期", "上礼拜", "上个礼拜"), ("week", -1)),
    "上上周": ("week", -2),
    **dict.fromkeys(("本月", "这个月", "这月", "当月"), ("month", 0)),
    **dict.fromkeys(("上月", "上个月"), ("month", -1)),
    **dict.fromkeys(("今年", "本年度", "本年"), ("year", 0)),
    "去年": ("year", -1),
}
_WINDOW = re.compile(_ROLLING + "|" + "|".join(sorted(_NAMED, key=len, reverse=True)))
_COMPARE_PREFIX = re.compile(r"(?:比|较|相比|对比|环比|同比|和|与|跟)\s*$")
_COMPARE = re.compile(
    r"比(?:上|昨|去|前)|环比|同比|多还是少|少还是多|增加还是减少|减少还是增加|增还是减|"
    r"涨还是跌|升还是降|上升还是下降|有没有(?:增加|减少)|对比|相比|变化"
)
_LABELS = {
    "day": {0: "今天", -1: "昨天", -2: "前天"},
    "week": {0: "本周", -1: "上周", -2: "上上周"},
    "month": {0: "本月", -1: "上月", -2: "上上月"},
    "year": {0: "今年", -1: "去年", -2: "前年"},
}

_CANCEL = r"取消|算了|先不(?:要)?(?:派单|派|发|提交)?|不(?:用|要|派|发|同意|行|对|了)+|别(?:派|发)|暂不|撤销|撤回|放弃|再等等|等等|再说|no|cancel"
_CONFIRM = r"确认|确定|同意|好的|好嘞|好|可以|行|没问题|对|是的|是|嗯|ok|okay|yes|派单|派出去|派|发出去|发|提交|批准|通过|就这样|就按这个|按这个|照办|执行"
_FILLER = r"吧|啊|呀|了|的|吗|呢|哈|就|那就|那|请|麻烦|你|帮我|一下|这个|这单|它"
_REPLY = re.compile(rf"(?:{_CANCEL}|{_CONFIRM}|{_FILLER})+")
_CANCEL_RE = re.compile(_CANCEL)
_PUNCT = re.compile(r"[\s,.!?;:~'\"、。，！？；：…\-—()（）]+")

_HELP = re.compile(
    r"^(?:帮助|help|使用说明|说明|菜单|\?)$|你(?:能|会|可以)(?:做|干)?(?:什么|啥|些什么)|能(?:做|干)(?:什么|啥)|"
    r"有(?:哪些|什么)功能|怎么用|如何使用|使用方法|你是谁|功能介绍"
)
_DRAFT = re.compile(
    r"起草|草拟|拟(?:一?[份个])?(?:派单|派遣单|工单|回复|答复|处置意见)|"
    r"(?:写|生成|出)(?:一?[份个])?(?:派单|派遣单|工单|回复|答复|处置意见)|"
    r"(?:给|帮|替|为).{0,12}?派(?:单|遣)(?![了没过吗否])"
)
_REGULATION = re.compile(
    r"依据|法规|法律|法条|条例|规章|条款|哪部法|什么法|哪个法|哪些法|第几条|哪一?条(?![路街道线河巷])|"
    r"规定(?!的?(?:时限|期限|时间))|处罚|罚款|怎么罚|罚多少|违法吗|合法吗|违不违法|法律责任|管辖依据"
)
_SIMILAR = re.compile(
    r"类似|相似|雷同|差不多的|同类(?:事件|的|工单)|重复(?:件|的|事件|工单|上报|投诉)|"
    r"一样的(?:事件|问题|投诉)|同一(?:件|个)?事"
)
_EVENT_REF = re.compile(
    r"这(?:起|件|宗)(?:事件?|工单|案件|案子)?|这(?:个|条)(?:事件?|工单|案件|案子)|这(?:事件?|单|工单)|"
    r"该(?:事件|工单|案件|件)|此(?:事件|案|件)|本(?:事件|案)|当前(?:事件|工单)"
)
#: questions about the sensing devices themselves: which are offline, stuck, the online rate
_DEVICES = re.compile(
    r"(?:设备|传感器|探头|摄像头|监测(?:点|站|仪)|感知(?:设备|点位)?|水质站|雨量站|水位计|井盖)"
    r"[^。？?]{0,10}?(?:离线|掉线|断线|不在线|失联|没(?:有)?(?:数据|上报|信号)|数据(?:异常|中断)|"
    r"读数不变|卡住|在线)|(?:离线|掉线|失联)(?:的)?(?:设备|传感器|摄像头|监测点|点位)|在线率"
)
#: the part of a devices question that asks for stuck sensors (a flat line), not silent ones
DEVICES_STUCK = re.compile(r"数据异常|读数不变|卡住|不变化|一直不变")
_DUE_SOON = re.compile(
    r"快(?:要)?(?:到期|超时|超期|逾期)|即将(?:到期|超时|超期|逾期)|马上(?:就|要)?(?:到期|超时|超期)|"
    r"临近(?:到期|时限|期限)|将要(?:到期|超时)|要到期|(?:超时|到期)预警|"
    rf"{_NUM}\s*(?:个?小时|天)(?:内|以内)(?:到期|超时)"
)
_OVERDUE = re.compile(
    r"超时|超期|逾期|过期未|超过(?:规定)?的?(?:办理)?(?:时限|期限)|(?:未|没)按(?:时|期)"
)
_COUNT = re.compile(
    r"多少|几件|几起|几个|几单|有几|数量|总数|统计|多不多|多还是少|少还是多|增加还是减少|"
    r"增还是减|涨还是跌|环比|同比|占比|比例|排名|最多|最高|趋势|top"
)
_LIST = re.compile(
    r"哪些|哪几|列出|列一下|列个|清单|明细|看看|看一下|查一下|查查|查询|有什么|都有|调出|显示|展示"
)
_NOUN = re.compile(r"事件|工单|案件|投诉|诉求|举报|来电|件|单子|案子|问题|警情")
_STATUSES: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...] = (
    (re.compile(r"退单|退回|被退|回退"), ("returned",)),
    (re.compile(r"延期"), ("extension_requested",)),
    (re.compile(r"待签收|未签收|没签收"), ("dispatched",)),
    (re.compile(r"处置中|办理中|在办|正在处置|正在办理"), ("in_progress",)),
    (re.compile(r"已办结|已经办结|办结了|已完成"), ("resolved", "verified", "closed")),
    (re.compile(r"待分拨|未分拨"), ("received",)),
    (re.compile(r"待派遣|未派遣|待派单|未派单"), ("triaged",)),
)
_SUPERVISED = re.compile(r"督办")

# Words too generic to name a subtype in an officer's question, even when a subtype lists them.
_GENERIC = frozenset({
    "投诉", "举报", "问题", "事件", "情况", "服务", "管理", "处理", "请问", "咨询", "建议", "希望", "能否", "意见", "谢谢",
    "感谢", "政策", "流程", "隐患", "设备", "告警", "超限", "在哪里办", "怎么办理", "需要什么材料",
})  # fmt: skip
_NAME_SUFFIX = re.compile(r"(?:问题|隐患|纠纷|服务|故障|投诉|异常|不及时|管理)$")
_SHORT_STOP = frozenset({"礼让", "人和", "天文"})  # short street names that are common words
_LEVEL_RANK = {"city": 0, "district": 1, "street": 2, "community": 3, "grid": 4}


# ----------------------------------------------------------------------------- tables


@dataclass(frozen=True)
class _Tables:
    places: dict[str, str]  # name or short form -> jurisdiction code
    place_re: re.Pattern[str]
    topics: dict[str, tuple[frozenset[str], frozenset[str]]]  # term -> (subtypes, categories)
    topic_re: re.Pattern[str]
    rank: dict[str, int]  # jurisdiction code -> level rank, the most specific highest


_CACHE: weakref.WeakKeyDictionary[Knowledge, _Tables] = weakref.WeakKeyDictionary()


def _alternation(terms: Iterable[str]) -> re.Pattern[str]:
    """Leftmost-longest matching: longer alternatives first."""
    return re.compile("|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True)))


def _places(k: Knowledge) -> dict[str, str]:
    out: dict[str, str] = {"全市": k.city.code, "重庆": k.city.code}
    shorts: dict[str, str] = {}
    landmarks: dict[str, set[str]] = {}
    # districts first: a district keeps its short form when a street elsewhere shares it
    # (江北区 and 涪陵区江北街道)
    for j in sorted(k.jurisdictions.values(), key=lambda j: _LEVEL_RANK[j.level]):
        out[j.name] = j.code
        if j.level in ("district", "street"):
            short = re.sub(r"(?:区|县|街道|镇|乡)$", "", j.name)
            # a district keeps a short form it shares with one of its streets (沙坪坝)
            if len(short) >= 2 and short not in _SHORT_STOP and short not in shorts:
                shorts[short] = j.code
        for mark in j.landmarks:
            landmarks.setdefault(mark, set()).add(j.code)
    for mark, codes in landmarks.items():
        if len(mark) >= 3 and len(codes) == 1:
            shorts.setdefault(mark, next(iter(codes)))
    return {**shorts, **out}


def _topics(k: Knowledge) -> dict[str, tuple[frozenset[str], frozenset[str]]]:
    subs: dict[str, set[str]] = {}
    for s in k.subtypes.values():
        words = {s.name, *s.keywords, *re.split(r"与|及", s.name), _NAME_SUFFIX.sub("", s.name)}
        for word in words - _GENERIC:
            subs.setdefault(word, set()).add(s.code)
    for word, codes in subs.items():  # a word also names every subtype whose name holds it (噪声)
        if len(word) >= 2:
            codes |= {s.code for s in k.subtypes.values() if word in s.name}
    hay = {s.code: s.name + " ".join(s.keywords) + s.description for s in k.subtypes.values()}
    path = k.source / "synonyms.yaml"
    for word, phrases in load_synonyms(path if path.exists() else None).items():
        if word in _GENERIC:
            continue
        # every word of a formal phrase must describe the subtype; failing that, a longer
        # known word inside the officer's word names it (冒黑烟 → 黑烟)
        codes = {c for p in phrases for c, h in hay.items() if all(t in h for t in p.split())}
        codes |= subs.get(word, set())
        if not codes:
            codes = {c for w, cs in subs.items() if len(w) >= 2 and w in word for c in cs}
        subs[word] = codes
    cats: dict[str, set[str]] = {}
    for c in k.categories.values():
        names = {c.name, c.name[:2] + "类"}
        for part in re.split(r"与|及", c.name):
            names |= {part + "类"} | ({part} if len(part) >= 3 and part not in subs else set())
        for name in names:
            cats.setdefault(name, set()).add(c.code)
    return {t: (frozenset(subs.get(t, ())), frozenset(cats.get(t, ()))) for t in subs.keys() | cats}


def _tables(k: Knowledge) -> _Tables:
    cached = _CACHE.get(k)
    if cached is None:
        places, topics = _places(k), _topics(k)
        rank = {j.code: _LEVEL_RANK[j.level] for j in k.jurisdictions.values()}
        cached = _Tables(places, _alternation(places), topics, _alternation(topics), rank)
        _CACHE[k] = cached
    return cached


# ----------------------------------------------------------------------------- time windows


def _number(s: str) -> int:
    if s.isdigit():
        return int(s)
    total = current = 0
    for ch in s:
        if ch in _DIGITS:
            current = _DIGITS[ch]
        else:  # 十 or 百
            total += (current or 1) * (10 if ch == "十" else 100)
            current = 0
    return total + current


def _month(d: date, months: int) -> date:
    n = d.year * 12 + d.month - 1 + months
    return date(n // 12, n % 12 + 1, 1)


def _utc(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=CHINA_TZ).astimezone(UTC)


@dataclass(frozen=True)
class _Span:
    unit: str  # day | week | month | year (calendar) or days | hours (rolling)
    offset: int = 0  # 0 current, -1 the one before
    n: int = 1  # rolling length
    label: str = ""

    def window(self, now: datetime) -> Window:
        local = now.astimezone(CHINA_TZ)
        today = local.date()
        if self.unit in ("days", "hours"):
            step = timedelta(days=self.n) if self.unit == "days" else timedelta(hours=self.n)
            last = _utc(today + timedelta(days=1)) if self.unit == "days" else now.astimezone(UTC)
            last += step * self.offset
            word = "天" if self.unit == "days" else "小时"
            label = (
                (self.label or f"近{self.n}{word}") if self.offset == 0 else f"此前{self.n}{word}"
            )
            return Window(last - step, last, label)
        if self.unit == "day":
            start, end = (
                today + timedelta(days=self.offset),
                today + timedelta(days=self.offset + 1),
            )
        elif self.unit == "week":
            monday = today - timedelta(days=today.weekday()) + timedelta(weeks=self.offset)
            start, end = monday, monday + timedelta(weeks=1)
        elif self.unit == "month":
            start, end = _month(today, self.offset), _month(today, self.offset + 1)
        else:
            start, end = (
                date(today.year + self.offset, 1, 1),
                date(today.year + self.offset + 1, 1, 1),
            )
        label = _LABELS[self.unit].get(self.offset, f"{self.unit}{self.offset:+d}")
        return Window(_utc(start), _utc(end), label)

    def shifted(self, by: int) -> _Span:
        return _Span(self.unit, self.offset + by, self.n, self.label)


def _span(m: re.Match[str]) -> _Span | None:
    if m.group("n") is None:
        unit, offset = _NAMED[m.group()]
        return _Span(unit, offset)
    n, unit = _number(m.group("n")), m.group("unit").lstrip("个")
    if n <= 0:
        return None
    if unit == "小时":
        return _Span("hours", n=n, label=f"近{n}小时")
    if unit in ("天", "日"):
        return _Span("days", n=n, label=f"近{n}天")
    if unit == "月":
        return _Span("days", n=30 * n, label="近一个月" if n == 1 else f"近{n}个月")
    return _Span("days", n=7 * n, label="近一周" if n == 1 else f"近{n}周")


def _year_ago(w: Window) -> Window:
    def back(t: datetime) -> datetime:
        local = t.astimezone(CHINA_TZ)
        day = 28 if (local.month, local.day) == (2, 29) else local.day
        return local.replace(year=local.year - 1, day=day).astimezone(UTC)

    return Window(back(w.since), back(w.until), "去年同期")


def _windows(
    text: str, now: datetime
) -> tuple[Window | None, Window | None, list[tuple[int, int]]]:
    primary: _Span | None = None
    explicit: _Span | None = None
    spans: list[tuple[int, int]] = []
    for m in _WINDOW.finditer(text):
        span = _span(m)
        if span is None:
            continue
        spans.append(m.span())
        if _COMPARE_PREFIX.search(text[: m.start()]):
            explicit = explicit or span
        else:
            primary = primary or span
    if primary is None and explicit is not None and explicit.unit not in ("days", "hours"):
        primary = explicit.shifted(1)  # 比上周多还是少 → this week against last week
    if primary is None:
        return None, None, spans
    window = primary.window(now)
    if explicit is not None:
        return window, explicit.window(now), spans
    if not _COMPARE.search(text):
        return window, None, spans
    if "同比" in text:
        return window, _year_ago(window), spans
    return window, primary.shifted(-1).window(now), spans


# ----------------------------------------------------------------------------- parsing


def _event_id(text: str) -> tuple[int | None, list[tuple[int, int]]]:
    found = [(m, next(g for g in m.groups() if g)) for m in _EVENT_ID.finditer(text)]
    return (int(found[0][1]) if found else None), [m.span() for m, _ in found]


def _mask(text: str, spans: list[tuple[int, int]]) -> str:
    chars = list(text)
    for a, b in spans:
        chars[a:b] = "\0" * (b - a)
    return "".join(chars)


def _topic_codes(tables: _Tables, text: str) -> tuple[set[str], set[str]]:
    """Subtypes and categories named in ``text``. A broad word is narrowed by a precise one
    beside it: 物业纠纷 is the property subtype, not every 纠纷."""
    found = [tables.topics[m.group()] for m in tables.topic_re.finditer(text)]
    subs = [s for s, _ in found if s]
    kept = [s for s in subs if not any(o < s for o in subs)]
    return set().union(*kept), set().union(*(c for _, c in found))


def _reply(text: str, id_spans: list[tuple[int, int]]) -> Kind | None:
    """A short confirm/cancel reply: the message is made only of reply words and fillers."""
    s = _PUNCT.sub("", _mask(text, id_spans).replace("\0", ""))
    if not s or len(s) > 16 or not _REPLY.fullmatch(s):
        return None
    return "cancel" if _CANCEL_RE.search(s) else "confirm"


def parse(text: str, k: Knowledge, now: datetime) -> Intent:
    """Parse an officer's question into an intent with slots. ``now`` is any tz-aware instant
    (naive means Beijing time); windows are computed in Beijing time and returned in UTC."""
    question = unicodedata.normalize("NFKC", text).strip()
    t = question.lower()
    if not t:
        return Intent("unknown", reason="空消息")
    now = to_utc(now)
    tables = _tables(k)
    event_id, id_spans = _event_id(t)
    reply = _reply(t, id_spans)
    if reply is not None:
        return Intent(
            reply, event_id=event_id, reason="确认答复" if reply == "confirm" else "取消答复"
        )

    window, compare, time_spans = _windows(t, now)
    masked = _mask(t, id_spans + time_spans)
    places = list(tables.place_re.finditer(masked))
    jurisdiction = None
    if places:
        best = max(
            places,
            key=lambda m: (tables.rank[tables.places[m.group()]], len(m.group()), -m.start()),
        )
        jurisdiction = tables.places[best.group()]
    masked = _mask(masked, [m.span() for m in places])
    masked = _mask(masked, [m.span() for r in (_DUE_SOON, _OVERDUE) for m in r.finditer(masked)])
    subtypes, categories = _topic_codes(tables, masked)
    statuses = tuple(s for pattern, group in _STATUSES if pattern.search(t) for s in group)
    supervised = bool(_SUPERVISED.search(t))
    slots = Intent(
        "unknown",
        jurisdiction=jurisdiction,
        window=window,
        compare=compare,
        subtypes=tuple(sorted(subtypes)),
        categories=tuple(sorted(categories)),
        event_id=event_id,
        statuses=statuses,
        supervised=supervised,
    )
    refers = bool(_EVENT_REF.search(t))
    kind, why = _kind(t, slots, refers)
    query = question if kind in ("basis", "regulation", "devices") else ""
    if kind == "ownership":
        query = subject(_mask(masked, [m.span() for m in _EVENT_REF.finditer(masked)]))
        return replace(
            slots,
            kind=kind,
            query=query,
            reason=why,
            asks_level=asks_level(t),
            refers=refers,
        )
    return replace(slots, kind=kind, query=query, reason=why)


def _kind(t: str, s: Intent, event_ref: bool) -> tuple[Kind, str]:
    has_event = s.event_id is not None or event_ref
    topic = bool(s.subtypes or s.categories or s.statuses or s.supervised)
    noun = bool(_NOUN.search(t))
    if _HELP.search(t):
        return "help", "询问助手能做什么"
    if asks_source(t):
        return "water_source", "询问水污染可能的源头：按最近的水质告警向上游溯源"
    if m := is_ownership(t):
        return "ownership", f"含“{m.group()}”：按派单的定责和升级规则回答归属"
    if _DRAFT.search(t):
        return "draft", "要求起草派单"
    if m := _REGULATION.search(t):
        if has_event:
            return "basis", f"含“{m.group()}”且指向具体事件：查处置依据"
        return "regulation", f"含“{m.group()}”：检索法规"
    if m := _SIMILAR.search(t):
        return "similar", f"含“{m.group()}”：查类似事件"
    if not has_event and (m := _DEVICES.search(t)):
        return "devices", f"含“{m.group()}”：查感知设备的在线状态"
    if has_event:
        return "event", "指向具体事件：查看事件详情"
    soon = _DUE_SOON.search(t)
    if m := _OVERDUE.search(_DUE_SOON.sub("", t)):  # 超时 alone, not inside 快超时
        return "overdue", f"含“{m.group()}”：已超时的事件"
    if soon:
        return "due_soon", f"含“{soon.group()}”：临近时限的事件"
    if (m := _COUNT.search(t)) and (topic or noun or s.jurisdiction or s.compare):
        return "count", f"含“{m.group()}”：统计数量"
    if s.compare and (topic or noun or s.jurisdiction):
        return "count", "含比较：统计数量并对比"
    m = _LIST.search(t)
    scope = s.jurisdiction is not None or s.window is not None
    if (
        (m and (topic or noun or s.jurisdiction))
        or (topic and (scope or noun))
        or (noun and scope)
        or (s.jurisdiction and s.window)
    ):
        return "list", "按辖区、时间或类别查事件" + (f"（含“{m.group()}”）" if m else "")
    return "unknown", "未识别出办公问题"
