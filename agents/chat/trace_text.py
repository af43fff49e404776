"""The chat's words for upstream tracing: whether a question asks where a water pollution came
from (「綦江这次溶解氧异常可能的源头是哪里」), and the answer rendered from a trace and its
joint warning."""

from __future__ import annotations

import re

from tools.jointwarning import JointWarning
from tools.tracing import TraceAnswer, hhmm

_SOURCE = re.compile(
    r"源头|溯源|污染源|排污源|谁(?:在)?(?:排|偷排)|从哪(?:里|儿)?来|哪(?:里|儿)来的|来源"
)
_WATER = re.compile(
    r"溶解氧|氨氮|水质|化学需氧量|(?<![a-z])cod(?![a-z])|浊度|水体|河水|江水|溪水|河道|河流|河里|江里|"
    r"污水|污染|排污|偷排|监测站|綦江|蒲河",
    re.I,
)

SHOWN = 3


def asks_source(text: str) -> bool:
    """Whether the question asks for the source of a water pollution."""
    return bool(_SOURCE.search(text) and _WATER.search(text))


def render(
    trace: TraceAnswer, warning: JointWarning | None = None, alarm_id: int | None = None
) -> str:
    """The answer: what the station saw, the most likely sources with their evidence, what
    was ruled out, and who is warned."""
    head = f"（告警 A{alarm_id}）" if alarm_id is not None else ""
    lines = [head + trace.summary]
    live = [c for c in trace.candidates if not c.ruled_out][:SHOWN]
    for c in live:
        lines.append(
            f"{c.rank}. {c.name}（{c.kind_zh}，{c.district_name}{c.street_name}，得分{c.score:.2f}，"
            f"约{hhmm(c.released_at)}排出）"
        )
        lines.extend(f"   · {e}" for e in c.evidence[1:])
    out = [c for c in trace.candidates if c.ruled_out]
    if out:
        lines.append(
            "已基本排除：" + "、".join(c.name for c in out[:6]) + (" 等" if len(out) > 6 else "")
        )
    clean = [s.name for s in trace.stations if s.status == "clean"]
    if clean:
        lines.append("上游水质正常的监测站：" + "、".join(clean))
    if warning is not None:
        lines.append(
            f"联合预警：{warning.level.zh}承办，{warning.lead.name}主办，"
            + "、".join(a.name for a in warning.assisting)
            + "协办"
            + (f"（{'、'.join(r.id for r in warning.escalation)}）" if warning.escalation else "")
            + "。"
        )
    lines.append("以上为按河网流经时间和监测数据推算的疑似源头，须现场核查确认。")
    return "\n".join(lines)
