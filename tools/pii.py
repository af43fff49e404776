"""Mask personal information (phone numbers, ID numbers, licence plates, e-mail addresses,
person names) in free text and in nested values."""

from __future__ import annotations

import re
from typing import Any

_ID = re.compile(r"(?<![0-9A-Za-z])(\d{6})(\d{8})(\d{3}[0-9Xx])(?![0-9A-Za-z])")
_MOBILE = re.compile(r"(?<!\d)(1[3-9]\d)[ -]?(\d{4})[ -]?(\d{4})(?!\d)")
_LANDLINE = re.compile(r"(?<!\d)(0\d{2,3})-?(\d{3,4})(\d{4})(?!\d)")
_PLATE = re.compile(
    r"([京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼])([A-HJ-NP-Z])[·\s]?([A-HJ-NP-Z0-9]{4,5})([A-HJ-NP-Z0-9挂学警港澳])"
)


_EMAIL = re.compile(r"([A-Za-z0-9._%+-]+)@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")


def mask_phone(value: str | None) -> str | None:
    if not value:
        return value
    digits = re.sub(r"\D", "", value)
    if len(digits) < 7:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def mask_text(text: str) -> str:
    """Replace ID numbers, phone numbers, plates, e-mail addresses and person names with masked
    forms; keep the rest."""
    text = _ID.sub(lambda m: m.group(1) + "********" + m.group(3)[:-1] + "*", text)
    text = _MOBILE.sub(lambda m: f"{m.group(1)}****{m.group(3)}", text)
    text = _LANDLINE.sub(lambda m: f"{m.group(1)}-****{m.group(3)}", text)
    text = _PLATE.sub(lambda m: f"{m.group(1)}{m.group(2)}***{m.group(4)}", text)
    text = _EMAIL.sub(lambda m: f"{m.group(1)[0]}***@{m.group(2)}", text)
    return mask_names(text)


def mask_name(value: str | None) -> str | None:
    if not value:
        return value
    return value[0] + "*" * max(1, len(value) - 1)


def mask_deep(value: Any) -> Any:
    """``mask_text`` over every string inside nested dicts and lists (audit payloads, draft
    views, history reasons)."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: mask_deep(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_deep(v) for v in value]
    return value


#: keys whose values are a person's name or contact, whatever they look like
_NAME_KEY = re.compile(r"(?:^|_)(?:name|contact|caller|reporter)$|姓名|联系人|报案人|来电人", re.I)


def mask_attributes(value: Any) -> Any:
    """``mask_deep`` for an event's attributes, which integrators nest as they like
    (``{"caller": {"name": …, "phone": …}}``, lists of phones): a string under a name-like key
    is masked whole, as ``mask_name`` does, because a bare name has no context to be found by."""
    if isinstance(value, dict):
        return {
            k: mask_name(v)
            if isinstance(v, str) and _NAME_KEY.search(str(k))
            else mask_attributes(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [mask_attributes(v) for v in value]
    return mask_deep(value)


#: a run of digits long enough to be (part of) a phone or ID number
_NUMBER_PROBE = re.compile(r"\d{7,}")


def probes_personal(text: str | None) -> str | None:
    """What a search text would confirm if a caller who may not see it searched by it: a
    whole phone or ID number, or a whole plate (None: nothing). Shorter parts are safe only
    when matched against the masked text (see ``tools.events.search_events``)."""
    if not text:
        return None
    if _NUMBER_PROBE.search(re.sub(r"[\s-]", "", text)):
        return "电话或证件号码"
    if _PLATE.search(re.sub(r"[\s·]", "", text).upper()):
        return "车牌号"
    return None


# -- person names ---------------------------------------------------------------------------
# Chinese names have no marker of their own; a name is masked where the text says it is one:
# a surname before an honorific or a title (王先生, 张师傅, 刘所长), a surname and given name
# after a cue (我叫, 联系人：, 投诉人), a surname after 姓. Place and organisation names built
# on surnames (王家沟社区, 李子坝, 杨家坪) are left alone: a candidate that ends in, or is
# followed by, a place or organisation word is not a name.

#: common single-character surnames; words that are mostly function words (和, 向, 于, 由,
#: 但, 那, 都, 来, 时) are left out, they would turn ordinary sentences into names
_SURNAMES_1 = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶"
    "程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫阎段雷侯龙史陶"
    "黎贺顾毛郝龚邵钱严覃武戴莫孔汤常温康施文牛樊葛邢齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿"
    "关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝游辛靳管柴蒙鲍华"
    "喻祁蒲滕屈饶牟艾尤穆卓古吉缪简项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂佟"
    "臧闵苟邬边卞姬师仇栾隋刁沙荣巫寇桑郎甄丛仲虞敖巩佘池查麻苑迟邝封谈匡鞠惠荆冀郁胥"
    "储栗燕楚鄢谌奚皮粟冼蔺盘闻厉伊仝郜阚权帅屠豆朴练廉禹井祖漆巴丰卿狄计索宣晋初"
)
_SURNAMES_2 = (
    "欧阳|司马|诸葛|上官|东方|皇甫|令狐|慕容|尉迟|夏侯|公孙|长孙|宇文|司徒|端木|独孤|南宫|"
    "西门|轩辕|呼延|澹台|万俟|闻人|钟离|百里|东郭|公羊|申屠|太史|濮阳"
)
_SURNAME_START = "".join(sorted(set(_SURNAMES_1 + _SURNAMES_2.replace("|", ""))))
#: the lookahead lets the engine pass over characters no surname starts with at once
_SURNAME = f"(?=[{_SURNAME_START}])(?:{_SURNAMES_2}|[{_SURNAMES_1}])"
#: characters that end place and organisation names, or that follow a surname in words that
#: are not names; none of them is read as part of a given name
_NOT_GIVEN = (
    "坝沟坪湾垭村街路镇乡区巷苑寺站港桥庙场院楼坡堡岭塘嘴坎溪河湖口门堰滩洞岗园厂店馆司局"
    "所处队部委会院校府記记氏家姓某的是在说电话手机住和与及等今昨先女师们了也就都要想来去到"
    "从给对向于把被让请因所但又还很不没已有着过这那里边上下前后中内外号栋幢单元室层户个位名"
)
_GIVEN = f"(?:(?![{_NOT_GIVEN}])[\u4e00-\u9fff])"
_HONORIFIC = (
    "大队长|中队长|副局长|副主任|副书记|副所长|副队长|先生|女士|小姐|师傅|阿姨|大爷|大妈|大姐|大哥|大叔|大伯|婆婆|爷爷|奶奶|嬢嬢|孃孃|老师|"
    "老板|经理|主任|书记|科长|所长|队长|站长|组长|局长|村长|社长|支书|警官|医生|律师|同学"
)
_CUE = (
    "我叫|名叫|叫做|本人是|我是|我姓名|姓名|联系人|报案人|报警人|来电人|反映人|投诉人|举报人|"
    "当事人|户主|业主|租户|网格员|负责人|求助人|申请人|居民|市民|村民|住户"
)
#: where a cued name must end: not inside a longer word
_END = "(?=$|[^\u4e00-\u9fff]|电话|手机|联系|反映|投诉|举报|来电|称|说|表示|住|家住|在|是|的|今天|昨天|要求|希望|和|与|及)"
_VERBS = "反映|投诉|举报|来电|称|说|表示|求助"
#: the top surnames, for 老王 and 小李 (the full list would read 小车 and 小米 as names)
_FAMILIAR = _SURNAMES_1[:100]
#: occupations that end in a surname character before an honorific: 门卫大爷, 城管大哥
_OCCUPATION_END = "门城物协环语"
#: a given name does not start with an honorific: 马阿姨说 is 马 and 阿姨
_NOT_TITLE = f"(?!{_HONORIFIC})"
_SEPARATORS = "。，,；;！!？?\\s"
#: each pattern with the words without which it cannot match (checked first, it is cheaper)
_NAME_PATTERNS = (
    # 王先生, 王建国先生, 张师傅, 刘所长
    (
        _HONORIFIC.split("|"),
        re.compile(f"(?<![{_OCCUPATION_END}])({_SURNAME}{_GIVEN}{{0,2}}?)(?:{_HONORIFIC})"),
    ),
    # 我叫王建国, 联系人：李秀英, 居民赵德柱反映
    (
        _CUE.split("|"),
        re.compile(f"(?:{_CUE})[:：\\s]*({_SURNAME}{_NOT_TITLE}{_GIVEN}{{1,2}}){_END}"),
    ),
    # 王建国反映…, at the start of a text or a clause
    (
        _VERBS.split("|"),
        re.compile(
            f"(?=[{_SURNAME_START}])(?<![^{_SEPARATORS}])"
            f"({_SURNAME}{_NOT_TITLE}{_GIVEN}{{1,2}})(?={_VERBS})"
        ),
    ),
    # 我姓王
    (["姓"], re.compile(f"(?<=[我他她人方主贵])姓({_SURNAME})(?![名氏])")),
    # 王某, 李某某: the surname is still a name
    (["某"], re.compile(f"(?:^|[^\u4e00-\u9fff]|{_CUE})({_SURNAME})某{{1,2}}{_END}")),
    # 老王, 小李
    (["老", "小"], re.compile(f"[老小]([{_FAMILIAR}])(?:{_END}|(?=家|已|也|又|都|就|还))")),
)


#: words whose last character is a surname: 出租车师傅, 对方老板, 感谢局长, 养老金 name nobody
_WORD_BEFORE = frozenset(
    [
        "租车",
        "修车",
        "洗车",
        "货车",
        "汽车",
        "公交",
        "电商",
        "茶楼",
        "酒楼",
        "宿管",
        "楼管",
        "物管",
        "五金",
        "对方",
        "双方",
        "警方",
        "地方",
        "厂方",
        "校方",
        "男方",
        "女方",
        "甲方",
        "乙方",
        "卖方",
        "买方",
        "业方",
        "前任",
        "现任",
        "主任",
        "责任",
        "信任",
        "担任",
        "继任",
        "历任",
        "曾任",
        "感谢",
        "谢谢",
        "多谢",
        "致谢",
        "浙江",
        "长江",
        "锦江",
        "养老金",
        "养老钱",
        "车管",
        "相关",
        "有关",
        "机关",
        "教师",
    ]
)
#: words that start with a surname: 施工队长, 高速交警
_WORD_AT = frozenset(
    [
        "施工",
        "方面",
        "高速",
        "江边",
        "石头",
        "金属",
        "白天",
        "常年",
        "温度",
        "康复",
        "武装",
        "龙头",
        "黎明",
        "程序",
        "任务",
        "成都",
        "江北",
        "华为",
        "安全",
        "应急",
        "万达",
        "龙湖",
        "金科",
        "钱塘",
        "司机",
        "马路",
        "田坝",
        "毛坯",
        "余额",
        "孙子",
        "宋体",
        "纪检",
        "纪委",
        "曾经",
        "谢谢",
        "高一",
        "高二",
        "高三",
        "计生",
        "蒙哄",
        "蒙骗",
        "权益",
        "权利",
        "高级",
        "高层",
        "高中",
        "石化",
        "常常",
        "党小",
        "党支",
        "成员",
        "项目",
    ]
)


def name_spans(text: str) -> list[tuple[int, int]]:
    """Where person names are in a text, as (start, end) offsets, merged and in order."""
    spans = sorted(
        (start, end)
        for triggers, pattern in _NAME_PATTERNS
        if any(t in text for t in triggers)
        for m in pattern.finditer(text)
        for g in range(1, (pattern.groups or 0) + 1)
        if m.group(g)
        for start, end in [m.span(g)]
        if text[max(start - 1, 0) : start + 1] not in _WORD_BEFORE
        and text[max(start - 2, 0) : start + 1] not in _WORD_BEFORE
        and text[start : start + 2] not in _WORD_AT
    )
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def mask_names(text: str) -> str:
    """Person names replaced by one ``*`` per character: 我叫*** , *先生, 联系人：***."""
    out, last = [], 0
    for start, end in name_spans(text):
        out += [text[last:start], "*" * (end - start)]
        last = end
    return "".join(out) + text[last:]
