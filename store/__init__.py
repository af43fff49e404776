"""The event store: schema, migrations, SQLite and PostgreSQL, audit log."""

from store.db import Database, connect
from store.errors import Busy, Conflict, ImportFailed, NotFound, StoreError, Unstorable
from store.events import EventStore

__all__ = [
    "Busy",
    "Conflict",
    "Database",
    "EventStore",
    "ImportFailed",
    "NotFound",
    "StoreError",
    "Unstorable",
    "connect",
]
