"""The checkpointer that keeps waiting approvals across restarts: SQLite beside the embedded
store, PostgreSQL with the production store (a connection pool, so the server's worker threads
do not queue on one connection)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any


def open_checkpointer(database_url: str, data_dir: Path, pool_size: int = 8) -> Any:
    if database_url.startswith(("postgresql://", "postgres://")):
        from langgraph.checkpoint.postgres import PostgresSaver
        from psycopg.rows import dict_row
        from psycopg_pool import ConnectionPool

        pool: ConnectionPool[Any] = ConnectionPool(
            database_url,
            min_size=1,
            max_size=max(1, pool_size),
            kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
            open=True,
        )
        saver: Any = PostgresSaver(pool)
    else:
        from langgraph.checkpoint.sqlite import SqliteSaver

        data_dir.mkdir(parents=True, exist_ok=True)
        saver = SqliteSaver(sqlite3.connect(data_dir / "checkpoints.db", check_same_thread=False))
    saver.setup()
    return saver


def close_checkpointer(saver: Any) -> None:
    """Close the checkpointer's database connection or pool."""
    conn = getattr(saver, "conn", None)
    if conn is not None:
        conn.close()
