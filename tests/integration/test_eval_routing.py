"""The routing-accuracy harness: the shipped engine as configured, trained and cross-validated
methods, label maps for foreign taxonomies, every output file, the regression gate (it must
fail when it should), comparisons, and the real-data figures when ../shared/data is here."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook

from agents.classifier import ensure_classifier
from agents.deps import AgentDeps
from agents.dispatch import Dispatcher
from domain.models import EventCreate, Source
from evals.baselines import GRID_C
from evals.errors import DatasetError
from evals.harness import RoutingArgs, run_routing
from evals.routing import Case, LabelSpace, regressions
from knowledge import Knowledge
from knowledge.retrieval import open_index
from store import EventStore
from tests.conftest import offline_deps
from tests.integration.test_cli import sanji

ROOT = Path(__file__).resolve().parents[2]
TRAIN = ROOT / "knowledge" / "data" / "labelled" / "synthetic-train.jsonl"

CASES = [
    ("1", "解放碑步行街有流动摊贩占道卖水果，行人走不通", "CA01", "hotline", "渝中区"),
    ("2", "观音桥商圈夜里工地打桩，噪声吵得睡不着", "EN02", "web", "江北区"),
    ("3", "小区楼下烧烤店油烟直排，满屋子都是烟味", "EN04", "hotline", "南岸区"),
    ("4", "南坪万达旁边井盖没了，晚上有人差点掉下去", "CA04", "grid", "南岸区"),
    ("5", "楼道里天然气味道很重，怕是漏气了", "ES01", "hotline", "渝中区"),
    ("6", "龙头寺公园门口的路灯坏了一排，晚上黑黢黢的", "CA03", "web", "渝北区"),
]


@pytest.fixture(scope="module")
def drafter(
    tmp_path_factory: pytest.TempPathFactory, prepared_data: Path, knowledge: Knowledge
) -> Iterator[Any]:
    with offline_deps(
        tmp_path_factory.mktemp("eval"), prepared_data, knowledge, lambda: datetime.now(UTC)
    ) as deps:
        dispatcher = Dispatcher(deps, None)

        def draft(case: Case) -> dict[str, Any]:
            event = EventCreate(
                source=Source(case.source or "hotline"),
                text=case.text,
                address=case.fields.get("address"),
                reported_at=datetime.now(UTC),
            )
            view: dict[str, Any] = dispatcher.draft(event, "offline")
            return view

        yield draft


def write_csv(path: Path, rows: list[tuple[str, ...]], header: tuple[str, ...]) -> Path:
    import csv

    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def test_as_configured_writes_every_output(
    tmp_path: Path, drafter: Any, knowledge: Knowledge
) -> None:
    data = write_csv(tmp_path / "events.csv", CASES, ("id", "正文", "subtype", "渠道", "区县"))
    out = tmp_path / "out"
    args = RoutingArgs(
        dataset=data,
        text_cols=["正文"],
        label_col="subtype",
        id_col="id",
        source_col="渠道",
        district_col="区县",
        out=out,
    )
    run, cases, predictions = run_routing(args, knowledge, drafter)
    m = run["metrics"]
    assert m["cases"] == 6 and run["mode"] == "configured"
    correct = sum(c.label == p.label for c, p in zip(cases, predictions, strict=True))
    assert m["accuracy"] == round(correct / 6, 4)
    assert m["top3_accuracy"] is not None and m["top3_accuracy"] >= m["accuracy"]
    assert 0 <= m["ece"] <= 1 and m["latency_ms"]["p95"] >= m["latency_ms"]["p50"] > 0
    assert set(run["slices"]["来源"]) == {"hotline", "web", "grid"}
    assert run["dataset"]["hash"] and run["git_commit"] and run["usage"]["engines"]
    for name in (
        "metrics.json",
        "predictions.jsonl",
        "confusion.csv",
        "confusion.png",
        "report.html",
    ):
        assert (out / name).stat().st_size > 0, name
    lines = [json.loads(x) for x in (out / "predictions.jsonl").read_text().splitlines()]
    assert [x["id"] for x in lines] == [c[0] for c in CASES]
    assert all(x["explanation"] for x in lines)
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "主要指标" in html and "混淆矩阵" in html and "把握最大的 20 个错误" in html
    stored = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert stored["macro_f1"] == m["macro_f1"]


def test_a_foreign_taxonomy_through_a_label_map(
    tmp_path: Path, drafter: Any, knowledge: Knowledge
) -> None:
    rows = [
        json.dumps(
            {"t": t, "y": {"CA01": "市容", "CA03": "市容", "CA04": "市容"}.get(y, "环境"), "x": i},
            ensure_ascii=False,
        )
        for i, t, y, *_ in CASES
        if y != "ES01"
    ]
    data = tmp_path / "foreign.jsonl"
    data.write_text("\n".join(rows), encoding="utf-8")
    mapping = tmp_path / "map.yaml"
    mapping.write_text("dataset: demo\nmap:\n  市容: [CA]\n  环境: [EN]\n", encoding="utf-8")
    args = RoutingArgs(
        dataset=data, text_cols=["t"], label_col="y", label_map=mapping, out=tmp_path / "o"
    )
    run, _, predictions = run_routing(args, knowledge, drafter)
    assert run["dataset"]["label_space"] == "mapped"
    assert {p.label for p in predictions} <= {"市容", "环境", None}
    assert run["metrics"]["accuracy"] >= 0.6
    bad = tmp_path / "bad.yaml"
    bad.write_text("map:\n  市容: [XX99]\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="XX99"):
        LabelSpace(knowledge, "category", {"市容"}, bad)
    with pytest.raises(DatasetError, match="label-map"):
        LabelSpace(knowledge, "category", {"市容"}, None)


def test_train_on_one_file_test_on_an_xlsx(tmp_path: Path, knowledge: Knowledge) -> None:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["标题", "内容", "小类"])
    for _, text, label, *_ in CASES:
        ws.append([text[:6], text, label])
    test = tmp_path / "test.xlsx"
    wb.save(test)
    args = RoutingArgs(
        dataset=test,
        text_cols=["标题", "内容"],
        label_col="小类",
        train=TRAIN,
        out=tmp_path / "o",
    )
    with pytest.raises(DatasetError, match="小类"):  # the training file has other columns
        run_routing(args, knowledge)
    train = tmp_path / "train.csv"
    rows = [json.loads(x) for x in TRAIN.read_text(encoding="utf-8").splitlines()]
    write_csv(train, [("", r["text"], r["subtype"]) for r in rows], ("标题", "内容", "小类"))
    args.train = train
    run, _, _ = run_routing(args, knowledge)
    assert run["mode"] == "train" and run["metrics"]["cases"] == 6
    assert run["metrics"]["accuracy"] >= 0.5


def test_cross_validation_compares_with_the_baseline_on_the_same_folds(
    tmp_path: Path, knowledge: Knowledge
) -> None:
    args = RoutingArgs(
        dataset=TRAIN,
        text_cols=["text"],
        label_col="subtype",
        cv=3,
        with_baseline=True,
        out=tmp_path / "cv",
    )
    run, cases, _ = run_routing(args, knowledge)
    assert run["mode"] == "cv3" and len(cases) == 352
    assert run["baseline"]["cases"] == 352
    assert run["gain_macro_f1"] == round(run["macro_f1"] - run["baseline"]["macro_f1"], 4)
    again, _, _ = run_routing(args, knowledge)  # fixed seed: the same figures
    assert again["macro_f1"] == run["macro_f1"]


def test_the_regression_gate_fails_when_it_should(tmp_path: Path) -> None:
    common = [
        "eval", "routing", "--dataset", str(TRAIN), "--text-col", "text",
        "--label-col", "subtype", "--cv", "3",
    ]  # fmt: skip
    first = sanji(
        *common, "--out", str(tmp_path / "a"), env_extra={"SANJI_DATA_DIR": str(tmp_path)}
    )
    assert first.returncode == 0, first.stderr
    good = json.loads((tmp_path / "a" / "metrics.json").read_text(encoding="utf-8"))
    same = sanji(
        *common, "--out", str(tmp_path / "b"), "--baseline", str(tmp_path / "a" / "metrics.json"),
        env_extra={"SANJI_DATA_DIR": str(tmp_path)},
    )  # fmt: skip
    assert same.returncode == 0, same.stdout + same.stderr
    better = dict(good, macro_f1=good["macro_f1"] + 0.05)
    label = next(iter(good["per_class"]))
    better["per_class"] = {**good["per_class"], label: {**good["per_class"][label], "f1": 1.01}}
    (tmp_path / "better.json").write_text(json.dumps(better), encoding="utf-8")
    worse = sanji(
        *common, "--out", str(tmp_path / "c"), "--baseline", str(tmp_path / "better.json"),
        env_extra={"SANJI_DATA_DIR": str(tmp_path)},
    )  # fmt: skip
    assert worse.returncode == 1
    assert "回归门槛未通过" in worse.stderr and f"类别 {label}" in worse.stderr
    assert "macro-F1" in worse.stderr
    compared = sanji("eval", "compare", str(tmp_path / "better.json"), str(tmp_path / "c"))
    assert compared.returncode == 0 and "-0.0500" in compared.stdout
    assert regressions(good, good, 0.0) == []


def test_bad_datasets_get_clear_errors(tmp_path: Path) -> None:
    empty = tmp_path / "x.csv"
    empty.write_text("a,b\n", encoding="utf-8")
    out = sanji(
        "eval", "routing", "--dataset", str(empty), "--text-col", "a", "--label-col", "b",
        "--cv", "3", "--out", str(tmp_path / "o"),
    )  # fmt: skip
    assert out.returncode == 1 and "没有数据行" in out.stderr
    out = sanji(
        "eval", "routing", "--dataset", str(tmp_path / "none.csv"), "--text-col", "a",
        "--label-col", "b", "--cv", "3", "--out", str(tmp_path / "o"),
    )  # fmt: skip
    assert out.returncode == 1 and "找不到文件" in out.stderr


@pytest.mark.filterwarnings("ignore:Glyph")  # confusion.png without a CJK font
def test_real_messages_against_the_strong_plain_baseline(
    shared_data: Path, knowledge: Knowledge, tmp_path: Path
) -> None:
    """Issue #15: the dataset's own 7 labels, no label map (so no knowledge prior), against char
    TF-IDF + LinearSVC with C chosen inside each training fold; the same 5 folds."""
    messages = shared_data / "citizen-messages"
    args = RoutingArgs(
        dataset=ROOT / "evals" / "datasets" / "tipdm-l1-labels.csv",
        text_cols=["留言主题", "留言详情"],
        label_col="label",
        join=[messages / "messages-with-official-replies.csv", messages / "messages-unlabeled.csv"],
        on="留言编号",
        cv=5,
        with_baseline=True,
        out=tmp_path / "real",
    )
    run, cases, _ = run_routing(args, knowledge)
    assert len(cases) == 560 and run["metrics"]["classes"] == 7
    assert run["dataset"]["label_space"] == "own"
    assert [row["baseline"]["chosen"]["C"] in GRID_C for row in run["folds"]] == [True] * 5
    gain = run["gain_paired"]
    assert gain["folds"] == 5
    # measured 2026-12-06: ours 0.751 vs 0.750 pooled; a drop of more than 2 points is a regression
    assert run["gain_macro_f1"] >= -0.02, run["gain_macro_f1"]
    assert run["metrics"]["ece"] <= run["metrics"]["ece_uncalibrated"]


GOLDEN = ROOT / "evals" / "datasets" / "golden-dispatch.jsonl"


def test_the_golden_set_is_valid_and_covers_the_hard_cases(knowledge: Knowledge) -> None:
    from collections import Counter

    from evals.dispatch_eval import load_golden

    rows = load_golden(GOLDEN, knowledge)
    assert len(rows) >= 200 and len({r["id"] for r in rows}) == len(rows)
    tags = Counter(t for r in rows for t in r["tags"])
    for tag in ("multi_department", "escalation", "consultation", "near_duplicate",
                "personal_info", "injection", "very_short", "very_long", "typo", "mixed_language"):  # fmt: skip
        assert tags[tag] >= 8, tag
    assert {r["source"] for r in rows} == {
        "hotline",
        "web",
        "grid",
        "ai_video",
        "sensor",
        "referral",
    }
    assert {r["gold"]["category"] for r in rows} == set(knowledge.categories)
    for r in rows:
        for a in r["gold"].get("articles") or []:
            assert a["title"] and a["article"].startswith("第")


def test_whole_drafts_on_the_golden_set(tmp_path: Path, drafter: Any, knowledge: Knowledge) -> None:
    """The shipped offline engine on the golden set; floors a little under what it scored
    when this test was written (subtype 0.76, lead 0.73, level 0.92, urgency 0.85) and, for
    the level, after the set's levels were reviewed against the seed (level 0.88)."""
    from evals.dispatch_eval import evaluate_dispatch

    def draft(row: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = drafter(
            Case(id=row["id"], text=row["text"], label="", source=row["source"], fields=row)
        )
        return result

    result = evaluate_dispatch(GOLDEN, knowledge, draft, tmp_path / "d", engine="offline")
    o = result["overall"]
    assert o["cases"] >= 200
    assert (
        o["subtype"] >= 0.70 and o["lead"] >= 0.68 and o["level"] >= 0.85 and o["urgency"] >= 0.80
    )
    assert o["articles_any"] is not None and o["articles_any"] >= 0.6
    assert o["assist_recall"] is not None and o["assist_recall"] >= 0.5  # was 0.38
    assert set(result["by_tag"]) >= {"injection", "escalation", "very_long"}
    assert (tmp_path / "d" / "predictions.jsonl").read_text(encoding="utf-8").count("\n") == o[
        "cases"
    ]


def test_the_llm_engine_records_calls_and_fallbacks(
    tmp_path: Path, prepared_data: Path, knowledge: Knowledge
) -> None:
    """As configured with the LLM engine against a scripted endpoint that fails: every case is
    still scored (offline fallback) and the calls and fallbacks are in metrics.json."""
    import openai

    from agents.llm import LLM
    from tests.fakes.openai_server import ScriptedServer, Status

    shutil.copytree(prepared_data, tmp_path / "data")
    store = EventStore.open(f"sqlite:///{tmp_path / 's.db'}", knowledge.store_rules)
    server = ScriptedServer([Status(400)] * 40)
    try:
        client = openai.OpenAI(base_url=server.base_url, api_key="t", max_retries=0, timeout=5)
        deps = AgentDeps(
            store,
            knowledge,
            open_index(tmp_path / "data", tmp_path / "data" / "chroma"),
            ensure_classifier(knowledge, tmp_path / "data" / "models"),
            lambda: datetime.now(UTC),
            llm=LLM(client, "scripted"),
        )
        dispatcher = Dispatcher(deps, None)

        def draft(case: Case) -> dict[str, Any]:
            event = EventCreate(
                source=Source.HOTLINE, text=case.text, reported_at=datetime.now(UTC)
            )
            view: dict[str, Any] = dispatcher.draft(event, "llm")
            return view

        data = write_csv(tmp_path / "e.csv", CASES[:3], ("id", "正文", "subtype", "渠道", "区县"))
        args = RoutingArgs(
            dataset=data, text_cols=["正文"], label_col="subtype", engine="llm", out=tmp_path / "o"
        )
        run, _, _ = run_routing(args, knowledge, draft, model="scripted")
    finally:
        server.close(expect_all_used=False)
        store.close()
    assert run["metrics"]["cases"] == 3 and run["model"] == "scripted"
    assert run["usage"]["llm_calls"] >= 3 and run["usage"]["fallbacks"] >= 3
    assert len(server.requests) == run["usage"]["llm_calls"]
