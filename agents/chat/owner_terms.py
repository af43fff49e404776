"""The words of an ownership question (归谁管, 哪个部门负责, 该派给谁, 要不要上报区里) and
the subject left once they are taken out: what the classifier reads ("占道经营").

Kept apart from ``agents.chat.intents`` so the parser stays one room; it imports nothing."""

from __future__ import annotations

import re

_VERB = r"(?:来)?(?:管理|管|负责|主管|主办|牵头|处理|处置|承办|办理|办)+"
_WHICH = r"哪(?:个|一个|家|些|一)?(?:部门|单位|机构|级)"
#: who owns it: 归谁管, 由谁负责, 哪个部门负责, 该派给谁, 主办单位是
OWNER = re.compile(
    rf"归(?:谁|{_WHICH})(?:{_VERB})?"
    rf"|由(?:谁|{_WHICH}){_VERB}"
    rf"|谁{_VERB}"
    rf"|哪(?:个|一个|家|些)?(?:部门|单位|机构){_VERB}"
    rf"|(?:应该?|该|要|需要)?(?:派|交|转|分派|分拨|指派)给(?:谁|{_WHICH}|哪)"
    rf"|派(?:到|给)?哪(?:个|一个|家)?(?:部门|单位)"
    r"|(?:主办|牵头|责任)(?:部门|单位)是(?:谁|哪|什么)"
    r"|属于哪(?:个|一个|家)?(?:部门|单位)|谁的(?:职责|责任)|职责(?:归属|怎么划分)"
)
#: whether it goes up: 要不要上报区里, 这事要不要提级, 哪一级承办
LEVEL = re.compile(
    r"(?:要不要|需不需要|需要|是否(?:需要|要|应)?|该不该|用不用|应不应该?|能不能|可不可以)"
    r"(?:上报|报送?|提级|升级|提交|交|移交)(?:到|给|至)?(?:区里|区县|区|市里|市级|市|上级)?"
    r"|(?:上报|报)(?:到|给)?(?:区里|区县|市里)|提级|哪一?级(?:来)?(?:承办|处置|负责|管|处理)"
)
#: the law half of "归谁管，依据哪条法规": the articles are in every ownership answer anyway
LAW = re.compile(
    r"(?:依据|根据|按照|适用|引用)?(?:的)?(?:是)?(?:哪(?:一)?[条部个些]|什么|啥)?"
    r"(?:法律法规|法律|法规|法条|条例|规章|条款|规定)(?:是什么|有哪些)?"
    r"|(?:依据|根据)(?:是)?(?:什么|哪些|啥)?"
)
_FILLER = re.compile(
    r"请问|问一下|想问(?:一下)?|我想知道|咨询一下|知道|告诉我|麻烦"
    r"|这(?:种|类|个|样的?)|那(?:种|类|个)|一般|通常|平时|现在|应当|应该|究竟|到底"
    r"|事情|事件|问题|情况|案件|工单|的事|这事|此事"
)
_EDGES = re.compile(
    r"^[的是由在和与及、，,。.?？!！\s\0]+|[的是由在和与及了吗呢啊呀吧、，,。.?？!！\s\0]+$"
)
_SPACES = re.compile(r"[\s\0]+")


def is_ownership(text: str) -> re.Match[str] | None:
    """The first ownership or level phrase in ``text``."""
    return OWNER.search(text) or LEVEL.search(text)


def asks_level(text: str) -> bool:
    return LEVEL.search(text) is not None


def subject(masked: str) -> str:
    """What the question is about, with ownership, level, law and filler words taken out
    (places, event ids and times arrive already masked as NUL characters)."""
    pieces = []
    for clause in re.split(r"[，,。；;？?！!]", masked):
        rest = clause
        for pattern in (OWNER, LEVEL, LAW, _FILLER):
            rest = pattern.sub("\0", rest)
        rest = _SPACES.sub(" ", rest)
        for _ in range(3):
            rest = _EDGES.sub("", rest).strip()
        if len(rest.replace(" ", "")) >= 2:
            pieces.append(rest)
    return "，".join(pieces)
