"""Period reviews (周/月复盘) over HTTP: the facts and the narrative as JSON, and the same
review as the PDF and XLSX officers take to meetings. Officers only, within their scope: a
street officer reviewing its district sees its own streets."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Query, Response

from agents.deps import AgentDeps
from agents.review_period import PeriodReport, review_period
from api.deps import AgentDepsDep, OfficerDep
from api.errors import ERROR_RESPONSES
from api.schemas import PeriodReviewPublic
from domain.access import Principal
from tools import period_export
from tools.period import PeriodReview
from tools.periods import PeriodQuery, problem
from tools.pii import mask_deep
from tools.scope import jurisdiction_code

router = APIRouter(prefix="/api/v1", tags=["reviews"], responses=ERROR_RESPONSES)

Engine = Literal["offline", "llm"]
PDF = "application/pdf"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _report(
    deps: AgentDeps,
    principal: Principal,
    district: str | None,
    street: str | None,
    week: str | None,
    month: str | None,
    start: date | None,
    end: date | None,
    engine: Engine,
) -> PeriodReport:
    if district and street:
        raise HTTPException(422, detail="district 和 street 只能选一个")
    k = deps.knowledge
    code = None
    if district or street:
        try:
            code = jurisdiction_code(k, str(district or street))
        except KeyError as exc:
            raise HTTPException(422, detail=str(exc.args[0])) from None
        level = k.jurisdiction(code).level
        if district and level != "district":
            raise HTTPException(422, detail=f"「{district}」不是区县")
        if street and level != "street":
            raise HTTPException(422, detail=f"「{street}」不是街道（镇）")
    try:
        q = PeriodQuery(jurisdiction=code, week=week, month=month, start=start, end=end)
        report = review_period(deps, principal.scope, q, engine=engine)
    except ValueError as exc:
        raise HTTPException(422, detail=problem(exc)) from None
    if not principal.reveals_personal:  # case titles are citizens' words
        facts = PeriodReview.model_validate(mask_deep(report.facts.model_dump(mode="json")))
        report = report.model_copy(update={"facts": facts})
    return report


@router.get("/reviews/period", response_model=PeriodReviewPublic)
def period_review(
    principal: OfficerDep,
    deps: AgentDepsDep,
    district: Annotated[str | None, Query(description="区县名称或编码，如 綦江区、500110")] = None,
    street: Annotated[str | None, Query(description="街道（镇）名称或编码")] = None,
    week: Annotated[str | None, Query(description="ISO 周，如 2026-W28")] = None,
    month: Annotated[str | None, Query(description="月份，如 2026-07")] = None,
    start: Annotated[date | None, Query(alias="from", description="起始日期（含）")] = None,
    end: Annotated[date | None, Query(alias="to", description="结束日期（含）")] = None,
    engine: Annotated[Engine, Query(description="offline（模板）或 llm（大模型撰写）")] = "offline",
) -> PeriodReviewPublic:
    """时段复盘：事件量及环比（按大类、按街道）、按时办结率、办结用时中位数、各部门退单率及主要原因、重复诉求热点、满意度、最值得讨论的五件事件（含时间线），以及复盘综述。"""
    report = _report(deps, principal, district, street, week, month, start, end, engine)
    return PeriodReviewPublic.model_validate(report.model_dump())


def _download(report: PeriodReport, suffix: str, media_type: str) -> Response:
    name = f"{period_export.file_stem(report.facts)}.{suffix}"
    if suffix == "pdf":
        body = period_export.to_pdf(report.facts, report.narrative)
    else:
        body = period_export.to_xlsx(report.facts, report.narrative)
    return Response(
        body,
        media_type=media_type,
        headers={
            "Content-Disposition": f'attachment; filename="period-review.{suffix}"; '
            f"filename*=UTF-8''{quote(name)}"
        },
    )


def _file_route(suffix: str, media_type: str) -> None:
    def download(
        principal: OfficerDep,
        deps: AgentDepsDep,
        district: Annotated[str | None, Query(description="区县名称或编码")] = None,
        street: Annotated[str | None, Query(description="街道（镇）名称或编码")] = None,
        week: Annotated[str | None, Query(description="ISO 周，如 2026-W28")] = None,
        month: Annotated[str | None, Query(description="月份，如 2026-07")] = None,
        start: Annotated[date | None, Query(alias="from", description="起始日期（含）")] = None,
        end: Annotated[date | None, Query(alias="to", description="结束日期（含）")] = None,
        engine: Annotated[Engine, Query(description="offline 或 llm")] = "offline",
    ) -> Response:
        report = _report(deps, principal, district, street, week, month, start, end, engine)
        return _download(report, suffix, media_type)

    download.__name__ = f"period_review_{suffix}"
    download.__doc__ = f"时段复盘下载（{suffix.upper()}），参数同 /reviews/period。"
    router.add_api_route(
        f"/reviews/period.{suffix}",
        download,
        methods=["GET"],
        response_class=Response,
        responses={
            200: {
                "description": f"复盘文件（{suffix.upper()}）",
                "content": {media_type: {"schema": {"type": "string", "format": "binary"}}},
            }
        },
    )


_file_route("pdf", PDF)
_file_route("xlsx", XLSX)
