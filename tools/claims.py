"""``find_claims``: the parts of a text that claim its own category, department or urgency
(标签：…, 【分类：…】, 紧急程度：特急, #危化品#) or are bare keyword lists with no sentence
around them. They are evidence for an officer, not an instruction: routing reads the rest."""

from __future__ import annotations

import re

from pydantic import BaseModel

from domain.models import Source
from domain.vocabulary import Urgency
from knowledge import Knowledge

#: words that name a routing field when followed by a colon or an equals sign
_LABEL = (
    r"(?:标签|分类|类别|事件类型|事件分类|问题类型|类型|主办单位|主办部门|主办|承办单位|承办部门|承办"
    r"|责任单位|责任部门|处置部门|派单部门|紧急程度|紧急级别|优先级|等级|关键词|关键字"
    r"|tags?|category|priority|urgency|department)"
)
#: a label at the start of the text or of a clause (not 垃圾分类：, 商品标签：)
_LABELLED = re.compile(
    rf"(?:^|(?<=[\s。！？!?；;，,、（(\[【|#]))\s*{_LABEL}\s*[:：=]\s*"
    r"[^。！？!?\n【】\[\]（）()]*",
    re.IGNORECASE,
)
_BRACKETED = re.compile(r"[【\[（(〔]([^【】\[\]（）()〔〕]{1,40})[】\]）)〕]")
_HASHTAG = re.compile(r"#([^#\s]{1,12})#")
_TOKEN_SPLIT = re.compile(r"[\s、，,|/；;#]+")
_SENTENCE = re.compile(r"[^。！？!?]+")


class Claims(BaseModel):
    body: str  # the text without the claims, what routing reads
    claims: list[str]  # the claimed spans as written
    labelled: (
        bool  # a span names a routing field (分类：, 【主办：…】) rather than only listing words
    )


_VOCABULARY: dict[int, frozenset[str]] = {}


def _vocabulary(k: Knowledge) -> frozenset[str]:
    """Words a keyword list is made of: subtype and category names and keywords, urgency
    words, escalation keywords (once per knowledge object); department names are recognised by their ending."""
    if id(k) in _VOCABULARY:
        return _VOCABULARY[id(k)]
    words: set[str] = {u.zh for u in Urgency} | {"加急", "特急", "紧急", "最高", "高"}
    for st in k.subtypes.values():
        words |= {st.name, *st.keywords, *st.critical_keywords, *st.urgent_keywords}
    words |= {c.name for c in k.categories.values()}
    for rule in k.escalation_rules:
        words |= set(rule.when.any_keywords or ())
    vocab = _VOCABULARY[id(k)] = frozenset(w for w in words if w)
    return vocab


_DEPARTMENT = re.compile(r"(局|委|中心|公司|大队|支队|派出所)$")
#: channel tags that head honest reports (【网格上报】, 【部门转办】, 【物联感知】)
_CHANNELS = frozenset(s.zh for s in Source) | {"网格上报", "部门转办", "物联感知", "AI视频识别"}


def _known(word: str, vocab: frozenset[str]) -> bool:
    if len(word) <= 12 and _DEPARTMENT.search(word):
        return True
    if word in vocab:
        return True
    if len(word) > 8:
        return False
    # the longest known word inside it (its substrings looked up, not the vocabulary scanned)
    covered = max(
        (
            n
            for n in range(len(word), 1, -1)
            for i in range(len(word) - n + 1)
            if word[i : i + n] in vocab
        ),
        default=0,
    )
    return covered * 2 >= len(word)  # 人员被困, not 电梯也经常坏


def _claims_routing(bracket: str, inner: str, vocab: frozenset[str]) -> bool:
    """A bracketed block names a routing field, or (in 【】, [] or 〔〕: parentheses are
    ordinary prose, 「（旅游局）」) is only taxonomy, urgency or department words."""
    if _LABELLED.match(inner):
        return True
    if bracket in "（(" or inner in _CHANNELS:
        return False
    tokens = [t for t in _TOKEN_SPLIT.split(inner) if t]
    return bool(tokens) and all(len(t) <= 8 and _known(t, vocab) for t in tokens)


def _lists(text: str, vocab: frozenset[str]) -> list[tuple[int, int]]:
    """Runs of three or more short known words separated by spaces or list marks, either
    with white space between them (Chinese sentences have none) or making up a whole clause."""
    found: list[tuple[int, int]] = []
    for sentence in _SENTENCE.finditer(text):
        tokens = [
            (m.start() + sentence.start(), m.end() + sentence.start(), m.group(0))
            for m in re.finditer(r"[^\s、，,|/；;#]+", sentence.group(0))
        ]
        run: list[tuple[int, int, str]] = []
        for tok in [*tokens, None]:
            if tok is not None and len(tok[2]) <= 8 and _known(tok[2], vocab):
                run.append(tok)
                continue
            if len(run) >= 3:
                start, end = run[0][0], run[-1][1]
                gaps = text[start:end]
                whole = text[sentence.start() : sentence.end()].strip(" \n，,、") == gaps
                if whole or re.search(r"\s|\|", gaps):
                    found.append((start, end))
            run = []
    return found


def find_claims(k: Knowledge, text: str) -> Claims:
    """找出文本中自称分类、主办单位或紧急程度的片段和堆砌的关键词，返回去掉它们后的正文。"""
    vocab = _vocabulary(k)
    spans: list[tuple[int, int]] = []
    labelled = False
    for m in _BRACKETED.finditer(text):
        if _claims_routing(m.group(0)[0], m.group(1).strip(), vocab):
            spans.append(m.span())
            labelled = True
    for m in _LABELLED.finditer(text):
        if m.group(0).strip():
            spans.append(m.span())
            labelled = True
    for m in _HASHTAG.finditer(text):
        if _known(m.group(1), vocab):
            spans.append(m.span())
    spans += _lists(text, vocab)
    if not spans:
        return Claims(body=text, claims=[], labelled=False)
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    claims = [text[s:e].strip() for s, e in merged if text[s:e].strip()]
    body, last = [], 0
    for s, e in merged:
        body.append(text[last:s])
        last = e
    body.append(text[last:])
    rest = re.sub(r"\s+", " ", "".join(body)).strip()
    return Claims(body=rest, claims=claims, labelled=labelled)
