"""How well the drafts' cited articles fit their events, from a second reader's verdicts.

A reader (who saw only the event's text and the article's official text) judged each article
a draft cited: ``applies`` (it governs the event), ``related`` (same field, background) or
``no``. The readings are kept in ``evals/datasets/citation-readings/`` (event id, law,
article, verdict, reason). This scores the articles a dispatch run cites now against them:

    sanji eval dispatch --dataset evals/datasets/independent-3/independent-golden-3.jsonl \\
        --type-map evals/datasets/label-maps/independent-types.yaml --out DIR
    python -m evals.citation_fit --predictions DIR/predictions.jsonl \\
        --readings evals/datasets/citation-readings/set3-a.jsonl \\
        --readings evals/datasets/citation-readings/set3-b.jsonl

Only the events that were read count; an article cited now that no reader saw is counted
apart (``unread``), never guessed. Shares are given by where the citation came from: the
subtype's usual articles, or the search of the event's words."""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

from knowledge import Knowledge, default_knowledge

VERDICTS = ("applies", "related", "no")
_ARTICLE = re.compile(r"《([^》]+)》(第[^条]+条)")


def cited(draft: Any) -> tuple[str | None, list[tuple[str, str]]]:
    """The draft's subtype and its cited articles as (law, article), in order."""
    if isinstance(draft, str):  # a draft recorded as text
        subtype = re.search(r"'subtype': '([^']+)'", draft)
        listed = re.search(r"'articles': \[([^\]]*)\]", draft)
        return (
            subtype.group(1) if subtype else None,
            _ARTICLE.findall(listed.group(1)) if listed else [],
        )
    return draft.get("subtype"), [
        (m.group(1), m.group(2)) for a in draft.get("articles") or [] if (m := _ARTICLE.match(a))
    ]


def score(
    k: Knowledge, predictions: list[dict[str, Any]], readings: list[dict[str, Any]]
) -> dict[str, Any]:
    verdict = {(r["event_id"], r["law"], r["article"]): r["verdict"] for r in readings}
    read_events = {r["event_id"] for r in readings}
    counts: Counter[tuple[str, str]] = Counter()
    for p in predictions:
        if p["id"] not in read_events:
            continue
        subtype, articles = cited(p["draft"])
        st = k.subtypes.get(subtype or "")
        usual = {(r.title, r.article) for r in st.regulations} if st else set()
        for law, article in articles:
            source = "usual" if (law, article) in usual else "searched"
            v = verdict.get((p["id"], law, article), "unread")
            counts[(source, v)] += 1
            counts[("all", v)] += 1
    out: dict[str, Any] = {"events": len(read_events & {p["id"] for p in predictions})}
    for source in ("all", "usual", "searched"):
        n = sum(counts[(source, v)] for v in VERDICTS)
        out[source] = {
            "read": n,
            "unread": counts[(source, "unread")],
            **{v: round(counts[(source, v)] / n, 3) if n else None for v in VERDICTS},
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--predictions", type=Path, required=True)
    ap.add_argument("--readings", type=Path, action="append", required=True)
    args = ap.parse_args()
    lines = args.predictions.read_text(encoding="utf-8").splitlines()
    predictions = [json.loads(line) for line in lines if line.strip()]
    readings = [
        json.loads(line)
        for path in args.readings
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    print(
        json.dumps(score(default_knowledge(), predictions, readings), ensure_ascii=False, indent=1)
    )


if __name__ == "__main__":
    main()
