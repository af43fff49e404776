"""The one reader of evaluation datasets: CSV/TSV (UTF-8 or GB18030), JSONL or XLSX, through
the importer's reader (``store.importer.read_rows``). A bad row fails the whole dataset with its
row number; blank rows are skipped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evals.errors import DatasetError
from store.errors import ImportFailed
from store.importer import BLANK_ROW, read_rows


def numbered_rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """(row number as a person sees it in the file, row) for every non-blank row."""
    if not path.exists():
        raise DatasetError(f"找不到文件 {path}")
    try:
        _, rows = read_rows(path)
        out = []
        for n, row in rows:
            if isinstance(row, dict):
                out.append((n, row))
            elif row != BLANK_ROW:
                raise DatasetError(f"{path.name} 第{n}行：{row}")
    except ImportFailed as exc:
        raise DatasetError(str(exc)) from exc
    return out


def read_table(path: Path) -> list[dict[str, Any]]:
    """The rows of a dataset, as dicts."""
    return [row for _, row in numbered_rows(path)]
