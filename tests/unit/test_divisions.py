"""The committed jurisdictions against the national division codes (the shared CSV, when it is
there), and what follows from them for every street: an office, its units, district bureaus."""

from __future__ import annotations

import csv
from pathlib import Path

from domain.vocabulary import Level
from knowledge import Knowledge
from tools.placenames import street_stem

KIND = {"街道": "street", "镇": "town", "乡": "township"}


def test_knowledge_matches_the_division_codes(knowledge: Knowledge, shared_data: Path) -> None:
    path = shared_data / "divisions" / "chongqing-2023.csv"
    with path.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    districts = {(r["district_code"], r["district"]) for r in rows}
    assert len(districts) == 38 and len(rows) == 1031
    assert {(d.code, d.name) for d in knowledge.districts()} == districts
    streets = {(r["street_code"], r["street"], r["district_code"]) for r in rows}
    assert {(s.code, s.name, s.parent) for s in knowledge.streets()} == streets
    for s in knowledge.streets():
        suffix = "街道" if s.name.endswith("街道") else s.name[-1]
        assert s.kind == KIND[suffix], s.name


def test_every_street_has_its_office_and_units(knowledge: Knowledge) -> None:
    """Read from the committed knowledge only: 38 districts, 1,031 streets, and the
    department types instantiated for each."""
    assert len(knowledge.districts()) == 38 and len(knowledge.streets()) == 1031
    street_types = [t.code for t in knowledge.department_types.values() if Level.STREET in t.levels]
    district_types = [
        t.code for t in knowledge.department_types.values() if Level.DISTRICT in t.levels
    ]
    for s in knowledge.streets():
        for t in street_types:
            assert knowledge.department(t, s.code, Level.STREET).jurisdiction == s.code
        office = knowledge.department("street_office", s.code, Level.STREET).name
        if s.kind == "street":
            assert office == f"{s.name}办事处"
        else:  # 镇 and 乡 have a people's government
            assert office == f"{s.name}人民政府"
    for d in knowledge.districts():
        for t in district_types:
            assert knowledge.department(t, d.code, Level.DISTRICT).jurisdiction == d.code


def test_demo_data_stays_in_the_demo_districts(knowledge: Knowledge) -> None:
    demo = {s.parent for s in knowledge.sample_streets()}
    assert demo == {"500103", "500105", "500106", "500107", "500108", "500110", "500112", "500155"}
    for j in knowledge.jurisdictions.values():
        if j.level in ("community", "grid"):
            assert knowledge.ancestor_at(j.code, "district").code in demo  # type: ignore[union-attr]
    for s in knowledge.streets():
        assert bool(s.roads or s.landmarks) == (s.lat is not None), s.name


def test_duplicated_street_names_are_known(knowledge: Knowledge) -> None:
    """Names that several districts share: locate needs the district to settle them."""
    by_name: dict[str, set[str]] = {}
    for s in knowledge.streets():
        by_name.setdefault(s.name, set()).add(s.parent or "")
    shared = {n for n, ds in by_name.items() if len(ds) > 1}
    assert len(shared) == 35
    assert {"兴隆镇", "双龙镇", "铜鼓镇", "东城街道", "南城街道", "人和街道"} <= shared
    assert street_stem("龙塘乡") == "龙塘"
