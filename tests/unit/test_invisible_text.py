"""Text made only of invisible characters is empty: every way in refuses it the same way."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi import HTTPException
from pydantic import ValidationError

from api.schemas import DraftIn, EventIn
from domain.models import EventCreate, Source
from store import EventStore
from store.importer import import_events

NOW = datetime(2026, 1, 1, tzinfo=UTC)
#: zero-width space, joiners, word joiner, BOM, soft hyphen, Hangul filler, ideographic space
INVISIBLE = [
    "\u200b\u200b\u200b",
    "\u200c\u200d\u2060",
    "\ufeff \u00ad\t",
    "\u3164\u3000\u200b",
    "\u2062\u2063\u180e",
]


@pytest.mark.parametrize("text", INVISIBLE)
def test_an_event_of_invisible_characters_is_refused(text: str) -> None:
    with pytest.raises(ValidationError, match="不可见字符"):
        EventCreate(source=Source.WEB, text=text, reported_at=NOW)
    with pytest.raises(ValidationError, match="不可见字符"):
        EventIn(source=Source.WEB, text=text)
    with pytest.raises(HTTPException) as refused:
        DraftIn(text=text).to_create()
    assert refused.value.status_code == 422


def test_visible_text_with_zero_width_characters_is_kept() -> None:
    e = EventCreate(source=Source.WEB, text="\u200b井盖\u200d丢了", reported_at=NOW)
    assert "井盖" in e.text


def test_the_importer_refuses_invisible_rows(store: EventStore, tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text(
        "编号,时间,内容\n1,2024-05-02 08:00:00,\u200b\u200b\u2060\n2,2024-05-02 09:00:00,垃圾没人收\n",
        encoding="utf-8",
    )
    report = import_events(
        store,
        path,
        {"text": "内容", "reported_at": "时间", "external_id": "编号"},
        source=Source.WEB,
        now=NOW,
    )
    assert report.created == 1
    assert [r.row for r in report.rejected] == [2]
    assert "不可见字符" in report.rejected[0].reason
