"""Tables the evaluation commands print (rich), kept apart from the commands themselves."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.table import Table

from cli.common import console

if TYPE_CHECKING:
    from agents.feedback import Comparison, DriftRow
    from knowledge import Knowledge


def routing_eval(run: dict[str, Any]) -> None:
    m = run["metrics"]
    table = Table(
        title=f"分拨评测 · {run['dataset']['name']} · {run['target_zh']} · {run['mode_zh']}"
    )
    for col in ("指标", "数值"):
        table.add_column(col)

    def pct(x: float | None) -> str:
        return "—" if x is None else f"{x:.1%}"

    rows = [
        ("条数 / 类别", f"{m['cases']} / {m['classes']}"),
        ("准确率", pct(m["accuracy"])),
        ("宏平均 F1", f"{m['macro_f1']:.4f}"),
        ("加权 F1", f"{m['weighted_f1']:.4f}"),
        ("前三命中率", pct(m["top3_accuracy"])),
        ("期望校准误差 ECE", "—" if m["ece"] is None else f"{m['ece']:.4f}"),
        ("延迟 p50 / p95", f"{m['latency_ms']['p50']} / {m['latency_ms']['p95']} ms"),
        ("需人工确认", str(m["needs_human"])),
    ]
    if run["baseline"]:
        rows.append(("基线宏平均 F1（同折）", f"{run['baseline']['macro_f1']:.4f}"))
        rows.append(("高出基线", f"{run['gain_macro_f1'] * 100:+.1f} 个百分点"))
    if run.get("gain_paired"):
        g = run["gain_paired"]
        rows.append(
            (
                "逐折增益（均值 ± 标准差）",
                f"{g['mean'] * 100:+.1f} ± {g['std'] * 100:.1f} 个百分点，"
                f"{g['folds']} 折中胜 {g['wins']} 折",
            )
        )
    if run["usage"] and run["usage"]["llm_calls"]:
        u = run["usage"]
        rows.append(("大模型调用 / 回退", f"{u['llm_calls']} / {u['fallbacks']}"))
    for row in rows:
        table.add_row(*row)
    console.print(table)
    worst = sorted(m["per_class"].items(), key=lambda kv: kv[1]["f1"])[:5]
    console.print(
        "最差的类别："
        + "；".join(f"{label} F1 {c['f1']:.2f}（{c['support']} 条）" for label, c in worst)
    )
    console.print(f"报告：{run['settings']['out']}/report.html")


def comparison(diff: dict[str, Any]) -> None:
    table = Table(title="分拨评测对比（B − A）")
    for col in ("指标", "A", "B", "变化"):
        table.add_column(col, justify="right")

    def fmt(x: Any) -> str:
        return "—" if x is None else f"{x:.4f}"

    for key, row in diff["headline"].items():
        table.add_row(key, fmt(row["a"]), fmt(row["b"]), _signed(row["delta"]))
    changed = sorted(
        ((label, r) for label, r in diff["per_class"].items() if r["delta"]),
        key=lambda kv: kv[1]["delta"],
    )
    for label, row in changed[:15]:
        table.add_row(f"F1 {label}", fmt(row["a"]), fmt(row["b"]), _signed(row["delta"]))
    console.print(table)


def _signed(x: float | None) -> str:
    if x is None:
        return "—"
    colour = "green" if x > 0 else "red" if x < 0 else "white"
    return f"[{colour}]{x:+.4f}[/]"


def dispatch_eval(name: str, result: dict[str, Any]) -> None:
    table = Table(title=f"派单草稿评测 · {name}（{result['overall']['cases']} 件）")
    columns = (
        "分组",
        "件数",
        "小类",
        "大类",
        "主办",
        "主办类型",
        "主办机关",
        "层级",
        "紧急",
        "协办召回",
        "法规全含",
        "全对",
    )
    for col in columns:
        table.add_column(col, justify="right")

    def pct(x: float | None) -> str:
        return "—" if x is None else f"{x:.0%}"

    for name, s in [("全部", result["overall"]), *result["by_tag"].items()]:
        table.add_row(
            name,
            str(s["cases"]),
            *(
                pct(s[key])
                for key in (
                    "subtype",
                    "category",
                    "lead",
                    "lead_type",
                    "lead_bureau",
                    "level",
                    "urgency",
                    "assist_recall",
                    "articles_all",
                    "all_right",
                )
            ),
        )
    console.print(table)


def typed_dispatch_eval(name: str, result: dict[str, Any]) -> None:
    """A set in its own words: lead type, level, urgency, assisting, the expected article."""
    o = result["overall"]
    table = Table(
        title=f"独立金标准集评测 · {name}（{o['cases']} 件，类型映射 {result['type_map']}）"
    )
    keys = {
        "drafted": "成功起草",
        "lead_type": "主办类型",
        "lead_disposer": "处置类型",
        "level": "层级",
        "urgency": "紧急",
        "assist_recall": "协办召回",
        "article_cited": "引用应引条文",
        "article_offered": "应引条文在引用或候选中",
        "cited_exist": "引用条文均存在",
        "all_right": "全对",
    }
    for col in ("分组", "件数", *keys.values()):
        table.add_column(col, justify="right")

    def pct(x: float | None) -> str:
        return "—" if x is None else f"{x:.0%}"

    rows = [("全部", o)] + [
        (g, s) for g, s in result["by_tag"].items() if not g.startswith("区县:")
    ]
    for group, s in rows:
        table.add_row(group, str(s["cases"]), *(pct(s[key]) for key in keys))
    console.print(table)
    if o.get("alone") is not None:
        console.print(
            f"无需人工确认的草稿 {pct(o['alone'])}：其中主办类型 {pct(o['alone_lead_type'])}、"
            f"层级 {pct(o['alone_level'])}、紧急程度 {pct(o['alone_urgency'])}"
        )
    if result["failed"]:
        console.print(
            f"[red]起草失败 {len(result['failed'])} 件：{'、'.join(map(str, result['failed'][:20]))}[/red]"
        )


def _subtype_name(k: Knowledge, code: str) -> str:
    return f"{code} {k.subtypes[code].name}" if code in k.subtypes else code


def feedback_comparison(c: Comparison, k: Knowledge) -> None:
    """Lead-type accuracy on the held-out corrections: the rules, the current and the new
    model, overall and per subtype."""
    table = Table(title=f"纠正模型检验：最近 {c.cases} 件事件的主办类型是否与值班员认定一致")
    table.add_column("小类")
    table.add_column("件数", justify="right")
    for name in c.models:
        table.add_column(name, justify="right")
    for subtype, row in c.by_subtype.items():
        table.add_row(
            _subtype_name(k, subtype), str(row["cases"]), *(f"{row[m]:.0%}" for m in c.models)
        )
    table.add_row("合计", str(c.cases), *(f"{c.overall[m]:.1%}" for m in c.models), style="bold")
    console.print(table)


def drift_report(rows: list[DriftRow], k: Knowledge, limit: int) -> None:
    """Return rates and disagreements per department type and subtype, flagged rows first."""
    from tools.routing import type_name

    table = Table(title="偏移报告：各部门类型 × 小类的退单率与值班员纠正")
    for col in (
        "",
        "部门类型",
        "小类",
        "派单",
        "退单",
        "退单率",
        "主要原因",
        "纠正/认定",
        "模型仍不一致",
    ):
        table.add_column(col, justify="right" if col in ("派单", "退单", "退单率") else "left")
    for r in rows[:limit]:
        reasons = "、".join(
            f"{k.return_reasons[c].name if c in k.return_reasons else c}×{n}" for c, n in r.reasons
        )
        table.add_row(
            "⚠" if r.flagged else "",
            type_name(k, r.department_type),
            _subtype_name(k, r.subtype),
            str(r.orders),
            str(r.returned),
            f"{r.return_rate:.0%}",
            reasons or "—",
            f"{r.corrected}/{r.lessons}",
            str(r.model_disagrees),
        )
    console.print(table)
    flagged = [r for r in rows if r.flagged]
    if flagged:
        console.print(
            "需要关注："
            + "；".join(
                f"{_subtype_name(k, r.subtype)}（{type_name(k, r.department_type)}，退单率 {r.return_rate:.0%}，"
                f"纠正 {r.corrected} 次）"
                for r in flagged
            )
        )
    else:
        console.print("没有明显偏移的部门或小类。")
