"""What counts as text. One rule for every way an event arrives (API, draft, Open311, import):
text made only of white space and invisible characters is empty; text a database cannot store
is refused; a text longer than the agents read is kept whole.

SQLite cannot encode a lone surrogate (``"\\ud800"``: half of a UTF-16 pair, not a character)
and PostgreSQL can store neither that nor NUL (U+0000), in text or in JSONB. Refusing both
everywhere, before the store, makes the two stores behave the same."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from typing import Annotated, Any

from pydantic import AfterValidator

#: blank-looking letters and marks that Unicode does not class as spaces or format characters
#: (Hangul fillers, braille blank, combining grapheme joiner, variation selectors)
_BLANK_LOOKING = frozenset(
    "\u115f\u1160\u3164\uffa0\u2800\u034f" + "".join(chr(c) for c in range(0xFE00, 0xFE10))
)
#: Unicode classes never drawn: controls, format characters (zero-width space, joiners, BOM,
#: soft hyphen…), separators, unassigned and private-use code points
_INVISIBLE_CLASSES = frozenset({"Cc", "Cf", "Cs", "Cn", "Co", "Zs", "Zl", "Zp"})

#: the error officers and integrators read when a text has nothing visible
EMPTY_TEXT = "正文为空（只有空白或不可见字符）"


def invisible(ch: str) -> bool:
    return ch in _BLANK_LOOKING or unicodedata.category(ch) in _INVISIBLE_CLASSES


def is_empty(text: str | None) -> bool:
    """Whether ``text`` has no character a person can see."""
    return not text or all(invisible(ch) for ch in text)


def without_invisible(text: str) -> str:
    """``text`` without the invisible characters that are not spaces (zero-width characters
    inside a word would hide it from keyword rules and the classifier)."""
    return "".join(ch for ch in text if ch.isspace() or not invisible(ch))


#: the longest text an event holds and the agents read
MAX_TEXT_CHARS = 20_000
#: control characters some hotline systems leave in texts (NUL among them)
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")


def unstorable_char(text: str) -> str | None:
    """Why ``text`` cannot be stored (its first offending character, named), or None."""
    found = _UNSTORABLE.search(text)
    if found is None:
        return None
    char = found.group()
    kind = "空字符" if char == "\x00" else "孤立的代理项，不是有效的 Unicode 字符"
    return f"第 {found.start() + 1} 个字符 U+{ord(char):04X}（{kind}）"


def _walk(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """(where, reason) for each key or text in a JSON-like value a database cannot store."""
    if isinstance(value, str):
        reason = unstorable_char(value)
        if reason:
            yield (f"「{path}」" if path else ""), reason
    elif isinstance(value, dict):
        for key, item in value.items():
            key_text = str(key)
            reason = unstorable_char(key_text)
            if reason:
                yield (f"「{path}」下的" if path else "") + "键名", reason
                continue
            yield from _walk(item, f"{path}.{key_text}" if path else key_text)
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from _walk(item, f"{path}[{i}]")


def check_storable(value: Any) -> Any:
    """``value`` unchanged, or ValueError naming where it holds what no database can store."""
    for where, reason in _walk(value, ""):
        raise ValueError(f"{where}含有无法保存的字符：{reason}")
    return value


#: a text (or JSON-like value) every store can hold; otherwise a validation error
Storable = AfterValidator(check_storable)
StorableStr = Annotated[str, Storable]


def fit_text(text: str, attributes: dict[str, Any]) -> tuple[str, dict[str, Any], list[str]]:
    """A text longer than the agents read is cut to MAX_TEXT_CHARS for them and kept whole in
    ``attributes.full_text``, with a warning to show the caller (nothing is lost)."""
    if len(text) <= MAX_TEXT_CHARS:
        return text, attributes, []
    warning = (
        f"正文共 {len(text)} 字，超过 {MAX_TEXT_CHARS} 字：分拨只读前 {MAX_TEXT_CHARS} 字，"
        "全文保存在附加信息 full_text 中"
    )
    return text[:MAX_TEXT_CHARS], {**attributes, "full_text": text}, [warning]
