"""The check of a model's ownership answer against what the ``ownership`` tool returned: every
department it names, and the level it says owns the matter, must be the tool's. Anything else
sends the chat to the offline answer, as an event id or a law no tool returned does."""

from __future__ import annotations

import re
from typing import Any

from agents.planner import DEPT_NAME
from domain.vocabulary import Level

#: "由区县级承办", "街道层级即可处置", "市级处置"
LEVEL_CLAIM = re.compile(
    r"(市级|市里|区县级|区县|区级|区里|镇街级|镇街|街道级|街道层级|街道)"
    r"(?:层面|一级)?(?:即可|就能|就可以|可以|能够|来|负责)?(?:承办|处置|办理|解决)"
)
#: "需要上报区里", "不需要提级"
GOES_UP = re.compile(
    r"(不|无|没有|不用|毋)?(?:需要|须|需|必要|应当|应该|要)(?:上报|提级|报区|报市|报送)"
)
_LEVEL_WORDS = {
    "市": Level.CITY,
    "区": Level.DISTRICT,
    "镇": Level.STREET,
    "街": Level.STREET,
}


def _names(result: dict[str, Any]) -> set[str]:
    units = [result.get("lead") or {}, *(result.get("assisting") or [])]
    return {u[key] for u in units for key in ("name", "type_name") if u.get(key)}


def ownership_problems(text: str, owned: list[dict[str, Any]]) -> list[str]:
    """What ``text`` says about ownership that the tool results in ``owned`` do not support
    (nothing to check when the tool was not called)."""
    if not owned:
        return []
    names = set().union(*(_names(r) for r in owned))
    levels = {Level(r["level"]) for r in owned}
    problems = []
    for m in DEPT_NAME.finditer(text):
        found = m.group()
        if not any(n in found or found in n for n in names):
            problems.append(f"部门「{found}」")
    for m in LEVEL_CLAIM.finditer(text):
        claimed = _LEVEL_WORDS[m.group(1)[0]]
        if claimed not in levels:
            problems.append(f"层级「{m.group()}」")
    for m in GOES_UP.finditer(text):
        up = m.group(1) is None
        if (up and levels == {Level.STREET}) or (not up and Level.STREET not in levels):
            problems.append(f"层级判断「{m.group()}」")
    return problems
