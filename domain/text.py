"""What counts as text: characters a person can see. One rule for every way an event arrives
(API, draft, Open311, import): text made only of white space and invisible characters is empty."""

from __future__ import annotations

import unicodedata

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
