"""The event store: schema, migrations, SQLite and PostgreSQL, audit log."""

from store.db import Database, connect
from store.errors import Conflict, ImportFailed, NotFound, StoreError
from store.events import EventStore

__all__ = [
    "Conflict",
    "Database",
    "EventStore",
    "ImportFailed",
    "NotFound",
    "StoreError",
    "connect",
]
