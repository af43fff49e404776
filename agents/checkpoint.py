"""The checkpointer that keeps waiting approvals across restarts: SQLite beside the embedded
store, PostgreSQL with the production store."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any


def open_checkpointer(database_url: str, data_dir: Path) -> Any:
    if database_url.startswith(("postgresql://", "postgres://")):
        import psycopg
        from langgraph.checkpoint.postgres import PostgresSaver
        from psycopg.rows import dict_row

        conn = psycopg.connect(
            database_url, autocommit=True, prepare_threshold=0, row_factory=dict_row
        )
        saver: Any = PostgresSaver(conn)
    else:
        from langgraph.checkpoint.sqlite import SqliteSaver

        data_dir.mkdir(parents=True, exist_ok=True)
        saver = SqliteSaver(sqlite3.connect(data_dir / "checkpoints.db", check_same_thread=False))
    saver.setup()
    return saver


def close_checkpointer(saver: Any) -> None:
    """Close the checkpointer's database connection."""
    conn = getattr(saver, "conn", None)
    if conn is not None:
        conn.close()
