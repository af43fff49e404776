"""The routing evaluation's report.html opens in Chromium and reads: headline, matrix, errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from evals.harness import RoutingArgs, run_routing
from knowledge import Knowledge

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parents[1] / "artifacts" / "screenshots"
TRAIN = (
    Path(__file__).resolve().parents[2]
    / "knowledge"
    / "data"
    / "labelled"
    / "synthetic-train.jsonl"
)

if not Path(CHROMIUM).exists():
    pytest.skip("Debian's chromium is not installed (.ci/run installs it)", allow_module_level=True)

from playwright.sync_api import expect, sync_playwright  # noqa: E402


def test_the_report_reads_in_a_browser(tmp_path: Path, knowledge: Knowledge) -> None:
    args = RoutingArgs(
        dataset=TRAIN, text_cols=["text"], label_col="subtype", cv=3, with_baseline=True,
        out=tmp_path / "run",
    )  # fmt: skip
    run, _, _ = run_routing(args, knowledge)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto((tmp_path / "run" / "report.html").as_uri())
        expect(page.locator("h1")).to_contain_text("分拨准确率评测")
        expect(page.locator(".kpi").first).to_contain_text(f"{run['accuracy'] * 100:.1f}%")
        expect(page.locator("img[alt=混淆矩阵]")).to_be_visible()  # 86 classes: the PNG
        assert page.evaluate("document.querySelector('img').naturalWidth") > 0
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "eval-report.png"), full_page=True)
        browser.close()
