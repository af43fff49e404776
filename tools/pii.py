"""Mask personal information (phone numbers, ID numbers, licence plates) in free text."""

from __future__ import annotations

import re
from typing import Any

_ID = re.compile(r"(?<![0-9A-Za-z])(\d{6})(\d{8})(\d{3}[0-9Xx])(?![0-9A-Za-z])")
_MOBILE = re.compile(r"(?<!\d)(1[3-9]\d)[ -]?(\d{4})[ -]?(\d{4})(?!\d)")
_LANDLINE = re.compile(r"(?<!\d)(0\d{2,3})-?(\d{3,4})(\d{4})(?!\d)")
_PLATE = re.compile(
    r"([京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼])([A-HJ-NP-Z])[·\s]?([A-HJ-NP-Z0-9]{4,5})([A-HJ-NP-Z0-9挂学警港澳])"
)


def mask_phone(value: str | None) -> str | None:
    if not value:
        return value
    digits = re.sub(r"\D", "", value)
    if len(digits) < 7:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def mask_text(text: str) -> str:
    """Replace ID numbers, phone numbers and plates with masked forms; keep the rest."""
    text = _ID.sub(lambda m: m.group(1) + "********" + m.group(3)[:-1] + "*", text)
    text = _MOBILE.sub(lambda m: f"{m.group(1)}****{m.group(3)}", text)
    text = _LANDLINE.sub(lambda m: f"{m.group(1)}-****{m.group(3)}", text)
    return _PLATE.sub(lambda m: f"{m.group(1)}{m.group(2)}***{m.group(4)}", text)


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


#: a run of digits long enough to be (part of) a phone or ID number
_NUMBER_PROBE = re.compile(r"\d{7,}")


def probes_personal(text: str | None) -> bool:
    """Whether a search text could confirm a masked phone or ID number digit by digit."""
    return bool(text and _NUMBER_PROBE.search(re.sub(r"[\s-]", "", text)))
