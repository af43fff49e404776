"""The routing evaluation's report.html opens in Chromium and reads: headline, matrix, errors."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, expect

from evals.harness import RoutingArgs, run_routing
from knowledge import Knowledge
from tests.browser.chromium import require_chromium, shot

TRAIN = (
    Path(__file__).resolve().parents[2]
    / "knowledge"
    / "data"
    / "labelled"
    / "synthetic-train.jsonl"
)

require_chromium()


def test_the_report_reads_in_a_browser(
    browser: Browser, tmp_path: Path, knowledge: Knowledge
) -> None:
    args = RoutingArgs(
        dataset=TRAIN, text_cols=["text"], label_col="subtype", cv=3, with_baseline=True,
        out=tmp_path / "run",
    )  # fmt: skip
    run, _, _ = run_routing(args, knowledge)
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto((tmp_path / "run" / "report.html").as_uri())
    expect(page.locator("h1")).to_contain_text("分拨准确率评测")
    expect(page.locator(".kpi").first).to_contain_text(f"{run['accuracy'] * 100:.1f}%")
    expect(page.locator("img[alt=混淆矩阵]")).to_be_visible()  # 86 classes: the PNG
    assert page.evaluate("document.querySelector('img').naturalWidth") > 0
    shot(page, "eval-report")
    page.close()
