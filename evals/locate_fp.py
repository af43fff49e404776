"""False positives of the text locator on real messages that cannot name a Chongqing place.

The citizen messages in ``../shared/data/citizen-messages`` come from another province with
anonymised place names (A市, A3区), so ANY district or street the locator reads in them is a
false positive. Each message is read the way intake reads an event without an address: the
subject and the text, cleaned, first 300 characters; ``--full`` reads the whole text.

    python -m evals.locate_fp [--full] [CSV …]"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from evals.tables import read_table
from knowledge import Knowledge, default_knowledge
from tools.locate import LocateQuery, locate

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "citizen-messages"
FILES = ("messages-unlabeled.csv", "messages-with-votes.csv", "messages-with-official-replies.csv")


@dataclass
class FalsePositives:
    messages: int = 0
    districts: int = 0  # messages read as lying in a Chongqing district (street or not)
    streets: int = 0  # messages read as lying in a Chongqing street/town
    names: Counter[str] = field(default_factory=Counter)

    @property
    def rate(self) -> float:
        return self.districts / self.messages if self.messages else 0.0


def message_text(row: dict[str, object], full: bool) -> str:
    text = f"{row.get('留言主题') or ''}。{row.get('留言详情') or ''}"
    text = re.sub(r"\s+", " ", text).strip()
    return text if full else text[:300]


def evaluate(k: Knowledge, paths: list[Path], full: bool = False) -> FalsePositives:
    out = FalsePositives()
    for path in paths:
        for row in read_table(path):
            text = message_text(row, full)
            if not text.strip("。 "):
                continue
            out.messages += 1
            r = locate(k, LocateQuery(address=text))
            located = r.district or any(c.district for c in r.candidates)
            if located:
                out.districts += 1
                out.streets += bool(r.street or r.ambiguous)
                for c in r.candidates[:1]:
                    out.names[f"{c.district_name or ''}{c.street_name or ''}"] += 1
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="read whole messages")
    parser.add_argument("csv", nargs="*", type=Path)
    args = parser.parse_args(argv)
    paths = args.csv or [SHARED / f for f in FILES]
    s = evaluate(default_knowledge(), paths, args.full)
    print(
        f"{s.messages} 条留言，误识别为重庆区县 {s.districts} 条（{s.rate:.2%}），"
        f"其中到街道（镇）或候选街道 {s.streets} 条"
    )
    for name, n in s.names.most_common(30):
        print(f"  {n:4d}  {name}")


if __name__ == "__main__":
    main()
