"""The confusion chart draws its Chinese labels with real glyphs on a machine that has no CJK
system font: the font comes from a package of the main dependencies (pylopdf-fonts-zh-cn)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from matplotlib import font_manager, ft2font

from evals.report import _cjk_font, confusion_png

NAMES = {
    "street_office": "街道办事处",
    "housing": "住房和城乡建设委员会",
    "urban_mgmt": "城市管理局",
    "traffic_police": "交巡警支队",
}
LABELS = [*NAMES, "（无）"]
MATRIX = np.array([[5, 1, 0, 0, 0], [0, 4, 2, 0, 0], [1, 0, 6, 0, 1], [0, 0, 0, 3, 0], [0] * 5])


def _font_path(family: str) -> str:
    return str(font_manager.findfont(family, fallback_to_default=False))


def test_the_chosen_font_has_every_glyph_of_the_labels() -> None:
    family = _cjk_font()
    assert family is not None
    charmap = ft2font.FT2Font(_font_path(family)).get_charmap()
    wanted = {c for text in [*NAMES.values(), "（无）", "预测", "标注"] for c in text}
    assert sorted(c for c in wanted if ord(c) not in charmap) == []


def test_chart_saves_without_a_missing_glyph(tmp_path: Path) -> None:
    out = tmp_path / "confusion.png"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert confusion_png(out, LABELS, MATRIX, NAMES)
    missing = [str(w.message) for w in caught if "Glyph" in str(w.message)]
    assert missing == []
    assert out.stat().st_size > 5_000


def test_a_latin_only_font_would_show_boxes(tmp_path: Path) -> None:
    """The check above can fail: the default font has no Chinese and says so while saving."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.set_title("街道办事处", family="DejaVu Sans")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig.savefig(tmp_path / "tofu.png")
    plt.close(fig)
    assert any("Glyph" in str(w.message) for w in caught)
