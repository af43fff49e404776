"""Commands that bring data in: demo events, imports, training the classifier."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.common import console, event_store, fail, get_settings, source_choice

demo_app = typer.Typer(help="演示数据 (demo data)", no_args_is_help=True)
import_app = typer.Typer(help="导入数据 (import data)", no_args_is_help=True)


@demo_app.command("load")
def demo_load(
    count: Annotated[int, typer.Option(help="生成事件数")] = 640,
    seed: Annotated[int | None, typer.Option(help="随机种子，默认取配置 SANJI_DEMO_SEED")] = None,
    period_district: Annotated[
        str | None,
        typer.Option(
            help="另为该区县生成上一整周值得复盘的事件（如 綦江区），供 sanji review period 演示"
        ),
    ] = None,
) -> None:
    """生成并导入演示事件（重复执行不会重复导入）。"""
    from rich.progress import Progress

    from demo.load import load_demo
    from knowledge import default_knowledge

    settings = get_settings()
    k = default_knowledge()
    district = None
    if period_district is not None:
        from tools.scope import jurisdiction_code

        try:
            district = jurisdiction_code(k, period_district)
        except KeyError as exc:
            fail(str(exc.args[0]))
        if k.jurisdiction(district).level != "district" or not k.sample_streets(district):
            fail(f"「{period_district}」不是有演示街道的区县")
    with event_store() as store, Progress(console=console, transient=True) as bar:
        task = bar.add_task("导入演示事件", total=count)
        result = load_demo(
            store,
            k,
            seed=seed if seed is not None else settings.demo_seed,
            now=datetime.now(UTC),
            count=count,
            progress=lambda n, total: bar.update(task, completed=n),
            period_week=district,
        )
    console.print(
        f"演示数据：新增 {result['created']} 件，已存在跳过 {result['skipped']} 件，"
        f"流转记录 {result['transitions']} 条。"
    )


@demo_app.command("labelled")
def demo_labelled(
    out: Annotated[Path, typer.Option(help="输出 JSONL 文件")],
    seed: Annotated[int, typer.Option(help="随机种子")] = 7,
    per_subtype: Annotated[int, typer.Option(help="每个小类的条数")] = 4,
) -> None:
    """生成带标注的训练集（与演示事件分开）。"""
    from demo.generator import generate_labelled
    from knowledge import default_knowledge

    rows = generate_labelled(default_knowledge(), seed=seed, per_subtype=per_subtype)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    console.print(f"已写入 {len(rows)} 条标注样本：{out}")


@import_app.command("events")
def import_events_cmd(
    file: Annotated[Path, typer.Argument(help="CSV、JSONL 或 XLSX 文件")],
    mapping: Annotated[
        list[str],
        typer.Option("--map", help="字段=列名，如 --map text=留言详情 --map reported_at=留言时间"),
    ],
    source: Annotated[
        str, typer.Option(help="来源渠道：hotline/web/grid/ai_video/sensor/referral")
    ] = "web",
    report: Annotated[Path | None, typer.Option(help="被拒行报告（CSV）的保存路径")] = None,
) -> None:
    """导入事件文件；重复导入不会重复入库，被拒的行逐行给出行号和原因。"""
    from rich.progress import Progress
    from rich.table import Table

    from store.errors import ImportFailed
    from store.importer import import_events

    pairs = {}
    for item in mapping:
        name, sep, column = item.partition("=")
        if not sep or not name or not column:
            fail(f"--map 的格式应为 字段=列名，收到「{item}」")
        pairs[name.strip()] = column.strip()
    channel = source_choice(source)
    settings = get_settings()
    try:
        with event_store() as store, Progress(console=console, transient=True) as bar:
            task = bar.add_task(f"导入 {file.name}", total=None)
            result = import_events(
                store,
                file,
                pairs,
                source=channel,
                now=datetime.now(UTC),
                progress=lambda n: bar.update(task, completed=n),
            )
    except ImportFailed as exc:
        fail(str(exc))
    table = Table(title=f"导入结果：{file.name}")
    for col in ("读取行数", "新增", "已存在", "被拒"):
        table.add_column(col, justify="right")
    table.add_row(
        *(str(v) for v in (result.rows, result.created, result.existing, len(result.rejected)))
    )
    console.print(table)
    if result.rejected:
        target = report or settings.data_dir / "imports" / f"{file.stem}-rejected.csv"
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("w", encoding="utf-8-sig", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["行号", "原因"])
            writer.writerows((r.row, r.reason) for r in result.rejected)
        for r in result.rejected[:10]:
            console.print(f"  第 {r.row} 行：{r.reason}")
        console.print(f"被拒行报告已保存：{target}")


def train(
    dataset: Annotated[Path | None, typer.Option(help="训练数据：CSV、JSONL 或 XLSX")] = None,
    text_col: Annotated[
        list[str] | None, typer.Option("--text-col", help="正文列（可重复，多列拼接）")
    ] = None,
    label_col: Annotated[str | None, typer.Option(help="事件小类编码列（如 CA01）")] = None,
    feedback: Annotated[
        bool,
        typer.Option(
            "--feedback", help="从库中的退单裁定和审核修改学习改派规律（不需要 --dataset）"
        ),
    ] = False,
    holdout: Annotated[
        float, typer.Option(help="--feedback：最近这一比例的纠正留作检验，新旧模型在上面比较")
    ] = 0.2,
    force: Annotated[
        bool, typer.Option("--force", help="--feedback：新模型不如当前模型时也启用")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="--feedback：只比较新旧模型，不启用")
    ] = False,
    unlabelled: Annotated[
        list[Path] | None,
        typer.Option(
            help="无标注的同类文本文件（同样的 --text-col，如本中心以往的工单），只用于主题特征，可重复"
        ),
    ] = None,
) -> None:
    """训练离线分类器并设为当前版本（模型文件按训练数据版本保存在数据目录 models/ 下）；--feedback 从退单裁定和审核修改中学习改派。"""
    if feedback:
        if dataset is not None:
            fail("--feedback 从库中的纠正学习，不能同时给 --dataset")
        if not 0 < holdout < 1:
            fail("--holdout 应在 0 和 1 之间")
        _train_feedback(holdout, force, dry_run)
        return
    if dataset is None or not text_col or not label_col:
        fail("请给出 --dataset、--text-col 和 --label-col，或用 --feedback 从退单和审核修改中学习")
    from agents.classifier import SubtypeClassifier
    from agents.errors import TrainingError
    from knowledge import default_knowledge
    from store.errors import ImportFailed
    from store.importer import read_rows

    try:
        header, rows = read_rows(dataset)
    except ImportFailed as exc:
        fail(str(exc))
    missing = [c for c in [*text_col, label_col] if c not in header]
    if missing:
        fail(f"文件中没有列 {', '.join(missing)}；现有列：{', '.join(header)}")

    def row_text(row: dict[str, Any]) -> str:
        return "。".join(str(row.get(c) or "").strip() for c in text_col).strip("。 ")

    texts, labels, skipped = [], [], 0
    for _, row in rows:
        if isinstance(row, str):
            skipped += 1
            continue
        text = row_text(row)
        label = str(row.get(label_col) or "").strip()
        if not text or not label:
            skipped += 1
            continue
        texts.append(text)
        labels.append(label)
    extra: list[str] = []
    for path in unlabelled or []:
        try:
            extra_header, extra_rows = read_rows(path)
        except ImportFailed as exc:
            fail(str(exc))
        if not any(c in extra_header for c in text_col):
            fail(
                f"{path.name} 中没有正文列 {', '.join(text_col)}；现有列：{', '.join(extra_header)}"
            )
        extra += [t for _, row in extra_rows if not isinstance(row, str) and (t := row_text(row))]
    k = default_knowledge()
    try:
        clf = SubtypeClassifier.train(
            k, texts, labels, source=dataset.name, unlabelled=list(dict.fromkeys(extra))
        )
    except TrainingError as exc:
        fail(str(exc))
    path = clf.save(get_settings().data_dir / "models")
    console.print(
        f"已训练：{len(texts)} 条样本（跳过 {skipped} 条），{clf.meta['subtypes']} 个小类；"
        + (f"主题特征另用 {clf.meta['unlabelled']} 条无标注文本；" if extra else "")
        + f"版本 {clf.version}，已保存 {path}"
    )


def _train_feedback(holdout: float, force: bool, dry_run: bool) -> None:
    """``sanji train --feedback``: learn routing corrections, compare, promote or keep."""
    from agents.errors import TrainingError
    from agents.feedback import retrain
    from cli import show
    from knowledge import default_knowledge

    k = default_knowledge()
    with event_store() as store:
        try:
            done = retrain(
                store,
                k,
                get_settings().data_dir / "models",
                holdout=holdout,
                force=force,
                dry_run=dry_run,
            )
        except TrainingError as exc:
            fail(str(exc))
    show.feedback_comparison(done.comparison, k)
    console.print(f"纠正样本：{done.examples} 件事件，其中 {done.corrections} 件改了主办")
    if done.promoted:
        console.print(
            f"[green]已启用[/] 纠正模型 {done.version}（上一版本 {done.previous or '无'} 仍保留）"
        )
    elif dry_run:
        console.print("只做了比较（--dry-run），正在使用的模型未变")
    else:
        than = f"当前模型 {done.previous}" if done.previous else "只按规则派单"
        console.print(f"[yellow]未启用[/]：新模型在检验集上不如{than}；确需启用请加 --force")
