"""The independent golden sets are frozen: each file's hash is the one recorded at its freeze,
every row has the typed gold the scorer needs, all 38 districts are covered, and (with the
shared law texts present) every expected article exists in its law. The second and third sets were
written by other helpers, also without the system's knowledge, in the first set's vocabulary."""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATASETS = ROOT / "evals" / "datasets"
VOCABULARY = DATASETS / "independent" / "department-types.md"
SETS = [
    DATASETS / "independent" / "independent-golden.jsonl",
    DATASETS / "independent-2" / "independent-golden-2.jsonl",
    DATASETS / "independent-3" / "independent-golden-3.jsonl",
]
SHARED = ROOT.parent / "shared" / "data"


def rows(path: Path) -> list[dict]:
    text = path.read_text("utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.mark.parametrize("path", SETS, ids=lambda p: p.parent.name)
def test_the_set_has_its_frozen_hash(path: Path) -> None:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    frozen = (path.parent / "FROZEN.txt").read_text("utf-8")
    recorded = re.search(rf"{re.escape(path.name)} sha256 ([0-9a-f]{{64}})", frozen)
    assert recorded and recorded.group(1) == digest


@pytest.mark.parametrize("path", SETS, ids=lambda p: p.parent.name)
def test_every_row_has_a_typed_gold_in_the_writers_vocabulary(path: Path) -> None:
    vocab = set(re.findall(r"^\| ([^ |]+) \| ", VOCABULARY.read_text("utf-8"), re.M))
    vocab.discard("type")
    data = rows(path)
    assert len(data) >= 150 and len({r["id"] for r in data}) == len(data)
    for r in data:
        g = r["gold"]
        assert g["level"] in ("street", "district", "city"), r["id"]
        assert g["urgency"] in ("normal", "urgent", "critical"), r["id"]
        assert {g["lead"], *g["assisting"]} <= vocab, r["id"]
    assert Counter(r["source"] for r in data).keys() == {
        "hotline",
        "grid",
        "ai_video",
        "sensor",
        "referral",
    }
    assert len({r["district_code"] for r in data}) == 38


@pytest.mark.parametrize("path", SETS, ids=lambda p: p.parent.name)
def test_districts_and_articles_exist_in_the_shared_data(path: Path) -> None:
    if not SHARED.is_dir():
        pytest.skip("../shared/data is absent: district names and law texts cannot be checked")
    with (SHARED / "divisions" / "chongqing-2023.csv").open(encoding="utf-8") as fh:
        divisions = list(csv.DictReader(fh))
    streets = {(d["district"], d["street"]) for d in divisions}
    codes = {d["district"]: d["district_code"] for d in divisions}
    laws = {}
    for f in (SHARED / "regulations").glob("*.md"):
        text = f.read_text("utf-8")
        laws[text.split("\n", 1)[0].lstrip("# ").strip()] = text
    for r in rows(path):
        assert codes[r["district"]] == r["district_code"], r["id"]
        if r.get("street"):
            assert (r["district"], r["street"]) in streets, r["id"]
        a = r["gold"].get("article")
        if a:
            assert a["title"] in laws, (r["id"], a["title"])
            assert re.search(rf"^{a['article']} ", laws[a["title"]], re.M), (r["id"], a)
