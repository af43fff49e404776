"""The checkpointer that keeps waiting approvals across restarts: SQLite beside the embedded
store, PostgreSQL with the production store (a connection pool, so the server's worker threads
do not queue on one connection, and connections a restarted server dropped are replaced)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

#: the advisory lock held while the checkpoint tables are set up ("sanjicp" in ASCII)
SETUP_LOCK = 0x73616E6A696370


def open_checkpointer(database_url: str, data_dir: Path, pool_size: int = 8) -> Any:
    if database_url.startswith(("postgresql://", "postgres://")):
        import psycopg
        from langgraph.checkpoint.postgres import PostgresSaver
        from psycopg.rows import dict_row
        from psycopg_pool import ConnectionPool

        pool: ConnectionPool[Any] = ConnectionPool(
            database_url,
            min_size=1,
            max_size=max(1, pool_size),
            kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
            check=ConnectionPool.check_connection,  # a restarted server: replace dead ones
            timeout=10.0,
            name="sanji-checkpoints",
            open=True,
        )
        saver: Any = PostgresSaver(pool)
        with psycopg.connect(database_url, autocommit=True) as lock:
            # processes starting together take turns creating the checkpoint tables
            lock.execute("SELECT pg_advisory_lock(%s)", (SETUP_LOCK,))
            saver.setup()
        return saver
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
