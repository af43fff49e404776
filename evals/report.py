"""Writing a routing evaluation: metrics.json, predictions.jsonl, confusion.csv and .png, and a
one-page report.html that reads well in a browser and on paper."""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from jinja2 import Environment, FileSystemLoader, select_autoescape

from evals.routing import Case, Prediction
from tools.pii import mask_text

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).parent / "templates"
EXCERPT = 160


def confusion(
    cases: Sequence[Case], predictions: Sequence[Prediction]
) -> tuple[list[str], np.ndarray]:
    """Rows gold, columns predicted; labels that were only predicted come last."""
    gold = [c.label for c in cases]
    predicted = [p.label or "（无）" for p in predictions]
    labels = sorted(set(gold)) + sorted(set(predicted) - set(gold))
    index = {label: i for i, label in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)), dtype=int)
    for g, p in zip(gold, predicted, strict=True):
        matrix[index[g], index[p]] += 1
    return labels, matrix


def _cjk_font() -> str | None:
    """A font with the labels' Chinese glyphs: Noto Sans SC (OFL) shipped in the
    ``pylopdf-fonts-zh-cn`` package (a main dependency), registered with matplotlib here, so a
    fresh machine without CJK system fonts draws Chinese too; else an installed CJK font."""
    from matplotlib import font_manager

    try:
        from pylopdf_fonts_zh_cn import sans_path
    except ImportError:
        pass
    else:
        path = sans_path()
        if path.exists():
            font_manager.fontManager.addfont(str(path))
            return str(font_manager.FontProperties(fname=str(path)).get_name())
    for name in ("Noto Sans CJK SC", "Noto Sans CJK JP", "WenQuanYi Micro Hei", "SimHei"):
        try:
            font_manager.findfont(name, fallback_to_default=False)
            return name
        except ValueError:
            continue
    return None


def confusion_png(path: Path, labels: list[str], matrix: np.ndarray, names: dict[str, str]) -> bool:
    """Draw the confusion matrix; False when matplotlib (the ``eval`` extra) is not installed,
    and the report then shows the matrix as a table only."""
    try:
        import matplotlib
    except ImportError:
        log.warning("matplotlib is not installed (pip install 'sanji[eval]'): no confusion.png")
        return False

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    font = _cjk_font()
    if font:
        plt.rcParams["font.family"] = font
    shown = [names.get(x, x) if font else x for x in labels]
    size = max(5.0, min(0.42 * len(labels) + 2.5, 30.0))
    fig, ax = plt.subplots(figsize=(size, size * 0.92), dpi=110)
    rows = matrix.sum(axis=1, keepdims=True)
    share = np.divide(matrix, rows, out=np.zeros_like(matrix, dtype=float), where=rows > 0)
    ax.imshow(share, cmap="Reds", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), shown, rotation=90, fontsize=8)
    ax.set_yticks(range(len(labels)), shown, fontsize=8)
    ax.set_xlabel("预测" if font else "predicted")
    ax.set_ylabel("标注" if font else "gold")
    if len(labels) <= 30:
        for i in range(len(labels)):
            for j in range(len(labels)):
                if matrix[i, j]:
                    ax.text(
                        j,
                        i,
                        str(matrix[i, j]),
                        ha="center",
                        va="center",
                        fontsize=7,
                        color="white" if share[i, j] > 0.5 else "black",
                    )
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


def write(
    out: Path,
    run: dict[str, Any],
    cases: Sequence[Case],
    predictions: Sequence[Prediction],
    names: dict[str, str],
) -> None:
    """Everything a run leaves behind, in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(
        json.dumps(run, ensure_ascii=False, indent=1, default=str), encoding="utf-8"
    )
    rows: list[dict[str, Any]] = []
    for c, p in zip(cases, predictions, strict=True):
        rows.append(
            {
                "id": c.id,
                "text": mask_text(c.text[:EXCERPT]),
                "gold": c.label,
                "predicted": p.label,
                "top3": p.top[:3],
                "confidence": p.confidence,
                "correct": c.label == p.label,
                "source": c.source,
                "district": c.district,
                "needs_human": p.needs_human,
                "explanation": p.explanation,
            }
        )
    with (out / "predictions.jsonl").open("w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    labels, matrix = confusion(cases, predictions)
    with (out / "confusion.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["gold \\ predicted", *labels])
        for label, line in zip(labels, matrix, strict=True):
            w.writerow([label, *line.tolist()])
    drawn = confusion_png(out / "confusion.png", labels, matrix, names)
    errors = sorted(
        (r for r in rows if not r["correct"]),
        key=lambda r: -(r["confidence"] if r["confidence"] is not None else 0),
    )[:20]
    per_class = run["metrics"]["per_class"]
    worst = sorted(per_class.items(), key=lambda kv: (kv[1]["f1"], -kv[1]["support"]))[:10]
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
    html = env.get_template("routing_report.html").render(
        run=run,
        m=run["metrics"],
        labels=labels,
        matrix=matrix.tolist(),
        names=names,
        worst=worst,
        errors=errors,
        small=len(labels) <= 24 or not drawn,
        drawn=drawn,
    )
    (out / "report.html").write_text(html, encoding="utf-8")
